"""Several tool calls in one reply run at the same time when their tools allow it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    BaseToolRegistry,
    CancelToken,
    DefaultState,
    Deny,
    FileCheckpointStore,
    LoopConfig,
    MemoryCheckpointStore,
    ProvenanceSink,
    Step,
    StepStatus,
    StopReason,
    ToolCall,
    TraceReader,
    async_composable_loop,
    composable_loop,
    resume,
)
from tests.core.durable_helpers import backend
from tests.core.parallel_helpers import FOUR_LOOKUPS, lookup_tools

ROOT = Path(__file__).resolve().parents[2]


def run(tools: BaseToolRegistry, plan: list[Any], **config: Any) -> tuple[list[Step], Any]:
    llm = backend(plan)
    state = DefaultState()
    steps = list(
        composable_loop(llm=llm, tools=tools, task="t", config=LoopConfig(**config), state=state)
    )
    return steps, (state, llm)


def tool_messages(messages: Any) -> list[tuple[str, str]]:
    return [(m.tool_call_id, m.content) for m in messages if m.role == "tool"]


def test_four_read_only_calls_run_at_the_same_time_and_are_yielded_in_order():
    calls: list[str] = []
    barrier = threading.Barrier(4, timeout=10)  # breaks unless all four wait at once
    steps, (state, llm) = run(lookup_tools(calls, barrier=barrier), FOUR_LOOKUPS, parallel_tools=4)
    assert [s.pretty().split(" [")[0] for s in steps[:4]] == [
        f"#{n} ✓ lookup(key='{k}') → value of {k}" for n, k in zip(range(1, 5), "abcd", strict=True)
    ]
    batch = [s.batch for s in steps[:4]]
    assert all(b is not None for b in batch)
    assert {b.id for b in batch if b} == {batch[0].id if batch[0] else ""}
    assert [(b.index, b.size) for b in batch if b] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert steps[4].status is StepStatus.DONE and steps[4].batch is None
    # each step keeps the times its own call ran: all four overlap
    assert max(s.started_at for s in steps[1:4]) < min(s.finished_at for s in steps[:4])
    # the model is told the results in the order it asked for them
    second = llm.requests[1].messages
    assert tool_messages(second) == [(f"c0.{i}", f"value of {k}") for i, k in enumerate("abcd")]
    assert state.result.stop_reason is StopReason.DONE


def test_with_parallel_tools_1_calls_run_one_by_one_without_a_batch():
    calls: list[str] = []
    steps, _ = run(lookup_tools(calls), FOUR_LOOKUPS)
    assert [s.batch for s in steps] == [None] * 5
    assert calls == ["lookup a", "lookup b", "lookup c", "lookup d"]


def test_a_tool_not_safe_to_overlap_splits_the_reply_and_runs_alone():
    calls: list[str] = []
    plan: list[Any] = [
        [
            {"tool": "lookup", "args": {"key": "a"}},
            {"tool": "lookup", "args": {"key": "b"}},
            {"tool": "write", "args": {"key": "c"}},
            {"tool": "lookup", "args": {"key": "d"}},
        ],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, _ = run(lookup_tools(calls), plan, parallel_tools=8)
    sizes = [s.batch.size if s.batch else None for s in steps]
    # a and b together; the write alone; d alone too (a batch of one is no batch)
    assert sizes == [2, 2, None, None, None]
    assert calls.index("write c") > max(calls.index("lookup a"), calls.index("lookup b"))


def test_concurrent_false_keeps_a_read_only_tool_sequential():
    tools = BaseToolRegistry()

    @tools.tool(read_only=True, concurrent=False)
    def peek(key: str) -> str:
        """Peek."""
        return key

    plan: list[Any] = [
        [{"tool": "peek", "args": {"key": k}} for k in "ab"],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, _ = run(tools, plan, parallel_tools=4)
    assert [s.batch for s in steps] == [None] * 3


def test_a_denied_call_is_its_own_denied_step_and_the_others_still_run():
    calls: list[str] = []

    class DenyC:
        def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> Any:
            return Deny("c is secret") if tc.args.get("key") == "c" else None

    barrier = threading.Barrier(3, timeout=10)
    llm = backend(FOUR_LOOKUPS)
    steps = list(
        composable_loop(
            llm=llm,
            tools=lookup_tools(calls, barrier=barrier),
            task="t",
            config=LoopConfig(parallel_tools=4),
            hooks=[DenyC()],
        )
    )
    assert [s.status for s in steps[:4]] == [
        StepStatus.OK,
        StepStatus.OK,
        StepStatus.DENIED,
        StepStatus.OK,
    ]
    assert sorted(calls) == ["lookup a", "lookup b", "lookup d"]
    told = dict(tool_messages(llm.requests[1].messages))
    assert "c is secret" in told["c0.2"] and told["c0.3"] == "value of d"


def test_every_pre_dispatch_decision_is_taken_before_any_call_runs():
    order: list[str] = []
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    def lookup(key: str) -> str:
        """Look up."""
        order.append(f"run {key}")
        return key

    class Watch:
        def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> None:
            order.append(f"decide {tc.args['key']} as step {step}")

    list(
        composable_loop(
            llm=backend(FOUR_LOOKUPS),
            tools=tools,
            task="t",
            config=LoopConfig(parallel_tools=2),
            hooks=[Watch()],
        )
    )
    decided = [f"decide {k} as step {n}" for n, k in zip(range(1, 5), "abcd", strict=True)]
    assert order[:4] == decided
    assert sorted(order[4:8]) == ["run a", "run b", "run c", "run d"]


def test_an_approval_blocks_only_its_own_call():
    calls: list[str] = []
    tools = lookup_tools(calls)

    @tools.tool(read_only=True, requires_approval=True)
    def vault(key: str) -> str:
        """Read from the vault."""
        calls.append(f"vault {key}")
        return "s3cret"

    plan: list[Any] = [
        [
            {"tool": "lookup", "args": {"key": "a"}},
            {"tool": "vault", "args": {"key": "b"}},
            {"tool": "lookup", "args": {"key": "c"}},
        ],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    store = MemoryCheckpointStore()
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(plan),
            tools=tools,
            task="t",
            config=LoopConfig(parallel_tools=4, checkpoint=store),
            state=state,
        )
    )
    assert [s.status for s in steps] == [StepStatus.OK, StepStatus.AWAITING_APPROVAL]
    assert sorted(calls) == ["lookup a", "lookup c"]  # c ran while b waits for a person
    assert state.result.stop_reason is StopReason.AWAITING_APPROVAL
    resumed = resume(store, llm=backend(plan), tools=tools, decision="approve")
    rest = list(resumed)
    assert [(s.number, s.tool, s.status) for s in rest] == [
        (2, "vault", StepStatus.OK),
        (3, "lookup", StepStatus.OK),
        (4, "done", StepStatus.DONE),
    ]
    assert sorted(calls) == ["lookup a", "lookup c", "vault b"]  # c was not run again
    assert rest[1].tool_result.data == "value of c"


def test_a_run_resumed_after_two_of_four_steps_records_the_rest_without_rerunning(tmp_path):
    store = MemoryCheckpointStore()
    calls: list[str] = []
    loop = composable_loop(
        llm=backend(FOUR_LOOKUPS),
        tools=lookup_tools(calls),
        task="t",
        config=LoopConfig(parallel_tools=4, checkpoint=store),
    )
    seen = [next(loop), next(loop)]
    loop.close()  # the caller walks away after two of the four steps
    assert [s.number for s in seen] == [1, 2]
    again: list[str] = []
    llm = backend(FOUR_LOOKUPS)
    rest = list(resume(store, llm=llm, tools=lookup_tools(again)))
    assert again == []  # c and d ran before the stop: recorded from the checkpoint
    assert [(s.number, s.tool) for s in rest] == [(3, "lookup"), (4, "lookup"), (5, "done")]
    assert [s.tool_result.data for s in rest[:2]] == ["value of c", "value of d"]
    assert rest[0].batch is not None and rest[0].batch.index == 2
    told = tool_messages(llm.requests[0].messages)
    assert [cid for cid, _ in told] == ["c0.0", "c0.1", "c0.2", "c0.3"]


@pytest.mark.slow
def test_a_process_killed_mid_batch_resumes_without_running_a_call_twice(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-m", "tests.core.parallel_helpers", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 9 and "DYING" in out.stdout, out.stderr
    ran = sorted((tmp_path / "tools.log").read_text().splitlines())
    assert ran == ["lookup a", "lookup b", "lookup c", "lookup d"]
    again: list[str] = []
    store = FileCheckpointStore(tmp_path)
    run_ = resume(store, llm=backend(FOUR_LOOKUPS), tools=lookup_tools(again))
    rest = list(run_)
    assert again == []
    assert [s.number for s in rest] == [3, 4, 5]
    assert run_.result is not None and run_.result.stop_reason is StopReason.DONE
    numbers = [s.number for s in run_.state.steps]
    assert numbers == [1, 2, 3, 4, 5]


def test_a_call_past_its_timeout_fails_alone():
    tools = BaseToolRegistry()

    @tools.tool(read_only=True, timeout=0.2)
    def slow(key: str) -> str:
        """Hang until cancelled."""
        threading.Event().wait(5)
        return key

    @tools.tool(read_only=True)
    def quick(key: str) -> str:
        """Answer at once."""
        return key

    plan: list[Any] = [
        [{"tool": "quick", "args": {"key": "a"}}, {"tool": "slow", "args": {"key": "b"}}],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, _ = run(tools, plan, parallel_tools=2)
    assert steps[0].ok and steps[0].batch is not None
    assert steps[1].tool_result.error_kind is not None
    assert steps[1].tool_result.error_kind.value == "timeout"


def test_cancelling_during_a_batch_records_it_then_stops():
    cancel = CancelToken()
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    def lookup(key: str) -> str:
        """Cancel the run from inside a call."""
        if key == "b":
            cancel.cancel("user pressed stop")
        return key

    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(FOUR_LOOKUPS),
            tools=tools,
            task="t",
            config=LoopConfig(parallel_tools=4),
            state=state,
            cancel=cancel,
        )
    )
    assert len(steps) == 4 and all(s.batch is not None for s in steps)
    assert state.result is not None and state.result.stop_reason is StopReason.CANCELLED


def test_the_step_budget_caps_a_batch():
    calls: list[str] = []
    steps, (state, _) = run(lookup_tools(calls), FOUR_LOOKUPS, parallel_tools=4, max_steps=3)
    assert [s.number for s in steps] == [1, 2, 3]
    assert len(calls) == 3 and steps[0].batch is not None and steps[0].batch.size == 3
    assert state.result.stop_reason is StopReason.MAX_STEPS


def test_batch_is_kept_in_to_dict_and_left_out_when_absent():
    calls: list[str] = []
    steps, _ = run(lookup_tools(calls), FOUR_LOOKUPS, parallel_tools=4)
    saved = json.loads(json.dumps(steps[1].to_dict()))
    assert saved["batch"]["index"] == 1 and saved["batch"]["size"] == 4
    assert Step.from_dict(saved).batch == steps[1].batch
    assert "batch" not in steps[4].to_dict()
    assert Step.from_dict(steps[4].to_dict()).batch is None


async def test_the_async_loop_overlaps_async_and_sync_tools():
    tools = BaseToolRegistry()
    gate = asyncio.Barrier(2)
    sync_gate = threading.Barrier(2, timeout=10)

    @tools.tool(read_only=True)
    async def fetch(key: str) -> str:
        """Async fetch."""
        async with asyncio.timeout(10):
            await gate.wait()
        return f"fetched {key}"

    @tools.tool(read_only=True)
    def read(key: str) -> str:
        """Blocking read."""
        sync_gate.wait()
        return f"read {key}"

    plan: list[Any] = [
        [
            {"tool": "fetch", "args": {"key": "a"}},
            {"tool": "fetch", "args": {"key": "b"}},
            {"tool": "read", "args": {"key": "c"}},
            {"tool": "read", "args": {"key": "d"}},
        ],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    state = DefaultState()
    steps = [
        s
        async for s in async_composable_loop(
            llm=backend(plan),
            tools=tools,
            task="t",
            config=LoopConfig(parallel_tools=4),
            state=state,
        )
    ]
    assert [s.tool_result.data for s in steps[:4]] == [
        "fetched a",
        "fetched b",
        "read c",
        "read d",
    ]
    assert all(s.batch is not None for s in steps[:4])
    assert state.result is not None and state.result.stop_reason is StopReason.DONE


def test_an_approver_in_the_config_is_asked_at_the_call_s_turn_and_the_run_goes_on():
    calls: list[str] = []
    tools = lookup_tools(calls)
    asked: list[str] = []

    @tools.tool(read_only=True, requires_approval=True)
    def vault(key: str) -> str:
        """Read from the vault."""
        calls.append(f"vault {key}")
        return "opened"

    def approver(request: Any) -> None:
        asked.append(request.tool)
        request.approve(by="test")

    plan: list[Any] = [
        [
            {"tool": "lookup", "args": {"key": "a"}},
            {"tool": "vault", "args": {"key": "b"}},
            {"tool": "lookup", "args": {"key": "c"}},
        ],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, _ = run(tools, plan, parallel_tools=4, approver=approver)
    assert asked == ["vault"]
    assert [(s.number, s.tool, s.status) for s in steps] == [
        (1, "lookup", StepStatus.OK),
        (2, "vault", StepStatus.OK),
        (3, "lookup", StepStatus.OK),
        (4, "done", StepStatus.DONE),
    ]
    assert steps[1].tool_result.data == "opened"


def test_a_trace_keeps_each_step_s_batch(tmp_path: Path):
    calls: list[str] = []
    list(
        composable_loop(
            llm=backend(FOUR_LOOKUPS),
            tools=lookup_tools(calls),
            task="t",
            config=LoopConfig(parallel_tools=4),
            hooks=[ProvenanceSink(tmp_path)],
        )
    )
    reader = TraceReader(tmp_path)
    batches = [s.batch for s in reader.steps()]
    assert [(b.index, b.size) if b else None for b in batches] == [
        (0, 4),
        (1, 4),
        (2, 4),
        (3, 4),
        None,
    ]


def test_a_hook_raising_while_a_batch_is_decided_is_one_error_step_and_nothing_runs():
    calls: list[str] = []

    class Boom:
        def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> None:
            if tc.args.get("key") == "c":
                raise RuntimeError("no c today")

    llm = backend(FOUR_LOOKUPS)
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=llm,
            tools=lookup_tools(calls),
            task="t",
            config=LoopConfig(parallel_tools=4),
            state=state,
            hooks=[Boom()],
        )
    )
    assert calls == []  # decided first: the batch never ran
    assert [(s.number, s.status, s.batch) for s in steps] == [(1, StepStatus.ERROR, None)]
    assert "Boom.pre_dispatch" in (steps[0].tool_result.error or "")
    assert state.result is not None and state.result.stop_reason is StopReason.HOOK_ERROR
    # every call of the reply is answered once in the conversation
    answered = [m.tool_call_id for m in state.conversation if m.role == "tool"]
    assert sorted(answered) == ["c0.0", "c0.1", "c0.2", "c0.3"]


def test_a_retryable_denial_in_a_batch_leaves_the_other_calls_alone():
    calls: list[str] = []

    class DenyB:
        def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> Any:
            return Deny("not b yet", retry=True) if tc.args.get("key") == "b" else None

    llm = backend(FOUR_LOOKUPS)
    steps = list(
        composable_loop(
            llm=llm,
            tools=lookup_tools(calls),
            task="t",
            config=LoopConfig(parallel_tools=4),
            hooks=[DenyB()],
        )
    )
    assert [s.status for s in steps[:4]] == [
        StepStatus.OK,
        StepStatus.DENIED,
        StepStatus.OK,
        StepStatus.OK,
    ]
    assert sorted(calls) == ["lookup a", "lookup c", "lookup d"]
    told = dict(tool_messages(llm.requests[1].messages))
    assert told["c0.1"].startswith("Not run: not b yet. You may call it again.")


def test_a_stop_after_a_batch_s_first_step_tells_the_truth_about_the_calls_that_ran():
    calls: list[str] = []

    class StopAfterA:
        def post_dispatch(self, state: Any, log: Any, tc: ToolCall, result: Any, step: int) -> Any:
            from looplet_core import Stop

            return Stop("enough") if tc.args.get("key") == "a" else None

    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(FOUR_LOOKUPS),
            tools=lookup_tools(calls),
            task="t",
            config=LoopConfig(parallel_tools=4),
            state=state,
            hooks=[StopAfterA()],
        )
    )
    assert len(steps) == 1 and len(calls) == 4  # all four ran together; the run stopped after #1
    told = {m.tool_call_id: m.content for m in state.conversation if m.role == "tool"}
    assert told["c0.0"] == "value of a"
    assert all(told[f"c0.{i}"].startswith("Its result was not read") for i in (1, 2, 3))
    assert state.batch_done == {}
