"""TraceReader's step index keeps no number -> place map for steps in order (step n at n - 1);
the invariant: whatever order the log holds them in, every step is found at its last record,
as a plain map from every line would find it, on the version-1 fixture and a recorded trace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from looplet_core import TraceReader

from .trace_helpers import record

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "trace_v1"


def reorder(trace: Path, order: list[int], again: dict[int, str]) -> None:
    """Log the step lines in ``order`` (indices into the original step lines), then log each
    step in ``again`` once more with that status."""
    events = trace / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    at = [i for i, raw in enumerate(lines) if raw.startswith(b'{"kind": "step"')]
    steps = [lines[i] for i in at]
    for slot, pick in zip(at, order, strict=True):
        lines[slot] = steps[pick]
    end = at[-1] + 1
    for number, status in again.items():
        event = json.loads(steps[number - 1])
        event["status"] = status
        lines.insert(end, (json.dumps(event) + "\n").encode())
        end += 1
    events.write_bytes(b"".join(lines))


def eager(trace: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    for raw in (trace / "events.jsonl").read_bytes().splitlines():
        event = json.loads(raw)
        if event["kind"] == "step":
            out[int(event["number"])] = event["status"]
    return out


@pytest.mark.parametrize(
    ("order", "again"),
    [
        ([0, 1, 2, 3, 4], {}),
        ([0, 1, 2, 3, 4], {3: "denied"}),
        ([4, 3, 2, 1, 0], {}),
        ([1, 0, 2, 4, 3], {2: "denied", 1: "error"}),
    ],
)
def test_every_step_is_found_at_its_last_record(tmp_path, order, again):
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)
    reorder(trace, order, again)
    expected = eager(trace)
    reader = TraceReader(trace)
    assert {e.number: e.status for e in reader.entries} == expected
    assert len(reader) == len(expected)
    for number, status in expected.items():
        assert reader.step(number).number == number
        assert reader.entries[[e.number for e in reader.entries].index(number)].status == status
    for missing in (0, -1, 6):
        with pytest.raises(IndexError, match=f"no step {missing}"):
            reader.step(missing)


def test_a_recorded_trace_keeps_no_map_and_shares_its_names(tmp_path):
    record(tmp_path / "t")
    reader = TraceReader(tmp_path / "t")
    assert reader._log.moved_steps == {}
    assert [reader.step(e.number).number for e in reader.entries] == [1, 2, 3, 4, 5]
    ok = [e.status for e in reader.entries if e.status == "ok"]
    assert len(ok) > 1 and all(s is ok[0] for s in ok)
