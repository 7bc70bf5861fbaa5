"""TraceReader on the frozen version-1 fixture and on damaged or foreign directories.

``tests/fixtures/trace_v1`` was recorded once (run id ``fixture-v1``: greet, a two-call reply whose
second call raises, a search denied by a hook with a key in its arguments, done) and must never be
regenerated: it is the promise that traces written by format version 1 stay readable.
"""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest

from looplet_core import (
    ErrorKind,
    MockLLMBackend,
    ProvenanceSink,
    StepStatus,
    StopReason,
    TraceError,
    TraceReader,
    Usage,
    composable_loop,
)

from .helpers import make_tools
from .trace_helpers import SCRIPT, record

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "trace_v1"


def test_frozen_version_1_trace_stays_readable():
    reader = TraceReader(FIXTURE)
    assert reader.manifest["version"] == 1 and reader.complete
    assert reader.run_id == "fixture-v1"
    assert reader.task == {"goal": "Greet Alice and add 2 and 3."}
    assert reader.stop_reason is StopReason.DONE
    assert reader.final_answer == {"answer": "Alice greeted; 2 + 3 = 5."}
    assert reader.usage == Usage(359, 36)
    assert [(e.number, e.tool, e.status) for e in reader.entries] == [
        (1, "greet", "ok"),
        (2, "add", "ok"),
        (3, "boom", "error"),
        (4, "search", "denied"),
        (5, "done", "done"),
    ]
    boom = reader.step(3)
    assert boom.tool_result.error_kind is ErrorKind.EXECUTION
    assert "kaboom" in (boom.tool_result.error or "")
    search = reader.step(4)
    assert search.status is StepStatus.DENIED
    assert search.tool_call is not None
    assert search.tool_call.args == {"query": "key [redacted]"}
    assert [d.decision for d in search.decisions] == ["deny"]
    assert reader.step(2).tool_result.data == 5
    calls = reader.llm_calls()
    assert [len(c.tool_calls) for c in calls] == [1, 2, 1, 1]
    prompt = reader.prompt(4)
    assert [m.role for m in prompt] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
    ]
    assert prompt[1].content == "Greet Alice and add 2 and 3."
    assert {t["name"] for t in reader.tools()} >= {"greet", "add", "done"}
    kinds = {e["kind"] for e in reader.events()}
    assert {"run_start", "llm_call", "decision", "step", "run_end"} <= kinds


def copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "trace"
    shutil.copytree(FIXTURE, target)
    return target


def test_directory_without_a_manifest_is_not_a_trace(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(TraceError, match=r"is not a trace: it has no manifest\.json"):
        TraceReader(tmp_path)


def test_a_sinks_root_holding_one_trace_opens_that_trace(tmp_path):
    root = tmp_path / "traces"
    shutil.copytree(FIXTURE, root / "run-1")
    reader = TraceReader(root)
    assert reader.path == root / "run-1" and len(reader) > 0


def test_a_directory_holding_several_traces_names_them(tmp_path):
    for name in ("run-a", "run-b"):
        shutil.copytree(FIXTURE, tmp_path / name)
    with pytest.raises(TraceError, match=r"holds 2 traces \(run-a, run-b\); name one of them"):
        TraceReader(tmp_path)


def test_missing_directory_is_reported(tmp_path):
    with pytest.raises(TraceError, match="no such trace directory"):
        TraceReader(tmp_path / "nope")


def test_events_log_cut_in_the_middle_of_a_line_is_reported_with_its_line(tmp_path):
    trace = copy_fixture(tmp_path)
    events = trace / "events.jsonl"
    data = events.read_bytes()
    events.write_bytes(data[: len(data) - 40])
    lines = data[: len(data) - 40].count(b"\n")
    with pytest.raises(TraceError, match=f"line {lines + 1} is cut off: the file is truncated"):
        TraceReader(trace)


def test_events_log_missing_its_last_lines_is_reported(tmp_path):
    trace = copy_fixture(tmp_path)
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(TraceError, match="no run_end line: the file is truncated"):
        TraceReader(trace)
    step_lines = [i for i, line in enumerate(lines) if line.startswith(b'{"kind": "step"')]
    del lines[step_lines[1]]
    events.write_bytes(b"".join(lines))
    with pytest.raises(TraceError, match="manifest counts 5 steps but the log has 4"):
        TraceReader(trace)


def test_corrupt_line_is_reported_with_file_and_line(tmp_path):
    trace = copy_fixture(tmp_path)
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"kind": "step", "number": oops}\n'
    events.write_bytes(b"".join(lines))
    with pytest.raises(TraceError, match=r"events.jsonl: line 3 is not valid JSON"):
        TraceReader(trace)


def test_missing_step_file_is_reported_when_that_step_is_read(tmp_path):
    trace = copy_fixture(tmp_path)
    (trace / "steps" / "000003.json").unlink()
    reader = TraceReader(trace)  # opening is lazy: the index alone is fine
    assert reader.step(2).tool == "add"
    with pytest.raises(
        TraceError,
        match=r"000003.json: step 3 is in events.jsonl but its file "
        "is missing",
    ):
        reader.step(3)


def test_asking_for_a_step_the_trace_does_not_have_is_an_index_error():
    with pytest.raises(IndexError, match="no step 9"):
        TraceReader(FIXTURE).step(9)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (3, "newer than this looplet_core reads"),
        (0, "older than any this looplet_core reads"),
        ("1", "is not an integer"),
    ],
)
def test_unreadable_format_versions_are_named(tmp_path, version, message):
    trace = copy_fixture(tmp_path)
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["version"] = version
    (trace / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match=message):
        TraceReader(trace)


def test_foreign_json_manifest_is_not_taken_for_a_trace(tmp_path):
    (tmp_path / "manifest.json").write_text('{"name": "some web app"}')
    with pytest.raises(TraceError, match="not a looplet trace manifest"):
        TraceReader(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(TraceError, match=r"manifest\.json: not valid JSON"):
        TraceReader(tmp_path)


def test_truncated_prompt_data_is_reported(tmp_path):
    trace = copy_fixture(tmp_path)
    messages = trace / "messages.jsonl"
    messages.write_bytes(messages.read_bytes()[:-50])
    with pytest.raises(TraceError, match=r"the prompt of call 4 (is corrupt|should have)"):
        TraceReader(trace).prompt(4)


def test_abandoned_run_leaves_a_readable_running_trace_and_no_open_files(tmp_path):
    loop = composable_loop(
        llm=MockLLMBackend(SCRIPT), tools=make_tools(), task="t", hooks=[ProvenanceSink(tmp_path)]
    )
    next(loop)
    loop.close()
    del loop
    gc.collect()  # an unclosed file would raise ResourceWarning here (filterwarnings=error)
    reader = TraceReader(tmp_path)
    assert reader.status == "running" and len(reader) == 1
    assert reader.stop_reason is None
    with pytest.raises(TraceError, match="has not ended"):
        reader.result()


def test_reader_lists_events_by_kind_without_loading_steps(tmp_path):
    record(tmp_path)
    reader = TraceReader(tmp_path)
    calls = list(reader.events({"llm_call"}))
    assert [c["call"]["index"] for c in calls] == [1, 2, 3, 4]
    assert "4 steps" not in repr(reader) and "5 steps" in repr(reader)


def test_a_step_logged_twice_is_one_step_with_its_last_record(tmp_path):
    trace = copy_fixture(tmp_path)
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith(b'{"kind": "step"'))
    again = json.loads(lines[first])
    again["status"] = "denied"
    lines.insert(first + 1, (json.dumps(again) + "\n").encode())
    events.write_bytes(b"".join(lines))
    reader = TraceReader(trace)
    original = TraceReader(FIXTURE)
    assert [e.number for e in reader.entries] == [e.number for e in original.entries]
    assert reader.entries[0].status == "denied"
    assert [s.number for s in reader.steps()] == [s.number for s in original.steps()]


def _entries_line_by_line(trace: Path) -> list[tuple[object, ...]]:
    """The step index as one ``json.loads`` per line gives it (what the batched parse must
    equal), keeping each number's last record as the reader does."""
    by_number: dict[int, tuple[object, ...]] = {}
    for raw in (trace / "events.jsonl").read_bytes().splitlines():
        record = json.loads(raw)
        if record.get("kind") == "step":
            number = int(record["number"])
            by_number[number] = (number, record["status"], record.get("tool"), record["llm_call"])
    return list(by_number.values())


def test_the_step_index_parsed_at_once_equals_the_lines_parsed_one_by_one(tmp_path):
    record(tmp_path)
    reader = TraceReader(tmp_path)
    assert [(e.number, e.status, e.tool, e.llm_call) for e in reader.entries] == (
        _entries_line_by_line(tmp_path)
    )
    assert [(e.number, e.status, e.tool) for e in TraceReader(FIXTURE).entries] == [
        (n, s, t) for n, s, t, _ in _entries_line_by_line(FIXTURE)
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"kind": "step", "number": 2}, {"kind": "step", "number": 9}', "not valid JSON"),
        (b'{"kind": "step"}], [{"kind": "step", "number": 9}', "not valid JSON"),
        (b'{"kind": "step", "number": "two"}', "not a valid step record"),
    ],
)
def test_a_bad_step_line_among_good_ones_is_named_by_its_line(tmp_path, bad, message):
    """Two values on one line, a line that closes the batch's array, a record that is not a
    step: each is reported at its own line, never read as other steps."""
    trace = copy_fixture(tmp_path)
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.startswith(b'{"kind": "step"')][2]
    lines[at] = bad + b"\n"
    events.write_bytes(b"".join(lines))
    with pytest.raises(TraceError, match=rf"events.jsonl: line {at + 1} is {message}"):
        TraceReader(trace)


def test_logged_events_from_the_index_equal_a_second_read_of_the_log(tmp_path):
    """``logged`` answers from the lines kept while indexing; it must give what reading the
    log again gives, a line written with its kind later than first included, and follow a
    live trace's ``refresh``."""
    trace = copy_fixture(tmp_path)
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    start = json.loads(lines[0])
    assert start["kind"] == "run_start"
    reordered = {k: v for k, v in start.items() if k != "kind"} | {"kind": "compaction"}
    lines.insert(1, (json.dumps(reordered) + "\n").encode())
    lines.insert(2, lines[0].replace(b'"run_start"', b'"compaction"'))
    events.write_bytes(b"".join(lines))
    reader = TraceReader(trace)
    for kinds in ({"compaction"}, {"run_start"}, {"run_start", "compaction", "run_end"}):
        assert reader.logged(kinds) == list(reader.events(kinds))
    assert len(reader.logged({"compaction"})) == 2


def test_logged_events_follow_a_live_trace(tmp_path):
    trace = copy_fixture(tmp_path)
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["status"] = "running"
    (trace / "manifest.json").write_text(json.dumps(manifest))
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(b"".join(lines[:1]))
    reader = TraceReader(trace)
    assert reader.logged({"run_end"}) == []
    events.write_bytes(b"".join(lines))
    reader.refresh()
    assert reader.logged({"run_end"}) == list(reader.events({"run_end"})) != []
