"""``Edit`` and ``Allow(tool=)``: a hook's change applies exactly as a bare return would, and the
step's decision keeps what changed (note, before, after) through checkpoints and traces."""

from __future__ import annotations

import threading
from typing import Any

from looplet_core import (
    Allow,
    BaseToolRegistry,
    Deny,
    Edit,
    HookDecision,
    LoopConfig,
    Message,
    MockLLMBackend,
    Step,
    StepStatus,
    ToolResult,
    ToolSpec,
    composable_loop,
)

from .helpers import assert_pairing_valid, make_tools, run

DONE = {"tool": "done", "args": {"answer": "x"}}


def test_a_decision_without_before_and_after_writes_what_it_always_wrote():
    plain = HookDecision("h", "pre_prompt", "edit", "why")
    assert plain.to_dict() == {
        "hook": "h",
        "phase": "pre_prompt",
        "decision": "edit",
        "detail": "why",
    }
    edited = HookDecision("debugger", "post_dispatch", "replace_result", "note", "old", "new")
    assert HookDecision.from_dict(edited.to_dict()) == edited
    assert HookDecision.from_dict(plain.to_dict()) == plain


def test_an_edited_prompt_is_sent_and_recorded_with_its_before_and_after():
    class Reword:
        def pre_prompt(self, state, log, ctx, step):
            if step != 1:
                return None
            messages = list(ctx.messages)
            messages[1] = Message("user", "Greet Ada.")
            return Edit(
                ctx.with_messages(messages), "reworded the task", "Do the thing.", "Greet Ada."
            )

    steps, _, llm, state = run([DONE], hooks=[Reword()])
    assert llm.requests[0].messages[1].content == "Greet Ada."
    assert state.conversation[1].content == "Do the thing."  # this request only
    decision = steps[0].decisions[0]
    assert (decision.hook, decision.decision, decision.detail) == (
        "Reword",
        "edit",
        "reworded the task",
    )
    assert (decision.before, decision.after) == ("Do the thing.", "Greet Ada.")
    again = Step.from_dict(steps[0].to_dict())
    assert again.decisions[0] == decision


def test_an_edit_that_rewrites_the_history_is_recorded_as_a_history_rewrite():
    class FromHereOn:
        def pre_prompt(self, state, log, ctx, step):
            if step != 1:
                return None
            messages = list(ctx.messages)
            messages[1] = Message("user", "Greet Ada.")
            state.conversation.replace(messages)
            return Edit(ctx.with_messages(messages), "reworded the task")

    steps, _, llm, state = run(
        [{"tool": "greet", "args": {"name": "Ada"}}, DONE], hooks=[FromHereOn()]
    )
    assert steps[0].decisions[0].decision == "rewrite_history"
    assert state.conversation[1].content == "Greet Ada."
    assert llm.requests[1].messages[1].content == "Greet Ada."  # the next request has it too
    assert_pairing_valid(llm.requests[1].messages)


def test_allow_with_another_tool_runs_that_tool_and_keeps_the_models_call():
    calls: list[tuple[str, dict[str, Any]]] = []

    class Switch:
        def pre_dispatch(self, state, log, tc, step):
            if tc.tool == "greet":
                return Edit(Allow({"a": 2, "b": 3}, tool="add"), "greet -> add", "greet", "add")
            return None

    steps, _, llm, _ = run(
        [{"tool": "greet", "args": {"name": "Ada"}}, DONE],
        tools=make_tools(calls=calls),
        hooks=[Switch()],
    )
    assert calls == [("add", {"a": 2, "b": 3})]
    first = steps[0]
    assert first.tool_call is not None
    assert (first.tool_call.tool, first.tool_call.args) == ("add", {"a": 2, "b": 3})
    assert first.original_args == {"name": "Ada"}
    assert first.tool_result is not None and first.tool_result.data == 5
    assert first.decisions[0].decision == "rewrite"
    assert (first.decisions[0].before, first.decisions[0].after) == ("greet", "add")
    # the model's own call stays in the conversation; the result answers its id
    sent = llm.requests[1].messages
    assert_pairing_valid(sent)
    assert sent[-1].role == "tool" and "5" in sent[-1].content


def test_allow_with_a_tool_that_does_not_exist_runs_nothing_and_says_which_hook():
    calls: list[tuple[str, dict[str, Any]]] = []

    class Typo:
        def pre_dispatch(self, state, log, tc, step):
            return Allow(tool="gret") if tc.tool == "greet" else None

    steps, _, _, _ = run(
        [{"tool": "greet", "args": {"name": "Ada"}}, DONE],
        tools=make_tools(calls=calls),
        hooks=[Typo()],
    )
    assert calls == []
    assert steps[0].status is StepStatus.ERROR
    assert steps[0].tool_result is not None
    error = steps[0].tool_result.error or ""
    assert "hook Typo rewrote the call" in error and "'gret'" in error and "greet" in error


def test_allow_with_another_tool_checks_the_arguments_against_that_tools_schema():
    calls: list[tuple[str, dict[str, Any]]] = []

    class Switch:
        def pre_dispatch(self, state, log, tc, step):
            return Allow(tool="add") if tc.tool == "greet" else None  # {"name": ...} is not add's

    steps, _, _, _ = run(
        [{"tool": "greet", "args": {"name": "Ada"}}, DONE],
        tools=make_tools(calls=calls),
        hooks=[Switch()],
    )
    assert calls == []
    assert steps[0].status is StepStatus.ERROR
    assert "hook Switch rewrote the call" in (steps[0].tool_result.error or "")


def test_switching_to_a_tool_that_requires_approval_asks_for_it():
    tools = make_tools()
    ran: list[str] = []
    tools.register(_dangerous(ran))

    class Switch:
        def pre_dispatch(self, state, log, tc, step):
            return Allow({"path": "/tmp/x"}, tool="delete") if tc.tool == "greet" else None

    steps, result, _, _ = run(
        [{"tool": "greet", "args": {"name": "Ada"}}, DONE], tools=tools, hooks=[Switch()]
    )
    assert ran == []
    assert steps[0].approval is not None and steps[0].approval.tool == "delete"
    assert result.stop_reason.value == "awaiting_approval"


def _dangerous(ran: list[str]) -> ToolSpec:
    def delete(*, path: str) -> str:
        ran.append(path)
        return "deleted"

    return ToolSpec("delete", "Delete a file.", {"path": "str"}, delete, requires_approval=True)


def test_an_edited_skip_is_a_denial_the_model_reads():
    class Skip:
        def pre_dispatch(self, state, log, tc, step):
            if tc.tool == "greet":
                return Edit(Deny("use add instead"), "skipped in the debugger")
            return None

    steps, _, llm, _ = run([{"tool": "greet", "args": {"name": "Ada"}}, DONE], hooks=[Skip()])
    assert steps[0].status is StepStatus.DENIED
    assert steps[0].decisions[0].detail == "skipped in the debugger"
    assert "use add instead" in llm.requests[1].messages[-1].content


def test_an_edited_result_is_what_the_model_reads_and_the_step_keeps():
    class Rewrite:
        def post_dispatch(self, state, log, tc, result, step):
            if tc.tool == "greet":
                return Edit(ToolResult(data="Hi there"), "result edited", str(result.data), "Hi")
            return None

    steps, _, llm, _ = run([{"tool": "greet", "args": {"name": "Ada"}}, DONE], hooks=[Rewrite()])
    assert steps[0].tool_result is not None and steps[0].tool_result.data == "Hi there"
    assert llm.requests[1].messages[-1].content == "Hi there"
    decision = steps[0].decisions[0]
    assert decision.decision == "replace_result" and decision.before.startswith("{'greeting'")


def test_a_batch_call_switched_to_an_unsafe_tool_runs_after_the_others_not_beside_them():
    running = 0
    overlaps: list[str] = []
    lock = threading.Lock()
    tools = BaseToolRegistry()

    def enter(name: str) -> None:
        nonlocal running
        with lock:
            running += 1
            if name == "write" and running > 1:
                overlaps.append(name)

    def leave() -> None:
        nonlocal running
        with lock:
            running -= 1

    @tools.tool(read_only=True)
    def lookup(key: str) -> str:
        """Look a key up."""
        enter("lookup")
        threading.Event().wait(0.05)
        leave()
        return key

    @tools.tool
    def write(key: str) -> str:
        """Write a key."""
        enter("write")
        leave()
        return f"wrote {key}"

    class Switch:
        def pre_dispatch(self, state, log, tc, step):
            return Allow(tool="write") if tc.args.get("key") == "b" else None

    script: list[Any] = [
        [{"tool": "lookup", "args": {"key": k}} for k in ("a", "b", "c")],
        DONE,
    ]
    steps = list(
        composable_loop(
            llm=MockLLMBackend(script),
            tools=tools,
            task="t",
            config=LoopConfig(parallel_tools=4),
            hooks=[Switch()],
        )
    )
    tools_run = [s.tool_call.tool for s in steps if s.tool_call is not None]
    assert tools_run[:3] == ["lookup", "write", "lookup"]  # still in the model's order
    assert steps[1].tool_result is not None and steps[1].tool_result.data == "wrote b"
    assert overlaps == []
