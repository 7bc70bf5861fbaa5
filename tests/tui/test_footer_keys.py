"""The footer is rebuilt only when the keys it offers change, not on every step shown."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Footer

from looplet_tui.app import DebuggerApp
from looplet_tui.live.breakpoints import Phase
from tests.tui.helpers import GREET3
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until


async def step_to(pilot: Pilot[int], app: DebuggerApp, number: int) -> None:
    await pilot.press("n")
    await until(
        pilot,
        lambda: app.controller.steps_done == number and app.controller.pause_point is not None,
        f"step {number}",
    )
    await pilot.pause()


async def test_n_keeps_the_footer_and_a_stop_before_a_call_offers_step_into() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await step_to(pilot, app, 1)  # from the start's stop (e edits the prompt) to a step's
        footer = app.query_one(Footer)
        rebuilt = 0
        recompose = footer.recompose

        async def counting() -> None:
            nonlocal rebuilt
            rebuilt += 1
            await recompose()

        footer.recompose = counting  # type: ignore[method-assign]
        for number in (2, 3):
            await step_to(pilot, app, number)
        assert rebuilt == 0  # the same keys at every step's stop, and while it ran
        assert "Into" not in screen_text(app)
        while app.controller.pause_point is None or (
            app.controller.pause_point.phase is not Phase.PRE_DISPATCH
        ):
            await pilot.press("s")
            await pilot.pause()
        await until(pilot, lambda: "Into" in screen_text(app), "i Into in the footer")
        assert rebuilt >= 1
