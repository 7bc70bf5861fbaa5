"""``fork``: a new branch from any checkpoint with one edit; the parent branch stays as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    ConfigError,
    DefaultState,
    LoopConfig,
    MemoryCheckpointStore,
    Message,
    StepStatus,
    StopReason,
    ToolResult,
    checkpoint_tree,
    composable_loop,
    fork,
)
from looplet_core.durable.checkpoints import CheckpointStore, load
from tests.core.durable_helpers import Reply, backend, comparable, durable_tools, requests_of
from tests.core.store_kinds import STORES, make_store

PLAN: list[Reply] = [
    {"tool": "count", "args": {"i": 0}},
    {"tool": "count", "args": {"i": 1}},
    {"tool": "note", "args": {"text": "middle"}},
    {"tool": "count", "args": {"i": 3}},
    {"tool": "done", "args": {"answer": "ok"}},
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CheckpointStore:
    """Each test runs against every store: memory, files, SQLite and a real PostgreSQL."""
    return make_store(request.param, tmp_path, request)


def main_run(store: CheckpointStore, plan: list[Reply] = PLAN) -> tuple[DefaultState, list[str]]:
    state = DefaultState(run_id="r1")
    list(
        composable_loop(
            llm=backend(plan),
            tools=durable_tools(),
            task="t",
            config=LoopConfig(checkpoint=store),
            state=state,
        )
    )
    return state, store.list("r1")


def frozen(store: CheckpointStore, ids: list[str]) -> list[str]:
    return [store.get(cid).to_json() for cid in ids]


def test_edited_args_at_step_k_diverge_there_and_leave_the_parent_intact(store: CheckpointStore):
    state, ids = main_run(store)
    before = frozen(store, ids)
    calls: list[Any] = []
    llm = backend(PLAN)
    run = fork(store, ids[1], args={"i": 42}, llm=llm, tools=durable_tools(calls), branch="b42")
    steps = list(run)
    assert steps[0].number == 2
    assert steps[0].tool_call is not None and steps[0].tool_call.args == {"i": 42}
    assert steps[0].tool_result.data == {"i": 42, "square": 1764}
    assert calls[0] == ("count", {"i": 42})
    assert [s.number for s in run.state.steps] == [1, 2, 3, 4, 5]
    assert all(s.branch_id == "b42" for s in run.state.steps[1:])
    assert run.state.steps[0].branch_id == "main"
    sent = requests_of(llm)[0]  # the model's own call was edited to match, then its result
    assert sent[-2]["tool_calls"][0]["args"] == {"i": 42}
    assert sent[-1]["tool_call_id"] == "c1" and '"square":1764' in sent[-1]["content"].replace(
        " ", ""
    )
    assert frozen(store, ids) == before
    assert [comparable(s) for s in load(store, ids[-1]).state.steps] == [
        comparable(s) for s in state.steps
    ]


def test_both_branches_are_listed_as_a_tree(store: CheckpointStore):
    _, ids = main_run(store)
    list(fork(store, ids[1], args={"i": 9}, llm=backend(PLAN), tools=durable_tools(), branch="a"))
    list(fork(store, ids[3], result={"fake": True}, llm=backend(PLAN), tools=durable_tools()))
    (root,) = checkpoint_tree(store, "r1")
    node = root.children[0]  # checkpoint 2: main continues, and branch "a" starts here
    assert node.checkpoint.id == ids[1]
    assert sorted(c.checkpoint.branch_id for c in node.children) == ["a", "main"]
    fork_node = next(c for c in node.children if c.checkpoint.branch_id == "a")
    assert fork_node.checkpoint.reason == "fork"
    assert fork_node.checkpoint.fork == {"from": ids[1], "edit": "args", "step": 2}
    branches = {cp.branch_id for cp in (store.get(c) for c in store.list("r1"))}
    assert len(branches) == 3


def test_edited_result_is_what_the_model_sees_next(store: CheckpointStore):
    _, ids = main_run(store)
    llm = backend(PLAN)
    run = fork(store, ids[2], result="the note failed", llm=llm, tools=durable_tools())
    steps = list(run)
    assert steps[0].number == 4
    assert requests_of(llm)[0][-1]["content"] == "the note failed"
    edited = run.state.steps[2]
    assert edited.tool_result.data == "the note failed" and edited.status is StepStatus.OK
    assert edited.decisions[-1].decision == "edit_result"


def test_an_edited_result_may_be_an_error(store: CheckpointStore):
    _, ids = main_run(store)
    llm = backend(PLAN)
    error = ToolResult(error="disk full", error_kind=None)
    run = fork(store, ids[2], result=error, llm=llm, tools=durable_tools())
    list(run)
    assert run.state.steps[2].status is StepStatus.ERROR
    assert "disk full" in requests_of(llm)[0][-1]["content"]


def test_edited_messages_become_the_prompt(store: CheckpointStore):
    _, ids = main_run(store)
    msgs = list(load(store, ids[1]).state.conversation)
    edited = [*msgs[:2], Message("user", "Actually, just finish.")]
    llm = backend([{"tool": "done", "args": {"answer": "short"}}])
    run = fork(store, ids[1], messages=edited, llm=llm, tools=durable_tools())
    steps = list(run)
    assert requests_of(llm)[0] == [m.to_dict() for m in edited]
    assert [s.number for s in steps] == [3]
    assert run.result is not None and run.result.final_answer == {"answer": "short"}
    forked = store.get(run.checkpoint.id)
    assert forked.messages_keep == 2  # only the changed tail is stored


def test_fork_of_a_paused_approval_re_asks_with_the_edited_args():
    store = MemoryCheckpointStore()
    plan: list[Reply] = [
        {"tool": "count", "args": {"i": 0}},
        {"tool": "delete", "args": {"target": "everything"}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    state = DefaultState(run_id="r1")
    list(
        composable_loop(
            llm=backend(plan),
            tools=durable_tools(),
            task="t",
            config=LoopConfig(checkpoint=store),
            state=state,
        )
    )
    assert state.pending_approval is not None
    paused_id = store.list("r1")[-1]
    calls: list[Any] = []
    run = fork(
        store, paused_id, args={"target": "one row"}, llm=backend(plan), tools=durable_tools(calls)
    )
    for step in run:
        if step.status is StepStatus.AWAITING_APPROVAL:
            assert step.approval is not None and step.approval.args == {"target": "one row"}
            step.approval.approve()
    assert ("delete", {"target": "one row"}) in calls
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    assert load(store, paused_id).state.pending_approval is not None  # parent still paused


def test_fork_inside_a_multi_call_reply_keeps_the_remaining_calls(store: CheckpointStore):
    plan: list[Reply] = [
        [{"tool": "count", "args": {"i": i}} for i in range(3)],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    _, ids = main_run(store, plan)
    calls: list[Any] = []
    llm = backend(plan)
    run = fork(store, ids[0], args={"i": 100}, llm=llm, tools=durable_tools(calls))
    steps = list(run)
    assert [c[1]["i"] for c in calls if c[0] == "count"] == [100, 1, 2]
    assert [s.number for s in steps] == [1, 2, 3, 4]
    assert len(llm.requests) == 1  # the reply's other calls ran without asking the model


def test_fork_refuses_ambiguous_or_impossible_edits(store: CheckpointStore):
    _, ids = main_run(store)
    tools = durable_tools()
    with pytest.raises(ConfigError, match="one edit at a time"):
        fork(store, ids[1], args={"i": 1}, result=3, llm=backend(PLAN), tools=tools)
    with pytest.raises(ConfigError, match="finished the run"):
        fork(store, ids[4], result="x", llm=backend(PLAN), tools=tools)
    with pytest.raises(ConfigError, match="invalid"):
        fork(store, ids[1], args={"i": "many"}, llm=backend(PLAN), tools=tools)
    with pytest.raises(ConfigError, match="already has a branch named 'main'"):
        fork(store, ids[1], llm=backend(PLAN), tools=tools, branch="main")
    assert store.list("r1") == ids  # nothing was written


def test_fork_without_an_edit_re_runs_from_the_checkpoint(store: CheckpointStore):
    _, ids = main_run(store)
    run = fork(store, ids[2], llm=backend(PLAN), tools=durable_tools())
    assert [s.number for s in run] == [4, 5]
    assert run.state.branch_id.startswith("fork-")
