"""``DenyMessageScreen`` (``D`` on the approval card): the message the model gets with a denial.

Modal on purpose, unlike the card: while you type, keys must go to the text, not to the
debugger.  It returns the message with ``dismiss`` (None when cancelled with escape).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from looplet_core import ApprovalRequest
from looplet_tui.text.safe import clean

__all__ = ["DenyMessageScreen"]


class DenyMessageScreen(ModalScreen[str | None]):
    """Ask for the message the model gets with the denial."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Deny {clean(self.request.tool)} (step {self.request.step}): "
                "what should the model be told?",
                markup=False,
            )
            yield Input(placeholder="e.g. never drop rows; flag them instead", id="deny-message")
            yield Static("enter: deny and send · escape: back to the card", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
