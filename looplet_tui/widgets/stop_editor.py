"""``StopEditor``: edit the prompt, call or result of the stop the run is at, under the tabs.

Non-modal, like the approval card: the tabs above keep showing the step (the prompt the model
would see, the call as the model made it), so the edit is made with everything in view.  While
the text has focus, keys go to the text; ``ctrl+s`` asks the app to stage it (the controller
checks it and says what is wrong), ``escape`` closes the editor without staging anything, and for
a prompt ``ctrl+t`` switches between "this request only" and "from here on".
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from looplet_tui.live.edits import Scope
from looplet_tui.text.safe import clean

__all__ = ["EditMode", "StopEditor"]

EditMode = str
"""``prompt``, ``call``, ``result`` (the controller's ``EditKind`` values) or ``skip``."""

_WHAT = {
    "prompt": "the prompt (a JSON list of messages)",
    "call": 'the call (JSON: {"tool": ..., "args": {...}})',
    "result": "the result the model reads (the tool ran)",
    "skip": "skip the call: the model reads why",
}
_SCOPE = {"request": "this request only", "history": "the history from here on"}


class StopEditor(Vertical):
    """The editor for the current stop; hidden until the app opens it."""

    DEFAULT_CSS = """
    StopEditor {
        display: none;
        height: 50%;
        min-height: 8;
        border: thick $warning;
        border-title-style: bold;
        padding: 0 1;
        &.-open { display: block; }
        &.-staged { display: block; height: 3; min-height: 3; }
        & > #edit-staged { display: none; color: $warning; text-style: bold; }
        &.-staged > #edit-staged { display: block; }
        &.-staged > #edit-text, &.-staged > #edit-problem, &.-staged > #edit-hint { display: none; }
        & > #edit-text { height: 1fr; }
        & > #edit-problem { color: $error; text-style: bold; height: auto; }
        & > #edit-hint { color: $text-muted; height: auto; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Apply edit", priority=True),
        Binding("ctrl+t", "toggle_scope", "Scope", priority=True),
        Binding("escape", "close", "Close editor", priority=True),
    ]

    class Submitted(Message):
        """The person asked to stage the editor's text."""

        def __init__(self, editor: StopEditor, mode: EditMode, text: str, scope: Scope) -> None:
            super().__init__()
            self.editor = editor
            self.mode = mode
            self.text = text
            self.scope: Scope = scope

    class Closed(Message):
        """The editor was closed without staging anything."""

        def __init__(self, editor: StopEditor) -> None:
            super().__init__()
            self.editor = editor

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode: EditMode = ""
        self.step = 0
        self.agent = ""
        """The sub-agent the stop is in (``researcher › helper``), empty for the run."""
        self.scope: Scope = "request"
        self.problem_text = ""
        """What the editor says is wrong with the text, as shown (empty when nothing is)."""
        self._staged_text = ""
        """The staged-edit line as last shown (``show_staged``)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="edit-staged", markup=False)
        yield TextArea("", id="edit-text", soft_wrap=True, show_line_numbers=True)
        yield Static("", id="edit-problem", markup=False)
        yield Static("", id="edit-hint", markup=False)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def show_staged(self, note: str) -> None:
        """While closed: one line saying which edit will apply (``note``), or nothing.

        Called on every redraw; ``Static.update`` re-lays out the whole screen, so the line is
        only replaced when it says something else (the same text drew the same pixels)."""
        text = (
            f"✎ staged: {clean(note)} · applies when the run goes on · u undo · e edit again"
            if note
            else ""
        )
        if text != self._staged_text:
            self._staged_text = text
            self.query_one("#edit-staged", Static).update(text)
        self.border_title = "Edit staged" if note else ""
        self.set_class(bool(note) and not self.is_open, "-staged")

    def open(self, mode: EditMode, step: int, text: str, agent: str = "") -> None:
        """Show the editor on ``text`` (the stop's value, or the edit staged for it), at step
        ``step`` of the run or, with ``agent``, of that sub-agent."""
        self.remove_class("-staged")
        self.mode, self.step, self.agent = mode, step, agent
        self.scope = "request"
        self.query_one(TextArea).load_text(text)
        self.problem("")
        self._titles()
        self.add_class("-open")
        self.query_one(TextArea).focus()

    def close(self) -> None:
        self.remove_class("-open")
        self.mode = ""

    def problem(self, text: str) -> None:
        """Why the last ``ctrl+s`` was refused; the text stays as typed, to be fixed."""
        self.problem_text = text
        self.query_one("#edit-problem", Static).update(clean(text))

    def _titles(self) -> None:
        where = f" of {clean(self.agent)}" if self.agent else ""
        self.border_title = f"Edit step {self.step}{where}: {_WHAT.get(self.mode, self.mode)}"
        keys = "ctrl+s apply · esc close"
        if self.mode == "prompt":
            keys = f"scope: {_SCOPE[self.scope]} (ctrl+t) · {keys}"
        self.query_one("#edit-hint", Static).update(keys)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_scope":
            return self.mode == "prompt"  # only a prompt edit has a scope
        return True

    def action_submit(self) -> None:
        text = self.query_one(TextArea).text
        self.post_message(self.Submitted(self, self.mode, text, self.scope))

    def action_toggle_scope(self) -> None:
        if self.mode == "prompt":
            self.scope = "history" if self.scope == "request" else "request"
            self._titles()

    def action_close(self) -> None:
        self.close()
        self.post_message(self.Closed(self))

    @on(TextArea.Changed)
    def _typed(self) -> None:
        self.problem("")
