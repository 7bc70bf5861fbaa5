"""The checkpoint format and stores: what is written, when, how big, and how it fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest

from looplet_core import (
    CheckpointError,
    CheckpointHook,
    ConfigError,
    DefaultState,
    FileCheckpointStore,
    InjectContext,
    LoopConfig,
    MemoryCheckpointStore,
    Message,
    composable_loop,
    history,
    latest_checkpoint,
)
from looplet_core.durable.checkpoints import FORMAT_VERSION, Checkpoint, CheckpointStore, load
from tests.core.durable_helpers import backend, counting_plan, durable_tools
from tests.core.store_kinds import STORES, make_store


def run_counting(store: CheckpointStore, n: int, **config: Any) -> DefaultState:
    state = DefaultState()
    cfg = LoopConfig(max_steps=n + 5, checkpoint=store, **config)
    for _ in composable_loop(
        llm=backend(counting_plan(n)), tools=durable_tools(), task="count", config=cfg, state=state
    ):
        pass
    return state


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CheckpointStore:
    """Each test runs against every store: memory, files, SQLite and a real PostgreSQL."""
    return make_store(request.param, tmp_path, request)


def test_a_checkpoint_is_saved_after_every_step_and_at_the_end(store: CheckpointStore):
    state = run_counting(store, 3)
    cps = [store.get(cid) for cid in store.list(state.run_id)]
    assert [(c.seq, c.step, c.reason) for c in cps] == [
        (1, 1, "step"),
        (2, 2, "step"),
        (3, 3, "step"),
        (4, 4, "step"),
        (5, 4, "end"),
    ]
    assert [c.parent for c in cps] == [None, *[c.id for c in cps[:-1]]]
    assert cps[0].run is not None and cps[0].run["config"]["max_steps"] == 8
    assert all(c.run is None for c in cps[1:])
    assert state.checkpoint_id == cps[-1].id


def test_checkpoint_document_has_the_documented_fields(tmp_path: Path):
    store = FileCheckpointStore(tmp_path, layout="files")
    state = run_counting(store, 1)
    path = tmp_path / state.run_id / "000001.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == "looplet.checkpoint"
    assert doc["version"] == FORMAT_VERSION
    for key in ("id", "seq", "parent", "run_id", "branch_id", "step", "created_at", "state"):
        assert key in doc
    assert doc["pending_approval"] is None
    assert doc["messages"]["keep"] == 0 and doc["messages"]["add"][0]["role"] == "system"
    assert doc["steps"]["add"][0]["tool_call"]["tool"] == "count"


def test_bytes_per_step_stay_constant_as_the_run_grows(tmp_path: Path):
    store = FileCheckpointStore(tmp_path, durable=False, layout="files")
    state = run_counting(store, 400)
    sizes = [(tmp_path / state.run_id / f"{seq:06d}.json").stat().st_size for seq in range(1, 402)]
    early, late = sizes[10:60], sizes[340:390]
    assert max(late) <= max(early) * 1.1  # each checkpoint holds its own step only
    assert sum(late) / len(late) < 4000


def test_every_n_saves_every_nth_step_but_always_the_end(store: CheckpointStore):
    state = DefaultState()
    cfg = LoopConfig(max_steps=20)
    hooks = [CheckpointHook(store, every=3)]
    for _ in composable_loop(
        llm=backend(counting_plan(7)),
        tools=durable_tools(),
        task="t",
        config=cfg,
        state=state,
        hooks=hooks,
    ):
        pass
    steps = [store.get(c).step for c in store.list(state.run_id)]
    assert steps == [3, 6, 8]
    assert load(store, store.list(state.run_id)[-1]).state.steps[-1].tool == "done"


def test_a_compaction_is_stored_as_a_rewrite_record_and_rebuilds_exactly(store: CheckpointStore):
    class Compact:
        def pre_prompt(self, state: DefaultState, log: Any, ctx: Any, step: int) -> None:
            if step == 3:
                msgs = list(state.conversation)
                state.conversation.replace([msgs[0], Message("user", "summary"), *msgs[-2:]])

    state = DefaultState()
    for _ in composable_loop(
        llm=backend(counting_plan(4)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(max_steps=10, checkpoint=store),
        state=state,
        hooks=[Compact()],
    ):
        pass
    cps = [store.get(c) for c in store.list(state.run_id)]
    rewrite = cps[2]
    assert rewrite.messages_keep == 1  # the system prompt survived the rewrite; the rest is new
    assert rewrite.messages_add[0] == {"role": "user", "content": "summary"}
    assert load(store, cps[-1].id).state.conversation.view() == list(state.conversation)


def test_injected_messages_are_in_the_checkpoint(store: CheckpointStore):
    class Nudge:
        def post_dispatch(self, *args: Any) -> InjectContext:
            return InjectContext("keep going")

    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(2)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
        hooks=[Nudge()],
    ):
        if step.number == 1:
            break
    restored = load(store, latest_checkpoint(store, state.run_id)).state
    assert list(restored.conversation)[-1] == Message("user", "keep going")


def test_file_store_leaves_no_temporary_files(tmp_path: Path):
    state = run_counting(FileCheckpointStore(tmp_path, layout="files"), 3)
    assert sorted(p.name for p in (tmp_path / state.run_id).iterdir()) == [
        f"{i:06d}.json" for i in range(1, 6)
    ]


def test_two_stores_on_one_directory_never_overwrite_each_other(tmp_path: Path):
    a, b = FileCheckpointStore(tmp_path), FileCheckpointStore(tmp_path)
    state = run_counting(a, 1)
    template = a.get(a.list(state.run_id)[0])
    first = b.put(template)  # b's cache is empty: it finds a's files and takes the next number
    second = a.put(template)  # a's cache is stale: the no-clobber rename makes it move on
    assert (first.seq, second.seq) == (4, 5)


def test_history_follows_parent_links_from_the_root(store: CheckpointStore):
    state = run_counting(store, 2)
    chain = history(store, latest_checkpoint(store))
    assert [c.seq for c in chain] == [1, 2, 3, 4]
    assert latest_checkpoint(store, state.run_id) == chain[-1].id


def test_empty_store_and_unknown_run_say_so():
    store = MemoryCheckpointStore()
    with pytest.raises(CheckpointError, match="no checkpoints yet"):
        latest_checkpoint(store)
    with pytest.raises(CheckpointError, match="no checkpoints for run 'nope'"):
        latest_checkpoint(store, "nope")


def test_unsafe_run_ids_are_refused_before_anything_is_written(tmp_path: Path):
    state = DefaultState(run_id="../escape")
    loop = composable_loop(
        llm=backend(counting_plan(1)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=FileCheckpointStore(tmp_path / "cp")),
        state=state,
    )
    with pytest.raises(CheckpointError, match="cannot be checkpointed"):
        list(loop)
    assert not (tmp_path / "escape").exists()


def test_config_checkpoint_must_be_a_store():
    loop = composable_loop(
        llm=backend(counting_plan(1)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint="runs/"),
    )
    with pytest.raises(ConfigError, match="takes a checkpoint store"):
        next(loop)


def test_two_checkpointers_for_one_run_are_refused():
    loop = composable_loop(
        llm=backend(counting_plan(1)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=MemoryCheckpointStore()),
        hooks=[CheckpointHook(MemoryCheckpointStore())],
    )
    with pytest.raises(ConfigError, match="one checkpointer"):
        next(loop)


def test_a_failing_store_stops_the_run_loudly():
    class FullDisk(MemoryCheckpointStore):
        def put(self, checkpoint: Checkpoint) -> Checkpoint:
            raise CheckpointError("/data/cp: cannot write a checkpoint: No space left on device")

    loop = composable_loop(
        llm=backend(counting_plan(3)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=FullDisk()),
    )
    with pytest.raises(CheckpointError, match="No space left"):
        list(loop)


def test_json_unsafe_values_are_stored_as_text_not_pickled(store: CheckpointStore):
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    state = DefaultState(data={"tags": {"b"}, "obj": Opaque()})
    for step in composable_loop(
        llm=backend(counting_plan(1)),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
    ):
        if step.number == 1:
            break
    restored = load(store, latest_checkpoint(store)).state
    assert restored.data == {"tags": ["b"], "obj": "<opaque>"}


@pytest.mark.parametrize("layout", ["files", "log"])
def test_a_file_store_remakes_a_run_directory_removed_between_writes(
    tmp_path: Path, layout: Literal["files", "log"]
):
    # The store makes a run's directory on its first write only (a mkdir per step cost a
    # syscall and an exception); a directory removed since is noticed and made again.  Per
    # file, numbering goes on from this store's count; a log removed is a new log, from 1.
    import shutil

    store = FileCheckpointStore(tmp_path, durable=False, layout=layout)
    state = run_counting(store, 2)
    first = store.get(store.list(state.run_id)[-1])
    shutil.rmtree(tmp_path / state.run_id)
    again = store.put(first)
    assert again.seq == (first.seq + 1 if layout == "files" else 1)
    assert store.list(state.run_id) == [again.id]
    assert store.get(again.id).messages_add == first.messages_add
