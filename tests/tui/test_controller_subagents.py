"""DebugController inside sub-agents, without any UI: ``n`` steps over a sub-agent, ``i`` steps
into one, ``o`` steps out, breakpoints fire inside children and the stop names the child.

The run asks ``researcher`` (a sub-agent of three steps whose second asks its own sub-agent
``helper``), on a thread, exactly as the debugger's worker runs it.
"""

from __future__ import annotations

from looplet_core import StopReason
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.controller import DebugController
from looplet_tui.live.runstate import PausePoint
from looplet_tui.widgets.header import describe_pause
from tests.tui.helpers import RESEARCH, Run, research_tools, start


def run_research(**kwargs: object) -> Run:
    return start(RESEARCH, DebugController(poll=0.01, **kwargs), tools=research_tools())  # type: ignore[arg-type]


def go(run: Run, command: str) -> PausePoint:
    """Give ``command`` and wait for the next stop; return it."""
    before = run.controller.pause_point
    getattr(run.controller, command)()
    run.wait(lambda: run.controller.pause_point not in (None, before) or run.controller.finished)
    point = run.controller.pause_point
    assert point is not None, f"the run ended instead of stopping after {command}"
    return point


def where(point: PausePoint) -> tuple[str, int, Phase, int]:
    return point.agent, point.step, point.phase, point.depth


def to_researcher_call(run: Run) -> None:
    run.wait_paused()
    assert where(go(run, "next_phase")) == ("", 1, Phase.PRE_DISPATCH, 0)
    assert run.controller.live is not None
    assert run.controller.live.step.tool_call is not None
    assert run.controller.live.step.tool_call.tool == "researcher"


def finish(run: Run) -> None:
    run.controller.resume()
    run.join()
    assert run.error is None
    assert run.state.result is not None and run.state.result.stop_reason is StopReason.DONE


def test_n_at_the_run_s_level_steps_over_the_whole_sub_agent() -> None:
    run = run_research()
    run.wait_paused()
    point = go(run, "next_step")
    assert where(point) == ("", 1, Phase.CHECK_DONE, 0)
    step = run.controller.step(1)
    assert step is not None and step.child is not None and len(step.child.steps) == 3
    assert run.controller.frames == []  # the sub-agent ran to its end without a stop
    finish(run)


def test_s_at_a_sub_agent_call_steps_over_it_too() -> None:
    run = run_research()
    to_researcher_call(run)
    assert where(go(run, "next_phase")) == ("", 1, Phase.POST_DISPATCH, 0)
    finish(run)


def test_i_stops_at_the_child_s_first_step_and_n_s_step_inside_it() -> None:
    run = run_research()
    to_researcher_call(run)
    point = go(run, "step_into")
    assert where(point) == ("researcher", 1, Phase.PRE_PROMPT, 1)
    assert point.reason == "stepped into"
    assert describe_pause(point) == "run › researcher · stopped at step 1 pre_prompt · stepped into"
    [frame] = run.controller.frames
    assert (frame.agent, frame.parent_step, frame.depth) == ("researcher", 1, 1)
    assert frame.live is not None and frame.live.step.number == 1
    assert run.controller.steps_done == 0  # the parent's step 1 is still running its call
    assert where(go(run, "next_step")) == ("researcher", 1, Phase.CHECK_DONE, 1)
    assert [s.tool for s in frame.steps] == ["greet"]
    assert where(go(run, "next_phase")) == ("researcher", 2, Phase.PRE_PROMPT, 1)
    assert where(go(run, "next_phase")) == ("researcher", 2, Phase.PRE_DISPATCH, 1)
    # n inside the researcher steps over its own sub-agent, helper
    assert where(go(run, "next_step")) == ("researcher", 2, Phase.CHECK_DONE, 1)
    assert frame.steps[-1].child is not None and frame.steps[-1].child.agent == "helper"
    finish(run)


def test_o_runs_to_the_child_s_end_and_stops_at_the_parent_step_that_ran_it() -> None:
    run = run_research()
    to_researcher_call(run)
    go(run, "step_into")
    point = go(run, "step_out")
    assert where(point) == ("", 1, Phase.POST_DISPATCH, 0)
    assert run.controller.frames == []
    live = run.controller.live
    assert live is not None and live.step.tool_result is not None
    assert live.step.tool_result.data == "found two"
    assert run.controller.step_out() is False  # nothing to step out of at the run's level
    finish(run)


def test_i_and_o_work_two_deep() -> None:
    run = run_research()
    to_researcher_call(run)
    go(run, "step_into")
    go(run, "next_step")  # the researcher's greet
    go(run, "next_phase")  # its step 2's pre_prompt
    assert where(go(run, "next_phase")) == ("researcher", 2, Phase.PRE_DISPATCH, 1)
    point = go(run, "step_into")
    assert where(point) == ("researcher › helper", 1, Phase.PRE_PROMPT, 2)
    outer, inner = run.controller.frames
    assert inner.parent is outer and (inner.agent, inner.parent_step) == ("helper", 2)
    assert where(go(run, "step_out")) == ("researcher", 2, Phase.POST_DISPATCH, 1)
    assert [f.agent for f in run.controller.frames] == ["researcher"]
    assert where(go(run, "step_out")) == ("", 1, Phase.POST_DISPATCH, 0)
    finish(run)


def test_n_past_a_child_s_last_step_comes_back_to_the_parent_step() -> None:
    run = run_research()
    to_researcher_call(run)
    go(run, "step_into")
    seen = [where(go(run, "next_step")) for _ in range(4)]
    assert seen == [
        ("researcher", 1, Phase.CHECK_DONE, 1),
        ("researcher", 2, Phase.CHECK_DONE, 1),
        ("researcher", 3, Phase.CHECK_DONE, 1),
        ("", 1, Phase.CHECK_DONE, 0),
    ]
    finish(run)


def test_a_tool_breakpoint_fires_inside_children_and_the_stop_names_the_child() -> None:
    run = run_research(breakpoints=BreakpointSet([Breakpoint(tool="greet")]), start_paused=False)
    point = run.wait_paused()
    assert where(point) == ("researcher", 1, Phase.PRE_DISPATCH, 1)
    assert point.reason.startswith("breakpoint 1")
    assert describe_pause(point).startswith("run › researcher · stopped at step 1 pre_dispatch")
    frame = run.controller.frames[-1]
    assert frame.live is not None and frame.live.step.tool_call is not None
    assert frame.live.step.tool_call.args == {"name": "Eve"}
    assert where(go(run, "resume")) == ("researcher › helper", 1, Phase.PRE_DISPATCH, 2)
    finish(run)


def test_a_run_without_sub_agents_never_goes_deeper_and_i_is_s() -> None:
    from tests.tui.helpers import GREET3

    run = start(GREET3, DebugController(poll=0.01))
    run.wait_paused()
    assert where(go(run, "step_into")) == ("", 1, Phase.PRE_DISPATCH, 0)
    assert run.controller.step_out() is False
    finish(run)
