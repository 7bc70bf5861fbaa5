"""Two real processes over SQLite and PostgreSQL: ``python -m looplet_core run`` waits on an
approval in one, ``python -m looplet_core runs approve|deny`` answers it from another."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from looplet_core.durable.connect import open_store
from tests.core.store_kinds import RUN_STORES, store_target

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=RUN_STORES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_target(str(request.param), tmp_path, request)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "looplet_core", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def start_run(target: str, log: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LOOPLET_TEST_LOG": str(log)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "looplet_core",
            "run",
            "tests.core.store_agent",
            "--store",
            target,
            "--run-id",
            "r1",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def until_waiting(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("WAITING"):
            return lines
    raise AssertionError(
        f"the run never waited: {lines} {proc.stderr.read() if proc.stderr else ''}"
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=60)
    assert err == "", err
    return proc.returncode, out


def test_an_approval_answered_from_another_process_is_what_the_run_does(
    target: str, tmp_path: Path
):
    log = tmp_path / "tools.log"
    proc = start_run(target, log)
    try:
        head = until_waiting(proc)
        assert "WAITING #1 step 2 delete(target='10000 rows'): pending" in head
        listed = cli("runs", "--store", target)
        assert "r1" in listed.stdout and "waiting for approval" in listed.stdout, listed
        shown = cli("runs", "show", "r1", "--store", target)
        assert "#1 ✓ count(i=1)" in shown.stdout and "pending" in shown.stdout
        answered = cli(
            "runs",
            "approve",
            "r1",
            "--args",
            '{"target": "3 rows"}',
            "--by",
            "ada",
            "--store",
            target,
        )
        assert answered.returncode == 0, answered.stderr
        again = cli("runs", "deny", "r1", "--id", "1", "--store", target)
        assert again.returncode == 2 and "already answered: approve by ada" in again.stderr
        code, out = finish(proc)
    finally:
        proc.kill()
    assert code == 0
    assert "#2 ✓ delete(target='3 rows') → deleted 3 rows" in out and "stop   done" in out
    password = urlsplit(target).password
    for text in (out, listed.stdout, shown.stdout, answered.stdout, again.stderr):
        assert not password or password not in text  # the store is named without it
    assert log.read_text() == "delete 3 rows\n"
    assert "finished" in cli("runs", "list", "--store", target).stdout


def test_a_denial_with_a_message_reaches_the_model_and_the_tool_never_runs(
    target: str, tmp_path: Path
):
    log = tmp_path / "tools.log"
    proc = start_run(target, log)
    try:
        until_waiting(proc)
        cli("runs", "deny", "r1", "--message", "not on a Friday", "--store", target)
        code, out = finish(proc)
    finally:
        proc.kill()
    assert code == 0
    assert "#2 ✗ delete(target='10000 rows') → permission: denied: not on a Friday" in out
    assert not log.exists()
    store = open_store(target)
    (record,) = store.approvals("r1")
    assert record.decision == {"action": "deny", "message": "not on a Friday"}
    store.close()


def test_a_run_that_stopped_waiting_resumes_with_the_answer_given_meanwhile(
    target: str, tmp_path: Path
):
    log = tmp_path / "tools.log"
    proc = start_run(target, log, "--wait", "0.3")
    code, out = finish(proc)
    assert code == 3 and "stop   awaiting_approval" in out
    assert "waiting for approval" in cli("runs", "--store", target).stdout
    assert cli("runs", "approve", "r1", "--store", target).returncode == 0
    again = start_run(target, log)  # the same command: resumes from the store, here or elsewhere
    code, out = finish(again)
    assert code == 0 and "#2 ✓ delete(target='10000 rows')" in out and "stop   done" in out
    assert log.read_text() == "delete 10000 rows\n"


def test_a_second_worker_for_a_running_run_is_refused(target: str, tmp_path: Path):
    proc = start_run(target, tmp_path / "log")
    try:
        until_waiting(proc)
        second = start_run(target, tmp_path / "log2")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert "run 'r1' is being run by" in err and "Traceback" not in err
    finally:
        proc.kill()
        proc.communicate()


def test_a_breakpoint_set_from_elsewhere_pauses_the_run_until_it_is_continued(
    target: str, tmp_path: Path
):
    assert cli("runs", "pause", "r1", "--tool", "count", "--store", target).returncode == 0
    proc = start_run(target, tmp_path / "log")
    try:
        deadline = time.monotonic() + 30
        while "paused at a breakpoint" not in cli("runs", "--store", target).stdout:
            assert time.monotonic() < deadline, "the run never paused"
            time.sleep(0.2)
        assert cli("runs", "show", "r1", "--store", target).stdout.count("✓") == 0  # nothing ran
        went = cli("runs", "continue", "r1", "--clear", "--store", target)
        assert went.returncode == 0 and "goes on from step 1" in went.stdout, went.stderr
        head = until_waiting(proc)
        assert "#1 ✓ count(i=1) → 2" in "\n".join(head)
        cli("runs", "approve", "r1", "--store", target)
        code, out = finish(proc)
    finally:
        proc.kill()
        proc.communicate()
    assert code == 0 and "stop   done" in out
    again = cli("runs", "continue", "r1", "--store", target)
    assert again.returncode == 2 and "not paused at a breakpoint (it is finished)" in again.stderr
