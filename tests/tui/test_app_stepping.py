"""Pilot tests: stepping a scripted run with the keys, and what the screen shows at each stop."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import TabbedContent

from looplet_core import StopReason
from looplet_tui.live.breakpoints import Phase
from looplet_tui.live.runstate import RunState
from looplet_tui.screens.help import HelpScreen
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.helpers import GREET3, call
from tests.tui.pilot import SIZE, app_for, demo_app, screen_text, settled, until


async def test_n_steps_through_the_run_one_step_per_key() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        assert "PAUSED" in screen_text(app)
        assert "pre_prompt · start" in screen_text(app)
        for number in (1, 2, 3):
            await pilot.press("n")
            await until(
                pilot,
                lambda n=number: (
                    app.controller.steps_done == n and app.controller.pause_point is not None
                ),
                f"step {number}",
            )
            await pilot.pause()
            text = screen_text(app)
            assert f"#{number} greet(" in text
            assert f"step {number}/20" in text
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.pause()
        assert "DONE" in screen_text(app)
        assert app.controller.result is not None
        assert app.controller.result.stop_reason is StopReason.DONE


async def test_s_stops_at_each_phase_and_names_it() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        phases = []
        for _ in range(4):
            await pilot.press("s")
            await until(pilot, lambda: app.controller.pause_point is not None, "a phase")
            await pilot.pause()
            point = app.controller.pause_point
            assert point is not None
            phases.append(point.phase)
            assert f"{point.phase.value} · phase" in screen_text(app)
        assert phases == [
            Phase.PRE_DISPATCH,
            Phase.POST_DISPATCH,
            Phase.CHECK_DONE,
            Phase.PRE_PROMPT,
        ]


async def test_p_pauses_a_running_loop() -> None:
    app = app_for(GREET3, start_paused=False, delay=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.live is not None, "the run to start")
        await pilot.press("p")
        await until(pilot, lambda: app.controller.pause_point is not None, "the pause")
        await pilot.pause()
        assert app.controller.run_state is RunState.PAUSED
        assert "PAUSED" in screen_text(app)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")


async def test_selecting_a_step_shows_its_prompt_response_tool_call_and_result() -> None:
    app = demo_app(start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the first approval")
        await settled(pilot, app)
        timeline = app.query_one(StepTimeline)
        timeline.focus()
        await pilot.press("g", "j", "j")  # step 3: profile(signup_date), which failed
        await pilot.pause()
        row = timeline.selected
        assert getattr(row, "number", None) == 3
        details = app.query_one(StepDetails)
        for key, tab, expected in (
            ("1", "prompt", "ASSISTANT"),  # scrolled to the newest messages
            ("2", "response", "Let me also check signup dates."),
            ("3", "tool", "signup_date"),
            ("4", "result", "execution error"),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert expected in screen_text(app), (key, expected)
            assert details.query_one(TabbedContent).active == f"tab-{tab}"


async def test_model_text_is_shown_literally_never_as_markup_or_escapes() -> None:
    app = demo_app(start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the drop_rows approval")
        app.controller.approve()
        await until(
            pilot,
            lambda: app.controller.approvals and app.controller.approvals[0].tool == "save_csv",
            "the save approval",
        )
        await settled(pilot, app)
        timeline = app.query_one(StepTimeline)
        timeline.focus()
        while getattr(timeline.selected, "number", None) != 8:
            await pilot.press("k")
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "␛[31m[bold]not" in text and "rendered[/bold]␛[0m" in text  # wrapped, literal
        await pilot.press("4")
        await pilot.pause()
        # the tool's result holds markup; the Result tab shows it as the characters it is
        assert "[bold red]Berkeley[/]" in screen_text(app)


async def test_search_jumps_to_matching_steps() -> None:
    app = app_for(
        [
            call("greet", name="ann"),
            call("fail", why="x"),
            call("greet", name="zed"),
            call("done", answer="ok"),
        ],
        start_paused=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end")
        timeline = app.query_one(StepTimeline)
        await pilot.press("g", "slash")
        await pilot.press(*"zed")
        await pilot.pause()
        assert getattr(timeline.selected, "number", None) == 3
        await pilot.press("escape")
        await pilot.pause()
        assert timeline.has_focus


async def test_keys_help_and_command_palette_list_every_command_of_this_mode() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.table())
        text = console.export_text()
        for phrase in (
            "Next step",
            "Next phase",
            "Continue",
            "Approve always",
            "Edit: the waiting call's arguments",
            "Skip: at pre_dispatch",
            "Undo edit",
            "Search: the timeline",
            "Filter: show only",
            "fold or unfold long messages",
            "Next match",
        ):
            assert phrase in text, phrase
        # A live run has no playhead: the replay's keys are not its keys.
        for replay_only in ("Step back", "Go to step", "Re-run live", "Play or pause", "Faster"):
            assert replay_only not in text, replay_only
        keys = [key for shown, _ in app.screen.rows for key in shown.split(", ")]
        assert len(keys) == len(set(keys)), keys  # each key once
        assert "right_square_bracket" not in text and "question_mark" not in text
        assert "]" in keys and "?" in keys
        await pilot.press("escape")
        commands = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Next step", "Breakpoints", "Deny with a message to the model", "Quit"):
            assert title in commands, title
        assert "Step back" not in commands and "Go to step" not in commands
