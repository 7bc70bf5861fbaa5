"""``StepTimeline``: every step of the run, one line each, plus compactions and the live step.

A Line API widget (``ScrollView.render_line``): it renders only the rows on screen and caches
them, so a 10,000-step run scrolls as fast as a 10-step one, and the timeline reads the
controller's append-only entry list directly instead of copying it on every update.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import ClassVar, Protocol, cast

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive, reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from looplet_core import Step, StepStatus
from looplet_tui.live.runstate import Entry, Live, Marker
from looplet_tui.text.safe import clean

__all__ = ["Row", "StepTimeline", "TimelineSource", "batch_mark"]

Row = Step | Marker | Live
"""A timeline row: a recorded step, a marker, or the step in progress (always last)."""

_ICONS = {
    StepStatus.OK: ("✓", "ok"),
    StepStatus.DONE: ("✓", "ok"),
    StepStatus.ERROR: ("✗", "error"),
    StepStatus.DENIED: ("✗", "denied"),
    StepStatus.AWAITING_APPROVAL: ("⏸", "awaiting"),
}
_CACHE_LIMIT = 500
_PLAIN_LIMIT = 50_000


class Marks(Protocol):
    @property
    def revision(self) -> int: ...

    def marks(self, tool: str | None) -> bool: ...


class TimelineSource(Protocol):
    """What the timeline reads; ``DebugController`` provides it."""

    @property
    def entries(self) -> list[Entry]: ...
    @property
    def live(self) -> Live | None: ...
    @property
    def revisions(self) -> dict[int, int]: ...
    @property
    def breakpoints(self) -> Marks: ...


class StepTimeline(ScrollView, can_focus=True):
    """The run's steps, newest last; the cursor row is what the detail panes show.

    While ``follow`` is on (the default, and again after ``G``), the cursor stays on the newest
    row as the run grows; moving the cursor up turns following off so what you are reading does
    not scroll away.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, tooltip="Select the row above"),
        Binding("down,j", "cursor_down", "Down", show=False, tooltip="Select the row below"),
        Binding("home,g", "first", "First", show=False, tooltip="Select the first step"),
        Binding(
            "end,G",
            "last",
            "Last",
            show=False,
            tooltip="Select the newest row, and follow new steps again",
        ),
        Binding("pageup", "page_up", "Page up", show=False, tooltip="One page up"),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip="One page down"),
        # The timeline never scrolls sideways; left and right belong to the replay's scrubber.
        Binding("left", "app.step_back", "Back", tooltip="Step the replay back"),
        Binding("right", "app.step_forward", "Forward", show=False),
        Binding(
            "enter",
            "open_child",
            "Open",
            show=False,
            tooltip="Open sub-agent: the steps of the sub-agent the selected step ran",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "step-timeline--cursor",
        "step-timeline--ok",
        "step-timeline--error",
        "step-timeline--denied",
        "step-timeline--awaiting",
        "step-timeline--live",
        "step-timeline--marker",
        "step-timeline--breakpoint",
        "step-timeline--match",
        "step-timeline--dim",
        "step-timeline--batch",
        "step-timeline--child",
    }

    DEFAULT_CSS = """
    StepTimeline {
        background: $surface;
        overflow-x: hidden;
        & > .step-timeline--cursor { background: $block-cursor-blurred-background; }
        &:focus > .step-timeline--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
        & > .step-timeline--ok { color: $success; }
        & > .step-timeline--error { color: $error; text-style: bold; }
        & > .step-timeline--denied { color: $warning; }
        & > .step-timeline--awaiting { color: $accent; text-style: bold; }
        & > .step-timeline--live { color: $secondary; text-style: bold; }
        & > .step-timeline--marker { color: $text-muted; text-style: italic; }
        & > .step-timeline--breakpoint { color: $error; }
        & > .step-timeline--match { background: $warning 40%; }
        & > .step-timeline--dim { color: $text-muted; }
        & > .step-timeline--batch { color: $secondary; }
        & > .step-timeline--child { color: $accent; }
    }
    """

    cursor: reactive[int] = reactive(0, repaint=False)
    """Index of the selected row."""
    follow: reactive[bool] = reactive(True)
    """Keep the cursor on the newest row as rows arrive."""
    timings: reactive[bool] = reactive(True)
    """Show each step's duration (off for deterministic screenshots)."""
    search_text: reactive[str] = reactive("")
    """The search text: matching rows are highlighted."""

    class Selected(Message):
        """The cursor moved to another row (or the row under it changed)."""

        def __init__(self, timeline: StepTimeline, row: Row | None) -> None:
            super().__init__()
            self.timeline = timeline
            self.row = row

        @property
        def control(self) -> StepTimeline:
            return self.timeline

    class ChildRequested(Message):
        """Enter on a step that ran a sub-agent: show the sub-agent's steps."""

        def __init__(self, timeline: StepTimeline, step: Step) -> None:
            super().__init__()
            self.timeline = timeline
            self.step = step

        @property
        def control(self) -> StepTimeline:
            return self.timeline

    def __init__(
        self, source: TimelineSource, *, name: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(name=name, id=id)
        self.source = source
        self._count = 0
        self._cache: dict[tuple[object, ...], Strip] = {}
        self._filter: Callable[[Entry], bool] | None = None
        self._visible: list[int] = []
        """With a filter: the indices in ``source.entries`` of the rows shown, in order."""
        self._scanned = 0
        self._plain: dict[tuple[int, int, int], str] = {}

    def show_source(self, source: TimelineSource) -> None:
        """Show another run's rows from the start (the debugger switched runs)."""
        self.source = source
        self._count = 0
        self._cache.clear()
        self._visible, self._scanned = [], 0
        self.follow = True
        self.cursor = 0
        self.virtual_size = Size(self.scrollable_content_region.width, 0)
        self.sync()

    def _set_rows(self, count: int) -> None:
        """Make the scrollable height ``count`` rows.

        Setting ``virtual_size`` re-lays out the whole screen (it is a layout reactive), which
        costs more than the rest of a step together.  Unless the scrollbar appears or goes, the
        new height only needs the scrollbar told and a repaint.
        """
        size = Size(self.scrollable_content_region.width, count)
        old = self.virtual_size
        height = self.scrollable_content_region.height
        if old.width != size.width or (old.height > height) != (count > height):
            self.virtual_size = size
            return
        self.set_reactive(cast("Reactive[Size]", Widget.virtual_size), size)
        self._scroll_update(size)  # Textual's own step after a size change, without the layout
        self.refresh()

    def set_filter(self, keep: Callable[[Entry], bool] | None) -> None:
        """Show only the entries ``keep`` accepts (None: all); the selected step stays selected
        when it is still shown, else the nearest shown row before it."""
        selected = self.selected
        entries = self.source.entries
        old = self._entry_index(self.cursor)
        self._filter = keep
        self._visible, self._scanned = [], 0
        self._cache.clear()
        self._count = -1  # recount on the next sync
        self._scan()
        if isinstance(selected, Live) or old is None:
            cursor = len(self._visible) if keep else len(entries)
        elif keep is None:
            cursor = old
        else:
            cursor = max(0, bisect.bisect_right(self._visible, old) - 1)
        self.cursor = max(0, cursor)
        self.sync()

    def _scan(self) -> None:
        """Bring ``_visible`` up to date with the entries (a replay may have cut them back)."""
        keep = self._filter
        if keep is None:
            return
        entries = self.source.entries
        if len(entries) < self._scanned:
            del self._visible[bisect.bisect_left(self._visible, len(entries)) :]
            self._scanned = len(entries)
        for index in range(self._scanned, len(entries)):
            if keep(entries[index]):
                self._visible.append(index)
        self._scanned = len(entries)

    def _entry_index(self, row: int) -> int | None:
        """The index in ``source.entries`` of timeline row ``row`` (None for the live row)."""
        if self._filter is None:
            return row if row < len(self.source.entries) else None
        return self._visible[row] if row < len(self._visible) else None

    @property
    def row_count(self) -> int:
        return self._count

    def row(self, index: int) -> Row | None:
        entries = self.source.entries
        shown = len(self._visible) if self._filter is not None else len(entries)
        if 0 <= index < shown:
            return entries[self._visible[index]] if self._filter is not None else entries[index]
        live = self.source.live
        if live is not None and index == shown:
            return live
        return None

    @property
    def selected(self) -> Row | None:
        return self.row(self.cursor)

    def sync(self) -> None:
        """Pick up rows the run added or changed since the last call."""
        self._scan()
        shown = len(self._visible) if self._filter is not None else len(self.source.entries)
        count = shown + (1 if self.source.live is not None else 0)
        if count != self._count:
            self._count = count
            self._set_rows(count)
        if (self.follow or self.cursor >= count) and count:
            self._move(count - 1, keep_follow=self.follow)
        self.refresh()
        self.post_message(self.Selected(self, self.selected))

    # -- watchers -------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region_visible(new)
        self.refresh()

    def watch_search_text(self) -> None:
        self.refresh()

    def watch_timings(self) -> None:
        self.refresh()

    # -- rendering ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width  # without the scrollbar, if shown
        row = self.row(index)
        base = self.rich_style
        if row is None:
            return Strip.blank(width, base)
        key = self._key(index, row, width)
        strip = self._cache.get(key)
        if strip is None:
            text = self.row_text(row)
            if self.search_text:
                text.highlight_words(
                    [self.search_text],
                    self._style("step-timeline--match"),
                    case_sensitive=False,
                )
            text.truncate(width, overflow="ellipsis", pad=True)
            style = base
            if index == self.cursor:
                style = base + self._style("step-timeline--cursor")
            segments = list(text.render(self.app.console))
            strip = Strip(
                [Segment(s.text, style + s.style if s.style else style) for s in segments], width
            )
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = strip
        return strip.apply_offsets(0, index)

    def _key(self, index: int, row: Row, width: int) -> tuple[object, ...]:
        if isinstance(row, Live):
            version: object = ("live", id(row), row.revision, row.phase, row.activity)
        elif isinstance(row, Step):
            version = self.source.revisions.get(row.number, 0)
        else:
            version = "marker"
        return (
            index,
            version,
            width,
            index == self.cursor,
            self.search_text,
            self.timings,
            self.source.breakpoints.revision,
            self.has_focus,
        )

    def row_text(self, row: Row) -> Text:
        """The row as styled text; model and tool text is always literal."""
        if isinstance(row, Marker):
            return Text(
                f"  ⇣ {clean(row.text)}",
                style=self._style("step-timeline--marker"),
            )
        text = Text(no_wrap=True)
        step = row.step if isinstance(row, Live) else row
        marked = self.source.breakpoints.marks(step.tool)
        text.append("◆" if marked else " ", style=self._style("step-timeline--breakpoint"))
        dim = self._style("step-timeline--dim")
        if isinstance(row, Live):
            live = self._style("step-timeline--live")
            text.append(f"● #{step.number} ", style=live)
            if step.tool_call is not None:
                text.append(clean(_summaries(step)[0]) + " ")
            text.append(clean(row.activity), style=dim)
            return text
        icon, kind = _ICONS[row.status]
        call, outcome = _summaries(row)
        text.append(f"{icon} ", style=self._style(f"step-timeline--{kind}"))
        text.append(f"#{row.number} ", style=dim)
        if row.batch is not None:  # one reply's calls that ran at the same time
            text.append(batch_mark(row), style=self._style("step-timeline--batch"))
        if row.child is not None:  # ran a sub-agent of that many steps: enter opens them
            text.append(f"⤷{len(row.child.steps)} ", style=self._style("step-timeline--child"))
        text.append(clean(call))
        text.append(" → ", style=dim)
        outcome_style = "" if row.ok else self._style(f"step-timeline--{kind}")
        text.append(clean(outcome), style=outcome_style)
        if self.timings:
            text.append(f" {row.elapsed_ms:.0f}ms", style=dim)
        return text

    def _style(self, name: str) -> Style:
        """A component's style without the widget's background, for layering on a row."""
        return self.get_component_rich_style(name, partial=True)

    # -- search ---------------------------------------------------------------------------------

    def search(self, query: str, *, include_current: bool = False, backwards: bool = False) -> bool:
        """Move to the next row (after the cursor, wrapping) whose text contains ``query``.

        ``include_current`` starts at the cursor itself: typing more of a query that already
        matches the selected row keeps it selected.  ``backwards`` looks before the cursor.
        """
        self.search_text = query
        if not query or not self._count:
            return False
        needle = query.lower()
        if len(self._plain) > _PLAIN_LIMIT:
            self._plain.clear()
        first = 0 if include_current else 1
        sign = -1 if backwards else 1
        for offset in range(first, self._count + first):
            index = (self.cursor + sign * offset) % self._count
            row = self.row(index)
            if row is not None and needle in self._plain_text(row):
                self._move(index)
                return True
        return False

    def _plain_text(self, row: Row) -> str:
        """The row's text, lowercased, for search; kept per step and revision, because typing
        a query that matches nothing scans every row once per key."""
        if not isinstance(row, Step):
            return self.row_text(row).plain.lower()
        key = (row.number, self.source.revisions.get(row.number, 0), id(row))
        found = self._plain.get(key)
        if found is None:
            found = self._plain[key] = self.row_text(row).plain.lower()
        return found

    def select_step(self, number: int) -> bool:
        """Select step ``number`` (or, when it is filtered out, the nearest shown row before it)."""
        entries = self.source.entries
        index = len(entries) - 1
        while index >= 0:
            entry = entries[index]
            if isinstance(entry, Step) and entry.number <= number:
                break
            index -= 1
        if index < 0:
            return False
        if self._filter is not None:
            self._scan()
            index = bisect.bisect_right(self._visible, index) - 1
            if index < 0:
                return False
        self.follow = False
        self._move(index)
        return True

    # -- actions and mouse ----------------------------------------------------------------------

    def _move(self, index: int, *, keep_follow: bool = False) -> None:
        index = max(0, min(index, self._count - 1))
        if not keep_follow:
            self.follow = index == self._count - 1
        if index != self.cursor:
            self.cursor = index
            self.post_message(self.Selected(self, self.selected))

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_first(self) -> None:
        self._move(0)

    def action_open_child(self) -> None:
        row = self.selected
        if isinstance(row, Step) and row.child is not None:
            self.post_message(self.ChildRequested(self, row))
        else:
            self.notify("This step ran no sub-agent.", severity="information", timeout=2)

    def action_last(self) -> None:
        self._move(self._count - 1)

    def action_page_up(self) -> None:
        self._move(self.cursor - max(1, self.size.height - 1))

    def action_page_down(self) -> None:
        self._move(self.cursor + max(1, self.size.height - 1))

    def on_click(self, event: events.Click) -> None:
        self._move(self.scroll_offset.y + event.y)

    def scroll_to_region_visible(self, index: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.size.height)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def batch_mark(step: Step) -> str:
    """``┌∥1/3 `` … ``└∥3/3 ``: a step's place in the batch of calls that ran at the same time,
    drawn as a bracket down the batch's rows."""
    batch = step.batch
    if batch is None:
        return ""
    last = batch.index == batch.size - 1
    edge = "┌" if batch.index == 0 else "└" if last else "│"
    return f"{edge}∥{batch.index + 1}/{batch.size} "


def _summaries(step: Step) -> tuple[str, str]:
    """The step's one-line call and outcome, even for arguments nested too deep to walk."""
    try:
        return step.call_text(), step.outcome_text()
    except RecursionError:
        return f"{step.tool}(…)", "(too deeply nested to summarise)"
