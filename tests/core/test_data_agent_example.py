"""``python -m looplet_core.examples.data_agent``: pause at the terminal, quit, resume, finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from looplet_core import FileCheckpointStore

ROOT = Path(__file__).resolve().parents[2]
TEST_ROWS = 5  # make_csv marks every 7th of 40 orders as a test order


def agent(tmp_path: Path, *flags: str, answers: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "looplet_core.examples.data_agent", *flags],
        cwd=tmp_path,
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def rows(tmp_path: Path) -> int:
    return len((tmp_path / "looplet-data-agent" / "orders.csv").read_text().splitlines()) - 1


@pytest.mark.slow
def test_quit_at_the_approval_prompt_then_resume_and_approve(tmp_path: Path):
    first = agent(tmp_path, "--clean", answers="q\n")
    assert first.returncode == 0, first.stderr
    assert "#4 ⏸ delete_rows" in first.stdout and "Paused" in first.stdout
    assert rows(tmp_path) == 40

    blocked = agent(tmp_path)  # a plain start refuses to abandon the paused run
    assert blocked.returncode == 2 and "--resume" in blocked.stderr

    second = agent(tmp_path, "--resume", answers="y\n")
    assert second.returncode == 0, second.stderr
    assert "resuming run" in second.stdout and "after step 3" in second.stdout
    assert "#4 ✓ delete_rows" in second.stdout and "stopped: done" in second.stdout
    assert "#1 " not in second.stdout  # nothing before the pause ran again
    assert rows(tmp_path) == 40 - TEST_ROWS

    third = agent(tmp_path, "--resume")
    assert third.returncode == 0 and "already finished (done)" in third.stdout
    assert rows(tmp_path) == 40 - TEST_ROWS


@pytest.mark.slow
def test_deny_at_the_prompt_leaves_the_data_and_the_model_is_told(tmp_path: Path):
    out = agent(tmp_path, "--clean", answers="n\nkeep them for the audit\n")
    assert out.returncode == 0, out.stderr
    assert "#4 ✗ delete_rows" in out.stdout and "not allowed to delete" in out.stdout
    assert rows(tmp_path) == 40


@pytest.mark.slow
def test_auto_approve_runs_to_the_end_with_compaction(tmp_path: Path):
    out = agent(tmp_path, "--clean", "--auto-approve")
    assert out.returncode == 0, out.stderr
    assert "compacted the history" in out.stdout and "stopped: done" in out.stdout
    assert rows(tmp_path) == 40 - TEST_ROWS
    store = FileCheckpointStore(tmp_path / "looplet-data-agent" / "checkpoints")
    checkpoints = [cid for run in store.runs() for cid in store.list(run)]
    assert len(checkpoints) == 7  # six steps and the end


@pytest.mark.slow
def test_resume_with_nothing_saved_says_so(tmp_path: Path):
    out = agent(tmp_path, "--resume")
    assert out.returncode == 1 and "no checkpoints yet" in out.stderr
