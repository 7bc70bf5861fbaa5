"""Crash safety: a run killed with SIGKILL mid-step resumes without losing a completed step.

The child prints ``STEP n`` for every step it is handed; those steps were checkpointed before
they were handed over, so each must come back unchanged.  The step that was running when the
child died is run again on resume: its tool may therefore run twice (at most), never more.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from looplet_core import FileCheckpointStore, StopReason, resume
from looplet_core.durable.checkpoints import latest_checkpoint, load
from tests.core.durable_helpers import backend, comparable, counting_plan, durable_tools

ROOT = Path(__file__).resolve().parents[2]
N = 12
AGENT = (sys.executable, "-m", "tests.core.durable_agent")


def kill_after(tmp_path: Path, seen: int, delay: float) -> list[int]:
    """Start the child, SIGKILL it once it reported ``seen`` steps (and, with a ``delay``, once
    the next step's tool has started, so the kill lands inside it); the step numbers printed."""
    printed: list[int] = []
    with subprocess.Popen(
        [*AGENT, "crashable", str(tmp_path), str(N), str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            printed.append(int(line.split()[1]))
            if len(printed) == seen:
                if delay:
                    wait_for_line(tmp_path / "tools.log", f"count [('i', {seen})]")
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return printed


def wait_for_line(path: Path, line: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and line in path.read_text().splitlines():
            return
        time.sleep(0.005)
    raise AssertionError(f"{line!r} never appeared in {path}")


@pytest.mark.slow
@pytest.mark.parametrize("seen", [1, 5])
def test_killed_run_resumes_with_every_completed_step_and_finishes(tmp_path: Path, seen: int):
    printed = kill_after(tmp_path, seen, delay=0.5)
    store = FileCheckpointStore(tmp_path / "cp")
    saved = load(store, latest_checkpoint(store, "proc")).state.steps
    assert [s.number for s in saved][: len(printed)] == printed  # nothing handed over was lost
    before = [comparable(s) for s in saved]

    run = resume(
        store, llm=backend(counting_plan(N)), tools=durable_tools(log=tmp_path / "tools.log")
    )
    list(run)
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    final = run.state.steps
    assert [s.number for s in final] == list(range(1, N + 2))
    assert [comparable(s) for s in final[: len(before)]] == before

    executions = collections.Counter((tmp_path / "tools.log").read_text().splitlines())
    repeated = {line: n for line, n in executions.items() if n > 1}
    assert repeated == {f"count [('i', {seen})]": 2}  # only the step in flight, once more
    assert set(executions) == {f"count [('i', {i})]" for i in range(N)} | {
        "done [('answer', 'counted 12')]"
    }


@pytest.mark.slow
def test_no_temporary_or_partial_checkpoint_is_visible_after_a_kill(tmp_path: Path):
    kill_after(tmp_path, 3, delay=0.0)  # killed while writing checkpoints as fast as it can
    store = FileCheckpointStore(tmp_path / "cp")
    for cid in store.list("proc"):
        store.get(cid)  # every published checkpoint parses
    resume(store, llm=backend(counting_plan(N)), tools=durable_tools())
