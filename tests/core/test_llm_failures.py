"""Model server failures: transient ones are retried with backoff, the rest stop with llm_error."""

from __future__ import annotations

from looplet_core import (
    BackendError,
    ErrorKind,
    EventKind,
    LoopConfig,
    RateLimitError,
    StopReason,
    TransientBackendError,
)

from .helpers import run

DONE = {"tool": "done", "args": {"answer": "x"}}
FAST = LoopConfig(retry_backoff=0.001, max_retry_wait=0.05)


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def on_event(self, event):
        if event.kind is EventKind.LLM_RETRY:
            self.waits.append(event.data["wait_s"])


def test_transient_errors_are_retried_and_the_run_continues():
    waits = Waits()
    script = [TransientBackendError("503"), TransientBackendError("reset"), DONE]
    steps, result, llm, _ = run(script, config=FAST, hooks=[waits])
    assert result.stop_reason is StopReason.DONE
    assert len(llm.requests) == 3
    assert steps[0].llm_call is not None and steps[0].llm_call.attempts == 3
    assert waits.waits == [0.001, 0.002]  # exponential backoff


def test_rate_limit_honours_retry_after_up_to_the_cap():
    waits = Waits()
    script = [RateLimitError("429", retry_after=0.03), RateLimitError("429", retry_after=99), DONE]
    _, result, _, _ = run(script, config=FAST, hooks=[waits])
    assert result.stop_reason is StopReason.DONE
    assert waits.waits == [0.03, 0.05]


def test_retries_run_out_into_a_clear_llm_error_stop():
    script = [TransientBackendError("503 Service Unavailable")] * 4
    steps, result, _, _ = run(script, config=LoopConfig(llm_retries=3, retry_backoff=0.001))
    assert result.stop_reason is StopReason.LLM_ERROR
    assert "503 Service Unavailable" in result.message
    assert "after 4 attempts" in result.message
    assert steps[-1].tool_result.error_kind is ErrorKind.LLM


def test_non_transient_error_stops_at_once_with_the_server_message():
    script = [BackendError("401 invalid api key", status=401), DONE]
    steps, result, llm, _ = run(script, config=FAST)
    assert len(llm.requests) == 1
    assert result.stop_reason is StopReason.LLM_ERROR
    assert "401 invalid api key" in result.message
    assert len(steps) == 1


def test_unexpected_backend_exception_is_an_llm_error_not_budget_exhausted():
    steps, result, _, _ = run([ZeroDivisionError("bug in backend")], config=FAST)
    assert result.stop_reason is StopReason.LLM_ERROR
    assert "ZeroDivisionError" in result.message
    assert steps[-1].tool_result.error_kind is ErrorKind.LLM
