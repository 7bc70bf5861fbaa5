"""``FilterScreen`` (``F``): choose which steps the timeline shows, by tool and by status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Select, Static

from looplet_tui.live.filters import STATUSES, StepFilter

__all__ = ["FilterScreen"]

_NO_TOOL = "-"


class FilterScreen(ModalScreen[StepFilter | None]):
    """Returns the chosen filter (an inactive one clears it), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without changing the filter"),
        Binding("ctrl+s", "apply", "Apply", tooltip="Show only the chosen steps"),
    ]

    def __init__(self, tools: Sequence[str], current: StepFilter) -> None:
        super().__init__()
        self.tools = list(tools)
        self.current = current

    def compose(self) -> ComposeResult:
        tool_options = [(name, name) for name in self.tools] + [("(no tool call)", _NO_TOOL)]
        if self.current.tool is not None and self.current.tool not in (*self.tools, _NO_TOOL):
            tool_options.insert(0, (self.current.tool, self.current.tool))
        with Vertical(classes="dialog"):
            yield Static("Show only the steps that match", classes="title", markup=False)
            with Horizontal(classes="form"):
                yield Select(
                    tool_options,
                    prompt="any tool",
                    value=self.current.tool if self.current.tool is not None else Select.NULL,
                    id="filter-tool",
                )
                yield Select(
                    [(status, status) for status in STATUSES],
                    prompt="any status",
                    value=self.current.status if self.current.status is not None else Select.NULL,
                    id="filter-status",
                )
            yield Static(
                "A replay plays through the other steps without stopping at them.",
                classes="hint",
                markup=False,
            )
            with Horizontal(classes="form"):
                yield Button("Apply", variant="primary", id="filter-apply")
                yield Button("Show all", id="filter-clear")

    def on_mount(self) -> None:
        self.query_one("#filter-tool", Select).focus()

    def _value(self, widget: str) -> str | None:
        value = self.query_one(widget, Select).value
        return value if isinstance(value, str) else None

    def action_apply(self) -> None:
        self.dismiss(StepFilter(self._value("#filter-tool"), self._value("#filter-status")))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "filter-apply":
            self.action_apply()
        elif event.button.id == "filter-clear":
            self.dismiss(StepFilter())
