"""The run store going away mid-run: the run stops closed and resumes later with nothing lost.

"Closed" means: no tool runs whose step the store could not record, the user's ``for step in
loop`` gets no exception but a last error step naming the store's problem, and the run ends
with ``hook_error``, which ``resume`` continues.  Each outage here is a real one: a write lock
held by another connection, the database file deleted, PostgreSQL's backends terminated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from looplet_core import DefaultState, LoopConfig, MockLLMBackend, Step, StepStatus, composable_loop
from looplet_core.durable.checkpointer import CheckpointHook
from looplet_core.durable.checkpoints import Checkpoint
from looplet_core.durable.connect import open_store
from looplet_core.durable.runstore import RunStatus, RunStore
from looplet_core.durable.sqlite import SQLiteRunStore
from looplet_core.errors import StoreError
from looplet_core.messages import Message
from looplet_core.records import StopReason
from looplet_core.runs.headless import run_in_store
from looplet_core.runs.resume import resume
from looplet_core.step import LoopResult
from tests.core.durable_helpers import durable_tools
from tests.pgserver import PgServer

Calls = list[tuple[str, dict[str, Any]]]


def bare(n: int) -> Checkpoint:
    return Checkpoint("r1", "main", n, {}, 0, [], 0, [])


def retrying_model() -> MockLLMBackend:
    """Calls ``count(i)`` for the next ``i`` not yet counted, then ``done``: like a real model,
    it calls again a count whose result it never got (a refused call), and skips none."""

    def reply(messages: Sequence[Message], tools: Any) -> dict[str, Any]:
        k = sum(1 for m in messages if m.role == "assistant")
        counted = sum(1 for m in messages if m.role == "tool" and '"square"' in str(m.content))
        if counted < 4:
            return {"id": f"c{k}", "tool": "count", "args": {"i": counted}}
        return {"id": f"c{k}", "tool": "done", "args": {"answer": "counted 4"}}

    return MockLLMBackend([reply] * 40)


def run(
    store: RunStore,
    calls: Calls,
    on_step: Callable[[Step], None] | None = None,
    *,
    run_id: str = "r1",
):
    agent = {"llm": retrying_model(), "tools": durable_tools(calls), "task": "count"}
    return run_in_store(agent, store, run_id=run_id, on_step=on_step)


def counted(calls: Calls) -> list[int]:
    return [args["i"] for tool, args in calls if tool == "count"]


def assert_stopped_closed(result: LoopResult | None, problem: str) -> Step:
    assert result is not None and result.stop_reason is StopReason.HOOK_ERROR
    last = result.steps[-1]
    assert last.status is StepStatus.ERROR and last.tool == "count"
    error = last.tool_result.error or ""
    assert "store_guard.pre_dispatch" in error and "not running count (step 3)" in error
    assert problem in error and "resume it once the store is back" in error
    return last


def assert_resumed_with_nothing_lost(result: LoopResult | None, calls: Calls) -> None:
    assert result is not None and result.stop_reason is StopReason.DONE
    assert counted(calls) == [0, 1, 2, 3]  # the refused count(2) ran once, on resume
    ok = [s for s in result.steps if s.status is not StepStatus.ERROR]
    assert [(s.tool, s.tool_call.args if s.tool_call else None) for s in ok] == [
        *(("count", {"i": i}) for i in range(4)),
        ("done", {"answer": "counted 4"}),
    ]


def test_a_lock_held_by_another_connection_stops_the_run_closed_and_it_resumes(tmp_path: Path):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    calls: Calls = []

    def lock_after_step_2(step: Step) -> None:
        if step.number == 2:
            holder.execute("BEGIN IMMEDIATE")  # another process's long write

    result = run(store, calls, lock_after_step_2)
    assert_stopped_closed(result, "locked by another process for over 0.2s")
    assert counted(calls) == [0, 1]  # step 3's tool never ran
    holder.execute("ROLLBACK")
    holder.close()
    saved = store.get(store.list("r1")[-1])
    assert saved.step == 2  # neither the refusal nor the end could be saved: step 2 is the last
    assert_resumed_with_nothing_lost(run(store, calls), calls)
    assert store.run_info("r1").status == RunStatus.FINISHED
    store.close()


def test_a_store_back_before_the_end_records_a_resumable_stop_not_a_finished_run(
    tmp_path: Path,
):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    calls: Calls = []

    def outage_around_step_3(step: Step) -> None:
        if step.number == 2:
            holder.execute("BEGIN IMMEDIATE")
        elif step.number == 3:  # the refusal is in hand: the store comes back before the end
            holder.execute("ROLLBACK")

    result = run(store, calls, outage_around_step_3)
    assert_stopped_closed(result, "locked by another process")
    holder.close()
    end = store.get(store.list("r1")[-1])
    assert end.reason == "end" and end.step == 3
    assert end.state["result"]["stop_reason"] == "hook_error"  # resumable, not "finished"
    assert counted(calls) == [0, 1]
    again = run(store, calls)
    assert_resumed_with_nothing_lost(again, calls)
    assert again is not None
    refused = [s for s in again.steps if s.status is StepStatus.ERROR]
    assert [s.number for s in refused] == [3]  # the refusal stays in the run's record
    store.close()


class LockAfterTool:
    """Takes the store's write lock from another connection once step ``at``'s tool has run,
    so that step's save is what fails."""

    def __init__(self, holder: sqlite3.Connection, at: int) -> None:
        self.holder, self.at = holder, at

    def post_dispatch(self, state: object, log: object, tc: object, result: object, step: int):
        if step == self.at:
            self.holder.execute("BEGIN IMMEDIATE")


def test_a_save_that_fails_stops_the_run_before_anything_else_runs_and_it_resumes(
    tmp_path: Path,
):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    calls: Calls = []
    hook = CheckpointHook(store)
    state = DefaultState(run_id="r1")
    loop = composable_loop(
        llm=retrying_model(),
        tools=durable_tools(calls),
        task="count",
        config=LoopConfig(checkpoint=hook),
        state=state,
        hooks=[LockAfterTool(holder, 2)],
    )
    seen = [step.number for step in loop]  # no exception reaches the caller's loop
    assert seen == [1, 2] and counted(calls) == [0, 1]  # nothing ran after the failed save
    assert hook.store_error is not None and "locked by another process" in str(hook.store_error)
    result = state.result
    assert result is not None and result.stop_reason is StopReason.HOOK_ERROR
    assert "checkpoint.save of step 2 raised StoreError" in result.message
    holder.execute("ROLLBACK")
    holder.close()
    assert store.get(store.list("r1")[-1]).step == 1
    resumed = resume(store, "r1", llm=retrying_model(), tools=durable_tools(calls))
    for _ in resumed:
        pass
    assert resumed.result is not None and resumed.result.stop_reason is StopReason.DONE
    # step 2 was in flight when the store went away: it runs again, as after a crash
    assert counted(calls) == [0, 1, 1, 2, 3]
    kept = [s.tool_call for s in resumed.result.steps if s.tool == "count"]
    assert [tc.args["i"] for tc in kept if tc is not None] == [0, 1, 2, 3]
    store.close()


def test_a_database_file_deleted_mid_run_is_caught_and_its_data_is_rescued(tmp_path: Path):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path)
    calls: Calls = []

    def delete_after_step_2(step: Step) -> None:
        if step.number == 2:
            path.unlink()  # rm runs.db: its -wal and -shm stay behind

    result = run(store, calls, delete_after_step_2)
    last = assert_stopped_closed(result, "the database file was deleted or moved")
    assert counted(calls) == [0, 1]
    rescued = sorted(tmp_path.glob("runs.rescued-*.db"))
    assert len(rescued) == 1 and str(rescued[0]) in (last.tool_result.error or "")
    assert "move that file to" in (last.tool_result.error or "")
    store.close()
    assert not path.exists()  # nothing wrote on into the deleted file, nor made a new one
    rescued[0].rename(path)  # what the message says to do
    back = SQLiteRunStore(path)
    assert back.get(back.list("r1")[-1]).step == 2  # every step before the outage is there
    assert_resumed_with_nothing_lost(run(back, calls), calls)
    back.close()


def test_a_database_file_replaced_mid_run_is_caught_and_the_new_file_left_alone(tmp_path: Path):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path)
    calls: Calls = []
    other = tmp_path / "other.db"
    SQLiteRunStore(other).close()

    def replace_after_step_2(step: Step) -> None:
        if step.number == 2:
            other.replace(path)

    result = run(store, calls, replace_after_step_2)
    assert_stopped_closed(result, "the database file was replaced by another file")
    assert counted(calls) == [0, 1]
    store.close()
    assert SQLiteRunStore(path).list("r1") == []  # the file put there was not written to
    rescued = SQLiteRunStore(next(tmp_path.glob("runs.rescued-*.db")))
    assert rescued.get(rescued.list("r1")[-1]).step == 2
    rescued.close()


def terminate_backends(server: PgServer) -> int:
    """Kill every connection to the test database but this one (a failover, an idle timeout,
    an administrator's ``pg_terminate_backend``): the server itself stays up."""
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_postgres_connections_killed_mid_run_are_replaced_and_the_run_goes_on(
    pg_server: PgServer,
):
    pg_server.reset()
    store = open_store(pg_server.url)
    calls: Calls = []
    killed: list[int] = []

    def kill_after_step_2(step: Step) -> None:
        if step.number == 2:
            killed.append(terminate_backends(pg_server))

    result = run(store, calls, kill_after_step_2)
    assert killed and killed[0] >= 1
    assert_resumed_with_nothing_lost(result, calls)  # the server was up: no stop at all
    assert store.run_info("r1").status == RunStatus.FINISHED
    run(store, [], run_id="r0")  # the same run, undisturbed

    def kinds(run_id: str) -> list[tuple[str, int]]:
        return [(e["kind"], e["step"]) for _, e in store.events(run_id)]

    assert kinds("r1") == kinds("r0")  # no event was dropped for the lost connection
    store.close()


def test_a_postgres_store_replaces_a_killed_connection_for_reads_writes_and_probes(
    pg_server: PgServer,
):
    pg_server.reset()
    store = open_store(pg_server.url)
    store.put(bare(1))
    for use in (
        lambda: store.put(bare(2)),  # a write: its BEGIN finds the connection dead
        lambda: store.list("r1"),  # a read
        store.check_writable,  # StoreGuard's probe
    ):
        assert terminate_backends(pg_server) >= 1
        use()
    assert [store.get(c).step for c in store.list("r1")] == [1, 2]  # each write once
    store.close()


def test_a_lease_lost_with_its_connection_is_taken_back_or_the_worker_told_to_stop(
    pg_server: PgServer,
):
    pg_server.reset()
    store, other = open_store(pg_server.url), open_store(pg_server.url)
    with store.acquire("r1", owner="box-a:1"):
        terminate_backends(pg_server)  # both stores lose their connection
        store.check_writable()  # connects again and takes the lease back
        with pytest.raises(StoreError, match="being run by box-a:1"):
            other.acquire("r1", owner="box-b:2")
    with store.acquire("r2", owner="box-a:1"):
        terminate_backends(pg_server)
        taken = other.acquire("r2", owner="box-b:2")  # the old session's lock died with it
        with pytest.raises(StoreError, match=r"run 'r2' was taken over by another worker"):
            store.put(bare(3))
        taken.release()
    store.close()
    other.close()
