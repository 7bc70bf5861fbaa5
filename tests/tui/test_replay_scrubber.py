"""Pilot tests of a replay: the scrubber keys, seeking, search matches, filters, re-running live."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Select

from looplet_tui.app import DebuggerApp
from looplet_tui.cli import replay_session
from looplet_tui.live.runstate import RunState
from looplet_tui.replay.player import ReplayPlayer
from looplet_tui.screens.filter import FilterScreen
from looplet_tui.screens.rerun import RerunScreen
from looplet_tui.session import RunSession
from looplet_tui.widgets.scrubber import ReplayScrubber
from looplet_tui.widgets.timeline import StepTimeline
from tests.core.trace_helpers import rewrite_step
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, settled, until
from tests.tui.scenarios import record_trace


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_trace(tmp_path_factory.mktemp("traces") / "demo-run")


def notices(app: DebuggerApp) -> list[str]:
    """The messages of the notifications shown so far (toasts are drawn on a separate layer)."""
    return [n.message for n in app._notifications]  # pyright: ignore[reportPrivateUsage]


def replay_app(trace: Path) -> tuple[DebuggerApp, ReplayPlayer]:
    app = DebuggerApp(replay_session(trace), clock=lambda: FIXED_CLOCK, timings=False)
    assert app.player is not None
    return app, app.player


async def test_arrow_keys_step_forward_and_back_and_the_scrubber_follows(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        scrubber = app.main.query_one(ReplayScrubber)
        assert scrubber.display and (scrubber.position, scrubber.total) == (1, 10)
        await pilot.press("right", "right", "n")
        await pilot.pause()
        assert player.position == 4 and "#4 " in screen_text(app)
        await pilot.press("left", "left")
        await pilot.pause()
        assert player.position == 2
        assert "#3 load_" not in screen_text(app)  # stepping back takes it off the timeline
        assert "✓ #3" not in screen_text(app) and "✗ #3" not in screen_text(app)
        assert scrubber.position == 2 and "2/10" in screen_text(app)
        await pilot.press("left", "left")  # not past the first step
        await pilot.pause()
        assert player.position == 1


async def test_colon_seeks_to_a_step_and_a_bad_number_is_explained(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("colon", "8", "enter")
        await pilot.pause()
        assert player.position == 8
        assert isinstance(app.focused, StepTimeline)  # the box closed
        await pilot.press("colon", "x", "enter")
        await pilot.pause()
        assert player.position == 8
        assert "'x' is not a step number" in notices(app)
        await pilot.press("escape")
        await pilot.press("colon", "3", "enter")
        await pilot.pause()
        assert player.position == 3 and not player.finished


async def test_space_plays_to_the_end_and_speed_keys_change_the_rate(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        before = player.speed
        await pilot.press("plus", "plus")
        assert player.speed > before
        await pilot.press("minus")
        assert player.speed > before
        for _ in range(6):
            await pilot.press("plus")
        await pilot.press("space")  # at this speed one frame plays every step left
        await until(pilot, lambda: player.finished, "the end of the recording")
        assert player.run_state is RunState.DONE and not player.playing
        await pilot.press("left")  # rewinding from the end pauses on step 9
        await pilot.pause()
        assert player.position == 9 and player.run_state is RunState.PAUSED


async def test_space_pauses_a_playing_replay(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        for _ in range(3):
            await pilot.press("minus")  # 1 step a second: slow enough to catch
        await pilot.press("space")
        assert player.playing
        await pilot.press("space")
        assert not player.playing
        assert player.position < 10


async def test_clicking_the_scrubber_bar_seeks(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        scrubber = app.main.query_one(ReplayScrubber)
        right = len(" 1/10 ")  # the position, right of the bar's closing mark
        await pilot.click(ReplayScrubber, offset=(scrubber.size.width - right - 2, 0))
        await pilot.pause()
        assert player.position == 10  # the right end of the bar is the last step


async def test_search_finds_text_in_prompts_responses_and_results(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("slash", *"duplicate", "enter")
        await until(pilot, lambda: app.hits, "the trace search")
        steps = [hit.step for hit in app.hits]
        assert steps == sorted(steps) and len(steps) >= 2
        counted = f"{len(steps)} matches in {len(set(steps))} steps for 'duplicate'"
        await until(pilot, lambda: any(counted in n for n in notices(app)), "the count")
        timeline = app.main.query_one(StepTimeline)
        await until(pilot, lambda: timeline.selected is not None, "a selection")
        first = timeline.selected
        assert getattr(first, "number", None) == steps[0]
        assert player.position >= steps[0]  # the replay played up to the match
        assert timeline.has_focus  # enter gave the keys back to the view: ] moves, not types
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert getattr(timeline.selected, "number", None) == steps[1]
        assert player.position >= steps[1]
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert getattr(timeline.selected, "number", None) == steps[0]


async def test_search_without_a_match_says_so(demo_trace: Path) -> None:
    app, _ = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("slash", *"zebra crossing", "enter")
        said = "no match for 'zebra crossing'"
        await until(pilot, lambda: any(said in n for n in notices(app)), "the notice")
        assert not app.hits


async def test_a_status_filter_shows_and_steps_only_matching_steps(demo_trace: Path) -> None:
    app, player = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("F")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FilterScreen)
        screen.query_one("#filter-status", Select).value = "error"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("n")  # plays through to the first error
        await pilot.pause()
        timeline = app.main.query_one(StepTimeline)
        assert player.position == 3 and timeline.row_count == 1
        assert "#3 " in screen_text(app) and "#2 " not in screen_text(app)
        assert "only status error" in screen_text(app)
        await pilot.press("F")
        await pilot.pause()
        await pilot.click("#filter-clear")
        await pilot.pause()
        assert timeline.row_count == player.position  # every played step again (no marker yet)


async def test_re_run_live_from_a_replayed_step_with_recorded_model_and_tools(
    demo_trace: Path,
) -> None:
    app, _ = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("colon", "4", "enter")
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, RerunScreen)
        await pilot.press("enter")  # the only choice without --agent: all recorded
        await until(pilot, lambda: isinstance(app.session, RunSession), "the live re-run")
        assert app.player is None
        assert "re-run from step 4" in app.session.title
        await until(pilot, lambda: app.controller.pause_point is not None, "the first pause")
        await pilot.press("c")
        await until(
            pilot,
            lambda: app.controller.finished or bool(app.controller.approvals),
            "the re-run to finish or ask",
        )
        assert app.controller.steps_done >= 4  # the history, then the new steps


async def test_a_step_missing_from_the_trace_stops_the_replay_and_says_why(
    demo_trace: Path, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(demo_trace, broken)
    rewrite_step(broken, 5, None)  # step 5's record is gone; the log still lists it
    app, player = replay_app(broken)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("n", "n", "n", "n", "n")
        await pilot.pause()
        assert player.position == 4 and not player.finished
        assert player.problem is not None and "step 5" in player.problem
        assert any("step 5 of the recording cannot be read" in n for n in notices(app))
        said = "step 5 of the recording cannot"
        await until(pilot, lambda: said in screen_text(app), "the header to say why")
        await pilot.press("space")
        await until(pilot, lambda: not player.playing, "playing to stop at the missing step")
        assert player.position == 4
        await pilot.press("colon", *"9", "enter")
        await pilot.pause()
        assert player.position == 4
        await pilot.press("left")
        await pilot.pause()
        assert player.position == 3  # going back still works
