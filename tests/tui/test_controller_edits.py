"""Edits at a stop, through DebugController alone (no UI): the prompt at pre_prompt, the call at
pre_dispatch, the result at post_dispatch.  Each test runs a real loop on a thread, stops it at a
phase with ``s``/a breakpoint, stages an edit as the editor would, and lets it go on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from looplet_core import ProvenanceSink, Step, StepStatus, TraceReader
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.controller import DebugController
from looplet_tui.live.edits import CHANGE_LIMIT, EditError, EditKind
from looplet_tui.rundiff.align import compare_traces, field_diffs
from tests.tui.helpers import GREET3, Run, call, make_tools, start


def stopped_at(phase: Phase, *, tool: str | None = None, script: Any = GREET3) -> Run:
    """A run stopped at the first ``phase`` (of ``tool``'s call, when given)."""
    tools = make_tools()
    breakpoints = BreakpointSet([Breakpoint(phase=phase, tool=tool)])
    controller = DebugController(
        poll=0.01, start_paused=False, breakpoints=breakpoints, validate=tools.validate
    )
    run = start(script, controller, tools=tools)
    run.wait(lambda: controller.pause_point is not None and controller.pause_point.phase is phase)
    return run


def finish(run: Run) -> None:
    run.controller.breakpoints.remove(1)
    run.controller.resume()
    run.join()
    assert run.error is None


def debugger_decisions(step: Any) -> list[Any]:
    return [d for d in step.decisions if d.hook == "debugger"]


# -- the prompt ---------------------------------------------------------------------------------


def test_a_prompt_edit_changes_this_request_only_by_default() -> None:
    run = stopped_at(Phase.PRE_PROMPT)
    kind, text = run.controller.edit_target() or (None, "")
    assert kind is EditKind.PROMPT
    messages = json.loads(text)
    messages[1]["content"] = "Greet only Ada, politely."
    staged = run.controller.stage_edit(json.dumps(messages))
    assert "this request only" in staged.note
    finish(run)
    assert run.llm.requests[0].messages[1].content == "Greet only Ada, politely."
    assert run.llm.requests[1].messages[1].content == "test"  # the history kept the task
    (decision,) = debugger_decisions(run.state.steps[0])
    assert (decision.phase, decision.decision) == ("pre_prompt", "edit")
    assert "[2] user: test" in decision.before
    assert "[2] user: Greet only Ada, politely." in decision.after


def test_a_prompt_edit_from_here_on_rewrites_the_history() -> None:
    run = stopped_at(Phase.PRE_PROMPT)
    _, text = run.controller.edit_target() or (None, "")
    messages = json.loads(text)
    messages.insert(2, {"role": "user", "content": "Be brief."})
    run.controller.stage_edit(json.dumps(messages), scope="history")
    finish(run)
    later = run.llm.requests[1].messages
    assert [m.content for m in later[:3]][2] == "Be brief."
    (decision,) = debugger_decisions(run.state.steps[0])
    assert decision.decision == "rewrite_history"
    assert "1 inserted" in decision.detail and "from here on" in decision.detail


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[{", "Not valid JSON"),
        ('{"role": "user"}', "JSON list of messages"),
        ("[]", "at least one message"),
        ('[{"role": "wizard", "content": "x"}]', "Message 1: message role must be one of"),
        ("[1]", "Message 1 must be a JSON object"),
    ],
)
def test_a_bad_prompt_edit_is_refused_and_changes_nothing(text: str, problem: str) -> None:
    run = stopped_at(Phase.PRE_PROMPT)
    with pytest.raises(EditError, match=problem):
        run.controller.stage_edit(text)
    assert run.controller.staged_edit is None
    finish(run)
    assert debugger_decisions(run.state.steps[0]) == []
    assert run.llm.requests[0].messages[1].content == "test"


def test_a_prompt_edit_that_breaks_tool_call_pairing_is_refused() -> None:
    run = stopped_at(Phase.PRE_PROMPT)
    run.controller.resume()  # to the next request, which has a call and its result
    run.wait(
        lambda: run.controller.pause_point is not None and run.controller.pause_point.step == 2
    )
    _, text = run.controller.edit_target() or (None, "")
    messages = json.loads(text)
    assert any(m["role"] == "tool" for m in messages)
    without_result = [m for m in messages if m["role"] != "tool"]
    with pytest.raises(EditError, match="tool-call pairing"):
        run.controller.stage_edit(json.dumps(without_result))
    finish(run)


def test_an_unchanged_prompt_is_not_an_edit() -> None:
    run = stopped_at(Phase.PRE_PROMPT)
    _, text = run.controller.edit_target() or (None, "")
    with pytest.raises(EditError, match="Nothing changed"):
        run.controller.stage_edit(text)
    finish(run)


# -- the call -----------------------------------------------------------------------------------


def test_a_call_edit_runs_the_edited_call_and_records_both() -> None:
    run = stopped_at(Phase.PRE_DISPATCH, tool="greet")
    kind, text = run.controller.edit_target() or (None, "")
    assert kind is EditKind.CALL
    assert json.loads(text) == {"tool": "greet", "args": {"name": "Ada"}}
    run.controller.stage_edit(json.dumps({"tool": "greet", "args": {"name": "Zoe"}}))
    run.controller.breakpoints.remove(1)
    run.controller.resume()
    run.join()
    first = run.state.steps[0]
    assert first.tool_result is not None and first.tool_result.data == "Hello, Zoe!"
    assert first.original_args == {"name": "Ada"}
    (decision,) = debugger_decisions(first)
    assert decision.decision == "rewrite" and decision.detail == "call edited: arguments"
    assert '"Ada"' in decision.before and '"Zoe"' in decision.after


def test_a_call_can_become_a_call_of_another_tool_checked_by_its_schema() -> None:
    run = stopped_at(Phase.PRE_DISPATCH, tool="greet")
    with pytest.raises(EditError, match="Unknown tool 'gret'"):
        run.controller.stage_edit(json.dumps({"tool": "gret", "args": {}}))
    with pytest.raises(EditError, match="why"):  # fail(why) needs its argument
        run.controller.stage_edit(json.dumps({"tool": "fail", "args": {"name": "Ada"}}))
    run.controller.stage_edit(json.dumps({"tool": "fail", "args": {"why": "on purpose"}}))
    finish(run)
    first = run.state.steps[0]
    assert first.tool_call is not None and first.tool_call.tool == "fail"
    assert first.status is StepStatus.ERROR and "on purpose" in (first.tool_result.error or "")
    assert debugger_decisions(first)[0].detail == "call edited: tool greet -> fail"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "Not valid JSON"),
        ('["greet"]', "must be a JSON object"),
        ('{"tool": "greet", "args": [1]}', "'args' must be a JSON object"),
        ('{"tool": "greet", "args": {"name": 5}, "x": 1}', "Unknown key"),
        ('{"tool": "greet", "args": {}}', "name"),
    ],
)
def test_a_bad_call_edit_is_refused_and_the_call_runs_as_the_model_made_it(
    text: str, problem: str
) -> None:
    run = stopped_at(Phase.PRE_DISPATCH, tool="greet")
    with pytest.raises(EditError, match=problem):
        run.controller.stage_edit(text)
    finish(run)
    assert run.state.steps[0].tool_result.data == "Hello, Ada!"
    assert debugger_decisions(run.state.steps[0]) == []


def test_a_skipped_call_does_not_run_and_the_model_reads_why() -> None:
    run = stopped_at(Phase.PRE_DISPATCH, tool="greet")
    with pytest.raises(EditError, match="Say why"):
        run.controller.skip_call("  ")
    run.controller.skip_call("Ada is not here today.")
    finish(run)
    first = run.state.steps[0]
    assert first.status is StepStatus.DENIED
    assert "Ada is not here today." in run.llm.requests[1].messages[-1].content
    assert debugger_decisions(first)[0].detail == "call skipped"


def test_a_call_needing_approval_still_needs_it_after_an_edit() -> None:
    script = [call("rm", path="/tmp/a"), call("done", answer="x")]
    run = stopped_at(Phase.PRE_DISPATCH, tool="rm", script=script)
    run.controller.stage_edit(json.dumps({"tool": "rm", "args": {"path": "/tmp/b"}}))
    run.controller.breakpoints.remove(1)
    run.controller.resume()
    run.wait(lambda: bool(run.controller.approvals))
    assert run.controller.approvals[0].args == {"path": "/tmp/b"}
    run.controller.approve()
    run.join()
    assert run.state.steps[0].tool_result.data == "removed /tmp/b"


# -- the result ---------------------------------------------------------------------------------


def test_a_result_edit_is_what_the_model_reads_though_the_tool_really_ran() -> None:
    run = stopped_at(Phase.POST_DISPATCH, tool="greet")
    kind, text = run.controller.edit_target() or (None, "")
    assert (kind, text) == (EditKind.RESULT, "Hello, Ada!")
    run.controller.stage_edit("Ada waved back.")
    finish(run)
    first = run.state.steps[0]
    assert first.tool_result is not None and first.tool_result.data == "Ada waved back."
    assert run.llm.requests[1].messages[-1].content == "Ada waved back."
    (decision,) = debugger_decisions(first)
    assert (decision.decision, decision.before, decision.after) == (
        "replace_result",
        "Hello, Ada!",
        "Ada waved back.",
    )


def test_an_error_result_stays_an_error_with_the_edited_message() -> None:
    script = [call("fail", why="disk full"), call("done", answer="x")]
    run = stopped_at(Phase.POST_DISPATCH, tool="fail", script=script)
    _, text = run.controller.edit_target() or (None, "")
    assert "disk full" in text
    run.controller.stage_edit("quota exceeded; try /tmp")
    finish(run)
    first = run.state.steps[0]
    assert (
        first.status is StepStatus.ERROR and first.tool_result.error == "quota exceeded; try /tmp"
    )


def test_a_huge_result_edit_keeps_bounded_before_and_after_texts() -> None:
    run = stopped_at(Phase.POST_DISPATCH, tool="greet")
    run.controller.stage_edit("x" * 100_000)
    finish(run)
    (decision,) = debugger_decisions(run.state.steps[0])
    assert len(decision.after) < CHANGE_LIMIT + 40 and "100,000 characters" in decision.after
    assert run.state.steps[0].tool_result.data == "x" * 100_000  # the edit itself is whole


# -- undo, and where edits are not allowed ------------------------------------------------------


def test_undo_drops_the_newest_edit_and_the_one_before_applies() -> None:
    run = stopped_at(Phase.PRE_DISPATCH, tool="greet")
    run.controller.stage_edit(json.dumps({"tool": "greet", "args": {"name": "Yan"}}))
    run.controller.stage_edit(json.dumps({"tool": "greet", "args": {"name": "Zoe"}}))
    assert json.loads((run.controller.edit_target() or (None, "{}"))[1])["args"] == {"name": "Zoe"}
    undone = run.controller.undo_edit()
    assert undone is not None and '"Zoe"' in undone.after
    finish(run)
    assert run.state.steps[0].tool_result.data == "Hello, Yan!"


def test_undoing_every_edit_leaves_the_step_as_the_model_made_it() -> None:
    run = stopped_at(Phase.POST_DISPATCH, tool="greet")
    run.controller.stage_edit("edited")
    run.controller.undo_edit()
    assert run.controller.undo_edit() is None
    finish(run)
    assert run.state.steps[0].tool_result.data == "Hello, Ada!"
    assert debugger_decisions(run.state.steps[0]) == []


def test_nothing_is_editable_after_the_step_or_while_running() -> None:
    run = stopped_at(Phase.CHECK_DONE)
    assert run.controller.edit_target() is None
    with pytest.raises(EditError, match="Nothing to edit here"):
        run.controller.stage_edit("{}")
    with pytest.raises(EditError, match="pre_dispatch"):
        run.controller.skip_call("no")
    finish(run)
    assert run.controller.edit_target() is None


def test_an_edit_staged_before_a_cancel_is_never_applied() -> None:
    run = stopped_at(Phase.POST_DISPATCH, tool="greet")
    run.controller.stage_edit("edited")
    run.controller.cancel()
    run.join()
    assert all(not debugger_decisions(step) for step in run.state.steps)


def test_the_edited_decision_survives_the_steps_round_trip() -> None:
    run = stopped_at(Phase.POST_DISPATCH, tool="greet")
    run.controller.stage_edit("Ada waved back.")
    finish(run)
    again = Step.from_dict(json.loads(json.dumps(run.state.steps[0].to_dict())))
    assert debugger_decisions(again) == debugger_decisions(run.state.steps[0])


# -- traces: a replay and a run diff show the edit ----------------------------------------------


def traced_run(directory: Path, edit: str | None) -> None:
    """GREET3 with a trace in ``directory``; ``edit`` replaces step 1's result when given."""
    tools = make_tools()
    controller = DebugController(
        poll=0.01,
        start_paused=False,
        breakpoints=BreakpointSet([Breakpoint(phase=Phase.POST_DISPATCH, tool="greet")]),
    )
    run = start(GREET3, controller, tools=tools, hooks=[ProvenanceSink(directory)])
    run.wait(lambda: controller.pause_point is not None)
    if edit is not None:
        controller.stage_edit(edit)
    finish(run)


def test_a_trace_keeps_the_edit_and_a_run_diff_shows_it(tmp_path: Path) -> None:
    traced_run(tmp_path / "edited", "Ada waved back.")
    traced_run(tmp_path / "plain", None)
    step = TraceReader(tmp_path / "edited").step(1)
    (decision,) = debugger_decisions(step)
    assert (decision.before, decision.after) == ("Hello, Ada!", "Ada waved back.")
    comparison = compare_traces(tmp_path / "edited", tmp_path / "plain")
    first = comparison.first
    assert first is not None and first.number == 1 and first.divergence is not None
    assert first.divergence.field == "result"
    diffs = {d.field: d for d in field_diffs(first)}
    assert diffs["edits"].a == "post_dispatch: result edited" and diffs["edits"].b == "(none)"
