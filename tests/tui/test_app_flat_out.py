"""The debugger on a run going flat out: its stops are drawn at once and exactly where the run
stopped, and the heap it freezes while the run goes on (``live.heap``) is let go at each stop
and when the debugger closes."""

from __future__ import annotations

import gc

from looplet_core import LoopConfig
from looplet_tui.live.breakpoints import Breakpoint
from tests.tui.helpers import call
from tests.tui.pilot import app_for, screen_text, settled, until

SIZE = (120, 36)
STEPS = 1_500
LONG = 60.0


def greets(n: int) -> list[object]:
    return [call("greet", name=str(i)) for i in range(n)]


async def test_a_breakpoint_deep_in_a_flat_out_run_is_shown_at_its_step() -> None:
    k = 1_111
    script = [*greets(STEPS), call("done", answer="ok")]
    app = app_for(script, start_paused=False, config=LoopConfig(max_steps=STEPS + 1))
    app.controller.breakpoints.add(Breakpoint(tool="greet", after=k))
    async with app.run_test(size=SIZE) as pilot:
        ctl = app.controller
        await until(pilot, lambda: ctl.pause_point is not None, "the breakpoint", LONG)
        await settled(pilot, app)
        assert ctl.pause_point is not None and ctl.pause_point.step == k
        assert ctl.steps_done == k - 1
        assert not app._heap.held  # pyright: ignore[reportPrivateUsage]
        assert "breakpoint 1" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: ctl.steps_done == k and ctl.pause_point is not None)
        ctl.breakpoints.remove(1)
        await pilot.press("c")
        await until(pilot, lambda: ctl.finished, "the end", LONG)
        await settled(pilot, app)
        assert ctl.steps_done == STEPS + 1
        assert not app._heap.held  # pyright: ignore[reportPrivateUsage]
    assert gc.get_freeze_count() == 0


async def test_an_approval_deep_in_a_flat_out_run_waits_on_screen() -> None:
    k = 1_001
    script = [*greets(k - 1), call("rm", path="/tmp/x"), call("done", answer="ok")]
    app = app_for(script, start_paused=False, config=LoopConfig(max_steps=k + 2))
    async with app.run_test(size=SIZE) as pilot:
        ctl = app.controller
        await until(pilot, lambda: ctl.approvals, "the approval", LONG)
        await settled(pilot, app)
        assert ctl.steps_done == k and ctl.approvals[0].tool == "rm"
        assert not app._heap.held  # pyright: ignore[reportPrivateUsage]
        await pilot.press("a")
        await until(pilot, lambda: ctl.finished, "the end", LONG)
    assert gc.get_freeze_count() == 0
