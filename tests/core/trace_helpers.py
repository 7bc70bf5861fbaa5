"""Recording traces for the provenance, replay, eval and CLI tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from looplet_core import LoopResult, MockLLMBackend, ProvenanceSink, Step
from looplet_core.state import DefaultState

from .helpers import run

SCRIPT: list[Any] = [
    {"tool": "greet", "args": {"name": "Alice"}},
    [{"tool": "add", "args": {"a": 1, "b": 2}}, {"tool": "boom"}],
    {"tool": "search", "args": {"query": "cats"}},
    {"tool": "done", "args": {"answer": "Greeted Alice; 1 + 2 = 3."}},
]


def record(
    path: Path,
    script: Sequence[Any] = SCRIPT,
    *,
    hooks: Sequence[object] = (),
    sink: ProvenanceSink | None = None,
    **kwargs: Any,
) -> tuple[list[Step], LoopResult, MockLLMBackend, DefaultState]:
    """Run ``script`` with a ProvenanceSink writing to ``path`` (after ``hooks``)."""
    sink = sink or ProvenanceSink(path)
    return run(script, hooks=[*hooks, sink], **kwargs)


def all_trace_bytes(path: Path) -> bytes:
    """Every file of a trace, concatenated: for 'this never appears anywhere' checks."""
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


def step_records(path: Path) -> dict[int, bytes]:
    """Each step's line in ``steps.jsonl`` (format 2), by step number, as the event log
    points at it."""
    data = (path / "steps.jsonl").read_bytes()
    out: dict[int, bytes] = {}
    for line in (path / "events.jsonl").read_bytes().splitlines():
        event = json.loads(line)
        if event["kind"] == "step":
            offset, length = event["at"]
            out[event["number"]] = data[offset : offset + length]
    return out


def step_record(path: Path, number: int) -> dict[str, Any]:
    """Step ``number``'s record, read straight from ``steps.jsonl``."""
    return json.loads(step_records(path)[number])


def rewrite_step(path: Path, number: int, text: str | bytes | None) -> None:
    """Put ``text`` (bytes as they are; None: drop the line) where step ``number``'s line was
    in ``steps.jsonl`` and move the event log's ranges to match, the way a damaged or edited
    record would look to the reader."""
    records = step_records(path)
    if text is None:
        records[number] = b""
    else:
        records[number] = text if isinstance(text, bytes) else (text + "\n").encode()
    starts: dict[int, tuple[int, int]] = {}
    chunks: list[bytes] = []
    size = 0
    for n, line in records.items():
        starts[n] = (size, len(line))
        chunks.append(line)
        size += len(line)
    (path / "steps.jsonl").write_bytes(b"".join(chunks))
    lines = []
    for raw in (path / "events.jsonl").read_bytes().splitlines():
        event = json.loads(raw)
        if event["kind"] == "step":
            event["at"] = list(starts[event["number"]])
            raw = json.dumps(event, ensure_ascii=False).encode()  # noqa: PLW2901
        lines.append(raw + b"\n")
    (path / "events.jsonl").write_bytes(b"".join(lines))
