"""The trace reader under hypothesis: any damage to any file of a trace is a TraceError.

A recorded trace (a greeting, a reply with two calls one of which fails, a search, done) has one
file replaced by random bytes, a truncation, a flipped byte, invalid UTF-8, deep nesting, or its
JSON with one value swapped or deleted; the event log and message log, being JSON lines, also
lose, repeat or garble single lines.  Everything a reader offers (the manifest's fields, every
step, the result, every model call and prompt, the tools, the event stream, ``refresh``) must then
either work, giving steps that print and round-trip, or raise ``TraceError``; nothing may
unpickle, eval, exec or start a process.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from looplet_core import Step, TraceError, TraceReader
from tests.core.fuzz_helpers import JSON_VALUES, deep_nesting, hostile_bytes, no_code_execution
from tests.core.trace_helpers import record, rewrite_step, step_records
from tests.e2e.faults import bounded

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TARGETS = ["manifest.json", "events.jsonl", "messages.jsonl", "tools.json", "steps.jsonl"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "run"
    record(path)
    reader = TraceReader(path)
    assert reader.complete and len(reader) == 5
    return path


def read_everything(path: Path) -> None:
    reader = TraceReader(path)
    _ = (reader.run_id, reader.task, reader.model, reader.status, reader.final_answer)
    _ = (reader.complete, reader.stop_reason, reader.totals, reader.usage, repr(reader))
    for entry in reader.entries:
        step = reader.step(entry.number)
        step.pretty()
        doc = json.loads(json.dumps(step.to_dict()))
        assert Step.from_dict(doc).to_dict() == doc
    if reader.stop_reason is not None:
        reader.result()
    for call in reader.llm_calls():
        reader.llm_call(call.index)
        reader.prompt(call.index)
    reader.tools()
    list(reader.events())
    list(reader.events({"step", "llm_retry"}))
    reader.refresh()


@st.composite
def damaged_lines(draw: st.DrawFn, original: bytes) -> bytes:
    """A JSON-lines file with one line dropped, repeated, garbled or given a random value."""
    lines = original.splitlines(keepends=True)
    i = draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["drop", "repeat", "garble", "value", "field", "cut"]))
    if how == "drop":
        del lines[i]
    elif how == "repeat":
        lines.insert(i, lines[i])
    elif how == "garble":
        lines[i] = draw(st.binary(max_size=80)) + b"\n"
    elif how == "value":
        lines[i] = json.dumps(draw(JSON_VALUES)).encode() + b"\n"
    elif how == "field":
        doc = json.loads(lines[i])
        key = draw(st.sampled_from(sorted(doc)))
        doc[key] = draw(JSON_VALUES)
        lines[i] = json.dumps(doc).encode() + b"\n"
    else:
        lines = [*lines[:i], lines[i][: draw(st.integers(0, len(lines[i]) - 1))]]
    return b"".join(lines)


@FUZZ
@given(data=st.data())
def test_any_damage_to_a_trace_file_is_a_trace_error(recorded: Path, data: st.DataObject):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run"
        shutil.copytree(recorded, path)
        target = path / data.draw(st.sampled_from(TARGETS), label="file")
        original = target.read_bytes()
        if target.suffix == ".jsonl" and data.draw(st.booleans(), label="by line"):
            damaged = data.draw(damaged_lines(original), label="bytes")
        else:
            doc = json.loads(original.splitlines()[0] if target.suffix == ".jsonl" else original)
            damaged = data.draw(hostile_bytes(original, doc), label="bytes")
        target.write_bytes(damaged)
        with no_code_execution():
            try:
                read_everything(path)
            except TraceError as exc:
                assert str(exc).strip()


@pytest.mark.parametrize("name", ["manifest.json", "steps.jsonl", "tools.json"])
def test_json_nested_past_the_recursion_limit_is_a_trace_error(recorded, tmp_path, name):
    path = tmp_path / "run"
    shutil.copytree(recorded, path)
    if name == "steps.jsonl":  # step 2's record, its range in the log kept right
        rewrite_step(path, 2, deep_nesting(200_000) + b"\n")
    else:
        (path / name).write_bytes(deep_nesting(200_000))
    with pytest.raises(TraceError, match=name):
        read_everything(path)


def test_a_missing_step_stream_is_a_trace_error_naming_it(recorded, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(recorded, path)
    (path / "steps.jsonl").unlink()
    with pytest.raises(TraceError, match=r"steps\.jsonl: missing, so step 1's record"):
        read_everything(path)


def test_a_step_line_cut_short_or_pointing_at_another_step_is_a_trace_error(recorded, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(recorded, path)
    stream = path / "steps.jsonl"
    whole = stream.read_bytes()
    stream.write_bytes(whole[:-10])  # the last record lost its end
    with pytest.raises(TraceError, match=r"step 5's record is cut off"):
        read_everything(path)
    records = step_records(path)
    stream.write_bytes(whole)
    rewrite_step(path, 2, records[3])  # step 2's range now holds step 3's record
    with pytest.raises(TraceError, match=r"for step 2 is step 3's"):
        TraceReader(path).step(2)


def test_trace_directory_that_is_a_file_or_missing_is_a_trace_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    for path in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(TraceError):
            TraceReader(path)


@pytest.mark.parametrize("where", ["/dev/zero", "../../outside.json", "steps/../../outside.json"])
def test_a_step_file_named_in_the_log_cannot_point_outside_the_trace(recorded, tmp_path, where):
    path = tmp_path / "run"
    shutil.copytree(recorded, path)
    (tmp_path / "outside.json").write_text(json.dumps({"number": 1, "status": "error"}))
    events = path / "events.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.startswith('{"kind": "step"'))
    doc = json.loads(lines[i])
    doc["file"] = where
    lines[i] = json.dumps(doc) + "\n"
    events.write_text("".join(lines))

    def first_step() -> Step | TraceError:
        try:
            return TraceReader(path).step(1)
        except TraceError as exc:
            return exc

    got = bounded(first_step, seconds=10)  # reading /dev/zero would never end
    # Refused, or read from the trace's own step file: never from the file the log names.
    if isinstance(got, Step):
        assert got.to_dict() == TraceReader(recorded).step(1).to_dict()
    else:
        assert "outside the trace" in str(got)


def test_manifest_fields_of_the_wrong_type_are_named(recorded, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(recorded, path)
    manifest = json.loads((path / "manifest.json").read_text())
    for key, value, words in [
        ("stop_reason", "exploded", "unknown stop_reason"),
        ("totals", [1, 2], "totals should be an object"),
        ("totals", {"input_tokens": "many"}, "totals.input_tokens"),
    ]:
        (path / "manifest.json").write_text(json.dumps(manifest | {key: value}))
        with pytest.raises(TraceError, match=words):
            TraceReader(path)
