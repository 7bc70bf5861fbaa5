"""The staged-edit line is replaced only when its text changes (``StopEditor.show_staged``).

``Static.update`` re-lays out the screen, and the debugger calls ``show_staged`` on every
redraw; the cache that skips the repeat must still show every change of the note."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Static

from looplet_tui.widgets.stop_editor import StopEditor


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield StopEditor(id="editor")


def test_staged_line_follows_the_note_and_skips_repeats() -> None:
    async def run() -> None:
        app = _Host()
        async with app.run_test() as pilot:
            editor = app.query_one(StopEditor)
            line = editor.query_one("#edit-staged", Static)
            updates: list[object] = []
            update = line.update
            line.update = lambda *a, **k: (updates.append(a), update(*a, **k))[1]  # type: ignore[method-assign]

            editor.show_staged("call of count")
            await pilot.pause()
            assert "✎ staged: call of count" in str(line.render())
            assert editor.has_class("-staged") and editor.border_title == "Edit staged"

            editor.show_staged("call of count")  # the next redraw, nothing new
            assert len(updates) == 1

            editor.show_staged("result of step 2")  # another note: shown
            await pilot.pause()
            assert "result of step 2" in str(line.render())
            assert len(updates) == 2

            editor.show_staged("")  # undone: the line goes
            await pilot.pause()
            assert str(line.render()) == ""
            assert not editor.has_class("-staged") and editor.border_title == ""
            assert len(updates) == 3

    asyncio.run(run())
