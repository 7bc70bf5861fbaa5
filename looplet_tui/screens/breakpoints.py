"""``BreakpointsScreen`` (``B``): list, add, edit, enable, remove, save and load breakpoints.

The run keeps going underneath (a breakpoint added here applies from the next phase on), and the
file is the one next to the run (``<agent>.breakpoints.json``, ``<trace>/breakpoints.json``), which
the debugger also loads when it opens the run again.  Attached to a run another process runs, the
breakpoints are that run's store's (``StoreBreakpointSet``): every change is written there, the
list follows what others change, and a kind the run cannot check is refused on the form.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Select, Static

from looplet_core import LoopletError
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.store_breakpoints import StoreBreakpointSet
from looplet_tui.widgets.breakpoint_table import BreakpointTable

__all__ = ["BreakpointsScreen"]

_PHASES = [(f"at {p.value}", p.value) for p in Phase]


_FIELD_NAMES = {
    "#bp-tool": "tool glob",
    "#bp-args": "args regex",
    "#bp-context": "context % above",
    "#bp-after": "after N hits",
    "#bp-table": "breakpoints",
}


class BreakpointsScreen(ModalScreen[None]):
    """Edit the run's ``BreakpointSet`` in place."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding(
            "ctrl+s",
            "save",
            "Save",
            priority=True,
            tooltip="Write the breakpoints to the file next to the run",
        ),
        Binding(
            "ctrl+l",
            "load",
            "Load",
            priority=True,
            tooltip="Replace the breakpoints with the file's",
        ),
    ]

    def __init__(self, breakpoints: BreakpointSet, path: Path | None) -> None:
        super().__init__()
        self.breakpoints = breakpoints
        self.path = path
        self.editing: int | None = None
        """Id of the breakpoint the form is editing; None when the form adds a new one."""
        self._shown_revision = -1

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="breakpoints-dialog"):
            yield Static("Breakpoints", classes="title")
            yield BreakpointTable(id="bp-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                "in the list: space enable/disable · x remove · e edit  ·  in the form: tab next "
                "field, enter adds  ·  ctrl+s save · ctrl+l load · escape close",
                classes="hint",
            )
            yield Static(
                "New breakpoint (all given conditions must hold; enter adds):", id="bp-form-title"
            )
            with Horizontal(classes="form"):
                yield Select(_PHASES, prompt="phase: auto", id="bp-phase")
                yield Input(placeholder="tool glob, e.g. write_*", id="bp-tool")
                yield Input(placeholder="args regex", id="bp-args")
            with Horizontal(classes="form"):
                yield Input(placeholder="context % above", id="bp-context", type="number")
                yield Input(placeholder="after N hits", id="bp-after", type="integer")
                yield Checkbox("on error", id="bp-error")
            yield Static("", id="bp-problem", classes="problem", markup=False)
            where = str(self.path) if self.path else "no file for this session"
            yield Static(f"file: {where}", classes="hint", markup=False)
            if isinstance(self.breakpoints, StoreBreakpointSet):
                yield Static(
                    f"kept in {self.breakpoints.where}; the run checks them before each call, "
                    "on the tool glob and args regex",
                    classes="hint",
                    markup=False,
                )

    def on_mount(self) -> None:
        table = self.query_one(BreakpointTable)
        table.add_columns("#", "on", "breakpoint", "hits")
        self.refresh_table()
        # Each field keeps its name on its border once typed into (a placeholder goes away).
        for field, name in _FIELD_NAMES.items():
            self.query_one(field).border_title = name
        self.query_one("#bp-tool", Input).focus()
        if isinstance(self.breakpoints, StoreBreakpointSet):
            if self.breakpoints.unreadable:
                self._problem("cannot show: " + "; ".join(self.breakpoints.unreadable))
            self._shown_revision = self.breakpoints.revision
            self.set_interval(0.25, self._follow_store)

    def _follow_store(self) -> None:
        """Redraw when the follower read other writers' changes from the run's store."""
        if self.breakpoints.revision != self._shown_revision:
            self.refresh_table()

    def refresh_table(self) -> None:
        table = self.query_one(BreakpointTable)
        row = table.cursor_row
        table.clear()
        self._shown_revision = self.breakpoints.revision
        counted = not isinstance(self.breakpoints, StoreBreakpointSet)  # a remote run counts none
        for bp in self.breakpoints.items():
            hits = str(bp.hits) if counted else "–"
            table.add_row(
                str(bp.id), "●" if bp.enabled else "○", bp.describe(), hits, key=str(bp.id)
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def _changed(self, change: Callable[[], object]) -> bool:
        """Make a change to the breakpoints; one the set refuses (an attached run's store could
        not be written, or cannot check that kind) is shown on the form instead."""
        try:
            change()
        except (ValueError, LoopletError) as exc:
            self._problem(str(exc))
            return False
        self._problem("")
        self.refresh_table()
        return True

    def _selected(self) -> Breakpoint | None:
        table = self.query_one(BreakpointTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.breakpoints.get(int(key or 0))

    def _problem(self, text: str) -> None:
        self.query_one("#bp-problem", Static).update(text)

    # -- table actions --------------------------------------------------------------------------

    def on_breakpoint_table_row_action(self, message: BreakpointTable.RowAction) -> None:
        {
            "toggle": self.toggle_selected,
            "remove": self.remove_selected,
            "edit": self.edit_selected,
        }[message.action]()

    def toggle_selected(self) -> None:
        bp = self._selected()
        if bp is not None:
            self._changed(lambda: self.breakpoints.set_enabled(bp.id, not bp.enabled))

    def remove_selected(self) -> None:
        bp = self._selected()
        if bp is not None:
            self._changed(lambda: self.breakpoints.remove(bp.id))

    def edit_selected(self) -> None:
        bp = self._selected()
        if bp is None:
            return
        self.editing = bp.id
        phase = self.query_one("#bp-phase", Select)
        if bp.phase is not None:
            phase.value = bp.phase.value
        else:
            phase.clear()
        self.query_one("#bp-tool", Input).value = bp.tool or ""
        self.query_one("#bp-args", Input).value = bp.args or ""
        context = bp.context_above
        self.query_one("#bp-context", Input).value = "" if context is None else f"{context:g}"
        self.query_one("#bp-after", Input).value = "" if bp.after == 1 else str(bp.after)
        self.query_one("#bp-error", Checkbox).value = bp.on_error
        self.query_one("#bp-form-title", Static).update(
            f"Editing breakpoint {bp.id} (enter saves the change, hits restart):"
        )
        self.query_one("#bp-tool", Input).focus()

    # -- the form -------------------------------------------------------------------------------

    def form_breakpoint(self) -> Breakpoint:
        """The breakpoint the form describes; raises ValueError saying what is wrong."""
        phase = self.query_one("#bp-phase", Select).value
        context = self.query_one("#bp-context", Input).value.strip()
        after = self.query_one("#bp-after", Input).value.strip()
        return Breakpoint(
            phase=Phase(phase) if isinstance(phase, str) else None,
            tool=self.query_one("#bp-tool", Input).value.strip() or None,
            args=self.query_one("#bp-args", Input).value.strip() or None,
            context_above=float(context) if context else None,
            on_error=self.query_one("#bp-error", Checkbox).value,
            after=int(after) if after else 1,
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit_form()

    def submit_form(self) -> None:
        try:
            bp = self.form_breakpoint()
        except ValueError as exc:
            self._problem(str(exc))
            return
        editing = self.editing
        if editing is not None:
            done = self._changed(lambda: self.breakpoints.replace(editing, bp))
        else:
            done = self._changed(lambda: self.breakpoints.add(bp))
        if not done:
            return  # the form keeps what was typed, to fix
        self.editing = None
        for name in ("#bp-tool", "#bp-args", "#bp-context", "#bp-after"):
            self.query_one(name, Input).value = ""
        self.query_one("#bp-phase", Select).clear()
        self.query_one("#bp-error", Checkbox).value = False
        self.query_one("#bp-form-title", Static).update(
            "New breakpoint (all given conditions must hold; enter adds):"
        )

    # -- screen actions -------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.path is None:
            self.notify("This session has no breakpoints file.", severity="warning")
            return
        try:
            self.breakpoints.save(self.path)
        except OSError as exc:
            self.notify(f"Cannot save breakpoints: {exc}", severity="error", markup=False)
            return
        self.notify(f"Saved {len(self.breakpoints)} breakpoint(s) to {self.path}", markup=False)

    def action_load(self) -> None:
        if self.path is None or not self.path.is_file():
            self.notify(f"No breakpoints file at {self.path}", severity="warning", markup=False)
            return
        try:
            self.breakpoints.load(self.path)
        except (ValueError, LoopletError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.refresh_table()
        self.notify(f"Loaded {len(self.breakpoints)} breakpoint(s)", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
