"""The Prompt tab on long runs: a window of the newest messages, earlier ones on demand, and
messages laid out once for every prompt that contains them."""

from __future__ import annotations

from looplet_core import LoopConfig
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.prompt_view import _SLACK, WINDOW, PromptView
from tests.tui.helpers import call
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until

LONG = [call("greet", name=f"n{i}") for i in range(120)] + [call("done", answer="ok")]


async def test_long_prompt_opens_on_its_newest_messages_and_loads_the_rest() -> None:
    app = app_for(LONG, start_paused=False, config=LoopConfig(max_steps=200))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end", timeout=30)
        await settled(pilot, app)
        pane = app.query_one(StepDetails).prompt_pane
        await pilot.press("1")
        await until(
            pilot,
            lambda: pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y,
            "the prompt at its end",
        )
        total = len(app.controller.step(121).prompt or ())  # type: ignore[union-attr]
        assert total > WINDOW
        assert pane.hidden_above == total - WINDOW
        assert "done" in screen_text(app)  # the newest call is on screen
        pane.focus()
        await pilot.press("home")
        await pilot.pause()
        assert pane.hidden_above == 0
        assert "SYSTEM" in screen_text(app)  # the very first message, now in view


async def test_scrolling_to_the_top_loads_earlier_messages_in_place() -> None:
    app = app_for(LONG, start_paused=False, config=LoopConfig(max_steps=200))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end", timeout=30)
        await settled(pilot, app)
        pane = app.query_one(PromptView)
        await pilot.press("1")
        await until(pilot, lambda: pane.max_scroll_y > 0, "the prompt laid out")
        hidden = pane.hidden_above
        pane.scroll_home(animate=False, immediate=True)
        await until(pilot, lambda: pane.hidden_above < hidden, "earlier messages to load")
        assert pane.scroll_y > 0  # the lines that were in view stay in view


async def test_each_message_is_laid_out_once_across_prompts() -> None:
    app = app_for(
        [*LONG[:30], call("done", answer="ok")], start_paused=False, config=LoopConfig(max_steps=40)
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end", timeout=30)
        await settled(pilot, app)
        pane = app.query_one(PromptView)
        await pilot.press("1", "g")
        for _ in range(29):
            await pilot.press("j")
        await pilot.pause()
        # 31 prompts of up to ~60 messages were shown; each distinct message was drawn once
        distinct = len(app.controller.step(31).prompt or ())  # type: ignore[union-attr]
        assert len(pane._cache) <= distinct + 5  # (the cache is private; this is its point)


async def test_a_growing_prompt_keeps_its_height_and_end_without_a_relayout() -> None:
    """``_set_height`` skips the layout when only the height changes: the scroll range must
    still be the prompt's lines, and each step's prompt still opens on its newest line."""
    app = app_for(
        [*LONG[:40], call("done", answer="ok")], start_paused=True, config=LoopConfig(max_steps=50)
    )
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        pane = app.query_one(PromptView)
        for k in range(1, 31):
            await pilot.press("n")
            await until(pilot, lambda k=k: app.controller.steps_done >= k, f"step {k}")
            await settled(pilot, app)
            await until(
                pilot,
                lambda: (
                    pane.virtual_size.height == len(pane._lines)
                    and pane.scroll_y == pane.max_scroll_y
                ),
                f"the prompt of step {k} laid out to its end",
            )
            assert pane.max_scroll_y == max(
                0, len(pane._lines) - pane.scrollable_content_region.height
            )
        assert pane.max_scroll_y > 0  # the prompt outgrew the pane: the range grew with it


async def test_stepping_a_long_run_keeps_a_window_of_laid_out_messages() -> None:
    """Past the window and its slack the least recently shown messages are forgotten, and the
    lines held keep nothing of what drawing them derived (Textual's strips cache that)."""
    app = app_for(LONG, start_paused=False, config=LoopConfig(max_steps=200))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end", timeout=30)
        await settled(pilot, app)
        pane = app.query_one(PromptView)
        await pilot.press("1", "g")
        for _ in range(120):
            await pilot.press("j")
        await settled(pilot, app)
        total = len(app.controller.step(121).prompt or ())  # type: ignore[union-attr]
        assert total > WINDOW + _SLACK  # more messages were shown than are kept
        assert len(pane._cache) <= WINDOW + _SLACK
        assert len(pane._heads) <= WINDOW + _SLACK
        assert "done" in screen_text(app)  # the newest call drawn from what is kept
        # drawn lines derive a styled, a cropped and an offset strip: none stays on the held one
        assert not any(len(line._style_cache) for line in pane._lines)
        assert pane.render_line(0).text == pane.render_line(0).text
