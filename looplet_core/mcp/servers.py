"""Where an MCP server is: a command to start (stdio) or a URL to reach (streamable HTTP).

Plain frozen data with no SDK import; ``looplet_core.mcp.connection`` turns one into a session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from looplet_core.errors import ConfigError, MCPConnectError

__all__ = ["HttpServer", "StdioServer"]


@dataclass(frozen=True, slots=True)
class StdioServer:
    """A server the connection starts as a child process and talks to over stdin/stdout.

    ``env`` is added to the small set of variables the SDK passes on (``PATH``, ``HOME``, ...;
    not the whole environment, so secrets of the parent stay out).  ``stderr``: where the
    server's log goes; None keeps it in a temporary file whose end is quoted in errors (so a
    server's log never scribbles over a terminal UI).  ``name`` labels errors and tools' origin;
    it defaults to the command's file name.
    """

    command: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | Path | None = None
    name: str = ""
    stderr: TextIO | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.command or not isinstance(self.command, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigError("StdioServer needs a command (the executable that starts the server)")
        if isinstance(self.args, str):
            raise ConfigError(
                f"StdioServer args must be a list of strings, not the string {self.args!r}"
            )
        object.__setattr__(self, "args", tuple(self.args))
        if not self.name:
            object.__setattr__(self, "name", Path(self.command).name)

    def resolve_command(self) -> str:
        """The executable's path; ``MCPConnectError`` naming the command if there is none."""
        path = (self.env or {}).get("PATH", os.environ.get("PATH", os.defpath))
        where = shutil.which(self.command, path=path)
        if where is None and self.cwd is not None and os.sep in self.command:
            where = shutil.which(str(Path(self.cwd) / self.command))
        if where is None:
            how = (
                "no such executable file"
                if os.sep in self.command
                else "not found on PATH (searched: " + path + ")"
            )
            raise MCPConnectError(
                f"MCP server {self.name!r}: command {self.command!r} {how}. Install the server "
                "or pass the full path to its executable.",
                server=self.name,
            )
        return where


@dataclass(frozen=True, slots=True)
class HttpServer:
    """A server already running, reached over streamable HTTP at ``url`` (its MCP endpoint, often
    ending in ``/mcp``).  ``headers`` go with every request (an ``Authorization`` header, say);
    they are left out of ``repr`` so they do not end up in logs."""

    url: str
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    name: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"HttpServer url must be an http(s) URL such as http://127.0.0.1:8000/mcp, got "
                f"{self.url!r}"
            )
        if not self.name:
            object.__setattr__(self, "name", parts.netloc)
