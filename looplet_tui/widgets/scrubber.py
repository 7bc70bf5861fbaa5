"""``ReplayScrubber``: where the replay's playhead is in the whole recording, and how it moves.

One line under the timeline: play state and speed, a bar the width of the widget with the
playhead on it (click anywhere on the bar to seek there), the position in steps, and what the
filter and the search currently narrow the run to.  It only displays: the app owns the player
and turns ``Seek`` into a command.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from looplet_tui.text.safe import clean

__all__ = ["ReplayScrubber"]


def _speed(value: float) -> str:
    return f"{value:g}/s"


class ReplayScrubber(Widget):
    """The replay's transport bar; hidden for live runs."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "replay-scrubber--state",
        "replay-scrubber--played",
        "replay-scrubber--rest",
        "replay-scrubber--head",
        "replay-scrubber--dim",
    }

    DEFAULT_CSS = """
    ReplayScrubber {
        height: 1;
        background: $panel;
        & > .replay-scrubber--state { color: $accent; text-style: bold; }
        & > .replay-scrubber--played { color: $primary; }
        & > .replay-scrubber--rest { color: $text-muted; }
        & > .replay-scrubber--head { color: $accent; text-style: bold; }
        & > .replay-scrubber--dim { color: $text-muted; }
    }
    """

    position: reactive[int] = reactive(0)
    total: reactive[int] = reactive(0)
    playing: reactive[bool] = reactive(False)
    speed: reactive[float] = reactive(10.0)
    note: reactive[str] = reactive("")
    """What narrows the run: the filter, the search matches."""

    class Seek(Message):
        """The bar was clicked: move the playhead to ``position`` (1-based)."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    def _parts(self) -> tuple[Text, Text]:
        """The text left and right of the bar."""
        state = self._style("replay-scrubber--state")
        dim = self._style("replay-scrubber--dim")
        left = Text(no_wrap=True)
        icon = "▶" if self.playing else "⏸"
        left.append(f" {icon} ", style=state)
        left.append(f"{_speed(self.speed)} ", style=dim)
        right = Text(no_wrap=True)
        right.append(f" {self.position:,}/{self.total:,}")
        if self.note:
            right.append(f"  {clean(self.note)}", style=dim)
        right.append(" ")
        return left, right

    def render(self) -> Text:
        left, right = self._parts()
        width = self.size.width - left.cell_len - right.cell_len
        line = left.copy()
        if width >= 5:
            line.append_text(self._bar(width))
        line.append_text(right)
        line.truncate(self.size.width, overflow="ellipsis")
        return line

    def _bar(self, width: int) -> Text:
        inner = width - 2
        head = self._head(inner)
        bar = Text("│", style=self._style("replay-scrubber--dim"))
        bar.append("━" * head, style=self._style("replay-scrubber--played"))
        bar.append("●", style=self._style("replay-scrubber--head"))
        bar.append("─" * (inner - head - 1), style=self._style("replay-scrubber--rest"))
        bar.append("│", style=self._style("replay-scrubber--dim"))
        return bar

    def _head(self, inner: int) -> int:
        """The playhead's cell on a bar ``inner`` cells wide (0 .. inner - 1)."""
        if self.total <= 1:
            return 0 if self.position < max(self.total, 1) else inner - 1
        return round((self.position - 1) / (self.total - 1) * (inner - 1))

    def on_click(self, event: events.Click) -> None:
        left, right = self._parts()
        inner = self.size.width - left.cell_len - right.cell_len - 2
        cell = event.x - left.cell_len - 1
        if inner < 3 or not 0 <= cell < inner or self.total < 1:
            return
        self.post_message(self.Seek(1 + round(cell / max(inner - 1, 1) * (self.total - 1))))

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)
