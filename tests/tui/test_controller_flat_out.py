"""A run going flat out (thousands of steps, never paused) stops exactly where it would stop at
walking pace: the controller passes the phases nothing can stop at without a probe or the lock
(``DebugController._passes``), and that shortcut must never skip a stop."""

from __future__ import annotations

import time
from typing import Any

from looplet_core import LoopConfig
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.controller import DebugController
from looplet_tui.live.runstate import PausePoint, RunState
from tests.tui.helpers import Run, call, start

STEPS = 1_500
LONG = 30.0  # seconds a wait may take on a loaded machine (it returns as soon as it holds)


def greets(n: int = STEPS, *, then: list[Any] | None = None) -> list[Any]:
    return [call("greet", name=str(i)) for i in range(n)] + (then or [call("done", answer="ok")])


def run_flat(script: list[Any], **kwargs: Any) -> Run:
    controller = DebugController(poll=0.01, start_paused=False, **kwargs)
    return start(script, controller, config=LoopConfig(max_steps=len(script) + 1))


def next_stop(run: Run, after: PausePoint) -> PausePoint:
    """The stop after ``after``, once the run has left it and stopped again."""
    run.wait(lambda: run.controller.pause_point not in (None, after), LONG)
    stop = run.controller.pause_point
    assert stop is not None
    return stop


def still(run: Run) -> tuple[int, object]:
    """What the run shows, twice 50 ms apart, to check it does not move while stopped."""
    first = (run.controller.steps_done, run.controller.pause_point)
    time.sleep(0.05)
    assert (run.controller.steps_done, run.controller.pause_point) == first
    return first


def test_a_breakpoint_after_k_hits_stops_a_flat_out_run_at_step_k() -> None:
    k = 1_234
    bp = Breakpoint(tool="greet", after=k)
    run = run_flat(greets(), breakpoints=BreakpointSet([bp]))
    point = run.wait_paused(LONG)
    assert (point.phase, point.step, bp.hits) == (Phase.PRE_DISPATCH, k, k)
    assert run.controller.steps_done == k - 1
    still(run)
    run.controller.next_step()  # n: the rest of step k, then its end
    stop = next_stop(run, point)
    assert (stop.phase, stop.step) == (Phase.CHECK_DONE, k)
    assert run.controller.steps_done == k
    run.controller.cancel()
    run.join(LONG)


def test_n_from_a_pause_in_a_flat_out_run_stops_at_the_end_of_that_step_then_the_next() -> None:
    run = run_flat(greets())
    run.wait(lambda: run.controller.steps_done >= 200, LONG)
    run.controller.pause()
    point = run.wait_paused(LONG)
    steps, _ = still(run)
    run.controller.next_step()
    stop = next_stop(run, point)
    expected = point.step + 1 if point.phase is Phase.CHECK_DONE else point.step
    assert (stop.phase, stop.step) == (Phase.CHECK_DONE, expected)
    assert run.controller.steps_done == expected
    assert steps in (expected - 1, expected)
    run.controller.next_step()
    last = next_stop(run, stop)
    assert (last.phase, last.step) == (Phase.CHECK_DONE, expected + 1)
    run.controller.cancel()
    run.join(LONG)


def test_s_from_a_pause_in_a_flat_out_run_stops_at_the_very_next_phase() -> None:
    order = list(Phase)
    run = run_flat(greets())
    run.wait(lambda: run.controller.steps_done >= 100, LONG)
    run.controller.pause()
    point = run.wait_paused(LONG)
    run.controller.next_phase()
    stop = next_stop(run, point)
    if point.phase is Phase.CHECK_DONE:
        assert (stop.phase, stop.step) == (Phase.PRE_PROMPT, point.step + 1)
    else:
        assert (stop.phase, stop.step) == (order[order.index(point.phase) + 1], point.step)
    run.controller.cancel()
    run.join(LONG)


def test_a_breakpoint_added_while_the_run_goes_flat_out_stops_it() -> None:
    run = run_flat(greets())
    run.wait(lambda: run.controller.steps_done >= 100, LONG)
    run.controller.breakpoints.add(Breakpoint(phase=Phase.CHECK_DONE))
    point = run.wait_paused(LONG)
    assert point.phase is Phase.CHECK_DONE
    assert run.controller.steps_done == point.step < STEPS
    still(run)
    run.controller.cancel()
    run.join(LONG)


def test_an_approval_deep_in_a_flat_out_run_waits_for_the_user() -> None:
    k = 1_001
    script = greets(k - 1, then=[call("rm", path="/tmp/x"), *greets(50)])
    run = run_flat(script)
    run.wait(lambda: run.controller.approvals, LONG)
    controller = run.controller
    assert controller.run_state is RunState.AWAITING_APPROVAL
    assert controller.approvals[0].tool == "rm"
    assert controller.steps_done == k
    time.sleep(0.05)
    assert controller.steps_done == k and controller.approvals  # nothing decides for the user
    controller.approve()
    run.join(LONG)
    assert controller.finished and controller.steps_done == k + 51
    assert run.steps[k - 1].tool_result.data == "removed /tmp/x"


def test_a_flat_out_run_announces_one_change_until_read_and_its_end_always() -> None:
    calls: list[RunState] = []
    controller = DebugController(poll=0.01, start_paused=False)
    controller.on_change = lambda: calls.append(controller.run_state)
    run = start(greets(), controller, config=LoopConfig(max_steps=STEPS + 2))
    run.join(LONG)
    assert controller.steps_done == STEPS + 1
    # The first change, then nothing (unread) until the end, which is always announced.
    assert calls == [RunState.RUNNING, RunState.DONE]
