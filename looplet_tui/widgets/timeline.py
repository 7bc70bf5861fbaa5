"""``StepTimeline``: every step of the run, one line each, plus compactions and the live step.

A Line API widget (``ScrollView.render_line``): it renders only the rows on screen and caches
them, so a 10,000-step run scrolls as fast as a 10-step one, and the timeline reads the
controller's append-only entry list directly instead of copying it on every update.

Sub-agents: the steps of a sub-agent running now follow the parent's live row, indented one
level per depth, as they happen (read from the controller's ``frames``, nothing copied).  A step
whose sub-agent has finished (``Step.child``) shows ``⤷N ▸`` folded; ``z`` unfolds its steps
under it (``▾``), and folds them again; on the live row it hides or shows the running ones.
Unfolded rows are looked up by walking the unfolded steps, so a row costs what the number of
unfolded sub-agents costs, not the run's length.

The row types and the text a row shows are in ``timeline_rows``; this module decides which row
is where and draws it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive, reactive
from textual.strip import Strip
from textual.widget import Widget

from looplet_core import Step
from looplet_tui.live.runstate import Entry, Live
from looplet_tui.widgets.lineview import LineView
from looplet_tui.widgets.timeline_rows import (
    Nested,
    Row,
    RunningRows,
    batch_mark,
    inner,
    row_text,
)

if TYPE_CHECKING:
    from looplet_tui.live.children import ChildFrame

__all__ = ["Nested", "Row", "StepTimeline", "TimelineSource", "batch_mark", "inner"]


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


_NO_FRAMES: Sequence[ChildFrame] = ()


class StepTimeline(LineView, can_focus=True):
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
        Binding(
            "z",
            "toggle_children",
            "Unfold",
            show=False,
            tooltip="Unfold or fold the steps of the sub-agent the selected step ran, under it",
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
        self._open: dict[int, list[Nested]] = {}
        """Unfolded finished sub-agents: entry index -> the nested rows shown under it."""
        self._open_order: list[int] = []
        """``_open``'s keys, sorted."""
        self.running_folded = False
        """Hide the rows of the sub-agents running now (``z`` on the live row)."""
        self._running_rows = RunningRows()

    def show_source(self, source: TimelineSource) -> None:
        """Show another run's rows from the start (the debugger switched runs)."""
        self.source = source
        self._count = 0
        self._cache.clear()
        self._visible, self._scanned = [], 0
        self._open, self._open_order = {}, []
        self._running_rows = RunningRows()
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
        when it is still shown, else the nearest shown row before it.  Unfolded sub-agents
        fold first (the cursor goes to the step that ran the one it was in)."""
        self._fold_all()
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

    def _position(self, entry: int) -> int | None:
        """Where entry ``entry`` is among the shown entries (None: filtered out)."""
        if self._filter is None:
            return entry
        at = bisect.bisect_left(self._visible, entry)
        return at if at < len(self._visible) and self._visible[at] == entry else None

    def _locate(self, index: int) -> tuple[int, Nested | None]:
        """Row ``index`` as (shown position, None) or (the unfolded step's position, nested)."""
        extra = 0
        for entry in self._open_order:
            at = self._position(entry)
            if at is None:
                continue
            first = at + extra + 1
            if index < first:
                break
            rows = self._open[entry]
            if index < first + len(rows):
                return at, rows[index - first]
            extra += len(rows)
        return index - extra, None

    def _row_of(self, position: int) -> int:
        """The row index of the shown entry at ``position`` (unfolded rows above it count)."""
        extra = 0
        for entry in self._open_order:
            at = self._position(entry)
            if at is not None and at < position:
                extra += len(self._open[entry])
        return position + extra

    @property
    def _frames(self) -> Sequence[ChildFrame]:
        return getattr(self.source, "frames", _NO_FRAMES)

    def _running_count(self) -> int:
        if self.running_folded:
            return 0
        return sum(len(f.steps) + (f.live is not None) for f in self._frames)

    def _running_row(self, index: int) -> Nested | None:
        """Row ``index`` of the running sub-agents' rows, in the order the frames started."""
        return self._running_rows.row(self._frames, index)

    @property
    def row_count(self) -> int:
        return self._count

    def row(self, index: int) -> Row | None:
        if index < 0:
            return None
        entries = self.source.entries
        shown = len(self._visible) if self._filter is not None else len(entries)
        position, nested = self._locate(index) if self._open_order else (index, None)
        if nested is not None:
            return nested
        if position < shown:
            return (
                entries[self._visible[position]] if self._filter is not None else entries[position]
            )
        live = self.source.live
        if live is not None and position == shown:
            return live
        if live is not None and self._frames:
            return self._running_row(position - shown - 1)
        return None

    @property
    def selected(self) -> Row | None:
        return self.row(self.cursor)

    def sync(self) -> None:
        """Pick up rows the run added or changed since the last call."""
        self._scan()
        entries = len(self.source.entries)
        if self._open_order and self._open_order[-1] >= entries:  # a replay stepped back
            self._open_order = [e for e in self._open_order if e < entries]
            self._open = {e: self._open[e] for e in self._open_order}
        shown = len(self._visible) if self._filter is not None else entries
        count = shown + sum(len(rows) for rows in self._open.values())
        if self.source.live is not None:
            count += 1 + (self._running_count() if self._frames else 0)
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
        width = self.line_width  # without the scrollbar, if shown
        row = self.row(index)
        base = self.line_style
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
        if isinstance(row, Nested):
            shown = row.row
            version: object = ("nested", id(shown), self._opened(row))
            if isinstance(shown, Live):
                version = (version, shown.revision, shown.phase, shown.activity)
        elif isinstance(row, Live):
            version: object = ("live", id(row), row.revision, row.phase, row.activity)
        elif isinstance(row, Step):
            version = (self.source.revisions.get(row.number, 0), self._opened(row))
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
            self.running_folded,
        )

    def row_text(self, row: Row) -> Text:
        """The row as styled text (``timeline_rows.row_text``); model and tool text is literal."""
        return row_text(
            row,
            style=self._style,
            opened=self._opened(row),
            marked=self.source.breakpoints.marks,
            running=bool(self._frames),
            running_folded=self.running_folded,
            timings=self.timings,
        )

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
        if not isinstance(row, Step) or self._open_order:
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
        self._move(self._row_of(index))
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
        row = inner(self.selected)
        if isinstance(row, Step) and row.child is not None:
            self.post_message(self.ChildRequested(self, row))
        else:
            self.notify("This step ran no sub-agent.", severity="information", timeout=2)

    # -- folding sub-agents -------------------------------------------------------------------

    def _opened(self, row: Row) -> bool:
        """Whether ``row`` is a step whose finished sub-agent is unfolded under it."""
        if isinstance(row, Nested):
            shown = row.row
            return isinstance(shown, Step) and shown.child is not None and self._nested_open(row)
        if not isinstance(row, Step) or row.child is None or not self._open_order:
            return False
        return any(self.source.entries[e] is row for e in self._open_order)

    def _nested_open(self, row: Nested) -> bool:
        for rows in self._open.values():
            for at, shown in enumerate(rows):
                if shown is row:
                    return at + 1 < len(rows) and rows[at + 1].depth > row.depth
        return False

    def action_toggle_children(self) -> None:
        """``z``: unfold the selected step's finished sub-agent under it, or fold it again; on
        the live row (or a running sub-agent's row), hide or show the running sub-agents."""
        row = self.selected
        if isinstance(row, Live) or (isinstance(row, Nested) and self._locate_running()):
            if not self._frames:
                self.notify("This step runs no sub-agent.", severity="information", timeout=2)
                return
            self.running_folded = not self.running_folded
            if self.running_folded and isinstance(row, Nested):
                self.cursor = self._count - self._running_count() - 1  # back to the live row
        elif isinstance(row, Step) and row.child is not None:
            self._toggle_entry(row)
        elif isinstance(row, Nested) and isinstance(row.row, Step) and row.row.child is not None:
            self._toggle_nested(row)
        else:
            self.notify("This step ran no sub-agent.", severity="information", timeout=2)
            return
        self.follow = False  # the rows open under the cursor: it stays where the reader is
        self._cache.clear()
        self.sync()

    def _locate_running(self) -> bool:
        """Whether the cursor is on a running sub-agent's row (after the live row)."""
        return self._locate(self.cursor)[1] is None

    def _toggle_entry(self, step: Step) -> None:
        position, _ = self._locate(self.cursor)
        entry = self._entry_index(position)
        if entry is None:
            return
        if entry in self._open:
            del self._open[entry]
            self._open_order.remove(entry)
            return
        assert step.child is not None
        self._open[entry] = [Nested(s, 1, step.child.agent) for s in step.child.steps]
        bisect.insort(self._open_order, entry)

    def _toggle_nested(self, row: Nested) -> None:
        for rows in self._open.values():
            if row not in rows:
                continue
            at = rows.index(row)
            end = at + 1
            while end < len(rows) and rows[end].depth > row.depth:
                end += 1
            if end > at + 1:  # unfolded: fold it
                del rows[at + 1 : end]
            else:
                child = row.row.child if isinstance(row.row, Step) else None
                assert child is not None
                agent = f"{row.agent} › {child.agent}"
                rows[at + 1 : at + 1] = [Nested(s, row.depth + 1, agent) for s in child.steps]
            return

    def _fold_all(self) -> None:
        """Fold every unfolded sub-agent, keeping the cursor on the step it was under."""
        if not self._open_order:
            return
        position, _ = self._locate(self.cursor)
        self._open, self._open_order = {}, []
        self._cache.clear()
        self.cursor = position

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
