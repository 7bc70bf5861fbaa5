"""``ContextGauge``: how full the context window is, by role, with thresholds and a sparkline.

The bar stacks the roles (system, tool schemas, user, assistant, tool results) so you see *what*
fills the window, not only how much; ``│`` marks in the bar show where the context policy warns
and compacts; the sparkline underneath shows use over the steps, with the selected step marked,
so a compaction reads as a drop.

When the model's window is unknown there is no limit to fill: the gauge then says so and shows
the counts by role, with no bar (a bar scaled to the total would read as "full").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from looplet_core import ContextStats
from looplet_tui.live.context import ROLES
from looplet_tui.widgets.header import format_tokens

__all__ = ["ContextGauge", "sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"
_SHORT = {"system": "sys", "assistant": "asst", "tool": "results"}


def sparkline(values: Sequence[float | None], width: int, top: float) -> list[str]:
    """One block character per value (the last ``width`` values); ``None`` is a gap."""
    chars: list[str] = []
    for value in values[-width:] if width > 0 else []:
        if value is None or top <= 0:
            chars.append(" ")
        else:
            level = min(len(_BLOCKS) - 1, int(value / top * (len(_BLOCKS) - 1) + 0.5))
            chars.append(_BLOCKS[level])
    return chars


class ContextGauge(Widget):
    """Context use of the selected step: stacked bar, thresholds, legend and sparkline."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "context-gauge--system",
        "context-gauge--tools",
        "context-gauge--user",
        "context-gauge--assistant",
        "context-gauge--tool",
        "context-gauge--free",
        "context-gauge--threshold",
        "context-gauge--warn",
        "context-gauge--over",
        "context-gauge--dim",
        "context-gauge--spark",
        "context-gauge--spark-selected",
    }

    DEFAULT_CSS = """
    ContextGauge {
        height: auto;
        padding: 0 1;
        & > .context-gauge--system { color: magenta; }
        & > .context-gauge--tools { color: $primary; }
        & > .context-gauge--user { color: $success; }
        & > .context-gauge--assistant { color: $secondary; }
        & > .context-gauge--tool { color: $warning; }
        & > .context-gauge--free { color: $text-disabled; }
        & > .context-gauge--threshold { color: $text; text-style: bold; }
        & > .context-gauge--warn { color: $warning; text-style: bold; }
        & > .context-gauge--over { color: $error; text-style: bold; }
        & > .context-gauge--dim { color: $text-muted; }
        & > .context-gauge--spark { color: $primary; }
        & > .context-gauge--spark-selected { color: $accent; text-style: bold reverse; }
    }
    """

    stats: reactive[ContextStats | None] = reactive(None, always_update=True)
    """Context stats of the selected step (None: nothing known)."""
    history: reactive[tuple[float | None, ...]] = reactive(())
    """Tokens in context at each step, oldest first, for the sparkline."""
    selected: reactive[int | None] = reactive(None)
    """Index into ``history`` of the selected step, marked on the sparkline."""
    warn_at: reactive[float | None] = reactive(None)
    """Percent of the window where the context policy starts warning."""
    compact_at: reactive[float | None] = reactive(None)
    """Percent of the window where the context policy compacts."""

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def render(self) -> Text:
        width = max(10, self.size.width)
        stats = self.stats
        dim = self._style("context-gauge--dim")
        if stats is None:
            return Text("Context: no data for this row yet.", style=dim)
        window = stats.window
        percent = stats.percent
        title = Text("Context ", style="bold")
        if percent is not None:
            level = (
                "over"
                if self.compact_at and percent >= self.compact_at
                else ("warn" if self.warn_at and percent >= self.warn_at else "threshold")
            )
            title.append(f"{percent:.0f}%", style=self._style(f"context-gauge--{level}"))
            title.append(
                f"  {format_tokens(stats.total)} / {format_tokens(window or 0)} tokens", style=dim
            )
        else:
            unknown = f"{format_tokens(stats.total)} tokens · window unknown"
            if len(unknown) + 14 > width:  # a narrow pane: one line still, never wrapped
                unknown = f"{format_tokens(stats.total)} tok · window ?"
            title.append(unknown, style=dim)
        title.append("" if stats.measured else "  est.", style=dim)
        lines = [title, self._bar(stats, width)] if window else [title]
        return Text("\n").join([*lines, self._legend(stats, width), self._spark(width)])

    def _bar(self, stats: ContextStats, width: int) -> Text:
        scale = stats.window or max(1, stats.total)
        cells: list[tuple[str, str]] = []
        for role in ROLES:
            share = stats.by_role.get(role, 0) * width / scale
            cells += [("█", role)] * round(share)
        cells = cells[:width]
        cells += [("░", "free")] * (width - len(cells))
        for mark in (self.warn_at, self.compact_at):
            if mark is not None and stats.window:
                column = min(width - 1, int(mark / 100 * width))
                cells[column] = ("│", "threshold")
        bar = Text(no_wrap=True)
        for char, role in cells:
            bar.append(char, style=self._style(f"context-gauge--{role}"))
        return bar

    def _legend(self, stats: ContextStats, width: int) -> Text:
        """One line, never wrapped: the roles that hold tokens (an empty role is no news), with
        the spaces squeezed out when the pane is narrow, and cut at the edge as a last resort."""
        shown = [(role, stats.by_role.get(role, 0)) for role in ROLES]
        shown = [(role, n) for role, n in shown if n > 0] or shown[:1]
        for gap in (" ", ""):
            parts = [
                (role, f"{_SHORT.get(role, role)}{gap}{format_tokens(n)}") for role, n in shown
            ]
            if sum(len(text) + 2 for _, text in parts) - 1 <= width:
                break
        legend = Text(no_wrap=True, overflow="ellipsis")
        for role, text in parts:
            legend.append("■", style=self._style(f"context-gauge--{role}"))
            legend.append(f"{text} ", style=self._style("context-gauge--dim"))
        legend.rstrip()
        legend.truncate(width, overflow="ellipsis")
        return legend

    def _spark(self, width: int) -> Text:
        history = self.history
        dim = self._style("context-gauge--dim")
        if not history:
            return Text("")
        label = f" {len(history)} step" + ("" if len(history) == 1 else "s")
        room = max(1, width - len(label))
        known = [v for v in history if v is not None]
        top = float(self.stats.window or 0) if self.stats else 0.0
        top = top or max(known, default=0.0)
        chars = sparkline(history, room, top)
        start = max(0, len(history) - room)
        spark = Text(no_wrap=True)
        for i, char in enumerate(chars, start):
            part = "spark-selected" if i == self.selected else "spark"
            spark.append(char, style=self._style(f"context-gauge--{part}"))
        spark.append(label, style=dim)
        return spark
