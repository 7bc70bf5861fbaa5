"""ProvenanceSink writes the trace layout, and TraceReader gives the run back."""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from looplet_core import (
    AskApproval,
    DefaultState,
    Deny,
    LLMResponse,
    LoopConfig,
    Message,
    MockLLMBackend,
    ProvenanceSink,
    StopReason,
    ToolCall,
    TraceError,
    TraceReader,
    TransientBackendError,
    Usage,
    async_composable_loop,
    composable_loop,
)
from looplet_core.errors import BackendError, ContextLengthError

from .helpers import make_tools, run
from .trace_helpers import SCRIPT, record, step_record, step_records


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "events.jsonl").read_text().splitlines()]


def test_run_writes_manifest_events_prompts_responses_and_step_files(tmp_path):
    _, result, _, state = record(tmp_path, task="Greet and add.")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format"] == "looplet-trace" and manifest["version"] == 2
    assert manifest["run_id"] == state.run_id
    assert manifest["task"] == "Greet and add."
    assert manifest["model"] == "scripted"
    assert manifest["status"] == "ended" and manifest["stop_reason"] == "done"
    assert manifest["started_at"] <= manifest["ended_at"]
    assert manifest["final_answer"] == result.final_answer
    totals = manifest["totals"]
    assert (totals["steps"], totals["llm_calls"], totals["errors"]) == (5, 4, 1)
    assert totals["tools"] == {"greet": 1, "add": 1, "boom": 1, "search": 1, "done": 1}

    kinds = [e["kind"] for e in events(tmp_path)]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert kinds.count("llm_call") == 4 and kinds.count("step") == 5
    assert [e["seq"] for e in events(tmp_path)] == list(range(1, len(kinds) + 1))

    # format 2: one line per step in steps.jsonl, each step line pointing at its own; no file
    # per step, and no readable per-call files unless asked for (next test)
    lines = (tmp_path / "steps.jsonl").read_text().splitlines()
    assert [json.loads(line)["number"] for line in lines] == [1, 2, 3, 4, 5]
    assert sorted(step_records(tmp_path)) == [1, 2, 3, 4, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events.jsonl", "manifest.json", "messages.jsonl", "steps.jsonl", "tools.json"
    ]  # fmt: skip
    tools = json.loads((tmp_path / "tools.json").read_text())
    assert {t["name"] for t in tools} == {"greet", "add", "search", "boom", "slow", "done"}


@pytest.mark.parametrize("files", ["full", "new"])
def test_readable_prompt_and_response_files_are_written_when_asked_for(tmp_path, files):
    steps, _, _, _ = record(tmp_path, sink=ProvenanceSink(tmp_path, prompt_files=files))
    assert sorted(p.name for p in (tmp_path / "llm").iterdir()) == sorted(
        f"{n:06d}.{kind}.txt" for n in range(1, 5) for kind in ("prompt", "response")
    )
    assert [s.to_dict() for s in TraceReader(tmp_path).steps()] == [s.to_dict() for s in steps]


def test_prompt_files_must_be_one_of_the_three_choices(tmp_path):
    with pytest.raises(ValueError, match="'none', 'full' or 'new', got 'all'"):
        ProvenanceSink(tmp_path, prompt_files="all")  # type: ignore[arg-type]


def test_reader_gives_back_steps_equal_to_the_live_ones(tmp_path):
    steps, result, _, _ = record(tmp_path)
    reader = TraceReader(tmp_path)
    assert len(reader) == len(steps)
    assert [s.to_dict() for s in reader.steps()] == [s.to_dict() for s in steps]
    assert reader.result().to_dict() == result.to_dict()
    assert [e.tool for e in reader.entries] == ["greet", "add", "boom", "search", "done"]


def test_prompts_are_exactly_the_messages_the_model_was_sent(tmp_path):
    _, _, llm, _ = record(tmp_path, sink=ProvenanceSink(tmp_path, prompt_files="full"))
    reader = TraceReader(tmp_path)
    for index, request in enumerate(llm.requests, 1):
        assert reader.prompt(index) == list(request.messages)
    text = (tmp_path / "llm" / "000002.prompt.txt").read_text()
    assert "=== [1] system ===" in text and "=== [2] user ===" in text
    assert "=== [4] tool greet (call_1) ===" in text


def test_prompt_edited_by_a_later_pre_prompt_hook_is_what_gets_recorded(tmp_path):
    class Shout:
        def pre_prompt(self, state, log, ctx, step):
            return ctx.map_text(str.upper)

    # The sink sits before the editing hook; it still records what was actually sent.
    _, _, llm, _ = run(SCRIPT, hooks=[ProvenanceSink(tmp_path), Shout()])
    reader = TraceReader(tmp_path)
    assert reader.prompt(1) == list(llm.requests[0].messages)
    assert reader.prompt(1)[1].content == "DO THE THING."


def test_consecutive_prompt_files_differ_only_by_the_appended_messages(tmp_path):
    record(tmp_path, sink=ProvenanceSink(tmp_path, prompt_files="full"))
    first = (tmp_path / "llm" / "000002.prompt.txt").read_text().splitlines()
    second = (tmp_path / "llm" / "000003.prompt.txt").read_text().splitlines()
    removed = [line for line in difflib.ndiff(first, second) if line.startswith("- ")]
    assert removed == ["- " + first[0]]  # only the header line ("# LLM call 2: ...") changes
    assert second[1 : len(first)] == first[1:]


def test_new_message_mode_writes_each_message_once_and_reads_back_whole_prompts(tmp_path):
    _, _, llm, _ = record(tmp_path, sink=ProvenanceSink(tmp_path, prompt_files="new"))
    later = (tmp_path / "llm" / "000003.prompt.txt").read_text()
    assert "You complete tasks" not in later  # the system prompt was in call 1's file
    assert "(messages 1-4 are as in the previous call)" in later
    reader = TraceReader(tmp_path)
    assert reader.prompt(3) == list(llm.requests[2].messages)


def test_history_rewrite_is_recorded_as_a_whole_new_prompt(tmp_path):
    class Compact:
        def pre_prompt(self, state, log, ctx, step):
            if step == 4:  # the third model call: keep system + task only
                ctx.conversation.replace(list(ctx.conversation)[:2])

    _, _, llm, _ = record(tmp_path, hooks=[Compact()])
    reader = TraceReader(tmp_path)
    assert len(reader.prompt(3)) == 2
    for index, request in enumerate(llm.requests, 1):
        assert reader.prompt(index) == list(request.messages)


def test_response_file_shows_text_tool_calls_usage_and_latency(tmp_path):
    reply = LLMResponse(
        text="Let me greet.",
        tool_calls=[],
        usage=Usage(120, 7),
        stop_reason="tool_calls",
        model="m-1",
        reasoning="thinking",
    )
    reply.tool_calls.append(ToolCall("greet", {"name": "Ann"}, "c9"))
    sink = ProvenanceSink(tmp_path, prompt_files="full")
    record(tmp_path, [reply, {"tool": "done", "args": {"answer": "ok"}}], sink=sink)
    text = (tmp_path / "llm" / "000001.response.txt").read_text()
    for part in (
        "model: m-1",
        "usage: 120 in / 7 out (measured)",
        "latency:",
        "## reasoning",
        "thinking",
        "Let me greet.",
        '→ greet (c9) {"name": "Ann"}',
    ):
        assert part in text
    assert TraceReader(tmp_path).llm_call(1).usage == Usage(120, 7)


def test_hook_decisions_and_approvals_are_logged(tmp_path):
    class Guard:
        def pre_dispatch(self, state, log, tc, step):
            if tc.tool == "boom":
                return Deny("never boom")
            if tc.tool == "search":
                return AskApproval("searching costs money")
            return None

    config = LoopConfig(max_steps=20, approver=lambda request: request.approve())
    record(tmp_path, hooks=[Guard()], config=config)
    logged = events(tmp_path)
    decisions = [e for e in logged if e["kind"] == "decision"]
    assert {"hook": "Guard", "decision": "deny", "step": 3}.items() <= decisions[0].items()
    kinds = [e["kind"] for e in logged]
    assert "approval_requested" not in kinds  # answered inline by the approver
    assert [e for e in decisions if e["decision"] == "ask_approval"]
    assert TraceReader(tmp_path).step(3).status.value == "denied"


def test_model_retries_and_failures_are_logged(tmp_path):
    script = [
        TransientBackendError("overloaded"),
        {"tool": "greet", "args": {"name": "A"}},
        BackendError("bad request"),
    ]
    config = LoopConfig(max_steps=5, retry_backoff=0.0)
    _, result, _, _ = record(tmp_path, script, config=config)
    assert result.stop_reason is StopReason.LLM_ERROR
    kinds = [e["kind"] for e in events(tmp_path)]
    assert kinds.count("llm_retry") == 1 and kinds.count("llm_error") == 1
    reader = TraceReader(tmp_path)
    assert reader.stop_reason is StopReason.LLM_ERROR
    assert reader.step(2).tool_result.error_kind.value == "llm"


def test_paused_run_resumed_later_appends_to_the_same_trace(tmp_path):
    class Ask:
        def pre_dispatch(self, state, log, tc, step):
            return AskApproval("check") if tc.tool == "search" else None

    llm = MockLLMBackend(SCRIPT)
    state = DefaultState()
    kwargs = dict(
        llm=llm, tools=make_tools(), task="t", config=LoopConfig(max_steps=20), state=state
    )
    first = list(composable_loop(**kwargs, hooks=[Ask(), ProvenanceSink(tmp_path)]))
    assert first[-1].status.value == "awaiting_approval"
    paused = TraceReader(tmp_path)
    assert paused.stop_reason is StopReason.AWAITING_APPROVAL and len(paused) == 3

    for step in composable_loop(**kwargs, hooks=[Ask(), ProvenanceSink(tmp_path)]):
        if step.approval is not None and not step.approval.decided:
            step.approval.approve()
    reader = TraceReader(tmp_path)
    assert reader.stop_reason is StopReason.DONE
    assert [e.number for e in reader.entries] == [1, 2, 3, 4, 5]
    seqs = [e["seq"] for e in events(tmp_path)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["kind"] for e in events(tmp_path)].count("run_start") == 2
    assert reader.totals["steps"] == 5


def test_sink_refuses_a_directory_that_is_not_a_trace(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TraceError, match="not empty and holds no trace"):
        ProvenanceSink(tmp_path)


def test_sink_refuses_to_write_a_second_run_into_a_trace(tmp_path):
    record(tmp_path)
    before = (tmp_path / "events.jsonl").read_bytes()
    _, result, _, _ = record(tmp_path)
    assert result.stop_reason is StopReason.HOOK_ERROR
    assert "its own directory" in result.message
    assert (tmp_path / "events.jsonl").read_bytes() == before


def test_trace_of_a_run_still_in_progress_can_be_read_and_refreshed(tmp_path):
    loop = composable_loop(
        llm=MockLLMBackend(SCRIPT), tools=make_tools(), task="t", hooks=[ProvenanceSink(tmp_path)]
    )
    next(loop), next(loop)
    live = TraceReader(tmp_path)
    assert live.status == "running" and not live.complete and len(live) == 2
    assert live.step(2).tool == "add"
    with (tmp_path / "events.jsonl").open("ab") as handle:
        handle.write(b'{"kind": "step", "seq": 99')  # a line being written right now
    assert len(TraceReader(tmp_path)) == 2
    (tmp_path / "events.jsonl").write_bytes(
        (tmp_path / "events.jsonl").read_bytes().rsplit(b"\n", 1)[0] + b"\n"
    )
    list(loop)
    assert live.refresh() == 3
    assert live.complete and live.stop_reason is StopReason.DONE


def test_recorded_prompts_are_stored_once_per_call_not_per_step(tmp_path):
    steps, _, _, _ = record(tmp_path, config=LoopConfig(max_steps=20, record_prompts=True))
    assert step_record(tmp_path, 2)["prompt"] is None
    reader = TraceReader(tmp_path)
    for step in steps:
        assert step.llm_call is not None and step.prompt is not None
        assert reader.prompt(step.llm_call.index) == list(step.prompt)
        assert reader.step(step.number).to_dict() == replace(step, prompt=None).to_dict()


async def test_async_loop_writes_the_same_trace(tmp_path):
    state = DefaultState()
    steps = [
        s
        async for s in async_composable_loop(
            llm=MockLLMBackend(SCRIPT),
            tools=make_tools(),
            task="t",
            state=state,
            hooks=[ProvenanceSink(tmp_path)],
        )
    ]
    reader = TraceReader(tmp_path)
    assert [s.to_dict() for s in reader.steps()] == [s.to_dict() for s in steps]
    assert reader.stop_reason is StopReason.DONE


def test_messages_with_reasoning_keep_it_in_the_trace(tmp_path):
    reply = LLMResponse(text="", reasoning="first think", model="m")
    reply.tool_calls.append(ToolCall("greet", {"name": "Ann"}, "c1"))
    sink = ProvenanceSink(tmp_path, prompt_files="full")
    record(tmp_path, [reply, {"tool": "done", "args": {"answer": "x"}}], sink=sink)
    prompt = TraceReader(tmp_path).prompt(2)
    assert prompt[2] == Message(
        "assistant", "", (ToolCall("greet", {"name": "Ann"}, "c1"),), reasoning="first think"
    )
    assert "(reasoning)\nfirst think" in (tmp_path / "llm" / "000002.prompt.txt").read_text()


def test_prompt_compacted_after_a_context_overflow_is_the_one_recorded(tmp_path):
    script = [{"tool": "search", "args": {"query": f"q{i}"}} for i in range(6)]
    script += [ContextLengthError("prompt too long"), {"tool": "done", "args": {"answer": "ok"}}]
    _, result, llm, _ = record(tmp_path, script)
    assert result.stop_reason is StopReason.DONE
    rejected, answered = llm.requests[-2].messages, llm.requests[-1].messages
    assert len(answered) < len(rejected)
    assert TraceReader(tmp_path).prompt(7) == list(answered)


def test_the_sink_hears_exactly_the_events_it_writes():
    # The loop builds no event the sink does not ask for (event_kinds): every kind it writes
    # must be asked for, and what it leaves out is only what a trace never held.
    from looplet_core import EventKind
    from looplet_core.provenance import sink as sink_module

    handled = set(ProvenanceSink._HANDLERS) | set(sink_module._PASSTHROUGH)  # pyright: ignore[reportPrivateUsage]
    assert ProvenanceSink.event_kinds == handled
    assert set(EventKind) - handled == {
        EventKind.TOOL_START,
        EventKind.TOOL_END,
        EventKind.TOOL_PROGRESS,
        EventKind.LLM_DELTA,
    }


def test_the_sinks_error_count_uses_what_step_ok_says():
    from looplet_core.provenance import sink as sink_module
    from looplet_core.step import Step, StepStatus

    for status in StepStatus:
        fine = status in sink_module._FINE  # pyright: ignore[reportPrivateUsage]
        assert fine == Step(number=1, status=status).ok, status
