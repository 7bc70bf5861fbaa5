"""Recording traces for the provenance, replay, eval and CLI tests."""

from __future__ import annotations

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
