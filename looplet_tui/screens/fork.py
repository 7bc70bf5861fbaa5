"""``ForkEditScreen``: the edit a fork starts with, as JSON, checked before it is accepted.

Opened with ``f`` in the checkpoint browser.  The text is one JSON object holding at most one of
``args`` (re-run the checkpoint's last call with these arguments), ``result`` (that call returned
this instead) or ``messages`` (the conversation becomes this list); ``{}`` re-runs unchanged.
When the run went on past the checkpoint through tools not marked ``read_only``, the dialog says
so: a fork rewinds the agent, not the world it changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from looplet_core import Checkpoint, Step
from looplet_tui.safe_text import literal
from looplet_tui.timetravel import parse_fork_edit

__all__ = ["ForkEditScreen", "side_effect_warning"]


def side_effect_warning(steps: list[Step]) -> Text | None:
    """The warning for forking back past ``steps`` (tools with side effects), or None."""
    if not steps:
        return None
    listed = ", ".join(f"#{s.number} {s.tool}" for s in steps[:8])
    more = f" and {len(steps) - 8} more" if len(steps) > 8 else ""
    text = Text("⚠ forking back past steps whose tools are not read-only: ", style="bold yellow")
    text.append_text(literal(listed + more, "yellow", limit=400))
    text.append(". The world outside was not rolled back.", style="yellow")
    return text


class ForkEditScreen(ModalScreen[dict[str, Any] | None]):
    """Edit the fork's JSON; ``ctrl+s`` checks it and dismisses with ``fork``'s keyword
    arguments, ``escape`` cancels (dismisses with None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Fork", tooltip="Check the edit and run the new branch"),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    ForkEditScreen {
        & #fork-text { height: 16; }
        & #fork-error { color: $error; height: auto; }
    }
    """

    def __init__(self, checkpoint: Checkpoint, template: str, risky: list[Step]) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.template = template
        self.risky = risky

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(
                literal(f"Fork from {self.checkpoint.describe()} · ctrl+s runs it", "bold"),
                classes="title",
            )
            yield Static(
                Text(
                    'One edit: {"args": {...}} re-runs the last call with these arguments, '
                    '{"result": ...} replaces its result, {"messages": [...]} replaces the '
                    "conversation; {} re-runs unchanged.",
                    style="dim",
                )
            )
            warning = side_effect_warning(self.risky)
            if warning is not None:
                yield Static(warning, id="fork-warning")
            yield TextArea(self.template, language=None, id="fork-text")
            yield Static(id="fork-error")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_submit(self) -> None:
        try:
            edit = parse_fork_edit(self.query_one(TextArea).text)
        except ValueError as exc:
            self.query_one("#fork-error", Static).update(literal(str(exc)))
            return
        self.dismiss(edit)

    def action_cancel(self) -> None:
        self.dismiss(None)
