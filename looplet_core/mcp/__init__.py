"""MCP: an MCP server's tools as looplet tools, over stdio or streamable HTTP.

    from looplet_core.mcp import connect_stdio

    with connect_stdio("mcp-server-time") as server:
        tools = BaseToolRegistry(server.tools(prefix="time_", dangerous=["convert_*"]))
        for step in composable_loop(llm=llm, tools=tools, task=task):
            ...

Owns where a server is (``servers``: ``StdioServer``, ``HttpServer``), the session and its
background event loop (``connection``: ``MCPConnection``, ``connect_stdio``, ``connect_http``),
turning listed tools into ``ToolSpec``s (``tools``), and mapping call results to step data
(``results``).  docs/mcp.md is the guide.

Needs the ``mcp`` extra (``pip install 'looplet-lab[mcp]'``): the official ``mcp`` SDK is
imported only inside the functions that talk to a server, so importing this package costs
nothing more than the standard library.  May import: ``tools`` (``ToolSpec``, ``ToolContext``),
``cancel``, ``errors``; nothing of the engine, the loop, state or the debugger.
"""

from __future__ import annotations

from looplet_core._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from looplet_core.mcp.connection import MCPConnection, connect_http, connect_stdio
    from looplet_core.mcp.results import result_data
    from looplet_core.mcp.servers import HttpServer, StdioServer
    from looplet_core.mcp.tools import (
        MCPCaller,
        MCPTool,
        MCPToolFunction,
        make_tools,
        mcp_origin,
        offline_tools,
    )

_LAZY: dict[str, str] = {
    "HttpServer": "looplet_core.mcp.servers",
    "MCPConnection": "looplet_core.mcp.connection",
    "MCPCaller": "looplet_core.mcp.tools",
    "MCPTool": "looplet_core.mcp.tools",
    "MCPToolFunction": "looplet_core.mcp.tools",
    "StdioServer": "looplet_core.mcp.servers",
    "connect_http": "looplet_core.mcp.connection",
    "connect_stdio": "looplet_core.mcp.connection",
    "make_tools": "looplet_core.mcp.tools",
    "mcp_origin": "looplet_core.mcp.tools",
    "offline_tools": "looplet_core.mcp.tools",
    "result_data": "looplet_core.mcp.results",
}

__all__ = [
    "HttpServer",
    "MCPCaller",
    "MCPConnection",
    "MCPTool",
    "MCPToolFunction",
    "StdioServer",
    "connect_http",
    "connect_stdio",
    "make_tools",
    "mcp_origin",
    "offline_tools",
    "result_data",
]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
