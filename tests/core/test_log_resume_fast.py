"""The file store's fast load (``logfold`` + ``LazyStepLog``) gives what the full path gives.

Every test compares against the full path itself: the same store seen through a wrapper without
``fold``, so ``load`` decodes each record of the log whole as it always has.  Damage is written
into a record and framed afresh (a matching length and checksum), so it reaches the decoder.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from looplet_core import (
    CheckpointError,
    FileCheckpointStore,
    resume,
)
from looplet_core.durable.checkpoints import Checkpoint, latest_checkpoint, load
from looplet_core.durable.lazysteps import LazyStepLog
from looplet_core.durable.runlog import LOG_NAME, MAGIC, frame
from tests.core.durable_helpers import backend, counting_plan, durable_tools, record_counting_run
from tests.core.test_store_resume_fast import DAMAGE, picture, random_chain


class FullPath:
    """The store without ``fold``: ``load`` takes the full path over the same log."""

    def __init__(self, store: FileCheckpointStore) -> None:
        self.store = store

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        return self.store.put(checkpoint)

    def get(self, checkpoint_id: str) -> Checkpoint:
        return FileCheckpointStore(self.store.directory).get(checkpoint_id)

    def list(self, run_id: str) -> list[str]:
        return FileCheckpointStore(self.store.directory).list(run_id)

    def runs(self) -> list[str]:
        return self.store.runs()

    def history(self, checkpoint_id: str) -> list[Checkpoint]:
        return FileCheckpointStore(self.store.directory).history(checkpoint_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FileCheckpointStore]:
    s = FileCheckpointStore(tmp_path / "cp", durable=False)
    yield s
    s.close()


def log_of(store: FileCheckpointStore, run_id: str = "r1") -> Path:
    return store.directory / run_id / LOG_NAME


def rewrite_record(path: Path, seq: int, change: Callable[[str], str]) -> None:
    """Record ``seq``'s JSON changed and framed afresh: the checksum matches the new text."""
    records = path.read_bytes()[len(MAGIC) :].split(b"\n")[:-1]
    for i, line in enumerate(records):
        head, _, _, payload = line.split(b" ", 3)
        if int(head) == seq:
            records[i] = frame(seq, change(payload.decode()).encode())[:-1]
    path.write_bytes(MAGIC + b"".join(r + b"\n" for r in records))


def compact(change: Callable[[str], str]) -> Callable[[str], str]:
    """``change``, its result written back in looplet's own compact layout, so the fast path
    reads the record in its parts rather than whole."""

    def again(doc: str) -> str:
        out = change(doc)
        try:
            return json.dumps(json.loads(out), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            return out

    return again


def test_a_recorded_run_loads_as_the_full_path_loads_it_without_building_older_steps(
    store: FileCheckpointStore,
):
    state = record_counting_run(store, 200)
    newest = latest_checkpoint(store, "r1")
    fast = load(FileCheckpointStore(store.directory), newest)
    steps = fast.state.steps
    assert isinstance(steps, LazyStepLog) and steps.pending == 199 and len(steps) == 200
    last = steps.last
    assert last is not None and last.number == 200 and steps[-1] is last
    assert steps.pending == 199
    full = load(FullPath(store), newest)
    assert picture(fast) == picture(full)  # reads every step: the lazy ones equal the eager
    assert [s.to_dict() for s in steps] == [s.to_dict() for s in state.steps]
    assert steps.pending == 0 and steps[-1] is last
    for other in store.list("r1")[::37]:  # older checkpoints of the chain too
        assert picture(load(FileCheckpointStore(store.directory), other)) == picture(
            load(FullPath(store), other)
        )


@pytest.mark.parametrize("seed", range(30))
def test_a_random_chain_with_truncations_loads_as_the_full_path_loads_it(
    store: FileCheckpointStore, seed: int
):
    record_counting_run(store, 3, run_id="template")
    template = store.get(store.list("template")[0])
    random_chain(store, random.Random(seed), template)  # type: ignore[arg-type]
    for other in store.list(template.run_id):
        fast = load(FileCheckpointStore(store.directory), other)
        assert picture(fast) == picture(load(FullPath(store), other))


def test_a_torn_tail_is_skipped_and_the_run_resumes_from_the_record_before_it(
    store: FileCheckpointStore,
):
    record_counting_run(store, 6)
    path = log_of(store)
    whole = path.read_bytes()
    last_line = whole[:-1].rsplit(b"\n", 1)[1]
    torn = frame(len(whole.split(b"\n")) - 1, last_line.split(b" ", 3)[3])
    path.write_bytes(whole + torn[: len(torn) // 2])  # a writer killed mid-record
    reader = FileCheckpointStore(store.directory)
    newest = latest_checkpoint(reader, "r1")
    assert newest == store.list("r1")[-1]
    fast = load(reader, newest)
    assert isinstance(fast.state.steps, LazyStepLog)
    assert picture(fast) == picture(load(FullPath(store), newest))
    run = resume(reader, "r1", llm=backend(counting_plan(8)[6:]), tools=durable_tools())
    assert next(run).number == 7
    run.close()


def test_a_corrupt_record_in_the_middle_is_named_as_the_full_path_names_it(
    store: FileCheckpointStore,
):
    record_counting_run(store, 6)
    path = log_of(store)
    data = bytearray(path.read_bytes())
    third = data.index(b"\n3 ") + 40
    data[third] ^= 0x01  # one flipped bit: the checksum no longer matches
    path.write_bytes(bytes(data))
    newest = store.list("r1")[-1]
    with pytest.raises(CheckpointError) as full:
        load(FullPath(store), newest)
    with pytest.raises(CheckpointError) as fast:
        load(FileCheckpointStore(store.directory), newest)
    assert str(fast.value) == str(full.value)
    assert "checkpoint 3 is damaged at byte" in str(fast.value)
    assert "resume from an earlier checkpoint" in str(fast.value)


DEFERRED = {"steps.add holds a number", "steps.keep too big"}
"""What only the steps' own records can tell: reported on the first read of the older steps."""


@pytest.mark.parametrize("layout", ["compact", "spaced"])
@pytest.mark.parametrize("where", [1, 3, 5])
@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_anywhere_in_the_chain_is_reported_exactly_as_the_full_path_reports_it(
    store: FileCheckpointStore, name: str, where: int, layout: str
):
    record_counting_run(store, 5)
    change = compact(DAMAGE[name]) if layout == "compact" else DAMAGE[name]
    rewrite_record(log_of(store), where, change)
    newest = store.list("r1")[-1]
    try:
        expected = picture(load(FullPath(store), newest))
    except CheckpointError as exc:
        try:
            snap = load(FileCheckpointStore(store.directory), newest)
        except CheckpointError as got:
            assert str(got) == str(exc)
            return
        assert name in DEFERRED and where < 5
        with pytest.raises(CheckpointError) as late:
            list(snap.state.steps)
        assert str(late.value) == str(exc)
    else:
        assert picture(load(FileCheckpointStore(store.directory), newest)) == expected


def test_a_record_that_reads_differently_whole_is_reported_on_first_read(
    store: FileCheckpointStore,
):
    # A key written twice (looplet never does): the parts read the first "messages", a whole
    # decode keeps the last.  The older steps' first read compares the two and refuses.
    record_counting_run(store, 4)

    def twice(doc: str) -> str:
        end = ']},"run":null,"fork":null}'
        again = '],"keep":1,"add":[]},"messages":{"keep":0,"add":[]},"steps":{"keep":1,"add":['
        return doc.removesuffix(end) + again + end

    rewrite_record(log_of(store), 2, twice)
    newest = store.list("r1")[-1]
    snap = load(FileCheckpointStore(store.directory), newest)
    with pytest.raises(CheckpointError, match="record 2: reads differently whole"):
        list(snap.state.steps)
