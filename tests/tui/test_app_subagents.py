"""Pilot tests: stepping into and out of a running sub-agent (i, o), stepping over one (n), the
running sub-agent's steps nested under the parent step as they happen, finished ones folded
(z unfolds), the stop naming the sub-agent, and the gauge showing the sub-agent's context.

At both the usual size and a small 80x24 terminal."""

from __future__ import annotations

from typing import Any

import pytest

from looplet_tui.app import DebuggerApp
from looplet_tui.live.breakpoints import Phase
from looplet_tui.widgets.gauge import ContextGauge
from looplet_tui.widgets.timeline import Nested, StepTimeline
from tests.tui.helpers import RESEARCH, research_tools
from tests.tui.pilot import SIZE, app_for, screen_text, settled

SIZES = [pytest.param(SIZE, id="120x36"), pytest.param((80, 24), id="80x24")]


def research_app() -> DebuggerApp:
    return app_for(RESEARCH, tools=research_tools())


async def press(pilot: Any, app: DebuggerApp, key: str) -> tuple[str, int, Phase]:
    """Press ``key`` and wait for the next stop; return where it is (agent, step, phase)."""
    before = app.controller.pause_point
    await pilot.press(key)
    await settled(pilot, app)
    for _ in range(100):
        point = app.controller.pause_point
        if point is not before and (point is not None or app.controller.finished):
            break
        await settled(pilot, app)
    point = app.controller.pause_point
    assert point is not None and point is not before, f"no new stop after {key}"
    await pilot.pause()
    return point.agent, point.step, point.phase


def lines_with(text: str, fragment: str) -> list[str]:
    return [line for line in text.splitlines() if fragment in line]


@pytest.mark.parametrize("size", SIZES)
async def test_i_steps_into_the_sub_agent_n_steps_inside_and_o_steps_out(size: Any) -> None:
    app = research_app()
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        assert await press(pilot, app, "s") == ("", 1, Phase.PRE_DISPATCH)
        assert await press(pilot, app, "i") == ("researcher", 1, Phase.PRE_PROMPT)
        text = screen_text(app)
        assert "run › researcher · stopped at step 1" in text  # the header's breadcrumb
        assert lines_with(text, "● #1 ▾ researcher(")  # the parent's step, running it
        [inner] = lines_with(text, "   ● #1 ")  # the child's first step, one level in
        assert "about to call the model" in inner or "#1 " in inner
        assert await press(pilot, app, "n") == ("researcher", 1, Phase.CHECK_DONE)
        text = screen_text(app)
        assert lines_with(text, "   ✓ #1 greet(name='Eve')")
        assert lines_with(text, "● #1 ▾ researcher(")
        assert await press(pilot, app, "o") == ("", 1, Phase.POST_DISPATCH)
        text = screen_text(app)
        assert "stopped at step 1 post_dispatch" in text and "run › researcher" not in text
        assert not lines_with(text, "greet(name='Eve')")  # the child's rows went with it
        assert await press(pilot, app, "n") == ("", 1, Phase.CHECK_DONE)
        assert lines_with(screen_text(app), "#1 ⤷3 ▸ researcher(")
        app.controller.resume()
        await settled(pilot, app)
        assert app.controller.finished


@pytest.mark.parametrize("size", SIZES)
async def test_n_steps_over_the_whole_sub_agent_and_z_unfolds_its_steps(size: Any) -> None:
    app = research_app()
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        assert await press(pilot, app, "n") == ("", 1, Phase.CHECK_DONE)
        text = screen_text(app)
        assert lines_with(text, "#1 ⤷3 ▸ researcher(")  # folded: its steps are not shown
        assert not lines_with(text, "greet(name='Eve')")
        timeline = app.main.query_one(StepTimeline)
        timeline.select_step(1)
        timeline.focus()
        await pilot.press("z")
        await pilot.pause()
        text = screen_text(app)
        assert lines_with(text, "#1 ⤷3 ▾ researcher(")
        assert lines_with(text, "   ✓ #1 greet(name='Eve')")
        assert lines_with(text, "   ✓ #2 ⤷2 ▸ helper(")
        assert lines_with(text, "   ✓ #3 done(answer='found two')")
        # the helper's own steps unfold one level deeper
        await pilot.press("down", "down")
        await pilot.pause()
        row = timeline.selected
        assert isinstance(row, Nested) and row.agent == "researcher"
        await pilot.press("z")
        await pilot.pause()
        text = screen_text(app)
        assert lines_with(text, "     ✓ #1 greet(name='Dee')")
        # the tabs show the selected sub-agent step
        await pilot.press("down")
        await pilot.pause()
        row = timeline.selected
        assert isinstance(row, Nested) and row.agent == "researcher › helper"
        # folding the run's step folds everything under it
        timeline.select_step(1)
        await pilot.press("z")
        await pilot.pause()
        text = screen_text(app)
        assert lines_with(text, "#1 ⤷3 ▸ researcher(")
        assert not lines_with(text, "greet(name=")


@pytest.mark.parametrize("size", SIZES)
async def test_a_breakpoint_inside_the_sub_agent_names_it_and_the_gauge_is_its_own(
    size: Any,
) -> None:
    app = research_app()
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        app.controller.breakpoints.toggle_tool("greet")
        assert await press(pilot, app, "c") == ("researcher", 1, Phase.PRE_DISPATCH)
        text = screen_text(app)
        assert "run › researcher · stopped at step 1" in text
        assert await press(pilot, app, "s") == ("researcher", 1, Phase.POST_DISPATCH)
        assert await press(pilot, app, "s") == ("researcher", 1, Phase.CHECK_DONE)
        assert await press(pilot, app, "s") == ("researcher", 2, Phase.PRE_PROMPT)
        frame = app.controller.frames[-1]
        assert frame.live is not None
        gauge = app.main.query_one(ContextGauge)
        child_context = frame.live.step.context
        assert child_context is not None and gauge.stats is child_context
        parent_context = app.controller.context()
        assert parent_context is not None and parent_context.total != child_context.total
        assert len(gauge.history) == 2  # the sub-agent's two prompts, not the run's one
        # a breakpoint fires on the way out too: the helper's greet, two deep
        assert await press(pilot, app, "o") == ("researcher › helper", 1, Phase.PRE_DISPATCH)
        assert "run › researcher › helper · stopped at step 1" in screen_text(app)
        app.controller.breakpoints.toggle_tool("greet")
        # out twice: the run's own step, and its own context
        assert await press(pilot, app, "o") == ("researcher", 2, Phase.POST_DISPATCH)
        assert await press(pilot, app, "o") == ("", 1, Phase.POST_DISPATCH)
        assert gauge.stats is not child_context
