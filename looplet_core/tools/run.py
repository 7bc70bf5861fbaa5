"""Running one tool call: inline when it has no timeout, on a daemon worker thread when it has one.

Why two paths: most tools are quick and the loop must stay at microseconds per step, so a call
without a timeout is a plain function call in the loop's thread (an ``async def`` tool gets
``asyncio.run`` there).  A call with a timeout runs on a small pool of daemon threads while the
caller waits; past the timeout the caller returns a ``timeout`` result and the tool's own cancel
token is set so a cooperative tool can stop.  Python cannot kill a thread: a tool that ignores its
token keeps its worker until it returns, but the worker is a daemon, so it never blocks exit.
(``concurrent.futures`` workers are joined at exit, which is why this module has its own pool.)

The per-call token is a child of the run's token: cancelling the run cancels it too, but a timeout
cancels only that call, never the run.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast

from looplet_core.cancel import CancelToken
from looplet_core.events import Event, EventKind
from looplet_core.records import ErrorKind, ToolResult

if TYPE_CHECKING:
    import asyncio  # imported where used: it costs ~15 ms of `import looplet_core`
    import queue  # imported by the first timed call, as traceback by the first failure
    from pathlib import Path  # an annotation only: pathlib and urllib cost ~0.7 MiB at import

    from looplet_core.approvals.requests import ApprovalRequest, Approver
    from looplet_core.tools.spec import ToolSpec

__all__ = ["ToolContext", "aexecute", "execute"]

_POLL_PARENT_S = 0.05  # how often a child token's wait() looks at the run's token
_IDLE_WORKER_S = 30.0  # how long an idle worker thread waits for work before it exits


@dataclass(slots=True)
class ToolContext:
    """What a tool that declares a ``ctx`` keyword parameter receives alongside its arguments.

    ``cancel`` is set when the run is cancelled or (for a call with a timeout) when the call ran
    past its timeout: long-running tools should poll ``ctx.cancel.cancelled`` or sleep with
    ``ctx.cancel.wait(seconds)``.  ``tool`` is filled in with the tool's name when the call starts.
    ``child_runs`` receives a nested run the tool carried out (a sub-agent's
    ``looplet_core.step.ChildRun``), which the loop keeps on the call's step;
    ``record_prompts`` says whether the run keeps each step's prompt (or a hook, the trace sink,
    wants a sub-agent's kept: ``Hook``'s ``wants_child_prompts``) and ``approver`` is the
    run's ``LoopConfig.approver``: a nested loop (a sub-agent) follows both.  ``approval`` is
    the decided request when the call runs because a person approved it.  ``child_hooks``
    (None when no hook of the run has a ``child_hooks`` method) gives, for a sub-agent's name
    and this call's step, the hooks the run's hooks want in that sub-agent's nested loop
    (see ``looplet_core.hooks``).
    """

    cancel: CancelToken = field(default_factory=CancelToken)
    step: int = 0
    run_id: str = ""
    workspace: Path | None = None
    emit: Callable[[Event], None] | None = None
    tool: str = ""
    child_runs: Callable[[Any], None] | None = None
    record_prompts: bool = False
    approver: Approver | None = None
    approval: ApprovalRequest | None = None
    child_hooks: Callable[[str, int], list[object]] | None = None

    def report_progress(self, fraction: float | None, message: str = "") -> None:
        """Tell observers (the debugger, tracing) how far along the tool is.

        ``fraction`` is clamped to 0..1; None means "progress unknown", for a message alone.  This
        does nothing when the loop has no listener.  It may be called from a worker thread.
        """
        if self.emit is None:
            return
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        data = {"tool": self.tool, "fraction": fraction, "message": message}
        self.emit(Event(EventKind.TOOL_PROGRESS, run_id=self.run_id, step=self.step, data=data))


class _CallToken(CancelToken):
    """One call's token: cancelled on its own (timeout) or when the run's token is cancelled."""

    __slots__ = ("_parent",)

    def __init__(self, parent: CancelToken) -> None:
        super().__init__()
        self._parent = parent

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or self._parent.cancelled

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.cancelled:
            left = _POLL_PARENT_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            if self._event.wait(min(left, _POLL_PARENT_S)):
                return True
        return True


class _Job:
    """One call handed to a worker: its outcome, and how to interrupt it if it is a coroutine."""

    __slots__ = ("_callback", "_fn", "_lock", "done", "error", "task", "value")

    def __init__(self, fn: Callable[[_Job], Any]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._callback: Callable[[], None] | None = None
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    def run(self) -> None:
        try:
            self.value = self._fn(self)
        except BaseException as exc:  # carried to the caller, who decides what to re-raise
            self.error = exc
        with self._lock:
            self.done.set()
            callback = self._callback
        if callback is not None:
            callback()

    def on_done(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self.done.is_set():
                self._callback = callback
                return
        callback()

    def interrupt(self) -> None:
        """Cancel the coroutine this job is running, if any (an abandoned ``async def`` tool)."""
        if self.task is not None:
            loop, task = self.task
            with contextlib.suppress(RuntimeError):  # its loop closed: nothing left to cancel
                loop.call_soon_threadsafe(task.cancel)

    def result(self, start: float) -> ToolResult:
        if self.error is None:
            return ToolResult(data=self.value, elapsed_ms=_ms_since(start))
        if isinstance(self.error, Exception):
            return _failed(self.error, start)
        raise self.error


class _WorkerPool:
    """Daemon threads that run timed calls; grows when all are busy, shrinks when idle.

    ``_idle`` counts workers waiting for work that no submitted job has claimed yet: a submit
    claims one or starts a new thread, a worker frees one when it finishes a job, and an idle
    worker exits only if it can take one back (so a claimed worker never leaves).
    """

    def __init__(self) -> None:
        import queue

        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._names = itertools.count(1)

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)
        if not self._idle.acquire(blocking=False):
            name = f"looplet-tool-{next(self._names)}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        import queue

        while True:
            try:
                job = self._jobs.get(timeout=_IDLE_WORKER_S)
            except queue.Empty:
                if self._idle.acquire(blocking=False):
                    return
                continue
            job.run()
            self._idle.release()


_made: list[_WorkerPool] = []  # the pool, once the first call that needs a worker made it
_MAKING_POOL = threading.Lock()


def _pool() -> _WorkerPool:
    """The process's one pool, made once even when two threads ask at the same time.

    Made on first use, with ``queue`` imported then (and ``traceback`` by the first failure):
    with heapq and textwrap they are about 0.3 MiB that a run of quick tools that work never
    needs."""
    if not _made:
        with _MAKING_POOL:
            if not _made:
                _made.append(_WorkerPool())
    return _made[0]


def _ms_since(start: float) -> float:
    return (perf_counter() - start) * 1000.0


def _failed(exc: Exception, start: float) -> ToolResult:
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ToolResult(
        error=message,
        error_kind=ErrorKind.EXECUTION,
        traceback=_format_traceback(exc),
        elapsed_ms=_ms_since(start),
    )


def _format_traceback(exc: BaseException) -> str:
    """The traceback from the tool's own frames down: looplet's frames above them are noise."""
    tb = exc.__traceback__
    start = tb
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == __file__:
            start = tb.tb_next
        tb = tb.tb_next
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, start or exc.__traceback__))


def _cancelled(spec: ToolSpec) -> ToolResult:
    error = f"The run was cancelled before tool {spec.name!r} started."
    return ToolResult(error=error, error_kind=ErrorKind.CANCELLED)


def _timed_out(spec: ToolSpec, limit: float, start: float) -> ToolResult:
    effects = "" if spec.read_only else " and may still have had side effects"
    error = f"Tool {spec.name!r} did not finish within its {limit:g} s timeout; it was stopped"
    return ToolResult(
        error=error + effects + ".", error_kind=ErrorKind.TIMEOUT, elapsed_ms=_ms_since(start)
    )


def _kwargs(
    spec: ToolSpec, args: dict[str, Any], ctx: ToolContext | None, token: CancelToken | None
) -> dict[str, Any]:
    if not spec.takes_ctx:
        return args
    base = ctx if ctx is not None else ToolContext()
    call_ctx = ToolContext(
        token if token is not None else base.cancel,
        base.step,
        base.run_id,
        base.workspace,
        base.emit,
        spec.name,
        base.child_runs,
        base.record_prompts,
        base.approver,
        base.approval,
        base.child_hooks,
    )
    return {**args, "ctx": call_ctx}


_NOT_COROUTINES = frozenset({str, int, float, bool, dict, list, tuple, bytes, type(None)})


def _invoke(spec: ToolSpec, kwargs: dict[str, Any], job: _Job | None = None) -> Any:
    """Call the tool; if it hands back a coroutine, run that to completion in this thread."""
    data = spec.execute(**kwargs)
    if type(data) not in _NOT_COROUTINES and isinstance(data, Coroutine):  # (an ABC check is slow)
        return _run_coroutine(cast(Coroutine[Any, Any, Any], data), job)
    return data


def _run_coroutine(coro: Coroutine[Any, Any, Any], job: _Job | None) -> Any:
    import asyncio

    async def main() -> Any:
        if job is not None:
            task = asyncio.current_task()
            assert task is not None
            job.task = (asyncio.get_running_loop(), task)
        return await coro

    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if not running:  # asyncio.run is called outside the except block: no chained context
        return asyncio.run(main())
    # This thread already runs an event loop (a notebook, say): asyncio.run would refuse.
    waiter = _Job(lambda _: asyncio.run(main()))
    _pool().submit(waiter)
    waiter.done.wait()
    if waiter.error is not None:
        raise waiter.error
    return waiter.value


def execute(
    spec: ToolSpec,
    args: dict[str, Any],
    ctx: ToolContext | None = None,
    *,
    timeout: float | None = None,
) -> ToolResult:
    """Run ``spec`` with already-validated ``args``; never raises for the tool's own errors.

    ``spec.timeout`` wins over ``timeout`` (the loop's default).  An exception in the tool becomes
    an ``execution`` result with the traceback; a call past its timeout becomes a ``timeout``
    result.  Exceptions that are not ``Exception`` (KeyboardInterrupt, SystemExit) propagate.
    """
    limit = spec.timeout if spec.timeout is not None else timeout
    if ctx is not None and ctx.cancel.cancelled:
        return _cancelled(spec)
    if limit is None:
        kwargs = _kwargs(spec, args, ctx, None)
        start = perf_counter()
        try:
            data = _invoke(spec, kwargs)
        except Exception as exc:
            return _failed(exc, start)
        return ToolResult(data, None, None, None, _ms_since(start))  # positional: the hot path
    token = _CallToken(ctx.cancel if ctx is not None else CancelToken())
    kwargs = _kwargs(spec, args, ctx, token)
    job = _Job(lambda job: _invoke(spec, kwargs, job))
    start = perf_counter()
    _pool().submit(job)
    if not job.done.wait(limit):
        token.cancel(f"timed out after {limit:g} s")
        job.interrupt()
        return _timed_out(spec, limit, start)
    return job.result(start)


async def aexecute(
    spec: ToolSpec,
    args: dict[str, Any],
    ctx: ToolContext | None = None,
    *,
    timeout: float | None = None,
) -> ToolResult:
    """The async twin of ``execute``: awaits ``async def`` tools in the running event loop.

    Without a timeout a sync tool runs inline and so blocks the event loop while it runs; with
    one it runs on the worker pool (not ``asyncio.to_thread``, whose non-daemon threads would
    keep a hung tool from ever letting ``asyncio.run`` return).  An async tool past its timeout
    is cancelled, and its ``ctx.cancel`` is set.
    """
    import asyncio

    limit = spec.timeout if spec.timeout is not None else timeout
    if ctx is not None and ctx.cancel.cancelled:
        return _cancelled(spec)
    token = None if limit is None else _CallToken(ctx.cancel if ctx else CancelToken())
    kwargs = _kwargs(spec, args, ctx, token)
    start = perf_counter()
    if limit is None:
        try:
            data = spec.execute(**kwargs)
            if inspect.isawaitable(data):
                data = await data
        except Exception as exc:
            return _failed(exc, start)
        return ToolResult(data=data, elapsed_ms=_ms_since(start))
    assert token is not None
    if spec.is_async:
        return await _await_with_timeout(spec, kwargs, token, limit, start)
    job = _Job(lambda job: _invoke(spec, kwargs, job))
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_settle, finished)

    job.on_done(wake)
    _pool().submit(job)
    try:
        await asyncio.wait_for(finished, limit)
    except TimeoutError:
        token.cancel(f"timed out after {limit:g} s")
        job.interrupt()
        return _timed_out(spec, limit, start)
    return job.result(start)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(frozen=True, slots=True)
class _Raised:
    """A tool's own exception, returned rather than raised so that a TimeoutError the tool raised
    is never mistaken for the call timing out, and its traceback starts at the tool."""

    error: Exception


async def _await_with_timeout(
    spec: ToolSpec, kwargs: dict[str, Any], token: CancelToken, limit: float, start: float
) -> ToolResult:
    import asyncio

    async def guarded() -> Any:
        try:
            return await spec.execute(**kwargs)
        except Exception as exc:
            return _Raised(exc)

    task = asyncio.ensure_future(guarded())
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    except asyncio.CancelledError:  # the caller gave up on the whole call
        task.cancel()
        raise
    if not done:
        # Set the token first, so the tool sees it while handling its CancelledError.  The task
        # is not awaited: a tool that ignores cancellation must not hang the caller.
        token.cancel(f"timed out after {limit:g} s")
        task.cancel()
        task.add_done_callback(_discard_outcome)
        return _timed_out(spec, limit, start)
    data = task.result()
    if isinstance(data, _Raised):
        return _failed(data.error, start)
    return ToolResult(data=data, elapsed_ms=_ms_since(start))


def _discard_outcome(task: asyncio.Task[Any]) -> None:
    """Mark an abandoned task's outcome as seen, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()
