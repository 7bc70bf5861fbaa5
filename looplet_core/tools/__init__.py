"""Tools: how a tool is declared, checked, registered, run, and shown to the model.

Owns ``ToolSpec`` and ``@tool`` (``spec``), the parameter schemas (``schema``) and the argument
coercion behind them (``args``), ``BaseToolRegistry`` (``registry``), running a call with
timeouts and cancellation on worker threads (``run``), the text a result is sent as
(``results``), how a viewer shows a tool's calls (``view``), and tool calls written in a
reply's text for JSON mode (``textcalls``).

May import: the loop's data (``messages``, ``records``, ``events``, ``cancel``, ``jsonsafe``,
``errors``) and ``backends.base`` for ``ToolSchema``; nothing above them (not ``state``, the
engine or the loop).  ``from looplet_core.tools import ToolSpec`` still works: the names the
module ``looplet_core.tools`` used to export load from here on first use.
"""

from __future__ import annotations

from looplet_core._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from looplet_core.tools.registry import BaseToolRegistry
    from looplet_core.tools.results import result_to_text
    from looplet_core.tools.run import ToolContext, aexecute, execute
    from looplet_core.tools.spec import ToolSpec, tool
    from looplet_core.tools.view import ToolView, guess_view

_LAZY: dict[str, str] = {
    "BaseToolRegistry": "looplet_core.tools.registry",
    "ToolContext": "looplet_core.tools.run",
    "ToolSpec": "looplet_core.tools.spec",
    "ToolView": "looplet_core.tools.view",
    "aexecute": "looplet_core.tools.run",
    "execute": "looplet_core.tools.run",
    "guess_view": "looplet_core.tools.view",
    "result_to_text": "looplet_core.tools.results",
    "tool": "looplet_core.tools.spec",
}

__all__ = [
    "BaseToolRegistry",
    "ToolContext",
    "ToolSpec",
    "ToolView",
    "aexecute",
    "execute",
    "guess_view",
    "result_to_text",
    "tool",
]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
