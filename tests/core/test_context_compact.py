"""Compaction acts on the messages the model is sent: each strategy, the chain, and overflow."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest

from looplet_core import (
    BackendError,
    CompactContext,
    Compacted,
    ContextLengthError,
    ContextMeter,
    ErrorKind,
    LoopConfig,
    Message,
    MockLLMBackend,
    Prune,
    StopReason,
    Summarize,
    ThresholdCompactHook,
    ToolCall,
    Truncate,
    compact_chain,
)
from looplet_core.backends.mock import MockRequest
from looplet_core.context.compact import (
    _with_content,  # pyright: ignore[reportPrivateUsage]
    cut_points,
    head_length,
    pairing_problem,
    rewrite_problem,
)

from .context_helpers import Chars4, Recorder, big_tools, reads, run_ctx, texts, tokens
from .helpers import assert_pairing_valid

WINDOW = 3_000
COMPACT_AT = int(0.85 * WINDOW)  # the default budget's compact threshold
SUMMARY = (
    "## Goal\n- Read the files and report.\n## Findings\n- src/file_0.py and src/file_1.py hold "
    "lines of words\n## Open questions\n- none\n## Decisions\n- keep reading in order"
)


def _check_requests(requests: Sequence[MockRequest], limit: int = COMPACT_AT) -> None:
    """Every request: under the limit, valid pairing, system prompt and task as sent first, and
    the newest turn of the previous request still there."""
    first = list(requests[0].messages)
    for before, after in itertools.pairwise(requests):
        sent = list(after.messages)
        assert tokens(after) < limit, (tokens(after), limit)
        assert_pairing_valid(sent)
        assert sent[:2] == first[:2]
        previous = list(before.messages)
        if previous[-1].role == "tool":
            newest = previous[-1]
            assert any(
                m.tool_call_id == newest.tool_call_id and m.content == newest.content for m in sent
            ), "the most recent tool result was lost"


def _compactions(recorder: Recorder) -> list[dict[str, Any]]:
    return recorder.of("compaction")


def test_prune_clears_old_tool_results_and_the_prompt_stays_under_the_threshold():
    _, result, llm, recorder = run_ctx(reads(10), hooks=[ThresholdCompactHook(Prune(keep_last=2))])
    assert result.stop_reason is StopReason.DONE
    _check_requests(llm.requests)
    last = list(llm.requests[-1].messages)
    results = [m for m in last if m.role == "tool"]
    assert all("file_" in m.content and "cleared" not in m.content for m in results[-2:])
    assert any(
        m.content.startswith("[tool result cleared") and "read returned 2,000" in m.content
        for m in results
    )
    assert len(last) == 2 + 2 * 10  # prune keeps every message, so every call keeps its result
    event = _compactions(recorder)[0]
    assert event["strategy"] == "prune" and event["tokens_after"] < event["tokens_before"]


def test_truncate_drops_oldest_turns_behind_one_marker_and_keeps_the_newest():
    _, _, llm, recorder = run_ctx(reads(10), hooks=[ThresholdCompactHook(Truncate(keep_turns=2))])
    _check_requests(llm.requests)
    last = list(llm.requests[-1].messages)
    markers = [m for m in last if m.content.startswith("[earlier conversation removed")]
    assert len(markers) == 1 and last[2] is markers[0]
    assert "src/file_9.py" in texts(last) and "src/file_8.py" in texts(last)
    assert "src/file_0.py" not in texts(last)
    assert all(e["messages_after"] < e["messages_before"] for e in _compactions(recorder))


def test_summarize_replaces_old_turns_with_a_structured_summary_from_another_backend():
    summarizer = MockLLMBackend([SUMMARY] * 20)
    hook = ThresholdCompactHook(Summarize(summarizer, keep_turns=2))
    _, result, llm, _ = run_ctx(reads(10), hooks=[hook])
    assert result.stop_reason is StopReason.DONE
    _check_requests(llm.requests)
    assert summarizer.requests, "the summariser was never asked"
    asked = list(summarizer.requests[0].messages)[-1].content
    for section in ("## Goal", "## Findings", "## Open questions", "## Decisions"):
        assert section in asked
    assert "Read the files and report." in asked and "src/file_0.py" in asked
    assert "verbatim" in asked or "character for character" in asked
    later = [r for r in llm.requests if SUMMARY in texts(list(r.messages))]
    assert later, "no request carried the summary"
    assert summarizer.requests[0].tools == []


def test_summarize_uses_the_runs_own_model_when_given_none():
    reads_left = iter(reads(10))

    def model(messages: Sequence[Message], tools: object) -> Any:
        if messages[0].content.startswith("You condense"):
            return SUMMARY
        return next(reads_left)

    _, result, llm, recorder = run_ctx([model] * 40, hooks=[ThresholdCompactHook(Summarize())])
    assert result.stop_reason is StopReason.DONE
    summary_calls = [r for r in llm.requests if r.messages[0].content.startswith("You condense")]
    assert summary_calls
    run_requests = [r for r in llm.requests if r not in summary_calls]
    _check_requests(run_requests)
    assert any(SUMMARY in texts(list(r.messages)) for r in run_requests)
    assert any("summarised" in str(e["removed"]) for e in _compactions(recorder))


def test_a_failing_summariser_falls_through_to_the_next_stage():
    summarizer = MockLLMBackend([BackendError("summary model is down")] * 20)
    chain = compact_chain(Prune(keep_last=3), Summarize(summarizer), Truncate())
    _, result, llm, recorder = run_ctx(reads(10), hooks=[ThresholdCompactHook(chain)])
    assert result.stop_reason is StopReason.DONE
    _check_requests(llm.requests)
    stages = [s for e in _compactions(recorder) for s in e["removed"]]
    failed = [s for s in stages if s["stage"] == "summarize"]
    assert failed and "summary model is down" in failed[0]["detail"]
    assert any(s["stage"] == "truncate" and s["tokens_after"] < s["tokens_before"] for s in stages)


def test_chain_runs_stages_in_order_and_stops_once_under_target():
    summarizer = MockLLMBackend([SUMMARY] * 20)
    chain = compact_chain(Prune(keep_last=3), Summarize(summarizer, keep_turns=3), Truncate())
    _, result, llm, recorder = run_ctx(reads(12), hooks=[ThresholdCompactHook(chain)])
    assert result.stop_reason is StopReason.DONE
    _check_requests(llm.requests)
    events = _compactions(recorder)
    assert events[0]["strategy"] == "prune+summarize+truncate"
    first = [s["stage"] for s in events[0]["removed"]]
    assert first == ["prune"], "prune was enough at first, so nothing else ran"
    ran = [[s["stage"] for s in e["removed"]] for e in events]
    assert ["prune", "summarize"] in ran, "summarize ran once pruning alone was not enough"
    assert any(SUMMARY in texts(list(r.messages)) for r in llm.requests)
    for event in events:
        stages = event["removed"]
        assert all(a["tokens_after"] == b["tokens_before"] for a, b in itertools.pairwise(stages))


class _DropsAResult:
    """A broken custom stage: removes a tool result but leaves its call behind."""

    name = "broken"

    def compact(self, messages: Sequence[Message], ctx: CompactContext) -> Compacted:
        index = next(i for i, m in enumerate(messages) if m.role == "tool")
        return Compacted([*messages[:index], *messages[index + 1 :]], "dropped a result")


def test_a_stage_that_breaks_tool_call_pairing_is_rejected_and_never_sent():
    chain = compact_chain(_DropsAResult(), Truncate())
    _, _, llm, recorder = run_ctx(reads(10), hooks=[ThresholdCompactHook(chain)])
    _check_requests(llm.requests)
    rejected = [s for e in _compactions(recorder) for s in e["removed"] if "rejected" in s]
    assert rejected
    assert "before the results of calls" in rejected[0]["rejected"]


def test_a_lone_stage_that_breaks_pairing_leaves_the_history_untouched():
    _, _, llm, recorder = run_ctx(reads(6), hooks=[ThresholdCompactHook(_DropsAResult())])
    for request in llm.requests:
        assert_pairing_valid(list(request.messages))
    assert all(e["messages_after"] == e["messages_before"] for e in _compactions(recorder))


# -- the server says the prompt is too long -------------------------------------------------------


def test_a_context_length_error_compacts_once_and_retries():
    script = [
        *reads(5, then_done=False),
        ContextLengthError("maximum context length exceeded"),
        *reads(2),
    ]
    steps, result, llm, recorder = run_ctx(script, window=None)
    assert result.stop_reason is StopReason.DONE
    rejected, retried = llm.requests[5], llm.requests[6]
    assert tokens(retried) < tokens(rejected)
    assert_pairing_valid(list(retried.messages))
    assert list(retried.messages)[:2] == list(rejected.messages)[:2]
    event = _compactions(recorder)[0]
    assert event["trigger"] == "context_length_error"
    assert any(d.decision == "compact_after_overflow" for d in steps[5].decisions)
    assert steps[5].llm_call is not None and steps[5].llm_call.attempts == 2


def test_a_second_context_length_error_stops_with_context_exhausted():
    script = [
        *reads(5, then_done=False),
        ContextLengthError("too long"),
        ContextLengthError("still"),
    ]
    steps, result, llm, _ = run_ctx(script)
    assert result.stop_reason is StopReason.CONTEXT_EXHAUSTED
    assert "did not make it fit" in result.message
    assert steps[-1].tool_result.error_kind is ErrorKind.CONTEXT
    assert len(llm.requests) == 7


def test_a_context_length_error_with_nothing_to_compact_stops_at_once():
    _, result, llm, _ = run_ctx([ContextLengthError("too long"), *reads(1)])
    assert result.stop_reason is StopReason.CONTEXT_EXHAUSTED
    assert "nothing to remove" in result.message
    assert len(llm.requests) == 1


# -- the helpers custom strategies build on -------------------------------------------------------


def test_cut_points_never_separate_a_call_from_its_result():
    _, _, llm, _ = run_ctx(reads(3))
    messages = list(llm.requests[-1].messages)
    head = head_length(messages)
    assert head == 2
    for cut in cut_points(messages, head):
        assert pairing_problem([*messages[:head], *messages[cut:]]) is None


@pytest.mark.parametrize("stage", [Prune(), Truncate(), Summarize(MockLLMBackend([SUMMARY]))])
def test_stages_leave_a_conversation_with_nothing_old_unchanged(stage: Any):
    messages = [Message("system", "s"), Message("user", "task")]
    ctx = CompactContext(target=1, meter=ContextMeter(Chars4()))
    assert stage.compact(messages, ctx).messages == messages


def test_a_compaction_that_removes_nothing_is_not_retried_on_every_step():
    script = [*reads(1, then_done=False)]
    script += [{"tool": "note", "args": {"text": f"n{i}"}} for i in range(30)]
    script.append({"tool": "done", "args": {"answer": "ok"}})
    hook = ThresholdCompactHook(Truncate(keep_turns=50))
    _, _, _, recorder = run_ctx(script, window=1_400, hooks=[hook], tools=big_tools(4_000))
    attempts = [r for r in hook.reports if not r.changed]
    assert len(attempts) == len(_compactions(recorder))
    assert 2 <= len(attempts) < 10, "retried on every step although nothing could be removed"


def test_truncate_after_summarize_keeps_the_summary_and_drops_old_turns():
    summarizer = MockLLMBackend([SUMMARY] * 20)
    chain = compact_chain(Summarize(summarizer, keep_turns=4), Truncate())  # 4 turns: too many
    _, result, llm, _ = run_ctx(reads(10), hooks=[ThresholdCompactHook(chain)])
    assert result.stop_reason is StopReason.DONE
    _check_requests(llm.requests)
    both = [
        list(r.messages)
        for r in llm.requests
        if SUMMARY in texts(list(r.messages))
        and "[earlier conversation removed" in texts(list(r.messages))
    ]
    assert both, "no request had both a summary and a truncation marker"
    kept = both[-1]
    assert kept[2].content.startswith("[summary of earlier work")
    assert kept[3].content.startswith("[earlier conversation removed")


def test_prune_clears_old_results_in_json_tool_mode_too():
    config = LoopConfig(
        max_steps=60, context_window=WINDOW, token_estimator=Chars4(), tool_mode="json"
    )
    script = [f'{{"tool": "read", "args": {{"path": "src/file_{i}.py"}}}}' for i in range(8)]
    script.append('{"tool": "done", "args": {"answer": "ok"}}')
    hook = ThresholdCompactHook(Prune(keep_last=2))
    _, result, llm, _ = run_ctx(script, config=config, hooks=[hook])
    assert result.stop_reason is StopReason.DONE
    _check_requests(llm.requests)
    last = [m.content for m in llm.requests[-1].messages]
    cleared = [c for c in last if c.startswith("Result of read (") and "cleared to save" in c]
    assert cleared and all(c.split(":\n", 1)[1].startswith("[tool result cleared") for c in cleared)
    assert sum("src/file_7.py: line" in c for c in last) == 1


def test_a_chains_result_always_passes_the_rewrite_check_it_is_installed_without():
    # compact_prompt does not re-check a CompactChain's result: the chain checked each stage's
    # rewrite against its input, so the result keeps the head and the pairing by construction,
    # even when a stage in the middle broke them and was rejected.
    _, _, llm, recorder = run_ctx(
        reads(10), hooks=[ThresholdCompactHook(compact_chain(_DropsAResult(), Prune(), Truncate()))]
    )
    assert any("rejected" in s for e in _compactions(recorder) for s in e["removed"])
    meter = ContextMeter(Chars4())
    history = list(llm.requests[-1].messages)
    for stages in ((_DropsAResult(),), (_DropsAResult(), Truncate()), (Prune(), _DropsAResult())):
        ctx = CompactContext(target=50, meter=meter)
        out = compact_chain(*stages).compact(history, ctx)
        assert rewrite_problem(history, out.messages) is None


def test_a_cleared_result_keeps_every_field_of_its_message_but_the_content():
    # Prune builds the copy field by field (faster than dataclasses.replace); a field added to
    # Message later must not be silently dropped from cleared results.
    call = ToolCall("t", {"n": 1}, "c1")
    values: dict[str, Any] = {
        "role": "tool",
        "content": "old",
        "tool_calls": (call,),
        "tool_call_id": "c1",
        "name": "t",
        "reasoning": "why",
    }
    assert [f.name for f in dataclasses.fields(Message)] == list(values)
    message = Message(**values)
    assert _with_content(message, "new") == dataclasses.replace(message, content="new")


def _first_fitting_cut(messages: list[Message], ctx: CompactContext, keep_turns: int) -> int:
    """Truncate's choice as it was first written: try every cut from the oldest, pricing its
    marker, and take the first that fits (else the newest cut allowed)."""
    start = head = head_length(messages)
    dropped = 0
    if messages[start].content.startswith("[earlier conversation removed"):
        dropped = int(messages[start].content.split(": ")[1].split()[0])
        start += 1
    turns = [i for i in range(start, len(messages)) if messages[i].role == "assistant"]
    latest = turns[-keep_turns]
    costs = ctx.costs(messages)
    kept = ctx.meter.overhead + sum(costs[:head])
    for cut in (p for p in cut_points(messages, start) if start < p <= latest):
        marker = Truncate._marker(dropped + cut - start)  # pyright: ignore[reportPrivateUsage]
        if kept + ctx.cost(marker) + sum(costs[cut:]) <= ctx.target:
            return cut
    return latest


@pytest.mark.parametrize("seed", range(40))
def test_truncate_keeps_from_the_first_cut_that_fits_whichever_cuts_it_skips_unpriced(seed: int):
    rng = random.Random(seed)
    messages = [Message("system", "s"), Message("user", "task")]
    if rng.random() < 0.5:  # an earlier truncation's marker, its count near a digit rollover
        count = rng.choice((8, 9, 98, 99, 998))
        messages.append(Truncate._marker(count))  # pyright: ignore[reportPrivateUsage]
    for i in range(rng.randint(2, 40)):
        call = ToolCall("t", {}, f"c{i}")
        messages.append(Message("assistant", "", (call,)))
        messages.append(Message("tool", "w" * rng.randint(0, 300), tool_call_id=f"c{i}"))
    meter = ContextMeter(Chars4())
    meter.ratio = rng.choice((1.0, 0.3, 1.7))
    total = CompactContext(10**9, meter).count(messages)
    ctx = CompactContext(rng.randint(total // 10, total), meter)
    keep = rng.randint(1, 3)
    out = Truncate(keep_turns=keep).compact(messages, ctx).messages
    if sum(m.role == "assistant" for m in messages) <= keep:
        assert out == messages
        return
    expected = _first_fitting_cut(messages, ctx, keep)
    assert out[3:] == messages[expected:]  # after the head and the new marker
