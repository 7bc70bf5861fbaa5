"""An MCP server's tools as looplet ``ToolSpec``s: filtered, renamed, marked, and called through
the connection.

The rules (docs/mcp.md, "Choosing tools"):

* ``allow`` / ``deny`` / ``dangerous`` / ``read_only`` are ``fnmatch`` globs matched against the
  server's own tool names (as its docs spell them), never the prefixed names.  A tool is kept if
  an ``allow`` glob matches and no ``deny`` glob does.
* The looplet name is ``prefix`` + the server's name, with every character providers refuse
  (anything but letters, digits, ``_`` and ``-``) turned into ``_``.  A name longer than 64
  characters, or two tools that end up with one name, is an ``MCPSchemaError``.
* ``dangerous`` tools get ``requires_approval``: every call goes to the approver, like any tool
  declared that way, and ``PermissionHook`` rules see the prefixed name.  ``read_only`` marks tools
  that replays and forks may re-run; the server's own ``readOnlyHint`` is *not* trusted for it.
* The schema is the server's ``inputSchema``, read by ``looplet_core.tools.schema`` (which adds
  ``additionalProperties: false`` when absent); one it cannot read is an ``MCPSchemaError``
  naming the server, the tool and the problem.
* ``timeout`` (seconds, default 60) becomes the tool's own timeout, so a call that hangs ends as
  a ``timeout`` step; None leaves it to ``LoopConfig.tool_timeout``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from looplet_core.cancel import CancelToken
from looplet_core.errors import ConfigError, MCPCallError, MCPSchemaError, ToolRegistrationError
from looplet_core.tools.run import ToolContext
from looplet_core.tools.spec import ToolSpec

__all__ = ["MCPCaller", "MCPTool", "MCPToolFunction", "make_tools", "mcp_origin", "offline_tools"]

_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class MCPTool:
    """A tool as the server lists it: its own name, description, JSON Schema and annotations
    (hints such as ``readOnlyHint``, which the server asserts and nobody checks)."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    annotations: Mapping[str, Any]
    server: str


class MCPCaller(Protocol):
    """What a tool calls through: ``MCPConnection`` (``looplet_core.mcp.connection``)."""

    @property
    def name(self) -> str: ...

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> Any: ...

    def acall(
        self, name: str, arguments: Mapping[str, Any], *, timeout: float | None = None
    ) -> Coroutine[Any, Any, Any]: ...


@dataclass(frozen=True, slots=True)
class MCPToolFunction:
    """The ``execute`` of an MCP tool: calls ``tool`` on ``connection`` with the arguments.

    From a sync loop (or a worker thread) it blocks until the server answers, watching the call's
    cancel token; called where an event loop is running (the async loop, with no timeout) it
    returns a coroutine the loop awaits, so that loop never blocks.
    """

    connection: MCPCaller
    tool: str
    timeout: float | None

    @property
    def server(self) -> str:
        """The name of the server the tool comes from."""
        return self.connection.name

    def __call__(self, ctx: ToolContext | None = None, **arguments: Any) -> Any:
        if _in_event_loop():
            return self._acall(arguments)
        cancel = ctx.cancel if ctx is not None else None
        return self.connection.call(self.tool, arguments, timeout=self._limit(), cancel=cancel)

    def _acall(self, arguments: dict[str, Any]) -> Coroutine[Any, Any, Any]:
        return self.connection.acall(self.tool, arguments, timeout=self._limit())

    def _limit(self) -> float | None:
        # The loop's timer fires first and reports the timeout; this backstop only makes sure
        # an abandoned request does not linger on the server's side.
        return None if self.timeout is None else self.timeout + 1.0


def mcp_origin(spec: ToolSpec) -> tuple[str, str] | None:
    """``(server name, the server's tool name)`` for a tool made by ``make_tools``, else None."""
    fn = spec.execute
    if isinstance(fn, MCPToolFunction):
        return fn.server, fn.tool
    return None


def make_tools(
    connection: MCPCaller,
    listing: Iterable[MCPTool],
    *,
    prefix: str = "",
    allow: Iterable[str] = ("*",),
    deny: Iterable[str] = (),
    dangerous: Iterable[str] = (),
    read_only: Iterable[str] = (),
    timeout: float | None = 60.0,
) -> list[ToolSpec]:
    """``ToolSpec``s for the tools in ``listing`` that the globs keep (see the module docstring)."""
    allow, deny, dangerous, read_only = (
        _globs(g, what)
        for g, what in (
            (allow, "allow"),
            (deny, "deny"),
            (dangerous, "dangerous"),
            (read_only, "read_only"),
        )
    )
    specs: list[ToolSpec] = []
    taken: dict[str, str] = {}
    for tool in listing:
        if not _matches(tool.name, allow) or _matches(tool.name, deny):
            continue
        name = _looplet_name(prefix, tool)
        if name in taken:
            raise MCPSchemaError(
                f"MCP server {tool.server!r}: tools {taken[name]!r} and {tool.name!r} would both "
                f"be called {name!r}; deny one of them with deny=[...]",
                server=tool.server,
                tool=tool.name,
            )
        taken[name] = tool.name
        description = tool.description or f"Tool {tool.name!r} of MCP server {tool.server!r}."
        try:
            spec = ToolSpec(
                name=name,
                description=description,
                parameters=_schema(tool),
                execute=MCPToolFunction(connection, tool.name, timeout),
                timeout=timeout,
                requires_approval=_matches(tool.name, dangerous),
                read_only=_matches(tool.name, read_only),
            )
        except ToolRegistrationError as exc:
            raise MCPSchemaError(
                f"MCP server {tool.server!r} sent a schema for tool {tool.name!r} that cannot be "
                f"used: {exc}. Leave the tool out with deny=[{tool.name!r}] or fix the server.",
                server=tool.server,
                tool=tool.name,
            ) from exc
        specs.append(spec)
    return specs


def offline_tools(
    schemas: Iterable[Mapping[str, Any]], *, done_tool: str = "done"
) -> list[ToolSpec]:
    """Tools with the names and schemas a trace recorded (``TraceReader.tools()``), and no server.

    For ``replay_loop(mode="recorded")`` of a run whose MCP server is not running: the replay
    serves each call its recorded result, so nothing runs; a call that does run (a live replay,
    or a divergence) fails with ``MCPCallError`` saying the tool is offline.  The loop's own
    ``done_tool`` is left out (the replay adds its own).
    """
    specs: list[ToolSpec] = []
    for schema in schemas:
        name = str(schema.get("name", ""))
        if name == done_tool:
            continue
        specs.append(
            ToolSpec(
                name=name,
                description=str(schema.get("description") or ""),
                parameters=cast(Mapping[str, Any], schema.get("parameters") or {}),
                execute=_Offline(name),
            )
        )
    return specs


@dataclass(frozen=True, slots=True)
class _Offline:
    tool: str

    def __call__(self, **arguments: Any) -> Any:
        raise MCPCallError(
            f"tool {self.tool!r} is offline: it was rebuilt from a trace for a recorded replay, "
            "and there is no server to run it; connect to the server for a live run",
            server="",
        )


def _schema(tool: MCPTool) -> Mapping[str, Any]:
    raw = cast(object, tool.input_schema)
    if not isinstance(raw, Mapping):
        raise ToolRegistrationError(f"inputSchema must be a JSON Schema object, got {raw!r}")
    schema = dict(cast(Mapping[str, Any], raw)) or {"type": "object"}  # {}: no arguments
    if schema.get("type", "object") != "object":
        raise ToolRegistrationError(
            f"the top-level schema must have type 'object' (MCP requires it), got "
            f"{schema.get('type')!r}"
        )
    schema["type"] = "object"
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and "ctx" in properties:
        raise ToolRegistrationError(
            "it has an argument named 'ctx', which looplet reserves for the tool context"
        )
    return schema


def _looplet_name(prefix: str, tool: MCPTool) -> str:
    name = _BAD_CHARS.sub("_", prefix + tool.name)
    if not tool.name or len(name) > _MAX_NAME:
        raise MCPSchemaError(
            f"MCP server {tool.server!r}: tool name {tool.name!r} (with prefix {prefix!r}) cannot "
            f"be a looplet tool name, which must be 1-{_MAX_NAME} characters; use a shorter prefix "
            "or deny the tool",
            server=tool.server,
            tool=tool.name,
        )
    return name


def _globs(globs: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(globs, str):
        return (globs,)
    out = tuple(globs)
    for g in out:
        if not isinstance(g, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigError(f"{what} takes glob strings such as 'read_*', got {g!r}")
    return out


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def _in_event_loop() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
