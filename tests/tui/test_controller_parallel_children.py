"""Two sub-agents of one parallel batch, through DebugController alone: which stop is shown.

The run's first reply calls ``alpha`` and ``beta`` together (both read-only sub-agents, so they
run at the same time); each greets someone and answers.  ``alpha``'s own hook sleeps before each
of its prompts, so ``beta`` reaches every point first.  Still the stops are shown in the model's
order: ``alpha``'s (the first call) first, ``beta``'s waiting its turn (``waiting``, named in the
header), then ``beta``'s once ``alpha`` has ended; a waiting stop is asked again under the keys
pressed since, so ``c`` lets it go unless a breakpoint holds it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from looplet_core import BaseToolRegistry, LoopConfig, MockLLMBackend, StopReason, subagent
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.controller import DebugController
from looplet_tui.widgets.header import describe_run
from tests.tui.helpers import Run, call, make_tools, start

BATCH = [
    [call("alpha", task="greet Ann"), call("beta", task="greet Ben")],
    call("done", answer="ok"),
]

Where = tuple[str, int, Phase]
BEN = [call("greet", name="Ben"), call("done", answer="greeted Ben")]


class Slow:
    """alpha's own hook: a slow pre_prompt, so beta gets everywhere first."""

    name = "slow"

    def pre_prompt(self, state: Any, log: Any, ctx: Any, step: int) -> None:
        time.sleep(0.15)


def batch_tools() -> BaseToolRegistry:
    tools = make_tools()
    for agent, who, hooks in (("alpha", "Ann", [Slow()]), ("beta", "Ben", [])):
        inner = BaseToolRegistry()
        inner.register(make_tools().get("greet"))  # type: ignore[arg-type]
        script = [call("greet", name=who), call("done", answer=f"greeted {who}")]
        tools.register(
            subagent(
                agent,
                f"Greets {who}.",
                llm=lambda s=script: MockLLMBackend(s),
                tools=inner,
                hooks=lambda h=hooks: h,
                read_only=True,
            )
        )
    return tools


def batch_run(**kwargs: Any) -> Run:
    tools = batch_tools()
    controller = DebugController(poll=0.01, validate=tools.validate, tools=tools, **kwargs)
    return start(BATCH, controller, tools=tools, config=LoopConfig(max_steps=20, parallel_tools=2))


def go(run: Run, command: str) -> Where | None:
    """Give ``command``; the next stop (agent, step, phase), or None if the run ended."""
    ctl = run.controller
    before = ctl.pause_point
    getattr(ctl, command)()
    run.wait(lambda: ctl.pause_point not in (None, before) or ctl.finished)
    point = ctl.pause_point
    return None if point is None else (point.agent, point.step, point.phase)


def to_the_batch(run: Run) -> None:
    """Paused at the start: to beta's pre_dispatch (both calls are decided before either runs)."""
    run.wait_paused()
    assert go(run, "next_phase") == ("", 1, Phase.PRE_DISPATCH)
    assert go(run, "next_phase") == ("", 2, Phase.PRE_DISPATCH)


def finished(run: Run) -> None:
    run.join()
    assert run.error is None
    assert run.state.result is not None and run.state.result.stop_reason is StopReason.DONE


def stepped_through(run: Run) -> list[Where]:
    """``i`` into the batch, then ``s`` until the run is back at its own level."""
    to_the_batch(run)
    first = go(run, "step_into")
    assert first is not None
    seen = [first]
    while seen[-1][0]:
        if seen[-1][0] == "alpha" and run.controller.waiting:
            assert run.controller.waiting == ("beta",)
        point = go(run, "next_phase")
        assert point is not None
        seen.append(point)
    run.controller.resume()
    finished(run)
    return seen


def test_i_into_a_batch_stops_in_the_first_call_s_sub_agent_while_the_second_waits() -> None:
    run = batch_run()
    to_the_batch(run)
    assert go(run, "step_into") == ("alpha", 1, Phase.PRE_PROMPT)
    ctl = run.controller
    run.wait(lambda: ctl.waiting == ("beta",))  # beta got there first, and waits its turn
    assert describe_run(ctl) == (
        "run › alpha (beta waits to stop) · stopped at step 1 pre_prompt · stepped into"
    )
    [beta] = [f for f in ctl.frames if f.agent == "beta"]
    assert beta.steps == [] and beta.live is not None  # held at its first prompt
    ctl.resume()
    finished(run)
    assert ctl.waiting == ()


def test_stepping_shows_all_of_the_first_sub_agent_then_the_second_the_same_every_time() -> None:
    first = stepped_through(batch_run())
    agents = [agent for agent, _, _ in first]
    # alpha's stops, then beta's, then the run's own post_dispatch of the batch's first call
    assert agents == [*sorted(agents[:-1], key=["alpha", "beta"].index), ""]
    assert agents.count("alpha") == agents.count("beta") >= 4
    assert first[agents.index("beta")] == ("beta", 1, Phase.PRE_PROMPT)
    assert first[-1] == ("", 1, Phase.POST_DISPATCH)
    assert stepped_through(batch_run()) == first  # deterministic


def test_under_c_breakpoints_in_both_stop_in_the_model_s_order() -> None:
    bp = BreakpointSet([Breakpoint(phase=Phase.PRE_DISPATCH, tool="greet")])
    run = batch_run(start_paused=False, breakpoints=bp)
    ctl = run.controller
    run.wait(lambda: ctl.pause_point is not None)
    point = ctl.pause_point
    assert point is not None and (point.agent, point.step, point.phase) == (
        "alpha",
        1,
        Phase.PRE_DISPATCH,
    )
    run.wait(lambda: ctl.waiting == ("beta",))
    assert go(run, "resume") == ("beta", 1, Phase.PRE_DISPATCH)
    assert ctl.waiting == ()
    assert go(run, "resume") is None
    finished(run)


def test_c_at_the_first_sub_agent_s_stop_lets_the_second_s_stepping_stop_go() -> None:
    run = batch_run()
    to_the_batch(run)
    assert go(run, "step_into") == ("alpha", 1, Phase.PRE_PROMPT)
    run.wait(lambda: run.controller.waiting == ("beta",))
    assert go(run, "resume") is None  # beta's stop was for i, not a breakpoint: no stop
    finished(run)


def test_an_edit_at_the_first_sub_agent_s_stop_applies_there_with_the_second_s_stop_next() -> None:
    bp = BreakpointSet([Breakpoint(phase=Phase.PRE_DISPATCH, tool="greet")])
    run = batch_run(start_paused=False, breakpoints=bp)
    ctl = run.controller
    run.wait(lambda: ctl.pause_point is not None and ctl.waiting == ("beta",))
    ctl.stage_edit(json.dumps({"tool": "greet", "args": {"name": "Zoe"}}))
    assert go(run, "resume") == ("beta", 1, Phase.PRE_DISPATCH)
    target = ctl.edit_target()
    assert target is not None and json.loads(target[1])["args"] == {"name": "Ben"}
    ctl.breakpoints.remove(1)
    ctl.resume()
    finished(run)
    alpha, beta = run.state.steps[0].child, run.state.steps[1].child
    assert alpha is not None and beta is not None
    assert alpha.steps[0].tool_result is not None
    assert alpha.steps[0].tool_result.data == "Hello, Zoe!"
    assert beta.steps[0].tool_result is not None
    assert beta.steps[0].tool_result.data == "Hello, Ben!"


def test_a_sub_agent_whose_loop_raises_does_not_hold_the_next_one_s_stop() -> None:
    def broken() -> MockLLMBackend:
        raise RuntimeError("no model for alpha")

    tools = make_tools()
    for agent, llm in (("alpha", broken), ("beta", lambda: MockLLMBackend(BEN))):
        inner = BaseToolRegistry()
        inner.register(make_tools().get("greet"))  # type: ignore[arg-type]
        tools.register(subagent(agent, "Greets.", llm=llm, tools=inner, read_only=True))
    bp = BreakpointSet([Breakpoint(phase=Phase.PRE_DISPATCH, tool="greet")])
    controller = DebugController(poll=0.01, start_paused=False, breakpoints=bp, tools=tools)
    run = start(BATCH, controller, tools=tools, config=LoopConfig(max_steps=20, parallel_tools=2))
    run.wait(lambda: controller.pause_point is not None)
    point = controller.pause_point
    assert point is not None and (point.agent, point.phase) == ("beta", Phase.PRE_DISPATCH)
    assert [f.agent for f in controller.frames] == ["beta"]  # alpha's frame went at its end
    controller.resume()
    finished(run)
    alpha = run.state.steps[0]
    assert alpha.tool_result is not None and "no model for alpha" in str(alpha.tool_result.error)
