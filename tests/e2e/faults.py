"""Helpers for the whole-loop fault tests: a fault injected mid-run, a bound on every run, and
checks that a run's checkpoints and trace stay readable whatever happened to it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from looplet_core import (
    FileCheckpointStore,
    Step,
    TraceReader,
)
from looplet_core.durable.checkpoints import Snapshot, latest_checkpoint, load
from looplet_core.state import DefaultState
from tests.fakeserver import FakeOpenAIServer, Fault

T = TypeVar("T")

KEY = "sk-fault-test-4f3c2b1a0987654321fedcba"
"""The API key every fault test uses: it must never reach a file the run writes."""


class FaultAt:
    """A hook that queues ``fault`` on the server just before model call number ``call``, so the
    fault hits a run that already has history (a step, a checkpoint, trace lines)."""

    name = "fault_at"

    def __init__(
        self, server: FakeOpenAIServer, fault: Fault, *, call: int = 2, **options: Any
    ) -> None:
        self.server = server
        self.fault = fault
        self.call = call
        self.options = options
        self.fired = False

    def pre_prompt(self, state: DefaultState, log: object, ctx: object, step: int) -> None:
        if not self.fired and state.llm_calls + 1 == self.call:
            self.fired = True
            self.server.fail(self.fault, **self.options)


def bounded(fn: Callable[[], T], seconds: float = 30.0) -> T:
    """``fn()``, failing the test (rather than hanging the suite) if it runs past ``seconds``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name="bounded-run", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"the run hung: still going after {seconds:.0f}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def check_durable(store: FileCheckpointStore, trace: Path, steps: list[Step]) -> Snapshot:
    """Every checkpoint of the run loads, the newest holds every step, and the trace reads back
    with the same steps; returns the newest snapshot."""
    run_id = steps[0].run_id
    for cid in store.list(run_id):
        load(store, cid)  # raises CheckpointError if any link of any chain is unreadable
    snapshot = load(store, latest_checkpoint(store, run_id))
    assert [s.number for s in snapshot.state.steps] == [s.number for s in steps]
    assert [s.status for s in snapshot.state.steps] == [s.status for s in steps]
    reader = TraceReader(trace)
    assert reader.complete and reader.run_id == run_id
    recorded = list(reader.steps())
    assert [(s.number, s.status, s.tool) for s in recorded] == [
        (s.number, s.status, s.tool) for s in steps
    ]
    assert [s.tool_result.error_kind for s in recorded] == [s.tool_result.error_kind for s in steps]
    return snapshot


def written_bytes(root: Path) -> bytes:
    """Every file under ``root``, concatenated: for 'this never appears anywhere' checks."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
