"""``HelpScreen`` (``?``): every key, built from the bindings themselves so it cannot drift."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "key_display"]

_EXTRA = (
    ("tab / shift+tab", "Move focus between the timeline, the tabs and the panes"),
    ("ctrl+p", "Command palette: every command, searchable"),
    ("enter (in search)", "Next matching step"),
)


def key_display(key: str) -> str:
    """``question_mark`` -> ``?``: keys as they are printed on the keyboard."""
    names = {"question_mark": "?", "slash": "/", "pageup": "page up", "pagedown": "page down"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


class HelpScreen(ModalScreen[None]):
    """The debugger's keys, grouped as the bindings declare them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, *groups: Iterable[BindingType]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static("Keys · escape closes", classes="title")
            yield Static(self.table())

    def table(self) -> Table:
        """Every key and what it does, in the order the bindings declare them."""
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        seen: set[str] = set()
        for group in self.groups:
            for binding in group:
                if not isinstance(binding, Binding) or binding.action in seen:
                    continue
                seen.add(binding.action)
                table.add_row(key_display(binding.key), binding.tooltip or binding.description)
        for key, what in _EXTRA:
            table.add_row(key, what)
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
