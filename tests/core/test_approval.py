"""Approval in one process: scopes, the approval hook, effective arguments, terminal approver."""

from __future__ import annotations

import io
from typing import Any

import pytest

from looplet_core import (
    Allow,
    ApprovalError,
    ApprovalHook,
    ApprovalRequest,
    DefaultState,
    LoopConfig,
    MemoryCheckpointStore,
    StepStatus,
    TerminalApprover,
    composable_loop,
    resume,
)
from looplet_core.approvals.hooks import recall_approval
from tests.core.durable_helpers import Reply, backend, durable_tools

DELETES: list[Reply] = [
    {"tool": "delete", "args": {"target": "tmp-1"}},
    {"tool": "delete", "args": {"target": "tmp-2"}},
    {"tool": "delete", "args": {"target": "prod"}},
    {"tool": "done", "args": {"answer": "ok"}},
]


def run_with(
    approver: Any, plan: list[Reply] = DELETES, *, hooks: list[object] | None = None
) -> tuple[list[Any], list[Any], DefaultState]:
    calls: list[Any] = []
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(plan),
            tools=durable_tools(calls),
            task="t",
            config=LoopConfig(approver=approver),
            state=state,
            hooks=hooks or [],
        )
    )
    return steps, calls, state


class Recorder:
    """An approver that answers from a list and records what it was shown."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.seen: list[dict[str, Any]] = []

    def __call__(self, request: ApprovalRequest) -> None:
        self.seen.append(dict(request.args))
        if self.answers:
            self.answers.pop(0)(request)


def test_approve_always_covers_later_calls_of_the_tool():
    approver = Recorder(lambda r: r.approve(scope="always"))
    steps, calls, state = run_with(approver)
    assert len(approver.seen) == 1
    assert [c[1]["target"] for c in calls if c[0] == "delete"] == ["tmp-1", "tmp-2", "prod"]
    assert steps[1].decisions[-1].hook == "remembered (always)"
    assert state.approval_memory == {"delete": "approve"}


def test_approve_always_for_an_argument_pattern_covers_matching_calls_only():
    approver = Recorder(lambda r: r.approve(scope="always", match={"target": r"tmp-.*"}))
    _, calls, _ = run_with(approver)
    assert approver.seen == [{"target": "tmp-1"}, {"target": "prod"}]
    assert [c[1]["target"] for c in calls if c[0] == "delete"] == ["tmp-1", "tmp-2"]


def test_deny_always_refuses_later_calls_without_asking():
    approver = Recorder(lambda r: r.deny("never delete", scope="always"))
    steps, calls, _ = run_with(approver)
    assert len(approver.seen) == 1
    assert [s.status for s in steps[:3]] == [StepStatus.DENIED] * 3
    assert not any(c[0] == "delete" for c in calls)


def test_a_remembered_deny_beats_a_remembered_approve():
    memory = {"delete": "approve", 'delete {"target": "prod"}': "deny"}
    assert recall_approval(memory, "delete", {"target": "prod"}) == "deny"
    assert recall_approval(memory, "delete", {"target": "tmp"}) == "approve"
    assert recall_approval(memory, "other", {}) is None


def test_match_needs_scope_always_and_scope_must_be_known():
    request = ApprovalRequest(step=1, tool="delete", args={})
    with pytest.raises(ApprovalError, match="needs scope='always'"):
        request.approve(match={"target": "x"})
    with pytest.raises(ApprovalError, match="scope must be"):
        request.deny(scope="forever")
    assert not request.decided


def test_always_decisions_survive_a_resume():
    store = MemoryCheckpointStore()
    state = DefaultState()
    for step in composable_loop(
        llm=backend(DELETES),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
    ):
        if step.status is StepStatus.AWAITING_APPROVAL:
            assert step.approval is not None
            step.approval.approve(scope="always", match={"target": r"tmp-.*"})
        if step.number == 1 and step.ok:
            break
    approver = Recorder()
    run = resume(store, llm=backend(DELETES), tools=durable_tools(), approver=approver)
    steps = list(run)
    assert steps[0].decisions[-1].hook == "remembered (always)"  # tmp-2: no question
    assert approver.seen == [{"target": "prod"}]


def test_the_approver_sees_the_arguments_after_pre_dispatch_rewrites():
    class Narrow:
        def pre_dispatch(self, state: Any, log: Any, tc: Any, step: int) -> Allow | None:
            if tc.tool == "delete":
                return Allow(args={"target": tc.args["target"] + "-backup"})
            return None

    approver = Recorder(lambda r: r.approve(), lambda r: r.approve(), lambda r: r.approve())
    steps, calls, _ = run_with(approver, hooks=[Narrow()])
    assert approver.seen[0] == {"target": "tmp-1-backup"}
    assert calls[0] == ("delete", {"target": "tmp-1-backup"})
    assert steps[0].original_args == {"target": "tmp-1"}


def test_edited_args_are_validated_and_coerced_by_the_schema():
    plan: list[Reply] = [
        {"tool": "count", "args": {"i": 1}},
        {"tool": "done", "args": {"answer": "x"}},
    ]
    approver = Recorder(lambda r: r.approve(args={"i": "7"}))
    steps, calls, _ = run_with(approver, plan, hooks=[ApprovalHook("count")])
    assert calls[0] == ("count", {"i": 7})
    assert steps[0].tool_call is not None and steps[0].tool_call.args == {"i": 7}

    def bad(request: ApprovalRequest) -> None:
        with pytest.raises(ApprovalError, match="invalid"):
            request.approve(args={"i": "seven"})
        request.deny("gave up")

    steps, calls, _ = run_with(Recorder(bad), plan, hooks=[ApprovalHook("count")])
    assert calls[0][0] == "done" and steps[0].status is StepStatus.DENIED


@pytest.mark.parametrize("tool", ["note", "delete"])
def test_approval_works_for_tools_returning_any_type(tool: str):
    plan: list[Reply] = [
        {"tool": tool, "args": {"text": "hello"} if tool == "note" else {"target": "t"}},
        {"tool": "done", "args": {"answer": "x"}},
    ]
    steps, _, _ = run_with(Recorder(lambda r: r.approve()), plan, hooks=[ApprovalHook(tool)])
    assert steps[0].status is StepStatus.OK
    assert steps[0].tool_result.data == (5 if tool == "note" else None)


def test_approval_hook_asks_only_for_matching_calls():
    hook = ApprovalHook("no*", when=lambda tc: len(tc.args.get("text", "")) > 3)
    plan: list[Reply] = [
        {"tool": "note", "args": {"text": "hi"}},
        {"tool": "note", "args": {"text": "long text"}},
        {"tool": "count", "args": {"i": 1}},
        {"tool": "done", "args": {"answer": "x"}},
    ]
    approver = Recorder(lambda r: r.approve())
    run_with(approver, plan, hooks=[hook])
    assert approver.seen == [{"text": "long text"}]


def terminal(answers: str) -> tuple[TerminalApprover, io.StringIO]:
    out = io.StringIO()
    return TerminalApprover(stdin=io.StringIO(answers), stdout=out), out


def request(**args: Any) -> ApprovalRequest:
    return ApprovalRequest(step=4, tool="delete", args=args or {"target": "x"}, reason="risky")


def test_terminal_approver_approves_on_y():
    approver, out = terminal("y\n")
    req = request()
    approver(req)
    assert req.decision is not None and req.decision.value == "approve"
    assert req.decided_by == "terminal"
    assert "step 4: delete needs approval (risky)" in out.getvalue()


def test_terminal_approver_edits_args_and_reprompts_on_bad_json():
    approver, out = terminal('e\n{broken\ne\n{"target": "y"}\n')
    req = request()
    approver(req)
    assert req.edited_args == {"target": "y"}
    assert "not accepted" in out.getvalue()


def test_terminal_approver_deny_always_takes_a_message():
    approver, _ = terminal("d\nuse the archive instead\n")
    req = request()
    approver(req)
    assert (req.decision and req.decision.value, req.scope) == ("deny", "always")
    assert req.message == "use the archive instead"


def test_terminal_approver_always_for_these_arguments_matches_them_exactly():
    approver, _ = terminal("p\n")
    req = request(target="a.b")
    approver(req)
    assert req.match == {"target": r"a\.b"}
    assert recall_approval({'delete {"target": "a\\\\.b"}': "approve"}, "delete", {"target": "a.b"})


@pytest.mark.parametrize("answers", ["q\n", ""])
def test_terminal_approver_leaves_the_request_pending_on_quit_or_end_of_input(answers: str):
    approver, out = terminal(answers)
    req = request()
    approver(req)
    assert not req.decided
    assert "left pending" in out.getvalue()


def test_terminal_approver_escapes_control_characters_from_the_model():
    approver, out = terminal("n\n\n")
    req = ApprovalRequest(
        step=1, tool="delete", args={"target": "\x1b[2J"}, reason="\x1b]0;pwn\x07"
    )
    approver(req)
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert "\\u001b[2J" in out.getvalue()
