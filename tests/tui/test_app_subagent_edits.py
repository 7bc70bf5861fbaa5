"""Pilot tests: ``e`` and ``x`` at a stop inside a sub-agent, and two sub-agents side by side.

The run asks ``researcher`` (greets Eve, asks its own ``helper``, answers).  Stepped into it, ``e``
opens the editor on the sub-agent's call (its title names the sub-agent), a call the sub-agent's
tools reject is refused with the reason, a good edit runs in the sub-agent and its nested row and
Tool call tab say it was edited in the debugger; ``x`` skips a sub-agent's call.  At the usual
size and at 80x24.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from looplet_core import LoopConfig, StepStatus
from looplet_tui.app import DebuggerApp
from looplet_tui.live.breakpoints import Phase
from looplet_tui.widgets.stop_editor import StopEditor
from tests.tui.helpers import RESEARCH, research_tools
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until

SIZES = [pytest.param(SIZE, id="120x36"), pytest.param((80, 24), id="80x24")]


async def press(pilot: Pilot[Any], app: DebuggerApp, key: str) -> tuple[str, int, Phase]:
    """Press ``key`` and wait for the next stop: (agent, step, phase)."""
    before = app.controller.pause_point
    await pilot.press(key)
    await until(pilot, lambda: app.controller.pause_point not in (None, before), f"a stop ({key})")
    await settled(pilot, app)
    point = app.controller.pause_point
    assert point is not None
    return point.agent, point.step, point.phase


async def into_researcher(pilot: Pilot[Any], app: DebuggerApp) -> None:
    """From the start to the researcher's first call (greet Eve), stopped before it runs."""
    await settled(pilot, app)
    assert await press(pilot, app, "s") == ("", 1, Phase.PRE_DISPATCH)
    assert await press(pilot, app, "i") == ("researcher", 1, Phase.PRE_PROMPT)
    assert await press(pilot, app, "s") == ("researcher", 1, Phase.PRE_DISPATCH)


def editor(app: DebuggerApp) -> StopEditor:
    return app.query_one(StopEditor)


async def submit(pilot: Pilot[Any], app: DebuggerApp, text: str) -> None:
    editor(app).query_one(TextArea).load_text(text)
    await pilot.pause()
    await pilot.press("ctrl+s")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_e_inside_a_sub_agent_edits_its_call_and_its_row_says_so(size: Any) -> None:
    app = app_for(RESEARCH, tools=research_tools())
    async with app.run_test(size=size) as pilot:
        await into_researcher(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        assert editor(app).is_open and isinstance(app.focused, TextArea)
        assert '"name": "Eve"' in editor(app).query_one(TextArea).text
        assert "Edit step 1 of researcher" in screen_text(app)
        # rm is the run's tool, not the researcher's: refused, nothing staged
        await submit(pilot, app, '{"tool": "rm", "args": {"path": "/x"}}')
        assert editor(app).is_open and "Unknown tool 'rm'" in editor(app).problem_text
        assert app.controller.staged_edit is None
        await submit(pilot, app, '{"tool": "greet", "args": {"name": "Zed"}}')
        assert not editor(app).is_open
        assert "✎ staged: call edited: arguments" in screen_text(app)
        assert await press(pilot, app, "n") == ("researcher", 1, Phase.CHECK_DONE)
        text = screen_text(app)
        assert "greet(name='Zed')" in text and "greet(name='Eve')" not in text
        await pilot.press("3")  # the Tool call tab of the sub-agent's step
        await pilot.pause()
        text = screen_text(app)
        assert "edited in the debugger (pre_dispatch):" in text  # wrapped at 80 columns
        assert "call edited: arguments" in text and "name  Zed" in text
        app.controller.resume()
        await until(pilot, lambda: app.controller.finished, "the end")
        parent = app.controller.step(1)
        assert parent is not None and parent.child is not None
        call = parent.child.steps[0].tool_call
        assert call is not None and call.args == {"name": "Zed"}


@pytest.mark.parametrize("size", SIZES)
async def test_x_inside_a_sub_agent_skips_its_call(size: Any) -> None:
    app = app_for(RESEARCH, tools=research_tools())
    async with app.run_test(size=size) as pilot:
        await into_researcher(pilot, app)
        await pilot.press("x")
        await pilot.pause()
        assert editor(app).is_open and editor(app).mode == "skip"
        await submit(pilot, app, "Eve has left.")
        assert "✎ staged: call skipped" in screen_text(app)
        assert await press(pilot, app, "n") == ("researcher", 1, Phase.CHECK_DONE)
        app.controller.resume()
        await until(pilot, lambda: app.controller.finished, "the end")
        parent = app.controller.step(1)
        assert parent is not None and parent.child is not None
        skipped = parent.child.steps[0]
        assert skipped.status is StepStatus.DENIED
        assert skipped.tool_result is not None and "Eve has left." in str(skipped.tool_result.error)


@pytest.mark.parametrize("size", SIZES)
async def test_two_sub_agents_of_a_batch_the_header_says_the_second_waits(size: Any) -> None:
    from tests.tui.test_controller_parallel_children import BATCH, batch_tools

    app = app_for(BATCH, tools=batch_tools(), config=LoopConfig(max_steps=20, parallel_tools=2))
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        assert await press(pilot, app, "s") == ("", 1, Phase.PRE_DISPATCH)
        assert await press(pilot, app, "s") == ("", 2, Phase.PRE_DISPATCH)
        assert await press(pilot, app, "i") == ("alpha", 1, Phase.PRE_PROMPT)
        await until(pilot, lambda: app.controller.waiting == ("beta",), "beta to wait")
        await pilot.pause()
        text = screen_text(app)
        # the waiting note sits by the breadcrumb, so 80 columns cut the reason, not the note
        assert "run › alpha (beta waits to stop) · stopped at step 1" in text
        agents: list[str] = []
        while True:
            agent, _, _ = await press(pilot, app, "s")
            agents.append(agent)
            if not agent:
                break
        assert agents.index("beta") > max(i for i, a in enumerate(agents) if a == "alpha")
        app.controller.resume()
        await until(pilot, lambda: app.controller.finished, "the end")
