"""Every fault the fake server can act out, through the whole loop over real HTTP.

The backend-level tests (test_fakeserver_openai.py) show what exception each fault becomes; these
show what a *run* does with it: ``composable_loop`` with the real ``openai`` client, a checkpoint
store and a provenance trace, the fault landing on the second model call.  Each fault must end in
a retry or a clear error step, never a crash or a hang (every run is bounded); afterwards every
checkpoint loads, the trace reads back with the same steps, the API key appears in no file, and a
run the fault stopped resumes from its checkpoint to the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from looplet_core import (
    DefaultState,
    ErrorKind,
    FileCheckpointStore,
    LoopConfig,
    ProvenanceSink,
    Step,
    StepStatus,
    StopReason,
    TraceReader,
    async_composable_loop,
    composable_loop,
    resume,
)
from looplet_core.backends.openai import AsyncOpenAIBackend, OpenAIBackend
from tests.core.helpers import make_tools
from tests.e2e.faults import KEY, FaultAt, bounded, check_durable, written_bytes
from tests.fakeserver import FakeOpenAIServer, Fault

TASK = "Greet Alice, then finish."
FAST = {"retry_backoff": 0.01, "max_retry_wait": 0.2}

RETRIED = {  # fault: what the retry event says went wrong
    Fault.RATE_LIMIT: "HTTP 429",
    Fault.SERVER_ERROR: "HTTP 500",
    Fault.UNAVAILABLE: "HTTP 503",
    Fault.RESET: "Connection reset by peer",
    Fault.SLOW: "request timed out",
    Fault.STREAM_CUT: "Connection reset by peer",
    Fault.STREAM_SHORT: "the reply was cut off",
    Fault.DRIP: "llm_deadline=1 s",
    Fault.KEEPALIVE: "llm_deadline=1 s",
}
HOSTILE = {Fault.DRIP, Fault.KEEPALIVE}
"""Faults no read timeout catches (every read is short): only the loop's llm_deadline ends them."""
TOLD_TO_MODEL = {
    Fault.MALFORMED_ARGS: ErrorKind.PARSE,
    Fault.UNKNOWN_TOOL: ErrorKind.VALIDATION,
    Fault.HUGE: ErrorKind.PARSE,
}
STOPS = {
    Fault.UNAUTHORIZED: (StopReason.LLM_ERROR, ErrorKind.LLM, "http 401"),
    Fault.NO_CHOICES: (StopReason.LLM_ERROR, ErrorKind.LLM, "no choices"),
    Fault.CONTEXT_LENGTH: (StopReason.CONTEXT_EXHAUSTED, ErrorKind.CONTEXT, "context length"),
}


def test_every_fault_the_server_can_act_out_is_covered_here():
    assert {*RETRIED, *TOLD_TO_MODEL, *STOPS} == set(Fault)


@dataclass
class Rig:
    server: FakeOpenAIServer
    client: openai.OpenAI
    root: Path

    @property
    def store(self) -> FileCheckpointStore:
        return FileCheckpointStore(self.root / "checkpoints", durable=False)

    @property
    def trace(self) -> Path:
        return self.root / "trace"

    def backend(self, *, stream: bool = False) -> OpenAIBackend:
        return OpenAIBackend(self.client, "fake-model", stream=stream)


@pytest.fixture
def rig(fake_openai_server: FakeOpenAIServer, tmp_path: Path) -> Iterator[Rig]:
    # The client's timeout bounds every request; the `slow` fault waits longer than it.
    with openai.OpenAI(base_url=fake_openai_server.base_url, api_key=KEY, timeout=5.0) as client:
        yield Rig(fake_openai_server, client, tmp_path)


def run_with_fault(
    rig: Rig, fault: Fault, *, stream: bool, client: openai.OpenAI | None = None
) -> tuple[list[Step], DefaultState]:
    """greet(Alice) then done, with ``fault`` on the second model call; bounded to 30 s."""
    rig.server.reply(tool_calls=[("greet", {"name": "Alice"})], usage=(40, 6))
    rig.server.reply(tool_calls=[("done", {"answer": "Greeted Alice."})], usage=(60, 7))
    llm = OpenAIBackend(client or rig.client, "fake-model", stream=stream)
    state = DefaultState()
    deadline = 1.0 if fault in HOSTILE else 300.0
    config = LoopConfig(
        max_steps=6, stream=stream, checkpoint=rig.store, llm_deadline=deadline, **FAST
    )
    hooks = [  # hostile faults send a byte or a keep-alive every 0.2 s: far inside the timeout
        FaultAt(rig.server, fault, retry_after=0.05, delay=0.2 if fault in HOSTILE else 6.0),
        ProvenanceSink(rig.trace, llm=llm),
    ]

    def go() -> list[Step]:
        return list(
            composable_loop(
                llm=llm, tools=make_tools(), task=TASK, config=config, state=state, hooks=hooks
            )
        )

    return bounded(go), state


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(RETRIED), ids=str)
def test_transient_fault_is_retried_and_the_run_finishes(rig, fault, stream):
    client = rig.client.with_options(timeout=2.0) if fault is Fault.SLOW else None
    steps, state = run_with_fault(rig, fault, stream=stream, client=client)

    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    assert [(s.tool, s.status) for s in steps] == [
        ("greet", StepStatus.OK),
        ("done", StepStatus.DONE),
    ]
    second = steps[1].llm_call
    assert second is not None and second.attempts == 2  # the fault, then the retry
    [failed] = second.failures  # the failed attempt is kept on the step, for the debugger
    assert failed.attempt == 1 and RETRIED[fault] in failed.error and failed.wait_s is not None
    if fault in HOSTILE:
        assert failed.kind == "DeadlineError" and 900 < failed.latency_ms < 3000
    assert len(rig.server.requests) == 3 and rig.server.pending == 0
    assert state.usage.input_tokens == 100  # the failed attempt reported no usage
    [retry] = list(TraceReader(rig.trace).events({"llm_retry"}))
    assert retry["attempt"] == 1 and RETRIED[fault] in retry["error"]
    check_durable(rig.store, rig.trace, steps)
    assert KEY.encode() not in written_bytes(rig.root)


def test_rate_limit_waits_as_long_as_the_server_asked(rig):
    steps, _ = run_with_fault(rig, Fault.RATE_LIMIT, stream=False)
    [retry] = list(TraceReader(rig.trace).events({"llm_retry"}))
    assert retry["wait_s"] == pytest.approx(0.05)  # Retry-After, not the backoff
    assert steps[-1].status is StepStatus.DONE


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(TOLD_TO_MODEL), ids=str)
def test_unusable_reply_becomes_an_error_step_the_model_is_told_about(rig, fault, stream):
    steps, state = run_with_fault(rig, fault, stream=stream)

    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    assert [s.status for s in steps] == [StepStatus.OK, StepStatus.ERROR, StepStatus.DONE]
    bad = steps[1]
    assert bad.tool_result.error_kind is TOLD_TO_MODEL[fault]
    # The next request carries the error back to the model, as a tool result or a user note.
    told = rig.server.requests[2]["messages"][-1]
    assert told["role"] in ("tool", "user") and told["content"]
    assert bad.tool_result.error is not None
    check_durable(rig.store, rig.trace, steps)


def test_huge_reply_is_kept_whole_in_the_step_checkpoint_and_trace(rig):
    steps, _ = run_with_fault(rig, Fault.HUGE, stream=True)
    huge = steps[1].llm_call
    assert huge is not None and len(huge.text) == rig.server.huge_chars
    assert len(steps[1].pretty()) < 200  # the one-line form stays one short line
    snapshot = check_durable(rig.store, rig.trace, steps)
    assert any(len(m.content) == rig.server.huge_chars for m in snapshot.state.conversation)
    assert TraceReader(rig.trace).llm_call(2).text == huge.text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(STOPS), ids=str)
def test_fatal_fault_stops_with_a_clear_error_step(rig, fault, stream):
    reason, kind, words = STOPS[fault]
    steps, state = run_with_fault(rig, fault, stream=stream)

    assert state.result is not None and state.result.stop_reason is reason
    assert [s.status for s in steps] == [StepStatus.OK, StepStatus.ERROR]
    last = steps[-1]
    assert last.tool_call is None and last.tool_result.error_kind is kind
    assert words in (last.tool_result.error or "").lower()
    assert state.result.message == last.tool_result.error
    assert len(rig.server.requests) == 2  # not retried: retrying cannot fix it
    check_durable(rig.store, rig.trace, steps)
    reader = TraceReader(rig.trace)
    assert reader.stop_reason is reason
    assert KEY.encode() not in written_bytes(rig.root)


@pytest.mark.parametrize("fault", [Fault.UNAUTHORIZED, Fault.NO_CHOICES], ids=str)
def test_run_stopped_by_a_server_failure_resumes_from_its_checkpoint(rig, fault):
    steps, _ = run_with_fault(rig, fault, stream=False)
    llm = rig.backend()

    run = resume(rig.store, llm=llm, tools=make_tools(), hooks=[ProvenanceSink(rig.trace, llm=llm)])
    more = bounded(lambda: list(run))

    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    assert [(s.number, s.tool) for s in more] == [(3, "done")]  # numbering continues
    assert run.result.final_answer == {"answer": "Greeted Alice."}
    everything = [*steps, *more]
    check_durable(rig.store, rig.trace, everything)
    # The resumed request is the original conversation plus the error note, not a fresh start.
    resent = rig.server.requests[-1]["messages"]
    assert any(m.get("tool_calls") for m in resent if m["role"] == "assistant")
    assert rig.server.pending == 0


def test_context_exhausted_run_is_final_when_resumed(rig):
    run_with_fault(rig, Fault.CONTEXT_LENGTH, stream=False)
    run = resume(rig.store, llm=rig.backend(), tools=make_tools())
    assert run.finished and bounded(lambda: list(run)) == []
    assert len(rig.server.requests) == 2  # the model is not asked again


def test_context_length_error_compacts_the_history_once_and_retries(rig):
    server = rig.server
    for i in range(6):
        server.reply(tool_calls=[("search", {"query": f"topic {i} " + "x" * 400})])
    server.reply(tool_calls=[("done", {"answer": "ok"})])
    llm = rig.backend()
    state = DefaultState()
    hooks = [  # no context hook: the loop's own overflow handling (Prune, then Truncate)
        FaultAt(server, Fault.CONTEXT_LENGTH, call=7),
        ProvenanceSink(rig.trace, llm=llm),
    ]
    config = LoopConfig(max_steps=10, checkpoint=rig.store, **FAST)

    steps = bounded(
        lambda: list(
            composable_loop(
                llm=llm, tools=make_tools(), task=TASK, config=config, state=state, hooks=hooks
            )
        )
    )

    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    done = steps[-1]
    assert done.llm_call is not None and done.llm_call.attempts == 2
    assert any(d.decision == "compact_after_overflow" for d in done.decisions)
    retried = server.requests[-1]["messages"]
    assert len(str(retried)) < len(str(server.requests[-2]["messages"]))
    assert list(TraceReader(rig.trace).events({"compaction"}))
    check_durable(rig.store, rig.trace, steps)


def test_retries_running_out_end_in_a_resumable_llm_error(rig):
    server = rig.server
    server.reply(tool_calls=[("greet", {"name": "Alice"})])
    server.reply(tool_calls=[("done", {"answer": "late"})])
    llm = rig.backend()
    state = DefaultState()
    config = LoopConfig(llm_retries=2, checkpoint=rig.store, **FAST)

    class Outage:
        def pre_prompt(self, state, log, ctx, step):
            if state.llm_calls == 1 and not state.data.get("outage"):
                state.data["outage"] = True
                for _ in range(3):
                    server.fail(Fault.UNAVAILABLE)

    steps = bounded(
        lambda: list(
            composable_loop(
                llm=llm,
                tools=make_tools(),
                task=TASK,
                config=config,
                state=state,
                hooks=[Outage(), ProvenanceSink(rig.trace, llm=llm)],
            )
        )
    )
    assert state.result is not None and state.result.stop_reason is StopReason.LLM_ERROR
    assert "HTTP 503" in state.result.message and "after 3 attempts" in state.result.message
    assert len(list(TraceReader(rig.trace).events({"llm_retry"}))) == 2

    run = resume(rig.store, llm=llm, tools=make_tools(), hooks=[ProvenanceSink(rig.trace, llm=llm)])
    more = bounded(lambda: list(run))
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    check_durable(rig.store, rig.trace, [*steps, *more])


@pytest.mark.parametrize("fault", [Fault.RESET, Fault.STREAM_CUT, Fault.RATE_LIMIT], ids=str)
async def test_async_loop_retries_transport_faults_too(fake_openai_server, tmp_path, fault):
    server = fake_openai_server
    server.reply(tool_calls=[("greet", {"name": "Alice"})])
    server.reply(tool_calls=[("done", {"answer": "ok"})])
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, timeout=5.0) as client:
        llm = AsyncOpenAIBackend(client, "fake-model", stream=True)
        state = DefaultState()
        store = FileCheckpointStore(tmp_path / "checkpoints", durable=False)
        hooks = [FaultAt(server, fault, retry_after=0.05), ProvenanceSink(tmp_path / "trace")]
        config = LoopConfig(stream=True, checkpoint=store, **FAST)

        async def go() -> list[Step]:
            loop = async_composable_loop(
                llm=llm, tools=make_tools(), task=TASK, config=config, state=state, hooks=hooks
            )
            return [step async for step in loop]

        steps = await asyncio.wait_for(go(), timeout=30)

    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    assert steps[-1].llm_call is not None and steps[-1].llm_call.attempts == 2
    check_durable(store, tmp_path / "trace", steps)
