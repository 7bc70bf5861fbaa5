"""Format 2's append-only streams: a writer killed mid-line, torn tails, and the old layout.

The invariants the cheaper layout relies on: each record is one whole appended line; a torn
last line (the writer got SIGKILL inside a write) is reported and left out by the reader, never
parsed as something else; a sink resuming the trace cuts the fragment off (and logs how many
bytes) so the next line does not fuse with it; the reader still reads version-1 traces, also
one a newer sink resumed; and the faster encoder and secret scan give what the old ones gave.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from looplet_core import MockLLMBackend, ProvenanceSink, TraceReader, composable_loop
from looplet_core.errors import TraceError
from looplet_core.provenance import format as fmt
from looplet_core.provenance.redact import _NEEDLES, Redactor
from looplet_core.provenance.streams import StreamWriter, read_range, torn_tail
from looplet_core.state import DefaultState, LoopConfig

from .helpers import make_tools

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "trace_v1"
ROOT = Path(__file__).resolve().parents[2]

# The child process: a 40-step run traced into argv[1]; its (KILL_AT)th append to a stream
# writes half the line and then the process SIGKILLs itself, inside the write.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from looplet_core import MockLLMBackend, ProvenanceSink, composable_loop
    from looplet_core.provenance import streams
    from looplet_core.state import DefaultState, LoopConfig
    from tests.core.helpers import make_tools

    target, stream, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seen = [0]
    real_write = os.write

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(stream):
            seen[0] += 1
            if seen[0] == kill_at:
                real_write(fd, bytes(data)[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)

    streams.os = type("os", (), {**vars(os), "write": staticmethod(write)})
    script = [{"tool": "add", "args": {"a": i, "b": 1}} for i in range(40)]
    state = DefaultState(run_id="killed-run")
    loop = composable_loop(llm=MockLLMBackend(script), tools=make_tools(), task="add",
                           config=LoopConfig(max_steps=40), state=state,
                           hooks=[ProvenanceSink(target)])
    for _ in loop:
        pass
    """
)


def killed_trace(target: Path, stream: str, kill_at: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(target), stream, str(kill_at)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to find the fd")
def test_a_writer_killed_mid_line_leaves_a_torn_tail_the_reader_reports_and_skips(tmp_path):
    target = tmp_path / "run"
    killed_trace(target, fmt.EVENTS, kill_at=30)
    events = (target / fmt.EVENTS).read_bytes()
    assert not events.endswith(b"\n")  # the SIGKILL came inside the write
    reader = TraceReader(target)
    assert reader.status == "running"
    assert reader.torn is not None and "has no line end" in reader.torn
    whole_lines = events.count(b"\n")
    assert f"line {whole_lines + 1} has no line end" in reader.torn
    # everything before the torn line reads whole; the torn line is nobody's step
    assert len(reader) >= 10
    for entry in reader.entries:
        assert reader.step(entry.number).number == entry.number
    whole = [json.loads(line) for line in events.splitlines(keepends=True) if line.endswith(b"\n")]
    assert [e["seq"] for e in reader.events()] == [e["seq"] for e in whole]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to find the fd")
@pytest.mark.parametrize("stream", [fmt.EVENTS, fmt.STEPS, fmt.MESSAGES])
def test_resuming_a_killed_trace_cuts_the_torn_tail_and_logs_it(tmp_path, stream):
    target = tmp_path / "run"
    killed_trace(target, stream, kill_at=12)
    torn = torn_tail(target / stream)
    assert torn > 0
    before = TraceReader(target)
    kept = len(before)
    # the run goes on (resumed by its run id) and appends to the same trace
    script = [{"tool": "add", "args": {"a": i, "b": 1}} for i in range(3)]
    script.append({"tool": "done", "args": {"answer": "ok"}})
    state = DefaultState(run_id="killed-run", step_number=max(e.number for e in before.entries))
    list(
        composable_loop(
            llm=MockLLMBackend(script),
            tools=make_tools(),
            task="add",
            config=LoopConfig(max_steps=100),
            state=state,
            hooks=[ProvenanceSink(target)],
        )
    )
    reader = TraceReader(target)
    assert reader.complete and reader.torn is None
    starts = list(reader.events({"run_start"}))
    assert starts[-1]["repaired"] == {stream: {"torn_bytes": torn}}
    assert len(reader) == kept + 4
    for entry in reader.entries:
        assert reader.step(entry.number).number == entry.number
    for call in reader.llm_calls():
        assert len(reader.prompt(call.index)) == call.prompt_messages


def test_a_stream_writer_cuts_a_torn_tail_and_appends_whole_lines(tmp_path):
    file = tmp_path / "s.jsonl"
    file.write_bytes(b'{"a": 1}\n{"b": ')
    writer = StreamWriter(file)
    assert writer.repaired == len(b'{"b": ')
    at = writer.append(b'{"c": 3}\n')
    writer.close()
    assert file.read_bytes() == b'{"a": 1}\n{"c": 3}\n' and at == 9
    assert read_range(file, at, 9, "c") == b'{"c": 3}\n'
    with pytest.raises(TraceError, match=r"s.jsonl: c is cut off \(8 of 9 bytes"):
        read_range(file, at + 1, 9, "c")
    with pytest.raises(TraceError, match="written after the trace was closed"):
        writer.append(b"x\n")


def test_a_short_write_is_finished_by_further_writes(tmp_path, monkeypatch):
    # A write the kernel cuts short (a signal, a full pipe) returns fewer bytes: the rest is
    # written after it, so the line lands whole and the next line's offset is right.
    from looplet_core.provenance import streams

    real_write = os.write
    sizes: list[int] = []

    def short(fd, data):
        written = real_write(fd, bytes(data)[:5])
        sizes.append(written)
        return written

    monkeypatch.setattr(streams, "os", type("os", (), {**vars(os), "write": staticmethod(short)}))
    file = tmp_path / "s.jsonl"
    writer = StreamWriter(file)
    line = '{"text": "a line longer than five bytes é"}\n'.encode()
    assert writer.append(line) == 0
    assert writer.append(line) == len(line)
    writer.close()
    assert file.read_bytes() == line + line
    assert len(sizes) == 2 * -(-len(line) // 5)  # one write per five bytes, none lost or doubled


def test_a_version_1_trace_resumed_by_this_sink_reads_whole(tmp_path):
    """Old step files and new step lines side by side: each step line says where its record is."""
    target = tmp_path / "v1"
    shutil.copytree(FIXTURE, target)
    old = TraceReader(target)
    manifest = json.loads((target / fmt.MANIFEST).read_text())
    manifest["status"], manifest["stop_reason"] = "running", None  # as if paused
    (target / fmt.MANIFEST).write_text(json.dumps(manifest))
    sink = ProvenanceSink(target)
    state = DefaultState(run_id=old.run_id, step_number=max(e.number for e in old.entries))
    extra = [{"tool": "add", "args": {"a": 5, "b": 5}}, {"tool": "done", "args": {"answer": "x"}}]
    list(
        composable_loop(
            llm=MockLLMBackend(extra),
            tools=make_tools(),
            task="t",
            config=LoopConfig(max_steps=100),
            state=state,
            hooks=[sink],
        )
    )
    reader = TraceReader(target)
    assert json.loads((target / fmt.MANIFEST).read_text())["version"] == 2
    old_numbers = [e.number for e in old.entries]
    assert [e.number for e in reader.entries][: len(old_numbers)] == old_numbers
    assert all(e.at is None for e in reader.entries[: len(old_numbers)])
    assert all(e.at is not None for e in reader.entries[len(old_numbers) :])
    for entry in reader.entries:
        assert reader.step(entry.number).number == entry.number
    assert [s.to_dict() for s in reader.steps()][: len(old_numbers)] == [
        s.to_dict() for s in old.steps()
    ]


def test_the_cached_c_encoder_writes_what_json_dumps_writes():
    values = [
        {"a": [1, 2.5, None, True], "é": "snow ☃", "n": float("inf")},
        "plain",
        [{"deep": {"er": ["x"]}}],
        {"path": Path("/tmp/x"), "set": {3, 1}},
    ]
    for value in values:
        expected = json.dumps(value, ensure_ascii=False, default=fmt._default)
        assert fmt.dumps(value) == expected
    cycle: list[object] = []
    cycle.append(cycle)
    assert "cycle" in fmt.dumps(cycle)  # clipped, not a crash


@pytest.mark.parametrize("needle", _NEEDLES)
def test_the_grouped_secret_scan_finds_every_built_in_needle(needle):
    redactor = Redactor((), env=False)
    text = json.dumps({"note": f"prefix {needle} suffix", "number": 3})
    assert redactor.found_in(text)
    assert not redactor.found_in(json.dumps({"note": "prefix suffix", "number": 3}))


def test_every_event_line_is_what_the_encoder_would_write(tmp_path):
    """The step and llm_call lines are built without the encoder on the fast path: each must
    read back as the JSON it says and be exactly its canonical encoding, ``kind`` first."""
    from .trace_helpers import record

    record(tmp_path)
    lines = (tmp_path / fmt.EVENTS).read_text(encoding="utf-8").splitlines()
    kinds: set[str] = set()
    for line in lines:
        doc = json.loads(line)
        assert json.dumps(doc, ensure_ascii=False) == line
        assert line.startswith('{"kind": ')
        kinds.add(doc["kind"])
    assert {"step", "llm_call", "run_start", "run_end"} <= kinds
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
