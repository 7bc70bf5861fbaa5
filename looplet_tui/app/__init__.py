"""The app: ``DebuggerApp``, the shell every activity runs in, and its keys as actions.

Owns the Textual ``App`` (``debugger``: layout, the worker that runs the loop, drawing at a
steady frame rate), what its key mixins share (``base``), the approval keys
(``approval_keys``), the replay keys (``replay_keys``) and the app's look (``app.tcss``, the
one stylesheet).  It is the top of the debugger: it may import every other part of
``looplet_tui``, and nothing but ``__main__`` and ``cli`` imports it.  A screen that needs the
app to do something posts a message the app handles; it never imports the app.

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
