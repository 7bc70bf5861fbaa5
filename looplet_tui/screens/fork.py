"""``ForkEditScreen``: the edit a fork starts with, as JSON, checked before the branch starts.

Opened with ``f`` in the checkpoint browser.  The text is one JSON object holding at most one of
``args`` (re-run the checkpoint's last call with these arguments), ``result`` (that call returned
this instead) or ``messages`` (the conversation becomes this list); ``{}`` re-runs unchanged.
``ctrl+s`` hands the edit to ``start``, which forks (writing the branch's first checkpoint) and
returns the branch's session; when the edit does not fit, the reason stays in the dialog and
nothing is forked.  The debugger then runs the branch in place of the current run.

Two warnings, because both are easy to miss and neither can be undone from here: a run that has
not finished is stopped by the switch, and a fork rewinds the agent, not the world it changed
(steps past the checkpoint whose tools are not ``read_only``).

Above the editor, the checkpoint's last call is drawn for reading (a command, code, a diff), so
you see what ``args`` re-runs without decoding the JSON below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from looplet_core import Checkpoint, LoopletError, Step, ToolCall
from looplet_tui.session import RunSession
from looplet_tui.text.safe import clean, literal
from looplet_tui.text.toolview import Views, call_renderable
from looplet_tui.timetravel.tree import parse_fork_edit

__all__ = ["PREVIEW_FOLD", "ForkEditScreen", "call_preview", "side_effect_warning", "stop_warning"]

PREVIEW_FOLD = 8
"""Lines of the last call's command, code or diff shown above the editor."""


def call_preview(call: ToolCall, views: Views | None = None) -> Group:
    """The call a fork's ``args`` edit re-runs, drawn for reading."""
    head = Text.assemble(("The last call, ", "dim"), (clean(call.tool), "bold cyan"), (":", "dim"))
    return Group(head, call_renderable(call.tool, call.args, views, fold=PREVIEW_FOLD))


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


def stop_warning(branch: str) -> Text:
    """The warning that forking stops the run being debugged (on ``branch``), and how to go on
    with it afterwards: the debugger shows one run at a time."""
    text = Text("⏹ The current run has not finished: forking stops it (branch ", style="bold")
    text.append_text(literal(branch, "bold", limit=80))
    text.append("). ", style="bold")
    text.append(
        "Nothing of it is lost: its checkpoints stay in the tree (t); forking its newest one "
        "with {}, or looplet-tui resume DIR --branch "
    )
    text.append_text(literal(branch, limit=80))
    text.append(", goes on from where it stopped.")
    return text


class ForkEditScreen(ModalScreen[RunSession | None]):
    """Edit the fork's JSON; ``ctrl+s`` checks it, starts the branch with ``start`` and
    dismisses with the branch's session; ``escape`` cancels (dismisses with None).

    ``stops`` names the branch of a run that has not finished (forking stops it), else None.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Fork", tooltip="Check the edit and run the new branch"),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    ForkEditScreen {
        & > .dialog { height: 90%; }
        & #fork-text { height: 1fr; min-height: 4; }
        & #fork-error { color: $error; height: auto; }
        & #fork-call { height: auto; max-height: 12; }
    }
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        template: str,
        risky: list[Step],
        *,
        start: Callable[[dict[str, Any]], RunSession],
        stops: str | None = None,
        call: ToolCall | None = None,
        views: Views | None = None,
    ) -> None:
        super().__init__()
        self.call = call
        self.views = views
        self.checkpoint = checkpoint
        self.template = template
        self.risky = risky
        self.start = start
        self.stops = stops

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
            if self.stops is not None:
                yield Static(stop_warning(self.stops), id="fork-stops")
            warning = side_effect_warning(self.risky)
            if warning is not None:
                yield Static(warning, id="fork-warning")
            if self.call is not None:
                yield Static(call_preview(self.call, self.views), id="fork-call")
            yield TextArea(self.template, language=None, id="fork-text")
            yield Static(id="fork-error")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_submit(self) -> None:
        try:
            session = self.start(parse_fork_edit(self.query_one(TextArea).text))
        except (ValueError, LoopletError) as exc:  # the edit's shape, or it does not fit
            self.query_one("#fork-error", Static).update(literal(str(exc)))
            return
        self.dismiss(session)

    def action_cancel(self) -> None:
        self.dismiss(None)
