"""A usual step's trace record and a message line, written from their fields, are the encoded
``to_dict()``, byte for byte.

``steptext.record_text`` and ``steptext.message_text`` skip building the record's dict; these are
the invariants that relies on: for every step it covers its text is ``fmt.dumps`` of
``to_dict(prompt=False)`` without ``llm_call`` (whatever the tool returned: text with escapes,
non-JSON values, infinities), it declines every other shape, its keys are ``to_dict``'s (so a
field added there fails here); every message, with any of its optional fields, is written as
``fmt.dumps(message.to_dict())``; and a whole trace written through both is the trace the dict
path writes, and reads back as the run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from looplet_core import MockLLMBackend, ProvenanceSink, TraceReader, composable_loop
from looplet_core.approvals.requests import ApprovalRequest
from looplet_core.messages import Message, ToolCall
from looplet_core.provenance import format as fmt
from looplet_core.provenance import prompts as prompts_module
from looplet_core.provenance import sink as sink_module
from looplet_core.provenance import steptext
from looplet_core.records import (
    ContextStats,
    ErrorKind,
    HookDecision,
    LLMCall,
    StopReason,
    ToolResult,
)
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import BatchInfo, ChildRun, Step, StepStatus

from .helpers import make_tools


def encoded(step: Step) -> str:
    record = step.to_dict(prompt=False)
    del record["llm_call"]
    return fmt.dumps(record)


def usual(**changes: Any) -> Step:
    fields: dict[str, Any] = {
        "number": 3,
        "tool_call": ToolCall("add", {"a": 1, "b": 'é"\\\n'}, id="call_3"),
        "tool_result": ToolResult(data=4, elapsed_ms=0.004936999175697565),
        "status": StepStatus.OK,
        "llm_call": LLMCall(index=3, text=""),
        "context": ContextStats({"system": 36, "tool": 7}, total=43, window=None, measured=False),
        "elapsed_ms": 0.24509429931640625,
        "started_at": 1796648511.7278197,
        "finished_at": 1796648511.7280648,
        "run_id": "0ab6f64bdff0",
    }
    fields.update(changes)
    return Step(**fields)


class Opaque:
    def __repr__(self) -> str:
        return "<opaque \u2028 \x00>"


COVERED = {
    "plain": usual(),
    "error": usual(
        tool_result=ToolResult(
            error='bad "x"\nline two \u2028 é',
            error_kind=ErrorKind.EXECUTION,
            traceback="Traceback (most recent call last):\n  ...\n",
        ),
        status=StepStatus.ERROR,
    ),
    "done": usual(status=StepStatus.DONE, tool_result=ToolResult(data={"final": [1, 2]})),
    "odd data": usual(
        tool_result=ToolResult(
            data={"t": (1, 2), "s": {3, 1}, "p": Path("a/b"), "o": Opaque(), "inf": float("inf")}
        )
    ),
    "big int, bool, None": usual(tool_result=ToolResult(data=[10**40, True, None, -0.0])),
    "original args": usual(original_args={"a": 0, "b": "was"}),
    "window, measured": usual(
        context=ContextStats({"user": 1}, total=9, window=32_000, measured=True, tier="warn")
    ),
    "non-finite times": usual(elapsed_ms=float("nan"), started_at=float("inf")),
    "int times": usual(elapsed_ms=3, finished_at=5),
    "other branch": usual(branch_id="fork-abc", run_id="r\u00e9\n"),
    "lone surrogate": usual(tool_result=ToolResult(data="\ud800 x")),
    "no reply": usual(llm_call=None),
    "parse error": usual(
        tool_call=ToolCall("add", {}, id="c", parse_error='Expecting value: "{a" \u2028')
    ),
}

DECLINED = {
    "no tool call": usual(tool_call=None, status=StepStatus.ERROR),
    "no context": usual(context=None),
    "decision": usual(decisions=[HookDecision("h", "pre_tool", "deny", "no")]),
    "approval": usual(approval=ApprovalRequest(step=3, tool="add", args={})),
    "batch": usual(batch=BatchInfo("3.3", 0, 2)),
    "child": usual(child=ChildRun(agent="a", task="t", run_id="c1", stop_reason=StopReason.DONE)),
    "hook time": usual(hook_ms=1.5),
}


@pytest.mark.parametrize("name", COVERED)
def test_a_covered_step_is_written_as_its_encoded_dict(name: str) -> None:
    step = COVERED[name]
    assert steptext.record_text(step) == encoded(step)


@pytest.mark.parametrize("name", DECLINED)
def test_any_other_shape_is_left_to_the_dict(name: str) -> None:
    assert steptext.record_text(DECLINED[name]) is None


def test_the_keys_are_to_dicts_and_every_other_key_is_declined() -> None:
    keys = [k for k in usual().to_dict(prompt=False) if k != "llm_call"]
    assert tuple(keys) == steptext.RECORD_KEYS
    everything = usual(
        hook_ms=1.0,
        batch=BatchInfo("3.3", 0, 2),
        child=ChildRun(agent="a", task="t", run_id="c1", stop_reason=StopReason.DONE),
    )
    extra = set(everything.to_dict(prompt=False)) - set(steptext.RECORD_KEYS) - {"llm_call"}
    # Each key to_dict writes beyond RECORD_KEYS belongs to a shape record_text declines.
    assert extra == {"hook_ms", "batch", "child"}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(data=JSONISH, args=st.dictionaries(st.text(), JSONISH, max_size=3), text=st.text())
def test_any_tool_result_and_arguments_are_written_as_encoded(
    data: Any, args: dict[str, Any], text: str
) -> None:
    step = usual(
        tool_call=ToolCall(text, args, id=text),
        tool_result=ToolResult(data=data, error=text or None),
        run_id=text,
    )
    assert steptext.record_text(step) == encoded(step)


MESSAGES = {
    "system": Message("system", "You add numbers."),
    "user, escapes": Message("user", 'a "quote" \\ \n\t \u2028 \x00 é 漢'),
    "empty content": Message("assistant", ""),
    "tool calls": Message(
        "assistant",
        "calling",
        (ToolCall("add", {"a": 1, "b": [2, None]}, "c1"), ToolCall("greet", {}, "c2")),
    ),
    "a call that did not parse": Message(
        "assistant", "", (ToolCall("add", {}, "c3", parse_error="Expecting ',' \"x\""),)
    ),
    "tool result": Message("tool", "4", (), "c1", "add"),
    "reasoning": Message("assistant", "x", (), None, None, "thought \ud800 first"),
    "every field": Message(
        "assistant", "t", (ToolCall("t", {"k": float("inf")}, "i"),), "id", "n", "r"
    ),
    "odd args": Message(
        "assistant", "", (ToolCall("t", {"p": Path("a"), "o": Opaque(), "big": 10**30}, "i"),)
    ),
}


@pytest.mark.parametrize("name", MESSAGES)
def test_a_message_is_written_as_its_encoded_dict(name: str) -> None:
    message = MESSAGES[name]
    assert steptext.message_text(message) == fmt.dumps(message.to_dict())


OPTIONAL_TEXT = st.none() | st.text()


@settings(max_examples=200, deadline=None)
@given(
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    content=st.text(),
    calls=st.lists(
        st.tuples(
            st.text(), st.dictionaries(st.text(), JSONISH, max_size=3), st.text(), OPTIONAL_TEXT
        ),
        max_size=3,
    ),
    call_id=OPTIONAL_TEXT,
    name=OPTIONAL_TEXT,
    reasoning=OPTIONAL_TEXT,
)
def test_any_message_is_written_as_encoded(
    role: Any,
    content: str,
    calls: list[tuple[str, dict[str, Any], str, str | None]],
    call_id: str | None,
    name: str | None,
    reasoning: str | None,
) -> None:
    tool_calls = tuple(ToolCall(tool, args, id_, error) for tool, args, id_, error in calls)
    message = Message(role, content, tool_calls, call_id, name, reasoning)
    assert steptext.message_text(message) == fmt.dumps(message.to_dict())


@settings(max_examples=100, deadline=None)
@given(args=st.dictionaries(st.text(), JSONISH, max_size=3), error=st.text(), text=st.text())
def test_a_step_whose_call_did_not_parse_is_written_as_encoded(
    args: dict[str, Any], error: str, text: str
) -> None:
    step = usual(
        tool_call=ToolCall(text, args, id=text, parse_error=error),
        tool_result=ToolResult(error=error, error_kind=ErrorKind.VALIDATION),
        status=StepStatus.ERROR,
    )
    assert steptext.record_text(step) == encoded(step)


SCRIPT: list[Any] = [
    {"tool": "add", "args": {"a": 1, "b": 2}},
    {"tool": "boom", "args": {}},
    {"tool": "nosuch", "args": {}},
    {"tool": "add", "args": {"a": "x", "b": 2}},
    {"tool": "add", "args": {}, "parse_error": "Expecting value: line 1 column 2 (char 1)"},
    "text, no call",
    {"tool": "greet", "args": {"name": "Bearer abcdefghijklmnopqrstuvwx"}},
    {"tool": "greet", "args": {"name": "password: hunter22222 é\u2028"}},
    [{"tool": "add", "args": {"a": 1, "b": 1}}, {"tool": "search", "args": {"query": "q"}}],
    {"tool": "done", "args": {"answer": "finished \u00e9"}},
]


def files(target: Path) -> dict[str, bytes]:
    return {
        os.path.relpath(os.path.join(d, f), target): Path(d, f).read_bytes()
        for d, _, names in os.walk(target)
        for f in names
    }


def test_a_trace_written_from_fields_is_the_trace_the_dict_path_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two sinks on one run see the same events and steps (timestamps included); the second
    # is made to write every step record and every message line through to_dict().
    fast = ProvenanceSink(tmp_path / "fast", prompt_files="full")
    slow = ProvenanceSink(tmp_path / "slow", prompt_files="full")
    used: list[bool] = []

    def record_text(step: Step) -> str | None:
        if sys._getframe(1).f_locals["self"] is slow:  # pyright: ignore[reportPrivateUsage]
            return None
        text = steptext.record_text(step)
        used.append(text is not None)
        return text

    def message_text(message: Message) -> str:
        if writer_of(sys._getframe(1)) is slow._prompts:  # pyright: ignore[reportPrivateUsage]
            return fmt.dumps(message.to_dict())
        return steptext.message_text(message)

    monkeypatch.setattr(sink_module, "record_text", record_text)
    monkeypatch.setattr(prompts_module, "message_text", message_text)
    loop = composable_loop(
        llm=MockLLMBackend(SCRIPT),
        tools=make_tools(),
        task="add",
        config=LoopConfig(max_steps=20),
        state=DefaultState(run_id="same-run"),
        hooks=[fast, slow],
    )
    for _ in loop:
        pass
    written, expected = files(fast.path), files(slow.path)
    assert sum(used) >= 6  # the fields path wrote most steps, so the comparison says something
    assert b"[redacted]" in written["steps.jsonl"]  # and the redacting path ran too
    assert b'"parse_error": "Expecting value' in written["steps.jsonl"]
    assert written.keys() == expected.keys()
    for name in written:
        assert written[name] == expected[name], name


def writer_of(frame: Any) -> object:
    """The ``PromptWriter`` whose method (or a comprehension in it) this frame runs."""
    while frame is not None:
        self = frame.f_locals.get("self")
        if isinstance(self, prompts_module.PromptWriter):
            return self
        frame = frame.f_back
    raise AssertionError("message_text was called from outside a PromptWriter")


def test_a_trace_written_from_fields_reads_back_as_the_run(tmp_path: Path) -> None:
    sink = ProvenanceSink(tmp_path / "t")
    llm = MockLLMBackend(SCRIPT)
    live = list(
        composable_loop(
            llm=llm,
            tools=make_tools(),
            task="add",
            config=LoopConfig(max_steps=20, record_prompts=True),
            hooks=[sink],
        )
    )
    trace = TraceReader(tmp_path / "t")
    read_steps = [s.to_dict(prompt=False) for s in trace.steps()]
    assert len(read_steps) == len(live) >= 9
    redacted = 0
    for got, want in zip(read_steps, (s.to_dict(prompt=False) for s in live), strict=True):
        if "[redacted]" in fmt.dumps(got):  # the two steps whose arguments held a secret
            redacted += 1
            continue
        assert got == want
    assert redacted == 2
    # Every prompt reads back as what the model was sent, bar the redacted secrets.
    sent = [[m.to_dict() for m in request.messages] for request in llm.requests]
    read = [[m.to_dict() for m in trace.prompt(i + 1)] for i in range(len(sent))]
    assert len(read) == len(sent) >= 8
    kept = 0
    for got, want in zip(read, sent, strict=True):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            if "[redacted]" not in fmt.dumps(g):
                assert g == w
                kept += 1
    assert kept > sum(map(len, sent)) - 20  # (only the secrets' few messages are redacted)
