"""Run stores (SQLite and a real PostgreSQL) behave the same: approvals, leases, events, many
writers, SIGKILL mid-write, schema versions, corrupt rows.  The checkpoint half of the contract
(put/get/list, resume, forks and branch trees) is run over every store by test_checkpoints,
test_resume and test_fork, whose ``store`` fixtures take ``STORES``."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from looplet_core import (
    ApprovalError,
    CheckpointError,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    composable_loop,
)
from looplet_core.durable.checkpoints import Checkpoint, latest_checkpoint, load
from looplet_core.durable.connect import open_checkpoints, open_store
from looplet_core.durable.runstore import RunStatus, RunStore
from looplet_core.errors import StoreError
from tests.core.durable_helpers import backend, counting_plan, durable_tools
from tests.core.store_kinds import RUN_STORES, make_run_store, store_target


@pytest.fixture(params=RUN_STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def target(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return store_target(kind, tmp_path, request)


@pytest.fixture
def store(target: str, request: pytest.FixtureRequest) -> RunStore:
    opened = open_store(target)
    request.addfinalizer(opened.close)
    return opened


def bare(run_id: str, n: int) -> Checkpoint:
    return Checkpoint(
        run_id=run_id,
        branch_id="main",
        step=n,
        state={"n": n},
        messages_keep=0,
        messages_add=[{"role": "user", "content": f"m{n}"}],
        steps_keep=0,
        steps_add=[],
        created_at=float(n),
    )


def run_counting(store: RunStore, n: int, run_id: str = "r1") -> DefaultState:
    state = DefaultState(run_id=run_id)
    cfg = LoopConfig(max_steps=n + 5, checkpoint=store)
    for _ in composable_loop(
        llm=backend(counting_plan(n)), tools=durable_tools(), task="count", config=cfg, state=state
    ):
        pass
    return state


def test_a_run_is_listed_with_its_status_steps_and_age(store: RunStore):
    run_counting(store, 3)
    (info,) = store.list_runs()
    assert (info.run_id, info.status, info.steps) == ("r1", RunStatus.FINISHED, 4)
    assert info.checkpoints == len(store.list("r1")) and info.updated_at >= info.created_at > 0
    assert store.run_info("r1") == info
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.run_info("nope")


def test_history_is_the_parent_chain_and_resume_rebuilds_the_run(store: RunStore):
    state = run_counting(store, 5)
    last = latest_checkpoint(store, "r1")
    chain = store.history(last)
    assert [cp.id for cp in chain] == store.list("r1")
    assert len(load(store, last).state.steps) == len(state.steps)


def test_an_approval_is_decided_once_and_the_second_answer_is_told_who_won(store: RunStore):
    store.set_run("r1", agent="demo")
    record = store.add_approval("r1", {"step": 3, "tool": "delete", "args": {"t": "x"}})
    assert record.pending and store.run_info("r1").status == RunStatus.WAITING
    assert [a.id for a in store.approvals(pending=True)] == [record.id]
    won = store.decide("r1", record.id, {"action": "deny", "message": "no"}, by="ada")
    assert won.decision == {"action": "deny", "message": "no"} and won.decided_by == "ada"
    with pytest.raises(ApprovalError, match="already answered: deny by ada"):
        store.decide("r1", record.id, {"action": "approve"}, by="bob")
    assert store.approvals(pending=True) == []
    assert store.get_approval("r1", record.id).decision == {"action": "deny", "message": "no"}
    with pytest.raises(ApprovalError, match="approve, deny or stop"):
        store.decide("r1", record.id, {"action": "maybe"}, by="bob")


def test_a_waiter_sees_a_decision_made_through_another_connection(store: RunStore, target: str):
    record = store.add_approval("r1", {"step": 1, "tool": "delete", "args": {}})
    other = open_store(target)

    def answer() -> None:
        time.sleep(0.3)
        other.decide("r1", record.id, {"action": "approve"}, by="other")

    thread = threading.Thread(target=answer)
    thread.start()
    got = store.wait_for_decision("r1", record.id, timeout=20)
    thread.join()
    other.close()
    assert got.decision == {"action": "approve"} and got.decided_by == "other"
    still = store.add_approval("r1", {"step": 2, "tool": "delete", "args": {}})
    assert store.wait_for_decision("r1", still.id, timeout=0.2).pending


def test_breakpoints_and_events_round_trip(store: RunStore):
    store.set_breakpoints("r1", [{"tool": "delete"}, {"step": 4}])
    store.set_breakpoints("r1", [{"tool": "write"}])
    assert store.breakpoints("r1") == [{"tool": "write"}] and store.breakpoints("r2") == []
    store.add_events("r1", [{"kind": "run_start"}, {"kind": "llm_call", "ms": 3}])
    store.add_events("r1", [{"kind": "run_end"}])
    assert [s for s, _ in store.events("r1")] == [1, 2, 3]
    assert store.events("r1", after=2) == [(3, {"kind": "run_end"})]


def _adder(target: str, worker: int, count: int, start_at: float) -> None:
    store = open_store(target)
    time.sleep(max(0.0, start_at - time.time()))  # all at once, not one after the other
    for i in range(count):
        store.update_breakpoints("r1", lambda es, i=i: [*es, {"tool": f"w{worker}-{i}"}])
    store.close()


def test_breakpoints_changed_by_many_processes_at_once_lose_no_entry(store: RunStore, target: str):
    store.set_breakpoints("r1", [{"pause": True}])
    workers, count, start_at = 3, 30, time.time() + 3
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_adder, args=(target, w, count, start_at)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    entries = store.breakpoints("r1")
    assert entries[0] == {"pause": True} and len(entries) == 1 + workers * count
    added = {e["tool"] for e in entries[1:]}
    assert added == {f"w{w}-{i}" for w in range(workers) for i in range(count)}
    kept = store.update_breakpoints("r1", lambda es: [e for e in es if not e.get("pause")])
    assert kept == entries[1:] == store.breakpoints("r1")


def test_events_of_some_kinds_are_all_of_them_and_only_those(store: RunStore):
    store.add_events(
        "r1",
        [
            {"kind": "llm_call", "n": 1},
            {"kind": "llmXcall", "n": 2},  # '_' is a LIKE wildcard: matched, then dropped
            {"kind": "compaction", "n": 3},
            {"n": 4, "kind": "compaction"},  # not written by add_events' usual shape: still found
            {"kind": "llm_start", "prompt": ["long"]},
        ],
    )
    store.add_events("r2", [{"kind": "compaction", "n": 9}])
    found = store.events("r1", kinds={"llm_call", "compaction"})
    assert [(seq, doc.get("n")) for seq, doc in found] == [(1, 1), (3, 3), (4, 4)]
    assert store.events("r1", after=3, kinds={"compaction"}) == [
        (4, {"n": 4, "kind": "compaction"})
    ]
    assert store.events("r1", kinds=set()) == []


def test_changes_move_when_a_checkpoint_or_an_approval_is_written(store: RunStore):
    before = store.changes("r1")
    store.put(bare("r1", 1))
    after_put = store.changes("r1")
    record = store.add_approval("r1", {"step": 1, "tool": "x", "args": {}})
    after_ask = store.changes("r1")
    store.decide("r1", record.id, {"action": "approve"}, by="t")
    assert len({before, after_put, after_ask, store.changes("r1")}) == 4
    assert store.wait_for_change("r1", store.changes("r1"), timeout=0.2) == store.changes("r1")


def test_two_workers_never_hold_one_run(store: RunStore, target: str):
    other = open_store(target)
    try:
        store.set_run("r1", agent="demo")
        with store.acquire("r1", owner="box-a:1"):
            assert store.run_info("r1").owner == "box-a:1"
            with pytest.raises(StoreError, match="being run by"):
                other.acquire("r1", owner="box-b:2")
            with other.acquire("r2", owner="box-b:2"):  # other runs are free
                pass
        assert store.run_info("r1").owner == ""
        with other.acquire("r1", owner="box-b:2"):
            pass
    finally:
        other.close()


_HOLD = """
import sys, time
from looplet_core.durable.connect import open_store
store = open_store(sys.argv[1])
lease = store.acquire("r1")
print("HELD", flush=True)
time.sleep(60)
"""


def test_a_worker_that_dies_releases_its_lease(store: RunStore, target: str):
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, target], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "HELD"
        with pytest.raises(StoreError, match="being run by"):
            store.acquire("r1")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    deadline = time.monotonic() + 10
    while True:  # PostgreSQL notices the closed connection a moment later
        try:
            store.acquire("r1").release()
            break
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _writer(target: str, worker: int, count: int) -> None:
    store = open_store(target)
    for i in range(count):
        cp = bare("shared", i)
        store.put(Checkpoint(**{**_fields(cp), "state": {"worker": worker, "i": i}}))
    store.close()


def _fields(cp: Checkpoint) -> dict[str, object]:
    return {
        name: getattr(cp, name)
        for name in ("run_id", "branch_id", "step", "state", "messages_keep", "messages_add")
    } | {"steps_keep": 0, "steps_add": [], "created_at": cp.created_at}


def test_many_processes_writing_one_run_lose_and_interleave_nothing(store: RunStore, target: str):
    workers, count = 4, 40
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(target, w, count)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ids = store.list("shared")
    assert len(ids) == workers * count
    assert [int(cid.rsplit("-", 1)[1]) for cid in ids] == list(range(1, workers * count + 1))
    seen = sorted((store.get(cid).state["worker"], store.get(cid).state["i"]) for cid in ids)
    assert seen == [(w, i) for w in range(workers) for i in range(count)]
    for w in range(workers):  # each writer's own checkpoints are in its order
        mine = [store.get(cid).state["i"] for cid in ids if store.get(cid).state["worker"] == w]
        assert mine == list(range(count))


_KILLED = """
import sys
from looplet_core.durable.checkpoints import Checkpoint
from looplet_core.durable.connect import open_checkpoints
store = open_checkpoints(sys.argv[1])
i = 0
while True:
    i += 1
    cp = Checkpoint(run_id="k", branch_id="main", step=i, state={"blob": "x" * 20000, "i": i},
                    messages_keep=0, messages_add=[], steps_keep=0, steps_add=[])
    saved = store.put(cp)
    print(saved.id, flush=True)
"""


@pytest.mark.parametrize("which", ["file", "sqlite", "postgres"])
def test_sigkill_mid_write_loses_no_completed_checkpoint(
    which: str, tmp_path: Path, request: pytest.FixtureRequest
):
    where = str(tmp_path / "cp") if which == "file" else store_target(which, tmp_path, request)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED, where], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    done: list[str] = []
    for line in child.stdout:
        done.append(line.strip())
        if len(done) == 60:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    store = open_checkpoints(where)
    listed = store.list("k")
    assert done == listed[: len(done)]  # everything reported saved is there, in order
    for cid in listed:
        assert store.get(cid).state["i"] == int(cid.rsplit("-", 1)[1])
    if isinstance(store, FileCheckpointStore):
        return
    store.put(bare("k", 999))  # and the store takes writes again
    close = getattr(store, "close", None)
    if close is not None:
        close()


def test_a_store_written_by_a_newer_looplet_is_refused(
    kind: str, target: str, store: RunStore, tmp_path: Path, request: pytest.FixtureRequest
):
    run_counting(store, 1)
    _sql(kind, target, "UPDATE looplet_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreError, match=r"schema version 99 .*newer looplet wrote it: upgrade"):
        open_store(target)


def test_a_corrupt_row_is_reported_with_the_store_and_checkpoint(
    kind: str, target: str, store: RunStore
):
    run_counting(store, 2)
    second = store.list("r1")[1]
    _sql(kind, target, "UPDATE looplet_checkpoints SET doc = '{\"format\": tru' WHERE seq = 2")
    with pytest.raises(CheckpointError, match=rf"#{second}: not valid JSON"):
        store.get(second)
    with pytest.raises(CheckpointError, match=rf"#{second}: not valid JSON"):
        load(store, latest_checkpoint(store, "r1"))


def _sql(kind: str, target: str, statement: str) -> None:
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(target)
        conn.execute(statement)
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(statement)  # pyright: ignore[reportArgumentType]


def test_sqlite_file_is_in_wal_mode(tmp_path: Path, request: pytest.FixtureRequest):
    make_run_store("sqlite", tmp_path, request)
    import sqlite3

    conn = sqlite3.connect(tmp_path / "runs.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_run_s_events_in_the_store_keep_no_prompt_so_the_store_grows_with_the_run(
    store: RunStore,
):
    from looplet_core.durable.store_approver import StoreEventLog

    state = DefaultState()
    loop = composable_loop(
        llm=backend(counting_plan(40)),
        tools=durable_tools(),
        task="count",
        config=LoopConfig(max_steps=50),
        state=state,
        hooks=[StoreEventLog(store)],
    )
    assert len(list(loop)) == 41
    docs = [doc for _, doc in store.events(state.run_id)]
    starts = [d for d in docs if d["kind"] == "llm_start"]
    assert len(starts) == 41
    assert all("prompt" not in d["data"] for d in starts)
    assert [d["data"]["messages"] for d in starts] == sorted(d["data"]["messages"] for d in starts)
    assert starts[-1]["data"]["messages"] > 80  # the count stays: 41 calls into a long history
    biggest = max(len(str(d)) for d in docs)
    assert biggest < 4_000, biggest  # no event carries the conversation
