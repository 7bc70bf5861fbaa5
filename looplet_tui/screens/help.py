"""``HelpScreen`` (``?``): the keys of this mode, built from the bindings so it cannot drift."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "help_rows", "key_display"]

_EXTRA = (
    ("tab, shift+tab", "Move focus between the timeline, the tabs and the panes"),
    ("ctrl+p", "Command palette: every command, searchable"),
    ("escape", "Close the search or go-to box, or this list"),
)

_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "colon": ":",
    "plus": "+",
    "minus": "-",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left": "←",
    "right": "→",
    "up": "↑",
    "down": "↓",
    "pageup": "page up",
    "pagedown": "page down",
}


def key_display(key: str) -> str:
    """``question_mark`` -> ``?``: keys as they are printed on the keyboard."""
    return ", ".join(_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


def help_rows(
    groups: Iterable[Iterable[BindingType]], available: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """One row per command of this mode: its keys (each once, printable) and what it does.

    Bindings of one action are merged (``c`` and ``space`` both play a replay); an action that
    ``available`` rejects belongs to another mode (a replay's scrubber keys in a live run).
    """
    keys: dict[str, list[str]] = {}
    what: dict[str, str] = {}
    taken: set[str] = set()
    for group in groups:
        for binding in group:
            if not isinstance(binding, Binding):
                continue
            action = binding.action.removeprefix("app.")
            if not available(action):
                continue
            for key in binding.key.split(","):
                if key not in taken:
                    taken.add(key)
                    keys.setdefault(action, []).append(key)
            if action in keys:
                what.setdefault(action, binding.tooltip or binding.description)
    return [(key_display(",".join(k)), what[action]) for action, k in keys.items()]


class HelpScreen(ModalScreen[None]):
    """The keys of the mode the debugger is in (live or replay), each once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, rows: Sequence[tuple[str, str]], mode: str) -> None:
        super().__init__()
        self.rows = rows
        self.mode = mode

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static(f"Keys of the {self.mode} · escape closes", classes="title")
            yield Static(self.table())

    def table(self) -> Table:
        """Every key and what it does, in the order the bindings declare them."""
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        for key, what in (*self.rows, *_EXTRA):
            table.add_row(Text(key), Text(what))
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
