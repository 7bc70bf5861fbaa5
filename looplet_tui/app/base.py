"""``DebuggerBase``: what the debugger app's mixins (keys, worker, redrawing) share.

The app is split into mixins so each module stays about one job (a set of keys, the worker,
drawing a frame); they all act on the same controller and the same main screen, declared once
here.
"""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen

from looplet_tui.live.controller import DebugController

__all__ = ["DebuggerBase"]


class DebuggerBase(App[int]):
    """The app's ``controller`` (set by ``DebuggerApp``) and its own screen."""

    controller: DebugController

    @property
    def main(self) -> Screen[object]:
        """The debugger's own screen, under any dialog on top (``App.query_one`` would search
        the dialog)."""
        return self.screen_stack[0]

    @property
    def _main_screen_up(self) -> bool:
        """False while the app is starting or closing: updates then have nowhere to go."""
        return bool(self.screen_stack) and self.main.is_attached
