"""The file store's append-only log: framing, crash safety (a real SIGKILL mid-write), damage
named by file and offset, the per-file layout still read and continued, and the invariants the
store's speed relies on."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from looplet_core import (
    CheckpointError,
    ConfigError,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    StopReason,
    composable_loop,
    latest_checkpoint,
    resume,
)
from looplet_core.durable.checkpoints import FORMAT_VERSION, load
from looplet_core.durable.runlog import LOG_NAME, MAGIC
from tests.core.durable_helpers import backend, counting_plan, durable_tools

ROOT = Path(__file__).resolve().parents[2]


def run_to(store: FileCheckpointStore, steps: int) -> DefaultState:
    state = DefaultState()
    for step in composable_loop(
        llm=backend(counting_plan(10)),
        tools=durable_tools(),
        task="count",
        config=LoopConfig(max_steps=20, checkpoint=store),
        state=state,
    ):
        if step.number == steps:
            break
    return state


def lines(log: Path) -> list[bytes]:
    data = log.read_bytes()
    assert data.startswith(MAGIC)
    return data[len(MAGIC) :].split(b"\n")[:-1]


def test_a_new_run_is_one_log_of_framed_checksummed_records(tmp_path: Path):
    state = run_to(FileCheckpointStore(tmp_path), 3)
    run_dir = tmp_path / state.run_id
    assert [p.name for p in run_dir.iterdir()] == [LOG_NAME]  # no temporary files left
    records = lines(run_dir / LOG_NAME)
    assert len(records) == 3
    for n, line in enumerate(records, 1):
        seq, length, crc, payload = line.split(b" ", 3)
        assert int(seq) == n and int(length) == len(payload)
        assert int(crc, 16) == zlib.crc32(payload, zlib.crc32(b"%s %s " % (seq, length)))
        doc = json.loads(payload)
        assert doc["format"] == "looplet.checkpoint" and doc["version"] == FORMAT_VERSION
        assert doc["seq"] == n and doc["id"] == f"{state.run_id}-{n:06d}"
    first = json.loads(records[0].split(b" ", 3)[3])
    assert first["messages"]["keep"] == 0 and first["messages"]["add"][0]["role"] == "system"
    assert first["steps"]["add"][0]["tool_call"]["tool"] == "count"


def test_bytes_per_record_stay_constant_as_the_run_grows(tmp_path: Path):
    store = FileCheckpointStore(tmp_path, durable=False)
    state = DefaultState()
    for _ in composable_loop(
        llm=backend(counting_plan(400)),
        tools=durable_tools(),
        task="count",
        config=LoopConfig(max_steps=405, checkpoint=store),
        state=state,
    ):
        pass
    sizes = [len(line) for line in lines(tmp_path / state.run_id / LOG_NAME)]
    early, late = sizes[10:60], sizes[340:390]
    assert max(late) <= max(early) * 1.1
    assert sum(late) / len(late) < 4000


KILLED_MID_WRITE = """
import os, sys, time
sys.path.insert(0, {root!r})
from looplet_core.durable import runlog
from tests.core.test_checkpoint_log import run_to
from looplet_core import FileCheckpointStore

real = runlog._write_all
writes = 0

def torn(fd, data):
    global writes
    if data == runlog.MAGIC:  # the log's first line
        return real(fd, data)
    writes += 1
    if writes <= 3:
        return real(fd, data)  # the first three records whole
    real(fd, data[: len(data) // 2])  # half of the fourth, then wait to be killed
    print("half", flush=True)
    time.sleep(60)

runlog._write_all = torn
run_to(FileCheckpointStore({directory!r}), 8)
"""


def test_a_writer_killed_mid_record_leaves_a_torn_tail_that_is_skipped(tmp_path: Path):
    directory = tmp_path / "cp"
    script = KILLED_MID_WRITE.format(root=str(ROOT), directory=str(directory))
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "half\n"
        child.kill()  # SIGKILL: no cleanup, no flush, the record stays half written
    finally:
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    store = FileCheckpointStore(directory)
    [run_id] = store.runs()
    log = directory / run_id / LOG_NAME
    assert not log.read_bytes().endswith(b"\n")  # really torn
    assert store.list(run_id) == [f"{run_id}-{n:06d}" for n in (1, 2, 3)]
    run = resume(store, run_id, llm=backend(counting_plan(10)), tools=durable_tools())
    steps = list(run)
    assert steps[0].number == 4 and run.result is not None
    assert run.result.stop_reason is StopReason.DONE
    # The resumed run appended after the torn bytes, on a line of its own, from number 4 on.
    reader = FileCheckpointStore(directory)
    ids = reader.list(run_id)
    assert ids[:4] == [f"{run_id}-{n:06d}" for n in (1, 2, 3, 4)]
    assert reader.get(ids[3]).parent == ids[2]
    assert load(reader, ids[-1]).state.finished


@pytest.mark.parametrize("how", ["truncated", "garbled", "zeros"])
def test_a_damaged_last_record_is_skipped_and_the_run_resumes_before_it(tmp_path: Path, how: str):
    store = FileCheckpointStore(tmp_path)
    state = run_to(store, 3)
    log = tmp_path / state.run_id / LOG_NAME
    data = log.read_bytes()
    last = data.rindex(b"\n", 0, len(data) - 1) + 1
    if how == "truncated":
        log.write_bytes(data[: last + (len(data) - last) // 2])
    elif how == "garbled":  # same length, newline kept: only the checksum can tell
        record = bytearray(data[last:])
        record[len(record) // 2] ^= 0x20
        log.write_bytes(data[:last] + bytes(record))
    else:  # what a power cut can leave: the file grew, its data never reached the disk
        log.write_bytes(data[:last] + b"\0" * (len(data) - last))
    reader = FileCheckpointStore(tmp_path)
    assert latest_checkpoint(reader, state.run_id) == f"{state.run_id}-000002"
    run = resume(reader, state.run_id, llm=backend(counting_plan(10)), tools=durable_tools())
    assert next(run).number == 3
    run.close()


def test_a_damaged_record_inside_the_log_is_named_with_its_offset(tmp_path: Path):
    store = FileCheckpointStore(tmp_path)
    state = run_to(store, 4)
    log = tmp_path / state.run_id / LOG_NAME
    data = bytearray(log.read_bytes())
    second = data.index(b"\n2 ", len(MAGIC) - 1) + 1
    data[second + 40] ^= 0x01
    log.write_bytes(bytes(data))
    reader = FileCheckpointStore(tmp_path)
    ids = reader.list(state.run_id)
    assert len(ids) == 4  # the damaged record is still listed: its number is known
    with pytest.raises(CheckpointError) as err:
        reader.get(ids[1])
    message = str(err.value)
    assert str(log) in message and f"checkpoint 2 is damaged at byte {second}" in message
    assert "checksum" in message and "resume from an earlier checkpoint" in message
    with pytest.raises(CheckpointError, match="checkpoint 2 is damaged"):
        load(reader, ids[3])  # its chain passes through record 2
    assert load(reader, ids[0]).state.step_number == 1  # the records around it are intact
    assert reader.get(ids[2]).seq == 3
    with pytest.raises(CheckpointError) as err:
        resume(reader, state.run_id, llm=backend(counting_plan(10)), tools=durable_tools())
    assert f"newest intact checkpoint of this run is {ids[0]}" in str(err.value)


def test_a_file_that_is_not_a_log_is_refused_by_name(tmp_path: Path):
    store = FileCheckpointStore(tmp_path)
    state = run_to(store, 1)
    log = tmp_path / state.run_id / LOG_NAME
    log.write_text('{"hello": "world"}\n')
    with pytest.raises(CheckpointError, match="not a looplet checkpoint log") as err:
        FileCheckpointStore(tmp_path).list(state.run_id)
    assert str(log) in str(err.value)


def test_a_run_in_the_per_file_layout_is_read_and_continued_per_file(tmp_path: Path):
    old = FileCheckpointStore(tmp_path, layout="files")
    state = run_to(old, 2)
    run_dir = tmp_path / state.run_id
    store = FileCheckpointStore(tmp_path)  # the default layout is the log
    assert store.list(state.run_id) == [f"{state.run_id}-{n:06d}" for n in (1, 2)]
    run = resume(store, state.run_id, llm=backend(counting_plan(10)), tools=durable_tools())
    list(run)
    assert not (run_dir / LOG_NAME).exists()
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [f"{n:06d}.json" for n in range(1, len(names) + 1)]
    assert load(store, latest_checkpoint(store, state.run_id)).state.finished


def test_two_processes_appending_to_one_log_never_share_a_number(tmp_path: Path):
    script = (
        "import sys; sys.path.insert(0, {root!r})\n"
        "from looplet_core import FileCheckpointStore\n"
        "store = FileCheckpointStore({directory!r}, durable=False)\n"
        "template = store.get(store.list({run!r})[0])\n"
        "for _ in range(60): store.put(template)\n"
    )
    store = FileCheckpointStore(tmp_path, durable=False)
    state = run_to(store, 1)
    code = script.format(root=str(ROOT), directory=str(tmp_path), run=state.run_id)
    children = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT) for _ in range(2)]
    assert [c.wait(timeout=60) for c in children] == [0, 0]
    ids = FileCheckpointStore(tmp_path).list(state.run_id)
    assert ids == [f"{state.run_id}-{n:06d}" for n in range(1, 122)]
    assert all(store.get(cid).seq == n for n, cid in enumerate(ids, 1))


def test_durable_fsyncs_every_record_and_the_directories_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name the descriptors")
    monkeypatch.setattr(os, "fsync", fsync)
    state = run_to(FileCheckpointStore(tmp_path), 3)
    log = str(tmp_path / state.run_id / LOG_NAME)
    assert synced.count(log) == 3  # one per record
    assert synced.count(str(tmp_path / state.run_id)) == 1  # the log's name, once
    assert len(synced) == 3 + 1 + 2  # plus the temporary first line and the run's directory
    synced.clear()
    run_to(FileCheckpointStore(tmp_path, durable=False), 3)
    assert synced == []


def test_an_unknown_layout_is_refused_with_the_choices(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"'log'.*'files'.*got 'sqlite'"):
        FileCheckpointStore(tmp_path, layout="sqlite")  # type: ignore[arg-type]


def test_saved_as_is_replace_of_seq_id_and_source(tmp_path: Path):
    # The stores build the saved checkpoint with ``saved_as`` instead of dataclasses.replace:
    # every field must come across, including any field added later.
    store = FileCheckpointStore(tmp_path)
    state = run_to(store, 2)
    cp = store.get(store.list(state.run_id)[0])
    cp = dataclasses.replace(cp, fork={"from": "x"}, pending_approval={"a": 1})
    fast = cp.saved_as(7, "r-000007", "here")
    slow = dataclasses.replace(cp, seq=7, id="r-000007", source="here")
    for f in dataclasses.fields(cp):
        assert getattr(fast, f.name) == getattr(slow, f.name), f.name


def test_the_end_checkpoint_does_not_encode_the_steps_it_drops(tmp_path: Path):
    # state_document leaves the result's steps out before to_dict: the saved result is the
    # same as before (steps empty, restored on load), the live result keeps its steps.
    store = FileCheckpointStore(tmp_path)
    state = DefaultState()
    for _ in composable_loop(
        llm=backend(counting_plan(3)),
        tools=durable_tools(),
        task="count",
        config=LoopConfig(max_steps=10, checkpoint=store),
        state=state,
    ):
        pass
    assert state.result is not None and len(state.result.steps) == 4
    end = store.get(latest_checkpoint(store, state.run_id))
    assert end.reason == "end" and end.state["result"]["steps"] == []
    expected = state.to_dict()["result"]
    assert end.state["result"] == expected
    restored = load(store, end.id).state
    assert restored.result is not None and len(restored.result.steps) == 4
