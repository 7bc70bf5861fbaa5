"""The app: ``DebuggerApp``, the shell every activity runs in, and its keys as actions.

Owns the Textual ``App`` (``debugger``: layout, sessions, which key acts when), made of mixins:
the worker that runs the loop and its controller (``worker``), drawing at a paced frame rate
(``redraw``), the selected row in the panes (``step_view``), the approval, edit, replay and
sub-agent keys (``approval_keys``, ``edit_keys``, ``replay_keys``, ``subagent_keys``), what they
all share (``base``), and the app's look (``app.tcss``, the one stylesheet).  It is the top of
the debugger: it may import every other part of ``looplet_tui``, and nothing but ``__main__`` and
``cli`` imports it.  A screen that needs the app to do something posts a message the app handles;
it never imports the app.

``from looplet_tui.app import DebuggerApp`` works as it always did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from looplet_tui.app.debugger import DebuggerApp

__all__ = ["DebuggerApp"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one part of the app (``app.base``) does not load the whole of it.
    if name == "DebuggerApp":
        from looplet_tui.app.debugger import DebuggerApp

        return DebuggerApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
