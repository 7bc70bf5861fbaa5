"""Damaged, foreign and hostile checkpoints: clear errors naming the file, nothing executed."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from looplet_core import (
    CheckpointError,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    StopReason,
    ToolSpec,
    composable_loop,
    resume,
)
from looplet_core.durable.checkpoints import load
from tests.core.durable_helpers import backend, counting_plan, durable_tools

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "checkpoints"


def saved_run(tmp_path: Path, steps: int = 3) -> tuple[FileCheckpointStore, str, Path]:
    store = FileCheckpointStore(tmp_path / "cp", layout="files")  # damage is done to one file
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
    return store, state.run_id, tmp_path / "cp" / state.run_id


def test_truncated_newest_checkpoint_names_the_file_and_the_intact_one(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path)
    newest = run_dir / "000003.json"
    newest.write_bytes(newest.read_bytes()[:40])
    with pytest.raises(CheckpointError) as err:
        resume(store, llm=backend(counting_plan(10)), tools=durable_tools())
    message = str(err.value)
    assert str(newest) in message and "not valid JSON" in message
    assert f"{run_id}-000002" in message  # the way out


def test_the_last_good_checkpoint_still_resumes_after_a_corrupt_one(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path)
    (run_dir / "000003.json").write_text("{ this is not json")
    run = resume(
        store,
        checkpoint_id=f"{run_id}-000002",
        llm=backend(counting_plan(10)),
        tools=durable_tools(),
    )
    steps = list(run)
    assert steps[0].number == 3
    assert run.result is not None and run.result.stop_reason is StopReason.DONE


def test_wrong_format_version_is_refused_with_the_version(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path, steps=1)
    path = run_dir / "000001.json"
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"000001\.json: checkpoint format version 99") as err:
        load(store, f"{run_id}-000001")
    assert "written by a newer looplet" in str(err.value)


def test_a_json_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path, steps=1)
    (run_dir / "000001.json").write_text('{"hello": "world"}')
    with pytest.raises(CheckpointError, match="not a looplet checkpoint"):
        load(store, f"{run_id}-000001")


def test_a_field_of_the_wrong_type_is_named(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path, steps=1)
    path = run_dir / "000001.json"
    doc = json.loads(path.read_text())
    doc["step"] = "three"
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="field 'step' should be int, got str"):
        load(store, f"{run_id}-000001")


def test_a_bad_message_inside_a_valid_document_is_reported(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path, steps=1)
    path = run_dir / "000001.json"
    doc = json.loads(path.read_text())
    doc["messages"]["add"][0]["role"] = "wizard"
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"does not decode.*wizard"):
        load(store, f"{run_id}-000001")


def test_a_delta_that_does_not_fit_its_parent_is_reported(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path, steps=2)
    path = run_dir / "000002.json"
    doc = json.loads(path.read_text())
    doc["messages"]["keep"] = 999
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"000002\.json: messages\.keep is 999"):
        load(store, f"{run_id}-000002")


def test_a_missing_parent_is_reported(tmp_path: Path):
    store, run_id, run_dir = saved_run(tmp_path, steps=2)
    (run_dir / "000001.json").unlink()
    with pytest.raises(CheckpointError, match=r"000001\.json: no such checkpoint"):
        load(store, f"{run_id}-000002")


def test_resuming_with_another_tool_set_names_what_differs(tmp_path: Path):
    store, _, run_dir = saved_run(tmp_path)
    tools = durable_tools()
    tools.register(ToolSpec("extra", "New.", {}, lambda: None))
    with pytest.raises(CheckpointError) as err:
        resume(store, llm=backend(counting_plan(10)), tools=tools)
    assert str(run_dir / "000001.json") in str(err.value)
    assert "not in the run: extra" in str(err.value)


def test_a_changed_tool_schema_is_detected_and_can_be_overridden(tmp_path: Path):
    store, _, _ = saved_run(tmp_path)
    tools = durable_tools()
    changed = type(tools)()
    for spec in tools:
        if spec.name == "count":
            changed.register(ToolSpec("count", "Count differently.", {"i": "int"}, spec.execute))
        else:
            changed.register(spec)
    with pytest.raises(CheckpointError, match="schema changed: count"):
        resume(store, llm=backend(counting_plan(10)), tools=changed)
    run = resume(store, llm=backend(counting_plan(10)), tools=changed, check_tools=False)
    assert list(run)[-1].tool == "done"


def test_loading_never_unpickles_or_evaluates(tmp_path: Path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # what unpickling would run

    store, run_id, run_dir = saved_run(tmp_path, steps=2)
    (run_dir / "000002.json").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(store, f"{run_id}-000002")
    path = run_dir / "000001.json"
    doc = json.loads(path.read_text())
    doc["state"]["data"] = {"x": "__import__('os').system('touch pwned')"}
    path.write_text(json.dumps(doc))
    restored = load(store, f"{run_id}-000001").state
    assert restored.data == {"x": "__import__('os').system('touch pwned')"}  # stays a string
    assert not marker.exists()


def test_checkpoint_modules_contain_no_code_loading_calls():
    root = Path(__file__).resolve().parents[2] / "looplet_core"
    modules = sorted([*(root / "durable").glob("*.py"), *(root / "runs").glob("*.py")])
    assert len(modules) >= 7  # every module that reads or writes a checkpoint, found
    for path in modules:
        name = path.relative_to(root).as_posix()
        source = path.read_text()
        for banned in ("pickle", "eval(", "exec(", "marshal", "shelve", "yaml"):
            assert banned not in source, f"{name} mentions {banned}"


def test_frozen_version_1_checkpoints_still_load(tmp_path: Path):
    shutil.copytree(FIXTURES / "v1", tmp_path / "v1")
    store = FileCheckpointStore(tmp_path / "v1")
    run = resume(store, "fixture-v1", llm=backend(counting_plan(2)), tools=durable_tools())
    assert run.state.step_number == 2
    assert run.pending_approval is not None and run.pending_approval.tool == "delete"
    assert [s.tool for s in run.state.steps] == ["count", "count"]
