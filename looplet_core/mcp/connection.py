"""``MCPConnection``: one MCP session, owned by its own event loop on a background thread.

Why a thread: the SDK is async (anyio), and its transports must be entered and left by one task
of one event loop, while looplet's loop may be sync or async.  So each connection starts a daemon
thread running an asyncio loop whose one long task holds the transport and the ``ClientSession``
for the connection's whole life; callers hand it work with ``run_coroutine_threadsafe``.  A sync
caller blocks on the future (polling its cancel token, so a timeout or a cancelled run abandons
the call and cancels the request on the server side too); an async caller awaits the wrapped
future, so its own event loop never blocks.

``close()`` (or leaving ``with``) ends the session and stops the server process (the SDK closes
its stdin, then terminates it); a connection still open when the interpreter exits is closed by
an ``atexit`` handler.  ``restart()`` closes and starts it again: tools made from the connection
keep working, because they call through the connection, not through one session.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import tempfile
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TextIO, TypeVar, cast

from looplet_core.cancel import CancelToken
from looplet_core.errors import MCPCallError, MCPConnectError, MCPError
from looplet_core.mcp.results import result_data
from looplet_core.mcp.servers import HttpServer, StdioServer
from looplet_core.mcp.tools import MCPTool, make_tools

if TYPE_CHECKING:
    import asyncio

    from mcp import ClientSession

    from looplet_core.tools.spec import ToolSpec

__all__ = ["MCPConnection", "connect_http", "connect_stdio"]

T = TypeVar("T")

_POLL_S = 0.05  # how often a blocked sync call looks at its cancel token
_STDERR_TAIL = 800  # characters of the server's stderr quoted in an error
_CLOSE_WAIT_S = 10.0  # how long close() waits for the session and server to wind down
_CONNECTION_CLOSED = -32000  # JSON-RPC codes the SDK uses (mcp_types.CONNECTION_CLOSED)
_REQUEST_TIMEOUT = -32001
_OPEN: weakref.WeakSet[MCPConnection] = weakref.WeakSet()


class MCPConnection:
    """A live session with one MCP server; see the module docstring for the threading.

    ``connect_timeout`` bounds starting the server and the ``initialize`` handshake.
    ``max_result_chars`` caps the text a step keeps from one result (None: keep it all; the
    model is sent at most ``LoopConfig.result_limit`` either way).  ``start()`` is called by
    ``with``, by ``connect_stdio`` / ``connect_http``, and by ``restart()``.
    """

    def __init__(
        self,
        server: StdioServer | HttpServer,
        *,
        connect_timeout: float = 30.0,
        max_result_chars: int | None = None,
    ) -> None:
        self.server = server
        self.name = server.name
        self.connect_timeout = connect_timeout
        self.max_result_chars = max_result_chars
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._session: ClientSession | None = None
        self._lost: str | None = None  # why calls can no longer be answered, once they cannot
        self._stderr: TextIO | None = None
        self.server_info: Mapping[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while the session is up and has not seen the server go away."""
        return self._session is not None and self._lost is None

    def start(self) -> Self:
        """Start the server (stdio) or reach it (HTTP) and do the MCP handshake; blocks.  Does
        nothing on a live connection; on one whose server went away it is ``restart()``.

        Raises ``MCPConnectError`` naming the command or URL and what went wrong.
        """
        with self._lock:
            if self._thread is not None:
                if self._lost is None:
                    return self  # already up
                self._shutdown()  # its session ended: start a new one
            if isinstance(self.server, StdioServer):
                self.server.resolve_command()  # a missing command is named before any thread
            import asyncio

            ready: concurrent.futures.Future[Mapping[str, Any]] = concurrent.futures.Future()
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run_thread, args=(loop, ready), name=f"looplet-mcp-{self.name}"
            )
            thread.daemon = True
            self._loop, self._thread, self._lost = loop, thread, None
            thread.start()
            try:
                self.server_info = ready.result(self.connect_timeout + 5.0)
            except BaseException as exc:
                self._shutdown()
                if isinstance(exc, MCPError):
                    raise
                raise self._connect_error(exc) from exc
            _OPEN.add(self)
            return self

    def close(self) -> None:
        """End the session and stop the server; safe to call twice, and from ``atexit``."""
        with self._lock:
            self._shutdown()
        _OPEN.discard(self)

    def restart(self) -> Self:
        """Close, then start again: a crashed server is back, with the same tools."""
        self.close()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        state = "alive" if self.alive else ("lost" if self._lost else "closed")
        return f"MCPConnection({self.server!r}, {state})"

    def _shutdown(self) -> None:
        loop, thread, stop = self._loop, self._thread, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended
                loop.call_soon_threadsafe(stop.set)
        if thread is not None and thread is not threading.current_thread():
            thread.join(_CLOSE_WAIT_S)
        self._loop = self._thread = self._stop = self._session = None
        self._lost = None  # closed on purpose: "not connected" from here on, not "lost"
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _run_thread(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[Mapping[str, Any]]
    ) -> None:
        import asyncio

        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as exc:  # the session task failed after it was ready
            if not ready.done():
                ready.set_exception(exc)
            self._lost = self._lost or f"the session ended ({_describe(exc)})"
        finally:
            # Calls still in flight must not wait forever on a loop that is gone: cancel them,
            # so their callers see the session end (``_ended``).
            self._lost = self._lost or "the session ended"
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, ready: concurrent.futures.Future[Mapping[str, Any]]) -> None:
        import asyncio

        import anyio
        from mcp import ClientSession

        self._stop = asyncio.Event()
        stack = contextlib.AsyncExitStack()
        try:
            # Only the handshake is under the timeout: the transport's task groups must be
            # left in the scope they were entered in, and spawning does not hang.
            read, write = await stack.enter_async_context(self._transport())
            session = await stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(self.connect_timeout):
                init = await session.initialize()
        except BaseException as exc:
            # The transport's own failure (connection refused, say) often surfaces only when
            # its task group is left; the handshake then just saw itself cancelled.
            cause = exc
            try:
                await stack.aclose()
            except BaseException as closing:
                if isinstance(exc, asyncio.CancelledError | anyio.get_cancelled_exc_class()):
                    cause = closing
            ready.set_exception(self._connect_error(cause))
            return
        async with stack:
            self._session = session
            ready.set_result(init.model_dump(mode="json", by_alias=True, exclude_none=True))
            await self._stop.wait()
            self._session = None

    def _transport(self) -> contextlib.AbstractAsyncContextManager[tuple[Any, Any]]:
        server = self.server
        if isinstance(server, StdioServer):
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            errlog = server.stderr
            if errlog is None:
                errlog = self._stderr = tempfile.TemporaryFile(  # noqa: SIM115 (closed in close())
                    "w+", encoding="utf-8", errors="replace"
                )
            params = StdioServerParameters(
                command=server.resolve_command(),
                args=list(server.args),
                env=dict(server.env) if server.env is not None else None,
                cwd=server.cwd,
            )
            return cast(
                contextlib.AbstractAsyncContextManager[tuple[Any, Any]],
                stdio_client(params, errlog=errlog),
            )
        return _http_transport(server.url, dict(server.headers or {}))

    def _where(self) -> str:
        server = self.server
        if isinstance(server, StdioServer):
            return f"MCP server {self.name!r} ({' '.join([server.command, *server.args])})"
        return f"MCP server {self.name!r} at {server.url}"

    def _connect_error(self, exc: BaseException) -> MCPConnectError:
        if isinstance(exc, MCPConnectError):
            return exc
        if isinstance(exc, TimeoutError):
            what = f"did not finish the MCP handshake within {self.connect_timeout:g} s"
        elif isinstance(exc, FileNotFoundError):
            what = f"could not be started: {exc}"
        else:
            what = f"did not connect: {_describe(exc)}"
        hint = (
            "Check that the command starts an MCP server on stdio"
            if isinstance(self.server, StdioServer)
            else "Check that the server is running and the URL is its MCP endpoint"
        )
        return MCPConnectError(
            f"{self._where()} {what}.{self.stderr_tail()} {hint}.", server=self.name
        )

    def stderr_tail(self) -> str:
        """The end of what the server wrote to stderr (captured stdio servers only), as a
        sentence to append to an error, or ''."""
        f = self._stderr
        if f is None:
            return ""
        try:
            size = os.fstat(f.fileno()).st_size
            raw = os.pread(f.fileno(), _STDERR_TAIL * 4, max(0, size - _STDERR_TAIL * 4))
        except (OSError, ValueError):
            return ""
        text = raw.decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
        return f" Its stderr ends with:\n{text}\n" if text else ""

    # -- work on the session's loop --------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        import asyncio

        loop = self._loop
        try:
            if loop is None or self._session is None:
                raise MCPCallError(
                    f"{self._where()} is not connected; call start() (or use `with`) first.",
                    server=self.name,
                )
            if self._lost is not None:
                raise self._ended()
            try:
                return asyncio.run_coroutine_threadsafe(coro, loop)
            except RuntimeError:  # its loop closed between the check and the call
                raise self._ended() from None
        except BaseException:
            coro.close()
            raise

    def _ended(self, during: str | None = None) -> MCPCallError:
        what = f" during the call to {during!r}" if during else ""
        return MCPCallError(
            f"{self._where()} cannot take calls{what}: {self._lost or 'the session ended'}."
            f"{self.stderr_tail()} Call restart() on the connection to start it again.",
            server=self.name,
        )

    def run(self, work: Callable[[ClientSession], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(session)`` on the session's loop and wait for it: the way to reach any
        other part of the SDK's ``ClientSession`` (resources, prompts) from sync code."""
        session = self._require_session()
        return self._submit(work(session)).result()

    def _require_session(self) -> ClientSession:
        session = self._session
        if session is None:
            raise MCPCallError(
                f"{self._where()} is not connected; call start() (or use `with`) first.",
                server=self.name,
            )
        return session

    def list_tools(self) -> list[MCPTool]:
        """Every tool the server lists (all pages), as it lists them."""

        async def listing(session: ClientSession) -> list[dict[str, Any]]:
            from mcp.types import PaginatedRequestParams

            found: list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                params = None if cursor is None else PaginatedRequestParams(cursor=cursor)
                page = await session.list_tools(params=params)
                found.extend(
                    t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools
                )
                cursor = page.next_cursor
                if not cursor:
                    return found

        try:
            raw = self.run(listing)
        except MCPError:
            raise
        except Exception as exc:
            raise MCPCallError(
                f"{self._where()} did not list its tools: {_describe(exc)}.{self.stderr_tail()}",
                server=self.name,
            ) from exc
        return [
            MCPTool(
                name=str(t.get("name", "")),
                description=str(t.get("description") or ""),
                input_schema=t.get("inputSchema", {}),
                annotations=t.get("annotations") or {},
                server=self.name,
            )
            for t in raw
        ]

    def tools(
        self,
        *,
        prefix: str = "",
        allow: Iterable[str] = ("*",),
        deny: Iterable[str] = (),
        dangerous: Iterable[str] = (),
        read_only: Iterable[str] = (),
        timeout: float | None = 60.0,
    ) -> list[ToolSpec]:
        """The server's tools as ``ToolSpec``s; ``looplet_core.mcp.tools`` has the rules."""
        return make_tools(
            self,
            self.list_tools(),
            prefix=prefix,
            allow=allow,
            deny=deny,
            dangerous=dangerous,
            read_only=read_only,
            timeout=timeout,
        )

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> Any:
        """Call tool ``name`` (the server's name for it) and wait; the step data for its result.

        Raises ``MCPToolError`` (the server said the tool failed), ``MCPCallError`` (no answer:
        the server is gone or refused the request, or ``cancel`` was set, which also cancels the
        request on the server), ``TimeoutError`` after ``timeout`` seconds.
        """
        future = self._submit(self._call(name, dict(arguments), timeout))
        try:
            while True:
                try:
                    wire = future.result(_POLL_S if cancel is not None else None)
                    break
                except concurrent.futures.TimeoutError:
                    if cancel is not None and cancel.cancelled:
                        future.cancel()  # the SDK tells the server to stop the request
                        raise MCPCallError(
                            f"the call to MCP tool {name!r} was abandoned ({cancel.reason}); "
                            "the server was asked to cancel it",
                            server=self.name,
                        ) from None
        except concurrent.futures.CancelledError:  # the session's loop ended under the call
            raise self._ended(name) from None
        return self._data(name, wire)

    async def acall(
        self, name: str, arguments: Mapping[str, Any], *, timeout: float | None = None
    ) -> Any:
        """The async twin of ``call``: awaits without blocking the caller's event loop."""
        import asyncio

        future = self._submit(self._call(name, dict(arguments), timeout))
        try:
            wire = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # the caller is cancelled: let it be
                raise
            raise self._ended(name) from None  # the session's loop ended under the call
        return self._data(name, wire)

    def _data(self, name: str, wire: Mapping[str, Any]) -> Any:
        return result_data(wire, server=self.name, tool=name, max_chars=self.max_result_chars)

    async def _call(
        self, name: str, arguments: dict[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        from mcp import MCPError as SDKError

        if self._lost is not None:
            raise self._ended()
        session = self._require_session()
        try:
            result = await session.call_tool(name, arguments, read_timeout_seconds=timeout)
        except SDKError as exc:
            if exc.code == _REQUEST_TIMEOUT:
                raise TimeoutError(
                    f"MCP tool {name!r} of server {self.name!r} did not answer within {timeout:g} s"
                    if timeout is not None
                    else f"MCP tool {name!r} of server {self.name!r} timed out"
                ) from None
            if exc.code == _CONNECTION_CLOSED:
                self._lost = f"it closed the connection during a call to {name!r}"
                raise MCPCallError(
                    f"{self._where()} closed the connection during the call to {name!r}: it "
                    f"exited or crashed.{self.stderr_tail()} The call may or may not have run. "
                    "Call restart() on the connection to start the server again.",
                    server=self.name,
                ) from None
            raise MCPCallError(
                f"{self._where()} refused the call to {name!r}: {exc.message} (JSON-RPC error "
                f"{exc.code})",
                server=self.name,
            ) from None
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str]) -> AsyncGenerator[tuple[Any, Any]]:
    """An HTTP client with ``headers`` and the MCP stream over it, entered and left together.
    The timeouts are the SDK's defaults: 30 s to connect, 5 minutes between bytes of a reply."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    timeout = httpx2.Timeout(30.0, read=300.0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams[0], streams[1]


def _describe(error: BaseException) -> str:
    """One readable line for an exception, looking inside exception groups (anyio's)."""
    exc: BaseException = error
    while True:
        inner: object = getattr(exc, "exceptions", None)  # a BaseExceptionGroup's
        if not isinstance(inner, tuple) or not inner:
            break
        first: object = cast(tuple[object, ...], inner)[0]
        if not isinstance(first, BaseException):
            break
        exc = first
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def connect_stdio(
    command: str,
    args: Iterable[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    name: str = "",
    stderr: TextIO | None = None,
    connect_timeout: float = 30.0,
    max_result_chars: int | None = None,
) -> MCPConnection:
    """Start ``command args...`` as an MCP server on stdio and connect; close it when done
    (``with connect_stdio(...) as server:``)."""
    spec = StdioServer(
        command,
        tuple(args),
        env=env,
        cwd=None if cwd is None else os.fspath(cwd),
        name=name,
        stderr=stderr,
    )
    connection = MCPConnection(
        spec, connect_timeout=connect_timeout, max_result_chars=max_result_chars
    )
    return connection.start()


def connect_http(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    name: str = "",
    connect_timeout: float = 30.0,
    max_result_chars: int | None = None,
) -> MCPConnection:
    """Connect to an MCP server over streamable HTTP at ``url``; close it when done."""
    connection = MCPConnection(
        HttpServer(url, headers=headers, name=name),
        connect_timeout=connect_timeout,
        max_result_chars=max_result_chars,
    )
    return connection.start()


@atexit.register
def _close_open_connections() -> None:
    for connection in list(_OPEN):
        with contextlib.suppress(Exception):
            connection.close()
