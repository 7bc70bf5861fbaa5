"""The SQLite store's fast load (``chainfold`` + ``LazyStepLog``) gives what the full path gives.

Every test compares against the full path itself: the same store seen through a wrapper without
``fold``, so ``load`` decodes each document whole as it always has.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from looplet_core import CheckpointError
from looplet_core.durable.checkpoints import Checkpoint, Snapshot, latest_checkpoint, load
from looplet_core.durable.format import state_document
from looplet_core.durable.lazysteps import LazyStepLog
from looplet_core.durable.sqlite import SQLiteRunStore
from tests.core.durable_helpers import backend, counting_plan, durable_tools, record_counting_run


class FullPath:
    """The store without ``fold``: ``load`` takes the full path over the same rows."""

    def __init__(self, store: SQLiteRunStore) -> None:
        self.store = store

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        return self.store.put(checkpoint)

    def get(self, checkpoint_id: str) -> Checkpoint:
        return self.store.get(checkpoint_id)

    def list(self, run_id: str) -> list[str]:
        return self.store.list(run_id)

    def runs(self) -> list[str]:
        return self.store.runs()

    def history(self, checkpoint_id: str) -> list[Checkpoint]:
        return self.store.history(checkpoint_id)


def picture(snap: Snapshot) -> dict[str, Any]:
    state = snap.state
    return {
        "checkpoint": snap.checkpoint,
        "root": snap.root,
        "messages": [m.to_dict() for m in state.conversation],
        "steps": [s.to_dict() for s in state.steps],
        "state": state_document(state),
        "current": (state.current_call, state.current_context),
        "task": snap.task,
        "config": snap.config,
        "tools": snap.tools,
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteRunStore]:
    s = SQLiteRunStore(tmp_path / "runs.db", durable=False)
    yield s
    s.close()


ODD_TEXT = ["é ü 漢字", 'quote " back \\ slash', "tab\tnl\n", "\U0001f600", "\u2028", "[1,2]"]


def random_chain(store: SQLiteRunStore, rng: random.Random, template: Checkpoint) -> str:
    """A run of random checkpoints: each keeps a random prefix of its parent's messages and
    steps (a compaction or fork rewrite) and adds random ones; odd text and numbers inside."""
    steps = template.steps_add
    parent: str | None = None
    messages_n = steps_n = 0
    newest = ""
    for i in range(rng.randint(1, 25)):
        keep_m = messages_n if rng.random() < 0.7 else rng.randint(0, messages_n)
        keep_s = steps_n if rng.random() < 0.7 else rng.randint(0, steps_n)
        add_m = [
            {"role": "user", "content": f"{rng.choice(ODD_TEXT)} {i}.{j} {rng.random()}"}
            for j in range(rng.randint(0, 3))
        ]
        add_s = []
        for j in range(rng.randint(0, 3)):
            entry = json.loads(json.dumps(rng.choice(steps)))
            entry["number"] = 10_000_000_000_000_000_000 + i * 10 + j  # past 64 bits
            entry["tool_result"]["data"] = {"text": rng.choice(ODD_TEXT), "x": rng.random()}
            add_s.append(entry)
        cp = Checkpoint(
            run_id=template.run_id,
            branch_id="main",
            step=i,
            state=template.state,
            messages_keep=keep_m,
            messages_add=add_m,
            steps_keep=keep_s,
            steps_add=add_s,
            parent=parent,
            run=template.run if parent is None else None,
        )
        newest = parent = store.put(cp).id
        messages_n, steps_n = keep_m + len(add_m), keep_s + len(add_s)
    return newest


@pytest.mark.parametrize("seed", range(40))
def test_a_random_chain_with_truncations_loads_as_the_full_path_loads_it(
    store: SQLiteRunStore, seed: int
):
    record_counting_run(store, 3, run_id="template")
    template = store.get(store.list("template")[0])
    rng = random.Random(seed)
    cid = random_chain(store, rng, template)
    fast, full = load(store, cid), load(FullPath(store), cid)
    if len(full.state.steps):
        assert isinstance(fast.state.steps, LazyStepLog)
    assert picture(fast) == picture(full)
    # every checkpoint of the chain, not only the newest
    for other in store.list(template.run_id)[:-1]:
        assert picture(load(store, other)) == picture(load(FullPath(store), other))


def test_a_recorded_run_resumes_from_a_lazy_log_without_decoding_older_steps(
    store: SQLiteRunStore,
):
    state = record_counting_run(store, 6)
    snap = load(store, latest_checkpoint(store, "r1"))
    steps = snap.state.steps
    assert isinstance(steps, LazyStepLog) and steps.pending == 5 and len(steps) == 6
    last = steps.last
    assert last is not None and last.number == 6 and steps[-1] is last and steps[5] is last
    assert steps[5:] == [last] and repr(steps) == "StepLog(6 steps)"
    assert steps.pending == 5  # nothing above reached an older step
    assert [s.to_dict() for s in steps] == [s.to_dict() for s in state.steps]
    assert steps.pending == 0 and steps[-1] is last  # decoded once, the last step kept


def test_appending_after_a_lazy_head_keeps_order_and_new_steps_index_without_decoding(
    store: SQLiteRunStore,
):
    record_counting_run(store, 4)
    steps = load(store, latest_checkpoint(store, "r1")).state.steps
    assert isinstance(steps, LazyStepLog)
    extra = load(FullPath(store), store.list("r1")[0]).state.steps[0]
    steps.append(extra)
    assert len(steps) == 5 and steps[4] is extra and steps[-1] is extra and steps.last is extra
    assert steps[3].number == 4 and steps[3:5][1] is extra and steps.pending == 3
    with pytest.raises(IndexError):
        steps[5]
    assert steps.pending == 3
    assert [s.number for s in steps] == [1, 2, 3, 4, 1]
    assert steps.errors() == [] and [s.number for s in steps.by_tool("count")] == [1, 2, 3, 4, 1]
    with pytest.raises(IndexError):
        steps[-6]


def test_a_resumed_run_continues_and_checkpoints_without_decoding_older_steps(
    store: SQLiteRunStore,
):
    from looplet_core import resume

    record_counting_run(store, 5)
    run = resume(store, "r1", llm=backend(counting_plan(8)[5:]), tools=durable_tools())
    steps = run.state.steps
    assert isinstance(steps, LazyStepLog)
    first = next(run)
    assert first.number == 6 and steps.pending == 4
    run.close()
    again = load(FullPath(store), latest_checkpoint(store, "r1"))
    assert [s.number for s in again.state.steps] == [1, 2, 3, 4, 5, 6]


def damage(store: SQLiteRunStore, cid: str, change: Callable[[str], str]) -> None:
    conn = sqlite3.connect(store.path)
    (doc,) = conn.execute("SELECT doc FROM looplet_checkpoints WHERE id = ?", (cid,)).fetchone()
    conn.execute("UPDATE looplet_checkpoints SET doc = ? WHERE id = ?", (change(doc), cid))
    conn.commit()
    conn.close()


def edit(path: list[str | int], value: object) -> Callable[[str], str]:
    def change(doc: str) -> str:
        data = json.loads(doc)
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(data)

    return change


DAMAGE: dict[str, Callable[[str], str]] = {
    "truncated": lambda doc: doc[: len(doc) // 2],
    "not an object": lambda doc: "[1, 2]",
    "NaN inside": lambda doc: doc.replace('"data":{}', '"data":{"x":NaN}'),
    "newer version": edit(["version"], 2),
    "version as text": edit(["version"], "1"),
    "other format": edit(["format"], "x"),
    "id of another row": edit(["id"], "r1-000001"),
    "reason a number": edit(["reason"], 5),
    "step a bool": edit(["step"], True),
    "created_at text": edit(["created_at"], "now"),
    "state a list": edit(["state"], []),
    "run a string": edit(["run"], "x"),
    "messages.keep too big": edit(["messages", "keep"], 999),
    "messages.keep negative": edit(["messages", "keep"], -1),
    "messages.keep a float": edit(["messages", "keep"], 2.0),
    "steps.keep too big": edit(["steps", "keep"], 999),
    "steps.add an object": edit(["steps", "add"], {}),
    "messages.add holds a number": edit(["messages", "add"], [1]),
    "steps.add holds a number": edit(["steps", "add"], [1]),
    "message role unknown": edit(["messages", "add"], [{"role": "robot"}]),
    "parent missing": edit(["parent"], "r1-000099"),
    "parent a number": edit(["parent"], 3),
    "parent loops": edit(["parent"], "r1-000005"),
}

DEFERRED = {"steps.add holds a number"}


@pytest.mark.parametrize("where", [1, 3, 5])
@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_anywhere_in_the_chain_is_reported_exactly_as_the_full_path_reports_it(
    store: SQLiteRunStore, name: str, where: int
):
    record_counting_run(store, 5)
    ids = store.list("r1")
    damage(store, ids[where - 1], DAMAGE[name])
    newest = ids[-1]
    try:
        expected = picture(load(FullPath(store), newest))
    except CheckpointError as exc:
        try:
            snap = load(store, newest)
        except CheckpointError as got:
            assert str(got) == str(exc)
            return
        # Only a damaged step before the last waits for the first read of the older steps.
        assert name in DEFERRED and where < 5
        with pytest.raises(CheckpointError) as late:
            list(snap.state.steps)
        assert str(late.value) == str(exc)
    else:
        assert picture(load(store, newest)) == expected


def test_a_damaged_older_step_is_reported_on_first_read_naming_the_checkpoint(
    store: SQLiteRunStore,
):
    record_counting_run(store, 5)
    ids = store.list("r1")
    damage(store, ids[1], edit(["steps", "add", 0, "status"], "exploded"))
    with pytest.raises(CheckpointError) as full:
        load(FullPath(store), ids[-1])
    snap = load(store, ids[-1])  # the last step and the messages are whole: the run can go on
    steps = snap.state.steps
    assert snap.state.steps.last is not None and snap.state.steps.last.number == 5
    with pytest.raises(CheckpointError) as lazy:
        list(steps)
    assert str(lazy.value) == str(full.value) and f"#{ids[-1]}" in str(lazy.value)
    with pytest.raises(CheckpointError):
        steps[0]  # still pending: a second read reports it again, nothing half-decoded
    assert len(steps) == 5
