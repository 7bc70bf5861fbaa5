"""Deadlines the loop holds whatever a backend does, and a stuck model stopped early.

The backends here are plain Python objects that stall (a sleep, an event never set), so the
deadline is the only thing that can end the call; tests/e2e/test_hostile_server.py does the same
against a real server over HTTP.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from looplet_core import (
    ConfigError,
    DefaultState,
    ErrorKind,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    StepStatus,
    StopReason,
    ToolCall,
    async_composable_loop,
    composable_loop,
    resume,
)
from looplet_core.durable.stores import MemoryCheckpointStore
from looplet_core.errors import TransientBackendError
from tests.core.helpers import make_tools, run


class Stalls:
    """A backend whose first ``stalls`` calls never answer (until released), then answers."""

    model = "stalling-model"

    def __init__(self, stalls: int, then: Sequence[LLMResponse] = ()) -> None:
        self.stalls = stalls
        self.then = list(then)
        self.calls = 0
        self.release = threading.Event()

    def generate(self, messages: Any, *, tools: Any, on_delta: Any = None) -> LLMResponse:
        self.calls += 1
        if self.calls <= self.stalls:
            if on_delta is not None:
                on_delta("text", "partial ")
            self.release.wait(30)  # a stalled server: only the deadline ends the wait
            if on_delta is not None:
                on_delta("text", "late text of an abandoned call")
            raise TransientBackendError("released at the end of the test")
        return self.then.pop(0)


def done(answer: str = "ok") -> LLMResponse:
    return LLMResponse(text="", tool_calls=[ToolCall("done", {"answer": answer}, "c-done")])


def greet(name: str, call_id: str = "c1") -> LLMResponse:
    return LLMResponse(text="", tool_calls=[ToolCall("greet", {"name": name}, call_id)])


def test_a_stalled_attempt_ends_at_llm_deadline_and_is_retried():
    llm = Stalls(1, [done()])
    config = LoopConfig(llm_deadline=0.3, retry_backoff=0.01)
    began = time.monotonic()
    try:
        steps = list(composable_loop(llm=llm, tools=make_tools(), task="t", config=config))
    finally:
        llm.release.set()
    assert time.monotonic() - began < 5  # not the 30 s the backend would have held it
    [step] = steps
    assert step.status is StepStatus.DONE
    assert step.llm_call is not None and step.llm_call.attempts == 2
    [failure] = step.llm_call.failures
    assert failure.kind == "DeadlineError" and "llm_deadline=0.3 s" in failure.error
    assert failure.wait_s == pytest.approx(0.01) and 250 < failure.latency_ms < 3000


def test_text_an_abandoned_attempt_streams_late_is_not_shown_as_the_next_ones():
    seen: list[str] = []

    class Listener:
        def on_event(self, event):
            if event.kind.value == "llm_delta":
                seen.append(event.data["text"])

    llm = Stalls(1, [done()])
    config = LoopConfig(llm_deadline=0.3, retry_backoff=0.01, stream=True)
    steps = list(
        composable_loop(llm=llm, tools=make_tools(), task="t", config=config, hooks=[Listener()])
    )
    llm.release.set()
    time.sleep(0.2)  # the abandoned worker wakes and tries to stream its late text
    assert steps[-1].status is StepStatus.DONE
    assert "late text of an abandoned call" not in seen and seen == ["partial "]


def test_every_attempt_failing_is_an_llm_error_step_that_keeps_them_all():
    llm = Stalls(3)
    config = LoopConfig(llm_deadline=0.2, llm_retries=2, retry_backoff=0.01)
    state = DefaultState()
    try:
        steps = list(
            composable_loop(llm=llm, tools=make_tools(), task="t", config=config, state=state)
        )
    finally:
        llm.release.set()
    [step] = steps
    assert step.tool_result.error_kind is ErrorKind.LLM
    assert "DeadlineError" in (step.tool_result.error or "")
    assert "after 3 attempts" in (step.tool_result.error or "")
    call = step.llm_call
    assert call is not None and call.failed and call.attempts == 3
    assert [f.attempt for f in call.failures] == [1, 2, 3]
    assert [f.wait_s is None for f in call.failures] == [False, False, True]
    assert state.result is not None and state.result.stop_reason is StopReason.LLM_ERROR
    # the step and its call survive a round trip, as checkpoints and traces store them
    again = type(step).from_dict(step.to_dict())
    assert again.llm_call is not None and again.llm_call.failures == call.failures


def test_a_successful_first_attempt_writes_no_failures_key():
    steps, _, _, _ = run([{"tool": "done", "args": {"answer": "x"}}])
    assert steps[0].llm_call is not None
    assert "failures" not in steps[0].llm_call.to_dict()  # old readers see the same records


def test_run_deadline_cuts_a_stalled_call_short_and_the_run_resumes_later():
    llm = Stalls(1, [done("after resume")])
    store = MemoryCheckpointStore()
    config = LoopConfig(run_deadline=0.4, llm_deadline=60, checkpoint=store)
    state = DefaultState()
    began = time.monotonic()
    try:
        steps = list(
            composable_loop(llm=llm, tools=make_tools(), task="t", config=config, state=state)
        )
    finally:
        llm.release.set()
    assert time.monotonic() - began < 5
    assert state.result is not None and state.result.stop_reason is StopReason.DEADLINE
    [step] = steps
    assert "run_deadline=0.4 s" in (step.tool_result.error or "")
    assert step.llm_call is not None and len(step.llm_call.failures) == 1  # not retried
    run_again = resume(store, llm=llm, tools=make_tools())
    more = list(run_again)
    assert run_again.result is not None and run_again.result.stop_reason is StopReason.DONE
    assert [s.status for s in more] == [StepStatus.DONE]


def test_run_deadline_between_steps_is_an_error_step_naming_it():
    script = [{"tool": "slow", "args": {"seconds": 0.15}} for _ in range(20)]
    tools = make_tools()
    config = LoopConfig(max_steps=20, run_deadline=0.5)
    steps, result, _, _ = run(script, tools=tools, config=config)
    assert result.stop_reason is StopReason.DEADLINE
    last = steps[-1]
    assert last.tool_call is None and last.tool_result.error_kind is ErrorKind.TIMEOUT
    assert "run_deadline of 0.5 s" in (last.tool_result.error or "")
    assert 2 <= len(steps) < 10


def test_cancel_while_the_model_stalls_ends_the_run_at_once():
    from looplet_core import CancelToken

    llm = Stalls(1)
    cancel = CancelToken()
    threading.Timer(0.2, cancel.cancel, args=("quit",)).start()
    state = DefaultState()
    began = time.monotonic()
    try:
        list(
            composable_loop(
                llm=llm,
                tools=make_tools(),
                task="t",
                state=state,
                cancel=cancel,
                config=LoopConfig(llm_deadline=60),
            )
        )
    finally:
        llm.release.set()
    assert time.monotonic() - began < 3
    assert state.result is not None and state.result.stop_reason is StopReason.CANCELLED


def test_async_loop_cancels_a_stalled_agenerate_at_the_deadline():
    class AsyncStalls:
        model = "async-stall"

        def __init__(self) -> None:
            self.calls = 0
            self.cancelled = False

        async def agenerate(self, messages, *, tools, on_delta=None):
            self.calls += 1
            if self.calls == 1:
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    self.cancelled = True
                    raise
            return done()

        def generate(self, messages, *, tools, on_delta=None):  # pragma: no cover - not used
            raise AssertionError("the async loop uses agenerate")

    llm = AsyncStalls()
    state = DefaultState()
    config = LoopConfig(llm_deadline=0.2, retry_backoff=0.01)

    async def go():
        return [
            s
            async for s in async_composable_loop(
                llm=llm, tools=make_tools(), task="t", config=config, state=state
            )
        ]

    steps = asyncio.run(asyncio.wait_for(go(), 10))
    assert llm.cancelled  # the stalled call was cancelled, not left running
    assert steps[-1].status is StepStatus.DONE
    assert steps[-1].llm_call is not None and steps[-1].llm_call.failures[0].kind == "DeadlineError"


def test_in_process_backends_are_called_on_the_loops_own_thread():
    threads: list[str] = []

    def reply(messages, tools):
        threads.append(threading.current_thread().name)
        return {"tool": "done", "args": {"answer": "x"}}

    llm = MockLLMBackend([reply])
    list(composable_loop(llm=llm, tools=make_tools(), task="t"))
    assert threads == [threading.current_thread().name]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("llm_deadline", 0, "llm_deadline must be a positive number"),
        ("run_deadline", -1.0, "run_deadline must be a positive number"),
        ("max_repeated_failures", -1, "max_repeated_failures must be 0"),
    ],
)
def test_bad_limits_are_config_errors_naming_them(field, value, words):
    with pytest.raises(ConfigError, match=words):
        LoopConfig(**{field: value})


# -- a stuck model ---------------------------------------------------------------------------


def test_a_model_calling_a_tool_that_does_not_exist_stops_after_three_replies():
    script = [{"tool": "frobnicate", "args": {"x": i}} for i in range(50)]
    steps, result, llm, _ = run(script, config=LoopConfig(max_steps=50))
    assert result.stop_reason is StopReason.STUCK
    assert len(steps) == 3 and llm.remaining == 47  # not the whole step budget
    assert "tools that do not exist (frobnicate) 3 replies in a row" in result.message
    assert all(s.tool_result.error_kind is ErrorKind.VALIDATION for s in steps)


def test_the_same_failing_call_three_times_is_stuck_but_varied_failures_are_not():
    same = [{"tool": "boom", "args": {}} for _ in range(10)]
    steps, result, _, _ = run(same)
    assert result.stop_reason is StopReason.STUCK and len(steps) == 3
    assert "same failing call to boom 3 replies in a row (execution: " in result.message

    varied = [{"tool": "add", "args": {"a": i, "b": "x"}} for i in range(5)]
    varied.append({"tool": "done", "args": {"answer": "gave up adding"}})
    steps, result, _, _ = run(varied)
    assert result.stop_reason is StopReason.DONE and len(steps) == 6


def test_one_reply_with_several_unknown_calls_is_told_before_it_counts():
    three = LLMResponse(
        text="",
        tool_calls=[ToolCall("nope", {"i": i}, f"c{i}") for i in range(3)],
    )
    steps, result, _, _ = run([three, {"tool": "done", "args": {"answer": "fine"}}])
    assert result.stop_reason is StopReason.DONE
    assert [s.status for s in steps] == [StepStatus.ERROR] * 3 + [StepStatus.DONE]


def test_the_stuck_check_can_be_turned_off_and_raised():
    script = [{"tool": "frobnicate", "args": {}} for _ in range(6)]
    steps, result, _, _ = run(script, config=LoopConfig(max_steps=6, max_repeated_failures=0))
    assert result.stop_reason is StopReason.MAX_STEPS and len(steps) == 6
    steps, result, _, _ = run(script, config=LoopConfig(max_steps=6, max_repeated_failures=5))
    assert result.stop_reason is StopReason.STUCK and len(steps) == 5
