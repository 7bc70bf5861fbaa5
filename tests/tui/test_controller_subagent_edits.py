"""Edits at a stop inside a sub-agent, through DebugController alone (no UI).

The run asks ``researcher`` (greets Eve, asks its own sub-agent ``helper``, which greets Dee).
Stopped inside either, ``e``'s controller half (``stage_edit``) and ``x``'s (``skip_call``) edit
the sub-agent's prompt, call and result: the sub-agent's loop applies the edit, its step records
it as the debugger's decision, an edited call is checked against the sub-agent's own tools, and
the run's trace keeps the decision on the sub-agent's step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    BaseToolRegistry,
    MockLLMBackend,
    ProvenanceSink,
    Step,
    StopReason,
    TraceReader,
)
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.controller import DebugController
from looplet_tui.live.edits import EditError, EditKind, EditPoint
from tests.tui.helpers import RESEARCH, Run, research_tools, start

BackendLog = dict[str, list[MockLLMBackend]]


def research(log: BackendLog) -> BaseToolRegistry:
    """``research_tools`` with the sub-agents' backends kept in ``log`` (to read their
    requests): researcher greets Eve, asks helper (greets Dee), answers."""

    def backend(agent: str, script: list[dict[str, Any]]) -> MockLLMBackend:
        llm = MockLLMBackend(script)
        log.setdefault(agent, []).append(llm)
        return llm

    return research_tools(backend)


def stopped_in_child(
    phase: Phase, tool: str | None = None, *, hooks: Any = ()
) -> tuple[Run, BackendLog]:
    """A research run stopped at the first ``phase`` inside a sub-agent (of ``tool``'s call;
    without a tool, at the researcher's call, then ``i`` into it: its first pre_prompt)."""
    log: BackendLog = {}
    tools = research(log)
    into = tool is None
    bp = Breakpoint(phase=Phase.PRE_DISPATCH, tool="researcher") if into else None
    breakpoints = BreakpointSet([bp or Breakpoint(phase=phase, tool=tool)])
    controller = DebugController(
        poll=0.01,
        start_paused=False,
        breakpoints=breakpoints,
        validate=tools.validate,
        tools=tools,
    )
    run = start(RESEARCH, controller, tools=tools, hooks=hooks)
    if into:
        run.wait(lambda: controller.pause_point is not None)
        controller.step_into()
    run.wait(
        lambda: (
            controller.pause_point is not None
            and controller.pause_point.depth > 0
            and controller.pause_point.phase is phase
        )
    )
    return run, log


def finish(run: Run) -> Step:
    """Let the run end; the run's step 1 (the researcher's call, its child run attached)."""
    run.controller.breakpoints.remove(1)
    run.controller.resume()
    run.join()
    assert run.error is None
    assert run.state.result is not None and run.state.result.stop_reason is StopReason.DONE
    return run.state.steps[0]


def debugger_decisions(step: Step) -> list[Any]:
    return [d for d in step.decisions if d.hook == "debugger"]


def test_a_call_edit_inside_a_sub_agent_runs_there_and_is_recorded_on_its_step() -> None:
    run, _ = stopped_in_child(Phase.PRE_DISPATCH, "greet")
    ctl = run.controller
    assert ctl.editable == EditPoint(EditKind.CALL, 1, "researcher")
    target = ctl.edit_target()
    assert target is not None
    assert json.loads(target[1]) == {"tool": "greet", "args": {"name": "Eve"}}
    staged = ctl.stage_edit(json.dumps({"tool": "greet", "args": {"name": "Zed"}}))
    assert staged.note == "call edited: arguments"
    parent = finish(run)
    assert parent.child is not None
    first = parent.child.steps[0]
    assert first.tool_call is not None and first.tool_call.args == {"name": "Zed"}
    assert first.original_args == {"name": "Eve"}
    assert first.tool_result is not None and first.tool_result.data == "Hello, Zed!"
    (decision,) = debugger_decisions(first)
    assert (decision.phase, decision.decision) == ("pre_dispatch", "rewrite")
    assert '"Eve"' in decision.before and '"Zed"' in decision.after
    assert debugger_decisions(parent) == []  # the run's own step was not edited


def test_an_edited_call_inside_a_sub_agent_is_checked_against_the_sub_agent_s_tools() -> None:
    run, _ = stopped_in_child(Phase.PRE_DISPATCH, "greet")
    ctl = run.controller
    with pytest.raises(EditError, match="name"):
        ctl.stage_edit(json.dumps({"tool": "greet", "args": {"who": "Zed"}}))
    # rm is one of the run's tools, not the researcher's: the researcher cannot call it
    with pytest.raises(EditError, match="Unknown tool 'rm'"):
        ctl.stage_edit(json.dumps({"tool": "rm", "args": {"path": "/tmp/x"}}))
    assert ctl.staged_edit is None
    parent = finish(run)
    assert parent.child is not None
    first = parent.child.steps[0]
    assert first.tool_call is not None and first.tool_call.args == {"name": "Eve"}
    assert debugger_decisions(first) == []


def test_a_prompt_edit_inside_a_sub_agent_is_what_its_model_is_sent() -> None:
    run, log = stopped_in_child(Phase.PRE_PROMPT)
    ctl = run.controller
    assert ctl.editable == EditPoint(EditKind.PROMPT, 1, "researcher")
    target = ctl.edit_target()
    assert target is not None and target[0] is EditKind.PROMPT
    messages = json.loads(target[1])
    assert messages[-1]["content"] == "look around"  # the sub-agent's own task
    messages[-1]["content"] = "look around the barn"
    assert "this request only" in ctl.stage_edit(json.dumps(messages)).note
    parent = finish(run)
    (researcher,) = log["researcher"]
    assert researcher.requests[0].messages[-1].content == "look around the barn"
    assert parent.child is not None
    (decision,) = debugger_decisions(parent.child.steps[0])
    assert (decision.phase, decision.decision) == ("pre_prompt", "edit")
    assert run.llm.requests[0].messages[-1].content == "test"  # the run's prompt is its own


def test_a_result_edit_and_a_skip_two_deep_land_on_the_helper_s_step() -> None:
    run, _ = stopped_in_child(Phase.POST_DISPATCH, "greet")
    ctl = run.controller
    assert ctl.editable == EditPoint(EditKind.RESULT, 1, "researcher")
    ctl.stage_edit("Eve waved.")
    ctl.breakpoints.remove(1)
    ctl.breakpoints.add(Breakpoint(phase=Phase.PRE_DISPATCH, tool="greet"))
    ctl.resume()  # the helper's greet is the next greet call
    run.wait(lambda: ctl.editable == EditPoint(EditKind.CALL, 1, "researcher › helper"))
    with pytest.raises(EditError, match="Say why"):
        ctl.skip_call("  ")
    ctl.skip_call("Dee is not in today.")
    ctl.breakpoints.remove(2)
    ctl.resume()
    run.join()
    assert run.error is None
    parent = run.state.steps[0]
    assert parent.child is not None
    greet, asked = parent.child.steps[:2]
    assert greet.tool_result is not None and greet.tool_result.data == "Eve waved."
    (decision,) = debugger_decisions(greet)
    assert (decision.phase, decision.before, decision.after) == (
        "post_dispatch",
        "Hello, Eve!",
        "Eve waved.",
    )
    assert asked.child is not None
    skipped = asked.child.steps[0]
    assert skipped.tool_result is not None
    assert skipped.tool_result.error == "denied: Dee is not in today."
    (decision,) = debugger_decisions(skipped)
    assert decision.detail == "call skipped"


def test_the_trace_keeps_an_edit_made_inside_a_sub_agent(tmp_path: Path) -> None:
    run, _ = stopped_in_child(Phase.PRE_DISPATCH, "greet", hooks=[ProvenanceSink(tmp_path)])
    run.controller.stage_edit(json.dumps({"tool": "greet", "args": {"name": "Zed"}}))
    finish(run)
    child = TraceReader(tmp_path).child(1)
    first = child.steps[0]
    assert first.tool_call is not None and first.tool_call.args == {"name": "Zed"}
    (decision,) = debugger_decisions(first)
    assert decision.detail == "call edited: arguments"
