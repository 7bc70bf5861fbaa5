"""An MCP server written with the SDK's own server API (``MCPServer``), for the MCP tests.

Run as ``python demo_server.py`` it serves on stdio; ``python demo_server.py --http PORT`` serves
streamable HTTP on 127.0.0.1:PORT at ``/mcp`` (uvicorn), and prints ``ready`` once it listens.
``--bad-schema`` adds a tool whose input schema is not usable (through the low-level handler).
Every tool is deterministic; none touches anything outside its own process.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import (
    AudioContent,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

app = MCPServer("demo", instructions="A server the looplet tests use.")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 60).decode()


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@app.tool()
def lookup(city: str) -> dict[str, Any]:
    """Facts about a city, as structured content."""
    return {"city": city, "population": 1_234_567, "tags": ["river", "old town"]}


@app.tool(structured_output=False)
def picture() -> list[Any]:
    """A caption, a small PNG, a sound and a text resource."""
    return [
        TextContent(type="text", text="A tiny picture."),
        ImageContent(type="image", data=PNG, mime_type="image/png"),
        AudioContent(
            type="audio",
            data=base64.b64encode(b"RIFF" + b"\0" * 28).decode(),
            mime_type="audio/wav",
        ),
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="file:///notes.txt", mime_type="text/plain", text="note body"
            ),
        ),
    ]


@app.tool()
def refuse(reason: str) -> str:
    """Always fails with the reason (the result has isError set)."""
    raise ToolError(reason)


@app.tool(structured_output=False)
def huge(chars: int) -> str:
    """A text result of the given length."""
    return ("0123456789" * (chars // 10 + 1))[:chars]


@app.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return f"slept {seconds:g} s"


@app.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@app.tool()
def crash(code: int = 3) -> str:
    """Exit the server process at once, mid-call."""
    print("demo server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(code)


@app.tool()
def header(name: str, ctx: Context) -> str:
    """The value of one HTTP request header ('' on stdio, or when it was not sent)."""
    return (ctx.headers or {}).get(name.lower(), "")


@app.tool(name="files.read-v2")
def files_read(path: str) -> str:
    """A tool whose name has a dot (legal in MCP, not for providers)."""
    return f"contents of {path}"


def _add_bad_schema_tool() -> None:
    from mcp.types import Tool

    original = app.list_tools

    async def list_tools() -> list[Tool]:
        tools = await original()
        bad = Tool(
            name="broken",
            description="Its schema is wrong.",
            input_schema={"type": "object", "properties": {"x": {"type": "bogus"}}},
        )
        return [*tools, bad]

    app.list_tools = list_tools  # type: ignore[method-assign]


if __name__ == "__main__":
    if "--bad-schema" in sys.argv:
        _add_bad_schema_tool()
    if "--http" in sys.argv:
        import uvicorn

        port = int(sys.argv[sys.argv.index("--http") + 1])
        config = uvicorn.Config(
            app.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        server.run()
    else:
        app.run()
