"""Pilot tests: b on a step, the breakpoints screen, every breakpoint kind stopping a live run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Input, Select

from looplet_core import LoopConfig
from looplet_tui.app import DebuggerApp
from looplet_tui.live.breakpoints import Breakpoint, Phase
from looplet_tui.screens.breakpoints import BreakpointsScreen, BreakpointTable
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.helpers import call
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until

SCRIPT = [
    call("greet", name="ann"),
    call("fail", why="boom"),
    call("greet", name="bob"),
    call("greet", name="cy"),
    call("done", answer="ok"),
]


async def test_b_toggles_a_breakpoint_on_the_selected_steps_tool() -> None:
    app = app_for(SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("n")  # step 1: greet
        await until(
            pilot,
            lambda: app.controller.steps_done == 1 and app.controller.pause_point is not None,
            "step 1",
        )
        await settled(pilot, app)
        await pilot.press("b")
        await pilot.pause()
        assert [bp.tool for bp in app.controller.breakpoints.items()] == ["greet"]
        assert "◆" in screen_text(app)  # the marker on greet rows
        await pilot.press("c")
        await until(pilot, lambda: app.controller.pause_point is not None, "the breakpoint")
        await settled(pilot, app)
        point = app.controller.pause_point
        assert point is not None and (point.phase, point.step) == (Phase.PRE_DISPATCH, 3)
        assert "breakpoint 1: tool 'greet'" in screen_text(app)
        await pilot.press("b")  # on the live greet row: removes it again
        await pilot.pause()
        assert len(app.controller.breakpoints) == 0


async def fill_form(app: DebuggerApp, **fields: Any) -> None:
    screen = app.screen
    assert isinstance(screen, BreakpointsScreen)
    if "phase" in fields:
        screen.query_one("#bp-phase", Select).value = fields["phase"]
    for name in ("tool", "args", "context", "after"):
        if name in fields:
            screen.query_one(f"#bp-{name}", Input).value = str(fields[name])
    screen.query_one("#bp-error", Checkbox).value = bool(fields.get("on_error"))


CASES = [
    ({"phase": "post_dispatch"}, Phase.POST_DISPATCH, 1),
    ({"tool": "fa*"}, Phase.PRE_DISPATCH, 2),
    ({"args": '"name": "b'}, Phase.PRE_DISPATCH, 3),
    ({"on_error": True}, Phase.CHECK_DONE, 2),
    ({"tool": "greet", "after": 3}, Phase.PRE_DISPATCH, 4),
    ({"context": 15}, Phase.PRE_PROMPT, 2),  # step 1's prompt passed before it was added
]


@pytest.mark.parametrize(
    ("form", "phase", "step"), CASES, ids=["phase", "tool", "args", "error", "after", "context"]
)
async def test_each_breakpoint_kind_added_on_the_screen_stops_the_run(
    form: dict[str, Any], phase: Phase, step: int
) -> None:
    app = app_for(SCRIPT, config=LoopConfig(max_steps=20, context_window=500))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("B")
        await pilot.pause()
        await fill_form(app, **form)
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.controller.breakpoints) == 1
        assert "@" + phase.value in screen_text(app)  # listed with the phase it checks
        await pilot.press("escape", "c")
        await until(
            pilot,
            lambda: (
                app.controller.pause_point is not None
                and app.controller.pause_point.reason.startswith("breakpoint")
            ),
            "the stop",
        )
        point = app.controller.pause_point
        assert point is not None and (point.phase, point.step) == (phase, step)


async def test_the_screen_rejects_an_invalid_breakpoint_with_a_reason() -> None:
    app = app_for(SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("B")
        await pilot.pause()
        await fill_form(app, args="(unclosed")
        await pilot.press("enter")
        await pilot.pause()
        assert "argument regex '(unclosed' is invalid" in screen_text(app)
        assert len(app.controller.breakpoints) == 0


async def test_enable_disable_remove_and_edit_on_the_screen() -> None:
    app = app_for(SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        bps = app.controller.breakpoints
        bps.add(Breakpoint(tool="greet"))
        bps.add(Breakpoint(on_error=True))
        await pilot.press("B")
        await pilot.pause()
        app.screen.query_one(BreakpointTable).focus()
        await pilot.press("space")
        assert [bp.enabled for bp in bps.items()] == [False, True]
        await pilot.press("down", "e")
        await pilot.pause()
        assert app.screen.query_one("#bp-error", Checkbox).value is True
        await fill_form(app, tool="fail", on_error=True)
        await pilot.press("enter")
        await pilot.pause()
        assert [bp.describe() for bp in bps.items()][1] == "tool 'fail' · on error · @check_done"
        app.screen.query_one(BreakpointTable).focus()
        await pilot.press("up", "x")
        await pilot.pause()
        assert [bp.tool for bp in bps.items()] == ["fail"]


async def test_breakpoints_are_saved_next_to_the_run_and_loaded_back(tmp_path: Path) -> None:
    file = tmp_path / "agent.breakpoints.json"
    app = app_for(SCRIPT)
    app.session.breakpoints_file = file
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        app.controller.breakpoints.add(Breakpoint(tool="rm*", args="/etc", after=2))
        await pilot.press("B")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = json.loads(file.read_text())
        assert saved["breakpoints"][0]["tool"] == "rm*"
        app.controller.breakpoints.add(Breakpoint(on_error=True))
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert [bp.tool for bp in app.controller.breakpoints.items()] == ["rm*"]
    reopened = app_for(SCRIPT)
    reopened.session.breakpoints_file = file
    reopened2 = DebuggerApp(reopened.session)  # the file is read when the debugger opens
    assert [bp.describe() for bp in reopened2.controller.breakpoints.items()] == [
        "tool 'rm*' · args //etc/ · after 2 hits · @pre_dispatch"
    ]


async def test_timeline_marks_steps_whose_tool_has_a_breakpoint() -> None:
    app = app_for(SCRIPT, start_paused=False)
    app.controller.breakpoints.add(Breakpoint(tool="fail", enabled=True, phase=Phase.CHECK_DONE))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        timeline = app.query_one(StepTimeline)
        marked = [
            timeline.row_text(timeline.row(i)).plain.startswith("◆")  # type: ignore[arg-type]
            for i in range(timeline.row_count)
        ]
        assert marked[:2] == [False, True]


async def test_the_run_keeps_updating_underneath_an_open_dialog() -> None:
    app = app_for(SCRIPT, start_paused=False, delay=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("B")
        await pilot.pause()
        assert isinstance(app.screen, BreakpointsScreen)
        await until(pilot, lambda: app.controller.finished, "the end, with the dialog open")
        await pilot.pause(1.1)  # the header's clock ticks too
        await pilot.press("escape")
        await pilot.pause()
        assert "DONE" in screen_text(app)
