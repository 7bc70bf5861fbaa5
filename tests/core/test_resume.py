"""``resume`` continues a run exactly: the steps, messages, budget and state of an unbroken run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    BackendError,
    CancelToken,
    DefaultState,
    LoopConfig,
    Stop,
    StopReason,
    async_composable_loop,
    composable_loop,
    resume,
)
from looplet_core.durable.checkpoints import CheckpointStore, latest_checkpoint, load
from tests.core.durable_helpers import (
    Reply,
    backend,
    comparable,
    counting_plan,
    durable_tools,
    requests_of,
)
from tests.core.store_kinds import STORES, make_store


def uninterrupted(plan: list[Reply], config: LoopConfig) -> tuple[list[Any], Any, DefaultState]:
    llm = backend(plan)
    state = DefaultState(run_id="same")
    steps = list(
        composable_loop(llm=llm, tools=durable_tools(), task="count", config=config, state=state)
    )
    return steps, llm, state


def interrupted(
    plan: list[Reply], config: LoopConfig, store: CheckpointStore, stop_after: list[int]
) -> tuple[list[Any], list[Any], DefaultState]:
    """Run, abandon the loop after each step number in ``stop_after``, resume with new objects."""
    llm = backend(plan)
    state = DefaultState(run_id="same")
    steps: list[Any] = []
    requests = []
    loop: Any = composable_loop(
        llm=llm, tools=durable_tools(), task="count", config=config, state=state
    )
    for limit in [*stop_after, None]:
        for step in loop:
            steps.append(step)
            if step.number == limit:
                break
        loop.close()
        requests += requests_of(llm)
        if limit is None:
            break
        llm = backend(plan)  # a new process: new backend, new tools, state from the store
        loop = resume(store, llm=llm, tools=durable_tools())
    return steps, requests, loop.state


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CheckpointStore:
    """Each test runs against every store: memory, files, SQLite and a real PostgreSQL."""
    return make_store(request.param, tmp_path, request)


def test_resumed_run_equals_an_uninterrupted_one(store: CheckpointStore):
    plan: list[Reply] = [
        {"tool": "count", "args": {"i": 0}},
        [{"tool": "count", "args": {"i": 1}}, {"tool": "note", "args": {"text": "two calls"}}],
        {"tool": "count", "args": {"i": "oops"}},  # a validation error step
        "no tool call",  # a parse error step
        {"tool": "note", "args": {"text": "hi"}},
        {"tool": "count", "args": {"i": 5}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    config = LoopConfig(max_steps=20, checkpoint=store)
    ref_steps, ref_llm, ref_state = uninterrupted(plan, LoopConfig(max_steps=20))
    steps, requests, state = interrupted(plan, config, store, stop_after=[2, 3, 5])
    assert [comparable(s) for s in steps] == [comparable(s) for s in ref_steps]
    assert requests == requests_of(ref_llm)  # the model saw exactly the same conversation
    assert list(state.conversation) == list(ref_state.conversation)
    assert state.result is not None and ref_state.result is not None
    assert state.result.usage == ref_state.result.usage
    assert state.result.llm_calls == ref_state.result.llm_calls
    assert [comparable(s) for s in state.result.steps] == [comparable(s) for s in ref_steps]


def test_resume_in_the_middle_of_a_multi_call_reply_does_not_ask_the_model(
    store: CheckpointStore,
):
    plan: list[Reply] = [
        [{"tool": "count", "args": {"i": i}} for i in range(3)],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    config = LoopConfig(max_steps=10, checkpoint=store)
    steps, requests, _ = interrupted(plan, config, store, stop_after=[1])
    assert [s.number for s in steps] == [1, 2, 3, 4]
    assert len(requests) == 2  # one reply with three calls, then done


def test_the_step_budget_is_honoured_across_a_pause(store: CheckpointStore):
    config = LoopConfig(max_steps=5, checkpoint=store)
    steps, _, state = interrupted(counting_plan(10), config, store, stop_after=[3])
    assert [s.number for s in steps] == [1, 2, 3, 4, 5]
    assert state.result is not None and state.result.stop_reason is StopReason.MAX_STEPS


def test_resume_restores_state_data_and_usage(store: CheckpointStore):
    class Counter:
        def post_dispatch(self, state: DefaultState, *args: Any) -> None:
            state.data["seen"] = state.data.get("seen", 0) + 1

    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(5)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
        hooks=[Counter()],
    ):
        if step.number == 2:
            break
    run = resume(store, llm=backend(counting_plan(5)), tools=durable_tools(), hooks=[Counter()])
    assert run.state.data == {"seen": 2}
    assert run.state.usage == state.usage and run.state.usage.input_tokens > 0
    list(run)
    assert run.state.data == {"seen": 6}


def test_a_finished_run_says_so_and_does_not_run_again(store: CheckpointStore):
    state = DefaultState()
    list(
        composable_loop(
            llm=backend(counting_plan(2)),
            tools=durable_tools(),
            task="t",
            config=LoopConfig(checkpoint=store),
            state=state,
        )
    )
    llm = backend(counting_plan(2))
    run = resume(store, llm=llm, tools=durable_tools())
    assert run.finished
    assert list(run) == []
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    assert run.result.final_answer == {"answer": "counted 2"}
    assert len(run.result.steps) == 3
    assert llm.requests == []


def test_a_run_whose_end_was_not_saved_is_still_finished_after_done(store: CheckpointStore):
    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(1)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
    ):
        if step.tool == "done":
            break  # the process "dies" after the done step was saved, before the end was
    assert load(store, latest_checkpoint(store)).checkpoint.reason == "step"
    llm = backend(counting_plan(1))
    run = resume(store, llm=llm, tools=durable_tools())
    assert run.finished and list(run) == [] and llm.requests == []
    assert run.result is not None and run.result.stop_reason is StopReason.DONE


def test_a_stop_decision_on_the_last_saved_step_ends_the_resumed_run(store: CheckpointStore):
    class StopAfterTwo:
        def check_done(self, state: DefaultState, log: Any, step: int) -> Stop | None:
            return Stop("enough") if step == 2 else None

    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(5)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
        hooks=[StopAfterTwo()],
    ):
        if step.number == 2:
            break
    run = resume(store, llm=backend(counting_plan(5)), tools=durable_tools())
    assert run.finished and run.result is not None
    assert run.result.stop_reason is StopReason.HOOK_STOP


def test_a_run_that_failed_on_the_model_server_continues_when_resumed(store: CheckpointStore):
    plan = counting_plan(3)
    failing: list[Any] = [BackendError("server on fire", status=400)]
    llm = backend(plan)
    llm.script = [llm.script[0], *failing, *llm.script[1:]]
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=llm,
            tools=durable_tools(),
            task="t",
            config=LoopConfig(checkpoint=store),
            state=state,
        )
    )
    assert state.result is not None and state.result.stop_reason is StopReason.LLM_ERROR
    run = resume(store, llm=backend(plan), tools=durable_tools())
    assert not run.finished
    rest = list(run)
    assert [s.number for s in steps + rest] == [1, 2, 3, 4, 5]
    assert run.result is not None and run.result.stop_reason is StopReason.DONE


def test_a_cancelled_run_continues_when_resumed(store: CheckpointStore):
    cancel = CancelToken()
    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(4)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
        cancel=cancel,
    ):
        if step.number == 2:
            cancel.cancel("user pressed stop")
    assert state.result is not None and state.result.stop_reason is StopReason.CANCELLED
    run = resume(store, llm=backend(counting_plan(4)), tools=durable_tools())
    assert [s.number for s in run] == [3, 4, 5]


def test_resume_uses_the_saved_config_unless_given_one(store: CheckpointStore):
    state = DefaultState()
    config = LoopConfig(max_steps=4, result_limit=500, checkpoint=store)
    for step in composable_loop(
        llm=backend(counting_plan(9)), tools=durable_tools(), task="t", config=config, state=state
    ):
        if step.number == 1:
            break
    run = resume(store, llm=backend(counting_plan(9)), tools=durable_tools())
    assert (run.config.max_steps, run.config.result_limit) == (4, 500)
    assert run.config.checkpoint is store
    bigger = resume(
        store,
        llm=backend(counting_plan(9)),
        tools=durable_tools(),
        config=LoopConfig(max_steps=6),
    )
    assert [s.number for s in bigger][-1] == 6


async def test_an_async_loop_continues_from_a_resumed_run(store: CheckpointStore):
    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(3)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
    ):
        if step.number == 2:
            break
    llm = backend(counting_plan(3))
    tools = durable_tools()
    run = resume(store, llm=llm, tools=tools)
    numbers = [
        s.number
        async for s in async_composable_loop(
            llm=llm, tools=tools, task=run.task, config=run.config, state=run.state
        )
    ]
    assert numbers == [3, 4]
    assert store.get(latest_checkpoint(store)).reason == "end"
