"""Running tools: results, errors, context, progress, timeouts and cancellation, sync and async."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from looplet_core.cancel import CancelToken
from looplet_core.events import Event, EventKind
from looplet_core.messages import ToolCall
from looplet_core.records import ErrorKind
from looplet_core.tools import (
    BaseToolRegistry,
    ToolContext,
    ToolSpec,
    aexecute,
    execute,
)

TIMEOUT = 0.2


def _spec(execute: Any, parameters: Any = None, **kw: Any) -> ToolSpec:
    return ToolSpec(
        name=kw.pop("name", "t"),
        description="d",
        parameters=parameters or {},
        execute=execute,
        **kw,
    )


def _hang(ctx: ToolContext, saw_cancel: threading.Event) -> str:
    """A cooperative tool that waits until told to stop (or gives up after 5 s)."""
    if ctx.cancel.wait(5):
        saw_cancel.set()
    return "finished"


@dataclass
class Report:
    rows: int


# -- results and errors ---------------------------------------------------------------------------


def test_tool_result_keeps_the_returned_object() -> None:
    report = Report(3)
    result = execute(_spec(lambda: report), {})
    assert result.ok and result.data is report
    assert result.error is None and result.error_kind is None


def test_elapsed_time_is_measured() -> None:
    result = execute(_spec(lambda: time.sleep(0.03)), {})
    assert result.elapsed_ms >= 25


def test_tool_exception_becomes_execution_error_with_traceback() -> None:
    def explode(*, n: int) -> None:
        raise ValueError(f"bad n {n}")

    result = execute(_spec(explode, {"n": "int"}), {"n": 3})
    assert result.error == "ValueError: bad n 3"
    assert result.error_kind is ErrorKind.EXECUTION
    assert result.traceback is not None
    assert "in explode" in result.traceback and "ValueError: bad n 3" in result.traceback
    assert "looplet_core" not in result.traceback  # looplet's own frames are trimmed


def test_exception_without_message_is_named() -> None:
    def fail() -> None:
        raise KeyError

    assert execute(_spec(fail), {}).error == "KeyError"


def test_exit_requests_are_not_swallowed() -> None:
    def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        execute(_spec(leave), {})


def test_calls_without_timeout_run_inline_in_the_callers_thread() -> None:
    result = execute(_spec(threading.current_thread), {})
    assert result.data is threading.current_thread()


def test_cancelled_run_does_not_start_the_tool() -> None:
    ran: list[int] = []
    ctx = ToolContext()
    ctx.cancel.cancel()
    result = execute(_spec(lambda: ran.append(1)), {}, ctx)
    assert result.error_kind is ErrorKind.CANCELLED and ran == []


# -- context and progress --------------------------------------------------------------------------


def test_ctx_is_passed_with_the_tool_name_and_run_details() -> None:
    seen: list[ToolContext] = []

    def probe(*, x: int, ctx: ToolContext) -> int:
        seen.append(ctx)
        return x

    ctx = ToolContext(step=4, run_id="r1")
    assert execute(_spec(probe, {"x": "int"}, name="probe"), {"x": 1}, ctx).data == 1
    assert (seen[0].tool, seen[0].step, seen[0].run_id) == ("probe", 4, "r1")
    assert seen[0].cancel is ctx.cancel


def test_ctx_is_made_up_when_the_caller_has_none() -> None:
    result = execute(_spec(lambda *, ctx: ctx), {})
    assert isinstance(result.data, ToolContext) and result.data.tool == "t"


def test_report_progress_emits_tool_progress_events() -> None:
    events: list[Event] = []

    def work(*, ctx: ToolContext) -> None:
        ctx.report_progress(0.5, "half")
        ctx.report_progress(7)
        ctx.report_progress(None, "no idea")

    execute(_spec(work, name="work"), {}, ToolContext(step=2, run_id="r", emit=events.append))
    assert [e.kind for e in events] == [EventKind.TOOL_PROGRESS] * 3
    assert [e.data for e in events] == [
        {"tool": "work", "fraction": 0.5, "message": "half"},
        {"tool": "work", "fraction": 1.0, "message": ""},
        {"tool": "work", "fraction": None, "message": "no idea"},
    ]
    assert (events[0].step, events[0].run_id) == (2, "r")


def test_report_progress_without_listener_does_nothing() -> None:
    ToolContext().report_progress(0.1, "ignored")  # must not raise


# -- timeouts --------------------------------------------------------------------------------------


def test_hanging_tool_times_out_and_gets_cancel_signal() -> None:
    saw_cancel = threading.Event()
    spec = _spec(lambda *, ctx: _hang(ctx, saw_cancel), name="slow", timeout=TIMEOUT)
    run = ToolContext()
    started = time.perf_counter()
    result = execute(spec, {}, run)
    assert time.perf_counter() - started < 2
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.error == (
        "Tool 'slow' did not finish within its 0.2 s timeout; it was stopped "
        "and may still have had side effects."
    )
    assert result.elapsed_ms >= TIMEOUT * 1000 * 0.9
    assert saw_cancel.wait(2), "the tool's own token was never cancelled"
    assert not run.cancel.cancelled, "a timeout must not cancel the whole run"


def test_timeout_message_of_read_only_tool_promises_no_side_effects() -> None:
    spec = _spec(lambda: time.sleep(1), timeout=0.05, read_only=True)
    result = execute(spec, {})
    assert result.error is not None and "side effects" not in result.error


def test_default_timeout_applies_and_spec_timeout_wins() -> None:
    slow = _spec(lambda: time.sleep(0.5) or "late")
    assert execute(slow, {}, timeout=0.05).error_kind is ErrorKind.TIMEOUT
    patient = _spec(lambda: time.sleep(0.05) or "on time", timeout=2)
    assert execute(patient, {}, timeout=0.01).data == "on time"


def test_cancelling_the_run_reaches_a_timed_tool() -> None:
    saw_cancel = threading.Event()
    spec = _spec(lambda *, ctx: _hang(ctx, saw_cancel), timeout=5)
    run = ToolContext()
    threading.Timer(0.05, run.cancel.cancel).start()
    result = execute(spec, {}, run)
    assert saw_cancel.is_set() and result.data == "finished"


def test_timed_tool_errors_are_execution_errors() -> None:
    def fail() -> None:
        raise TimeoutError("upstream timed out")

    result = execute(_spec(fail, timeout=2), {})
    assert result.error_kind is ErrorKind.EXECUTION
    assert result.error == "TimeoutError: upstream timed out"
    assert result.traceback is not None and "in fail" in result.traceback


def test_timed_calls_reuse_daemon_worker_threads() -> None:
    spec = _spec(threading.current_thread, timeout=2)
    first = execute(spec, {}).data
    second = execute(spec, {}).data
    assert first is second
    assert first is not threading.current_thread() and first.daemon


# -- async tools -----------------------------------------------------------------------------------


async def _double(*, n: int) -> int:
    await asyncio.sleep(0)
    return n * 2


def test_async_tool_runs_in_the_sync_path() -> None:
    assert execute(_spec(_double, {"n": "int"}), {"n": 4}).data == 8
    assert execute(_spec(_double, {"n": "int"}, timeout=2), {"n": 5}).data == 10


async def test_async_tool_in_sync_path_works_under_a_running_event_loop() -> None:
    assert execute(_spec(_double, {"n": "int"}), {"n": 2}).data == 4


def test_sync_wrapper_returning_a_coroutine_is_awaited() -> None:
    assert execute(_spec(lambda: _double(n=1)), {}).data == 2


def test_async_tool_exception_has_its_traceback() -> None:
    async def broken() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("nope")

    result = execute(_spec(broken), {})
    assert result.error == "RuntimeError: nope"
    assert result.traceback is not None and "in broken" in result.traceback
    assert "looplet_core" not in result.traceback


def test_hanging_async_tool_in_sync_path_is_cancelled() -> None:
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    result = execute(_spec(stuck, timeout=TIMEOUT), {})
    assert result.error_kind is ErrorKind.TIMEOUT
    assert cancelled.wait(2)


async def test_aexecute_awaits_async_tools_and_runs_sync_ones() -> None:
    assert (await aexecute(_spec(_double, {"n": "int"}), {"n": 3})).data == 6
    assert (await aexecute(_spec(lambda *, n: n + 1, {"n": "int"}), {"n": 3})).data == 4
    assert (await aexecute(_spec(lambda: _double(n=2)), {})).data == 4


async def test_aexecute_turns_exceptions_into_execution_errors() -> None:
    async def broken() -> None:
        raise ValueError("no")

    for timeout in (None, 2.0):
        result = await aexecute(_spec(broken), {}, timeout=timeout)
        assert result.error == "ValueError: no" and result.error_kind is ErrorKind.EXECUTION
    result = await aexecute(_spec(lambda: 1 / 0, timeout=2), {})
    assert result.error == "ZeroDivisionError: division by zero"


async def test_aexecute_cancels_an_async_tool_past_its_timeout() -> None:
    cancelled = asyncio.Event()

    async def stuck(*, ctx: ToolContext) -> None:
        try:
            await asyncio.sleep(5)
        finally:
            assert ctx.cancel.cancelled
            cancelled.set()

    run = ToolContext()
    result = await aexecute(_spec(stuck, timeout=TIMEOUT), {}, run)
    assert result.error_kind is ErrorKind.TIMEOUT
    await asyncio.wait_for(cancelled.wait(), 2)  # cancelled, but not awaited by aexecute
    assert not run.cancel.cancelled


async def test_aexecute_keeps_a_tool_timeout_error_apart_from_its_own_timeout() -> None:
    async def fail() -> None:
        raise TimeoutError("upstream")

    result = await aexecute(_spec(fail, timeout=2), {})
    assert result.error_kind is ErrorKind.EXECUTION and result.error == "TimeoutError: upstream"


async def test_aexecute_runs_a_timed_sync_tool_off_the_event_loop() -> None:
    saw_cancel = threading.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    background = asyncio.create_task(ticker())
    spec = _spec(lambda *, ctx: _hang(ctx, saw_cancel), timeout=TIMEOUT)
    result = await aexecute(spec, {}, ToolContext())
    background.cancel()
    assert result.error_kind is ErrorKind.TIMEOUT
    assert ticks >= 5, "the event loop was blocked while the tool ran"
    assert saw_cancel.wait(2)


async def test_aexecute_returns_a_timed_sync_tool_result() -> None:
    result = await aexecute(_spec(lambda: "done", timeout=2), {})
    assert result.ok and result.data == "done"


async def test_aexecute_does_not_start_when_the_run_is_cancelled() -> None:
    token = CancelToken()
    token.cancel()
    result = await aexecute(_spec(_double, {"n": "int"}), {"n": 1}, ToolContext(cancel=token))
    assert result.error_kind is ErrorKind.CANCELLED


# -- registry seam ---------------------------------------------------------------------------------


async def test_adispatch_validates_before_running() -> None:
    registry = BaseToolRegistry([_spec(_double, {"n": "int"}, name="double")])
    assert (await registry.adispatch(ToolCall("double", {"n": "21"}))).data == 42
    refused = await registry.adispatch(ToolCall("double", {"n": "x"}))
    assert refused.error_kind is ErrorKind.VALIDATION


def test_registry_execute_is_the_overridable_seam() -> None:
    class Recording(BaseToolRegistry):
        def __init__(self) -> None:
            super().__init__([_spec(lambda *, n: n, {"n": "int"}, name="echo")])
            self.calls: list[dict[str, Any]] = []

        def execute(
            self, spec: ToolSpec, args: dict[str, Any], ctx: Any = None, *, timeout: Any = None
        ) -> Any:
            self.calls.append(args)
            return super().execute(spec, args, ctx, timeout=timeout)

    registry = Recording()
    assert registry.dispatch(ToolCall("echo", {"n": "7"})).data == 7
    assert registry.calls == [{"n": 7}]
