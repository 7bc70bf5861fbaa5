"""``DetailPane``: a scrollable pane holding one renderable; the detail tabs are made of these."""

from __future__ import annotations

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

__all__ = ["DetailPane"]


class DetailPane(VerticalScroll, can_focus=True):
    """A scrollable pane showing one renderable (focus it to scroll with the keyboard)."""

    DEFAULT_CSS = """
    DetailPane {
        padding: 0 1;
        & > Static { width: 1fr; }
    }
    """

    shown: RenderableType = ""
    """What the pane shows now."""

    def compose(self) -> ComposeResult:
        yield Static()

    def show(self, renderable: RenderableType) -> None:
        self.shown = renderable
        self.query_one(Static).update(renderable)

    def follow(self, on: bool) -> None:
        """Keep the end in view as what is shown grows (a reply streaming in) until the person
        scrolls up, and back to the top when that ends: the step that follows reads from its
        start, as every other row does."""
        if on == self.is_anchored:
            return
        self.anchor(on)
        if not on:
            self.scroll_home(animate=False, immediate=True)
