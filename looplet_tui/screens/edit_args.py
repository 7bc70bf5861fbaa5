"""``EditArgsScreen`` (``e`` on the approval card): edit a call's arguments before approving it.

Modal on purpose, unlike the card: while you type, keys must go to the text, not to the
debugger.  It returns the edited arguments with ``dismiss`` (None when cancelled with escape).
For a call paused inside a sub-agent it edits that call (``ApprovalRequest.call_args``), checked
against the sub-agent's tool.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from looplet_core import ApprovalRequest
from looplet_tui.text.safe import clean

__all__ = ["EditArgsScreen"]


class EditArgsScreen(ModalScreen[dict[str, Any] | None]):
    """Edit the call's arguments as JSON; only arguments the tool's schema accepts get through."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Approve with these arguments", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        nested = request.nested
        where = f" in {nested.where}" if nested is not None else ""
        with Vertical(classes="dialog wide"):
            yield Label(
                f"Edit the arguments of {clean(request.call_tool)}{clean(where)} "
                f"(step {request.step})",
                markup=False,
            )
            text = json.dumps(request.call_args, indent=2, ensure_ascii=False, default=str)
            yield TextArea(text, id="args-editor", soft_wrap=True, show_line_numbers=True)
            yield Static("", id="args-problem", classes="problem", markup=False)
            yield Static(
                "ctrl+s: approve with these arguments · escape: back to the card", classes="hint"
            )

    def parse(self, text: str) -> dict[str, Any] | None:
        """Parse and validate ``text``; returns the arguments, or None after showing why not."""
        try:
            value: object = json.loads(text)
        except ValueError as exc:
            self._show(f"Not valid JSON: {exc}")
            return None
        if not isinstance(value, dict):
            self._show("The arguments must be a JSON object ({...}).")
            return None
        args = cast(dict[str, Any], value)
        validator = self.request.validator
        error = validator(dict(args)) if validator is not None else None
        if error:
            self._show(error)
            return None
        return args

    def _show(self, text: str) -> None:
        self.query_one("#args-problem", Static).update(clean(text))

    def action_submit(self) -> None:
        args = self.parse(self.query_one(TextArea).text)
        if args is not None:
            self.dismiss(args)

    def action_cancel(self) -> None:
        self.dismiss(None)
