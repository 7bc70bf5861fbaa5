"""Running several tool calls at the same time: the calls of one reply whose tools may overlap.

``run_concurrently`` runs plain callables on daemon threads (at most ``workers`` at once) and
``arun_concurrently`` awaits coroutine factories under a semaphore; both return one
``ToolOutcome`` per call, in the order given, with the wall-clock times each call started and
ended, so a debugger can draw the overlap.  Timeouts and cancellation stay each call's own
business (``looplet_core.tools.run``): a batch is no more than its calls side by side.

Daemon threads (not ``concurrent.futures``, whose workers are joined at exit) so that a tool which
ignores its cancel token never keeps the process from exiting.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from looplet_core.records import ErrorKind, ToolResult

if TYPE_CHECKING:
    import asyncio

__all__ = ["ToolOutcome", "arun_concurrently", "in_daemon_thread", "run_concurrently"]


@dataclass(slots=True)
class ToolOutcome:
    """One call of a batch: its result, and when it started and ended (``time.time()``)."""

    result: ToolResult
    started_at: float
    finished_at: float


def _crashed(exc: BaseException) -> ToolResult:
    return ToolResult(
        error=f"the tool runner failed: {type(exc).__name__}: {exc}",
        error_kind=ErrorKind.EXECUTION,
    )


def run_concurrently(calls: Sequence[Callable[[], ToolResult]], workers: int) -> list[ToolOutcome]:
    """Run ``calls`` with at most ``workers`` at a time; wait for all; outcomes in call order."""
    outcomes: list[ToolOutcome | None] = [None] * len(calls)
    if not calls:
        return []
    lock = threading.Lock()
    pending = iter(range(len(calls)))

    def work() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            began = time.time()
            try:
                result = calls[index]()
            except Exception as exc:  # execute() never raises for a tool's own errors
                result = _crashed(exc)
            outcomes[index] = ToolOutcome(result, began, time.time())

    threads = [
        threading.Thread(target=work, name=f"looplet-batch-{n}", daemon=True)
        for n in range(min(workers, len(calls)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [
        o if o is not None else ToolOutcome(_crashed(RuntimeError("no outcome")), 0, 0)
        for o in outcomes
    ]


async def in_daemon_thread(fn: Callable[[], ToolResult]) -> ToolResult:
    """Await ``fn()`` run on a daemon thread (a sync tool in the async loop's batch)."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[ToolResult] = loop.create_future()

    def settle(value: ToolResult | BaseException) -> None:
        if future.done():
            return
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value: ToolResult | BaseException = fn()
        except BaseException as exc:  # handed to the awaiting task
            value = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, value)

    threading.Thread(target=work, name="looplet-batch-async", daemon=True).start()
    return await future


async def arun_concurrently(
    calls: Sequence[Callable[[], Awaitable[ToolResult]]], workers: int
) -> list[ToolOutcome]:
    """The async twin of ``run_concurrently``: at most ``workers`` calls awaited at once."""
    import asyncio

    gate = asyncio.Semaphore(workers)

    async def one(call: Callable[[], Awaitable[ToolResult]]) -> ToolOutcome:
        async with gate:
            began = time.time()
            try:
                result = await call()
            except Exception as exc:
                result = _crashed(exc)
            return ToolOutcome(result, began, time.time())

    tasks: list[asyncio.Task[ToolOutcome]] = [asyncio.ensure_future(one(c)) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
