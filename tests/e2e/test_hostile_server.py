"""The loop against a hostile or overloaded server on 127.0.0.1, through the real ``openai`` SDK.

A server that drips bytes or streams keep-alive lines never trips the client's read timeout; the
loop's ``llm_deadline`` ends it, plain and streamed, sync and async.  Many runs against one server
at once stay apart (each reply carries its own run's id), nothing deadlocks, and no thread is
left behind.  Every run here is bounded, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from looplet_core import (
    DefaultState,
    LoopConfig,
    StepStatus,
    StopReason,
    async_composable_loop,
    composable_loop,
)
from looplet_core.backends.openai import AsyncOpenAIBackend, OpenAIBackend
from tests.core.helpers import make_tools
from tests.e2e.faults import bounded
from tests.fakeserver import FakeOpenAIServer, Fault, Reply

FAST = {"retry_backoff": 0.01, "max_retry_wait": 0.05}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _model_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "looplet-model-call"]


def _wait_for_no_model_threads(seconds: float = 10.0) -> list[threading.Thread]:
    ends = time.monotonic() + seconds
    while _model_threads() and time.monotonic() < ends:
        time.sleep(0.05)
    return _model_threads()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", [Fault.DRIP, Fault.KEEPALIVE], ids=str)
def test_a_server_that_never_finishes_is_cut_off_at_llm_deadline(server, fault, stream):
    for _ in range(2):
        server.fail(fault, delay=0.25)  # a byte / a keep-alive every 0.25 s, forever
    client = openai.OpenAI(base_url=server.base_url, api_key="k", timeout=2.0)
    llm = OpenAIBackend(client, "fake-model", stream=stream)
    state = DefaultState()
    config = LoopConfig(llm_deadline=1.0, llm_retries=1, stream=stream, **FAST)

    began = time.monotonic()
    steps = bounded(
        lambda: list(
            composable_loop(llm=llm, tools=make_tools(), task="t", config=config, state=state)
        )
    )
    took = time.monotonic() - began

    assert took < 8  # two attempts of 1 s, not the minutes the server would hold them
    assert state.result is not None and state.result.stop_reason is StopReason.LLM_ERROR
    [step] = steps
    assert "llm_deadline=1 s" in (step.tool_result.error or "")
    call = step.llm_call
    assert (
        call is not None
        and call.failed
        and [f.kind for f in call.failures]
        == [
            "DeadlineError",
            "DeadlineError",
        ]
    )
    server.stop()  # the server hangs up: the abandoned attempts' threads end with it
    assert _wait_for_no_model_threads() == []
    client.close()


def test_the_async_loop_cancels_a_keep_alive_stream_at_the_deadline(server):
    server.fail(Fault.KEEPALIVE, delay=0.2)
    server.reply(tool_calls=[("done", {"answer": "second try"})])
    state = DefaultState()

    async def go() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", timeout=2.0) as c:
            llm = AsyncOpenAIBackend(c, "fake-model", stream=True)
            config = LoopConfig(llm_deadline=0.8, stream=True, **FAST)
            return [
                s
                async for s in async_composable_loop(
                    llm=llm, tools=make_tools(), task="t", config=config, state=state
                )
            ]

    steps = asyncio.run(asyncio.wait_for(go(), 20))
    assert [s.status for s in steps] == [StepStatus.DONE]
    assert steps[0].llm_call is not None and steps[0].llm_call.failures[0].kind == "DeadlineError"


# -- many runs against one server ------------------------------------------------------------

_RUN = re.compile(r"run-(\d+)")


def _answer_for_its_own_run(body: dict[str, Any]) -> Reply:
    """greet(run-N) on the first call, done(run-N) after: every reply names the asking run."""
    messages = body["messages"]
    [run] = set(_RUN.findall(str(messages[1]["content"])))
    if messages[-1]["role"] == "tool":
        return Reply(tool_calls=[("done", {"answer": f"run-{run}"})], usage=(20, 3))
    return Reply(tool_calls=[("greet", {"name": f"run-{run}"})], usage=(10, 2))


def _check_own_replies(run: int, state: DefaultState) -> None:
    result = state.result
    assert result is not None and result.stop_reason is StopReason.DONE, (run, result)
    assert [s.tool for s in result.steps] == ["greet", "done"]
    assert result.steps[0].tool_call is not None
    assert result.steps[0].tool_call.args == {"name": f"run-{run}"}
    assert result.final_answer == {"answer": f"run-{run}"}


def test_twenty_runs_in_threads_share_one_client_without_cross_talk(server):
    server.responder = _answer_for_its_own_run
    before = set(threading.enumerate())
    states = [DefaultState() for _ in range(20)]
    with openai.OpenAI(base_url=server.base_url, api_key="k", timeout=10.0) as client:
        llm = OpenAIBackend(client, "fake-model")

        def one(i: int) -> None:
            list(
                composable_loop(
                    llm=llm,
                    tools=make_tools(),
                    task=f"Greet run-{i}, then finish.",
                    config=LoopConfig(max_steps=4),
                    state=states[i],
                )
            )

        def all_of_them() -> None:
            threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        bounded(all_of_them, seconds=60)
    for i, state in enumerate(states):
        _check_own_replies(i, state)
    assert len(server.requests) == 40 and server.unexpected == []
    assert _wait_for_no_model_threads() == []
    # nothing of the runs' is left: only the server's own handlers, closing their connections
    leftover = [
        t
        for t in threading.enumerate()
        if t not in before and "process_request_thread" not in t.name and t.is_alive()
    ]
    assert leftover == []


def test_two_hundred_async_runs_at_once_stay_apart(server):
    server.responder = _answer_for_its_own_run
    states = [DefaultState() for _ in range(200)]

    async def one(llm: AsyncOpenAIBackend, i: int) -> None:
        async for _ in async_composable_loop(
            llm=llm,
            tools=make_tools(),
            task=f"Greet run-{i}, then finish.",
            config=LoopConfig(max_steps=4),
            state=states[i],
        ):
            pass

    async def go() -> None:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", timeout=30.0) as c:
            llm = AsyncOpenAIBackend(c, "fake-model")
            await asyncio.gather(*(one(llm, i) for i in range(200)))

    asyncio.run(asyncio.wait_for(go(), 90))
    for i, state in enumerate(states):
        _check_own_replies(i, state)
    assert len(server.requests) == 400 and server.unexpected == []
