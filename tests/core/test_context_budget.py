"""ContextBudget: fractions or tokens, four tiers, and refusing budgets that make no sense."""

from __future__ import annotations

from typing import Any

import pytest

from looplet_core import ConfigError, ContextBudget, ContextPressureHook, LoopConfig, StopReason

from .context_helpers import Chars4, reads, run_ctx


def test_fraction_thresholds_classify_totals_into_the_four_tiers():
    budget = ContextBudget(10_000, warn=0.6, compact=0.8, block=0.9)
    assert [budget.tier(t) for t in (5_999, 6_000, 8_000, 8_999, 9_000, 12_000)] == [
        "ok",
        "warning",
        "compact",
        "compact",
        "blocking",
        "blocking",
    ]


def test_token_thresholds_work_without_knowing_the_window():
    budget = ContextBudget(warn=1_000, compact=2_000, block=3_000)
    assert budget.tier(999) == "ok" and budget.tier(2_500) == "compact"
    assert budget.target_tokens == 1_000


def test_fractions_and_tokens_mix_once_the_window_is_known():
    budget = ContextBudget(warn=0.5, compact=7_000, block=0.9).with_window(10_000)
    assert (budget.warn_tokens, budget.compact_tokens, budget.block_tokens) == (5_000, 7_000, 9_000)


def test_fractions_mean_nothing_until_a_window_is_given():
    budget = ContextBudget()
    assert not budget.resolved and budget.tier(10**9) == "ok"
    assert budget.with_window(1_000).tier(960) == "blocking"


def test_an_explicit_budget_window_wins_over_the_run_window():
    assert ContextBudget(4_000).with_window(128_000).window == 4_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"warn": 0.9, "compact": 0.8},
        {"compact": 0.9, "block": 0.85},
        {"warn": 0.96, "compact": None},
        {"warn": 5_000, "compact": 4_000},
        {"window": 10_000, "warn": 9_000, "compact": 0.8},
        {"target": 0.9},
        {"target": 0.85},
    ],
)
def test_out_of_order_thresholds_are_refused(kwargs: dict[str, Any]):
    with pytest.raises(ConfigError, match="out of order"):
        ContextBudget(**kwargs)


def test_a_mixed_budget_out_of_order_for_the_real_window_is_refused_when_it_is_known():
    budget = ContextBudget(warn=9_000, compact=0.8)
    with pytest.raises(ConfigError, match="out of order"):
        budget.with_window(10_000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warn": 1.5}, "fraction"),
        ({"warn": 0.0}, "fraction"),
        ({"block": 0}, "at least 1 token"),
        ({"compact": True}, "float fraction or an int"),
        ({"warn": "70%"}, "float fraction or an int"),
        ({"window": 0}, "window"),
        ({"window": 1_000, "block": 2_000}, "larger than the window"),
    ],
)
def test_nonsense_budget_values_are_refused_with_the_reason(kwargs: dict[str, Any], message: str):
    with pytest.raises(ConfigError, match=message):
        ContextBudget(**kwargs)


def test_a_run_budget_that_does_not_fit_its_window_fails_before_anything_is_sent():
    config = LoopConfig(
        context_window=1_000, context_budget=ContextBudget(block=5_000), token_estimator=Chars4()
    )
    with pytest.raises(ConfigError, match="larger than the window"):
        run_ctx(reads(1), config=config)


def test_steps_are_classified_with_the_runs_budget():
    config = LoopConfig(
        context_window=100_000,
        token_estimator=Chars4(),
        context_budget=ContextBudget(warn=300, compact=50_000, block=60_000),
    )
    steps, _, _, _ = run_ctx(reads(2), config=config)
    assert [s.context.tier for s in steps if s.context] == ["ok", "warning", "warning"]


def test_a_pressure_hook_without_any_known_window_stops_with_a_clear_error():
    steps, result, llm, _ = run_ctx(reads(1), window=None, hooks=[ContextPressureHook()])
    assert result.stop_reason is StopReason.HOOK_ERROR
    assert "context window is unknown" in result.message
    assert "context_pressure" in result.message
    assert llm.requests == []
    assert steps[0].tool_result.error is not None
