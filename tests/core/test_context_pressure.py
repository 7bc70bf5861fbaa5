"""ContextPressureHook: tier events, one warning per climb, and never an over-long request."""

from __future__ import annotations

import pytest

from looplet_core import (
    ContextBudget,
    ContextPressureHook,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    StopReason,
    ThresholdCompactHook,
    async_composable_loop,
)

from .context_helpers import Chars4, Recorder, big_tools, reads, run_ctx, texts, tokens
from .helpers import assert_pairing_valid

WINDOW = 3_000
BLOCK_AT = int(0.95 * WINDOW)
NOTE = "Context note:"


def _notes(request_messages: object) -> int:
    return texts(list(request_messages)).count(NOTE)  # type: ignore[arg-type]


def test_tier_changes_are_events_and_blocking_prompts_are_compacted_before_sending():
    _, result, llm, recorder = run_ctx(reads(10), hooks=[ContextPressureHook()])
    assert result.stop_reason is StopReason.DONE
    tiers = recorder.of("context_tier")
    assert tiers[0]["previous"] == "ok" and tiers[0]["tier"] == "warning" and tiers[0]["rising"]
    assert tiers[0]["window"] == WINDOW and 70 <= tiers[0]["percent"] < 85
    assert any(t["tier"] == "blocking" for t in tiers)
    assert any(t["previous"] == "blocking" and not t["rising"] for t in tiers)
    assert recorder.of("compaction")[0]["trigger"] == "blocking"
    for request in llm.requests:
        assert tokens(request) < BLOCK_AT
        assert_pairing_valid(list(request.messages))


def test_the_model_is_warned_once_while_the_prompt_stays_in_the_warning_tier():
    budget = ContextBudget(warn=0.25, compact=0.99, block=1.0)
    _, _, llm, _ = run_ctx(reads(12), window=10_000, hooks=[ContextPressureHook(budget)])
    in_warning = [r for r in llm.requests if tokens(r) >= 2_500]
    assert len(in_warning) > 5
    assert _notes(llm.requests[-1].messages) == 1
    note = next(m for m in llm.requests[-1].messages if m.content.startswith(NOTE))
    assert "% of your context window" in note.content and "10,000 tokens" in note.content


def test_the_warning_is_given_again_after_compaction_brings_the_prompt_back_to_ok():
    pressure = ContextPressureHook()
    steps, _, _, recorder = run_ctx(reads(14), hooks=[ThresholdCompactHook(), pressure])
    climbs = [t for t in recorder.of("context_tier") if t["previous"] == "ok"]
    warnings = [
        d
        for s in steps
        for d in s.decisions
        if d.hook == "context_pressure" and d.decision == "inject"
    ]
    assert len(climbs) >= 2
    assert len(warnings) == len(climbs)


def test_on_block_stop_ends_the_run_with_context_exhausted_before_sending_too_much():
    steps, result, llm, _ = run_ctx(reads(10), hooks=[ContextPressureHook(on_block="stop")])
    assert result.stop_reason is StopReason.CONTEXT_EXHAUSTED
    assert "blocking limit of 2,850" in result.message
    assert all(tokens(r) < BLOCK_AT for r in llm.requests)
    assert len(llm.requests) == len(steps) < 10


def test_a_window_smaller_than_the_system_prompt_stops_before_any_request():
    config = LoopConfig(
        context_window=200, system_prompt="Be thorough. " * 100, token_estimator=Chars4()
    )
    steps, result, llm, _ = run_ctx(reads(1), config=config, hooks=[ContextPressureHook()])
    assert result.stop_reason is StopReason.CONTEXT_EXHAUSTED
    assert "system prompt, tool schemas and task alone" in result.message
    assert llm.requests == [] and steps == []


def test_a_compaction_that_cannot_get_under_the_limit_stops_instead_of_sending():
    tools = big_tools(size=14_000)  # one result alone is more than the window
    steps, result, llm, recorder = run_ctx(
        reads(3), tools=tools, hooks=[ThresholdCompactHook(), ContextPressureHook()]
    )
    assert result.stop_reason is StopReason.CONTEXT_EXHAUSTED
    assert "compaction brought it from" in result.message
    assert all(tokens(r) < BLOCK_AT for r in llm.requests)
    assert len(llm.requests) == 1 and len(steps) == 1
    assert recorder.of("compaction")


def test_one_hook_object_keeps_separate_memory_for_each_run():
    budget = ContextBudget(warn=0.25, compact=0.99, block=1.0)
    hook = ContextPressureHook(budget)
    first = run_ctx(reads(8), window=10_000, hooks=[hook])[2]
    second = run_ctx(reads(8), window=10_000, hooks=[hook])[2]
    assert _notes(first.requests[-1].messages) == _notes(second.requests[-1].messages) == 1


def test_pressure_hook_refuses_an_unknown_block_action():
    with pytest.raises(ValueError, match="on_block"):
        ContextPressureHook(on_block="panic")  # type: ignore[arg-type]


async def test_the_async_loop_compacts_the_same_way():
    llm = MockLLMBackend(reads(10))
    state = DefaultState()
    recorder = Recorder()
    config = LoopConfig(max_steps=30, context_window=WINDOW, token_estimator=Chars4())
    steps = [
        step
        async for step in async_composable_loop(
            llm=llm,
            tools=big_tools(),
            task="Read the files and report.",
            config=config,
            state=state,
            hooks=[ThresholdCompactHook(), ContextPressureHook(), recorder],
        )
    ]
    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    assert len(steps) == 11 and recorder.of("compaction")
    assert all(tokens(r) < BLOCK_AT for r in llm.requests)
