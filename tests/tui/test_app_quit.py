"""Pilot tests: q leaves at once, whatever the run is doing, and the run is cancelled cleanly."""

from __future__ import annotations

import threading
import time

from looplet_core import StopReason, ToolSpec
from looplet_tui.live.breakpoints import Breakpoint
from looplet_tui.screens.help import HelpScreen
from tests.tui.helpers import call, make_tools
from tests.tui.pilot import SIZE, app_for, settled, until


async def test_q_while_paused_at_a_breakpoint_cancels_the_run() -> None:
    app = app_for([call("greet", name="x"), call("done", answer="ok")], start_paused=False)
    app.controller.breakpoints.add(Breakpoint(tool="greet"))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        assert app.controller.pause_point is not None
        await pilot.press("q")
    assert app.return_code == 0
    assert app.loop_done.wait(2.0)
    result = app.session.state.result  # type: ignore[union-attr]
    assert result is not None and result.stop_reason is StopReason.CANCELLED
    assert app.controller.step(1) is not None
    assert app.controller.step(1).tool_result.error_kind.value == "cancelled"  # type: ignore[union-attr]


async def test_q_while_a_cooperative_tool_runs_stops_it() -> None:
    app = app_for([call("slow", seconds=30), call("done", answer="ok")], start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot,
            lambda: (
                app.controller.live is not None
                and app.controller.live.activity.startswith("running slow")
            ),
            "the tool",
        )
        started = time.monotonic()
        await pilot.press("q")
    assert app.loop_done.wait(2.0)
    assert time.monotonic() - started < 2.0
    result = app.session.state.result  # type: ignore[union-attr]
    assert result is not None and result.stop_reason is StopReason.CANCELLED


async def test_q_while_a_tool_ignores_cancellation_still_leaves_at_once() -> None:
    gate = threading.Event()
    tools = make_tools()
    tools.register(
        ToolSpec("stubborn", "Ignores cancellation.", {}, lambda: gate.wait(30) and "finished")
    )
    app = app_for([call("stubborn"), call("done", answer="ok")], start_paused=False, tools=tools)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(
                pilot,
                lambda: (
                    app.controller.live is not None and "stubborn" in app.controller.live.activity
                ),
                "the tool",
            )
            started = time.monotonic()
            await pilot.press("q")
        assert time.monotonic() - started < 1.0  # the UI did not wait for the tool
        assert not app.loop_done.is_set()  # the tool is still running, left behind
    finally:
        gate.set()
    assert app.loop_done.wait(2.0)


async def test_the_ui_stays_responsive_while_the_model_is_slow() -> None:
    app = app_for(
        [call("greet", name="x"), call("done", answer="ok")], start_paused=False, delay=3.0
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.live is not None, "the model call")
        await pilot.press("3", "1", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)  # keys were handled...
        assert app.controller.steps_done == 0  # ...while the model was still answering
        await pilot.press("escape", "q")
