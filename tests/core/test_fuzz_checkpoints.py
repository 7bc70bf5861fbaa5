"""The checkpoint loader under hypothesis: any damage to any file of a run is a CheckpointError.

A recorded run (two steps, then a call paused for approval, so the newest checkpoint carries a
pending request) has one of its checkpoint files replaced by random bytes, a truncation, a flipped
byte, invalid UTF-8, JSON nested 200,000 deep, or the JSON document with one value swapped for a
random one or deleted.  Loading, restoring and resuming must then either raise ``CheckpointError``
with a message, or produce a state that is whole: every step prints, serialises and round-trips,
and the state and messages serialise.  Nothing may unpickle, eval, exec or start a process.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from looplet_core import (
    CheckpointError,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    Step,
    StepStatus,
    composable_loop,
    resume,
)
from looplet_core.backends.openai import to_openai_messages
from looplet_core.durable.checkpoints import Checkpoint, checkpoint_tree, latest_checkpoint, load
from looplet_core.durable.runlog import LOG_NAME, MAGIC, frame
from looplet_core.runs.resume import restore
from tests.core.durable_helpers import backend, durable_tools
from tests.core.fuzz_helpers import deep_nesting, hostile_bytes, no_code_execution

PLAN = [
    {"tool": "count", "args": {"i": 0}},
    {"tool": "note", "args": {"text": "[bold]hi[/bold] \x1b[31m"}},
    {"tool": "delete", "args": {"target": "/tmp/x"}},
]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def record_run(root: Path, layout: Literal["files", "log"]) -> Path:
    state = DefaultState()
    store = FileCheckpointStore(root, durable=False, layout=layout)
    steps = list(
        composable_loop(
            llm=backend(PLAN),
            tools=durable_tools(),
            task="count, note, delete",
            config=LoopConfig(max_steps=10, checkpoint=store),
            state=state,
        )
    )
    assert steps[-1].status is StepStatus.AWAITING_APPROVAL
    return root


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run, one file per checkpoint (the damage is done to one of them)."""
    return record_run(tmp_path_factory.mktemp("checkpoints"), "files")


@pytest.fixture(scope="module")
def recorded_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run in the default layout: one log."""
    return record_run(tmp_path_factory.mktemp("checkpoint-log"), "log")


def assert_whole(steps: list[Step], state: DefaultState) -> None:
    """What a debugger or a resumed run does with a loaded state must work."""
    for step in steps:
        step.pretty()
        doc = json.loads(json.dumps(step.to_dict()))
        assert Step.from_dict(doc).to_dict() == doc
    json.dumps(state.to_dict())
    to_openai_messages(list(state.conversation))


def load_everything(root: Path) -> None:
    store = FileCheckpointStore(root)
    [run_id] = store.runs()
    for cid in store.list(run_id):
        snapshot = load(store, cid)
        assert_whole(list(snapshot.state.steps), snapshot.state)
    checkpoint_tree(store, run_id)
    snapshot = restore(store, tools=durable_tools())
    assert_whole(list(snapshot.state.steps), snapshot.state)
    run = resume(store, llm=backend(PLAN), tools=durable_tools())
    run.close()


@FUZZ
@given(data=st.data())
def test_any_damage_to_a_checkpoint_file_is_a_checkpoint_error(recorded: Path, data: st.DataObject):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cp"
        shutil.copytree(recorded, root)
        files = sorted(root.glob("*/*.json"))
        target = data.draw(st.sampled_from(files), label="file")
        original = target.read_bytes()
        target.write_bytes(data.draw(hostile_bytes(original, json.loads(original)), label="bytes"))
        with no_code_execution():
            try:
                load_everything(root)
            except CheckpointError as exc:
                assert str(exc).strip()


@FUZZ
@given(data=st.data())
def test_any_damage_to_a_record_of_the_log_is_a_checkpoint_error(
    recorded_log: Path, data: st.DataObject
):
    # A record's JSON replaced by hostile bytes, either left in its old frame (the checksum
    # catches it) or framed afresh with a matching length and checksum (the decoder must).
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cp"
        shutil.copytree(recorded_log, root)
        [log] = root.glob(f"*/{LOG_NAME}")
        records = log.read_bytes()[len(MAGIC) :].split(b"\n")[:-1]
        n = data.draw(st.integers(0, len(records) - 1), label="record")
        seq, _, _, payload = records[n].split(b" ", 3)
        bad = data.draw(hostile_bytes(payload, json.loads(payload)), label="bytes")
        if data.draw(st.booleans(), label="framed afresh"):
            records[n] = frame(int(seq), bad)[:-1]
        else:
            records[n] = records[n][: -len(payload)] + bad
        log.write_bytes(MAGIC + b"".join(r + b"\n" for r in records))
        with no_code_execution():
            try:
                load_everything(root)
            except CheckpointError as exc:
                assert str(exc).strip()


def test_json_nested_past_the_recursion_limit_is_a_checkpoint_error(recorded: Path, tmp_path):
    root = tmp_path / "cp"
    shutil.copytree(recorded, root)
    newest = sorted(root.glob("*/*.json"))[-1]
    newest.write_bytes(deep_nesting(200_000))
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Checkpoint.from_json(newest.read_bytes(), str(newest))
    store = FileCheckpointStore(root)
    with pytest.raises(CheckpointError, match=str(newest.name)):
        load(store, latest_checkpoint(store))


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_checkpoint_parser_never_raises_anything_but_checkpoint_error(text: str | bytes):
    with no_code_execution():
        try:
            Checkpoint.from_json(text, "fuzz")
        except CheckpointError as exc:
            assert "fuzz" in str(exc)
