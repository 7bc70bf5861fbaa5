"""``BreakpointTable``: the breakpoints, one row each, with keys that act on the selected row.

The table only says what was asked (``RowAction``); the screen holding it owns the breakpoints
and does it, so the widget needs nothing from the screen.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

__all__ = ["BreakpointTable"]


class BreakpointTable(DataTable[str]):
    """The breakpoints, one row each; the keys act on the selected row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space", "toggle_enabled", "Enable/disable", tooltip="Enable or disable the breakpoint"
        ),
        Binding("delete,x", "remove", "Remove", tooltip="Remove the breakpoint"),
        Binding("e", "edit", "Edit", tooltip="Load the breakpoint into the form to change it"),
    ]

    class RowAction(Message):
        """A key asked for ``action`` on the selected row."""

        def __init__(self, action: Literal["toggle", "remove", "edit"]) -> None:
            super().__init__()
            self.action: Literal["toggle", "remove", "edit"] = action

    def action_toggle_enabled(self) -> None:
        self.post_message(self.RowAction("toggle"))

    def action_remove(self) -> None:
        self.post_message(self.RowAction("remove"))

    def action_edit(self) -> None:
        self.post_message(self.RowAction("edit"))
