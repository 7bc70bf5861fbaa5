"""The debugger attached to a run another process runs, over SQLite and a real PostgreSQL.

The agent runs headless in a second process (``python -m looplet_core run ... --store``); the
real ``DebuggerApp`` (in Textual's pilot) follows it through the store, shows its steps, and
answers its approval; the agent acts on that answer.  When someone else answers first, the card
goes away and the debugger says who did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from looplet_core.durable.breakpoint_entries import is_standing
from looplet_core.durable.connect import open_store
from looplet_core.durable.runstore import RunStore
from looplet_core.durable.sqlite import SQLiteRunStore
from looplet_core.durable.sqlstore import SQLRunStore
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import SessionError, attach_session, resume_store_session
from looplet_tui.screens.checkpoints import CheckpointScreen
from looplet_tui.session import AttachSession, RunSession
from tests.core.store_kinds import RUN_STORES, store_target
from tests.tui.pilot import SIZE, screen_text, until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=RUN_STORES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_target(str(request.param), tmp_path, request)


def start_agent(target: str, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "LOOPLET_TEST_LOG": str(log)}
    command = [sys.executable, "-m", "looplet_core", "run", "tests.core.store_agent"]
    return subprocess.Popen(
        [*command, "--store", target, "--run-id", "r1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def until_waiting(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("WAITING"):
            return
    raise AssertionError(proc.stderr.read() if proc.stderr else "the agent never waited")


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)  # also closes the pipes
    assert proc.returncode == 0 and err == "", err
    return out


def notices(app: DebuggerApp) -> list[str]:
    """The notifications shown so far (toasts are drawn on a layer of their own)."""
    return [n.message for n in app._notifications]  # pyright: ignore[reportPrivateUsage]


async def card_shown(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await until(pilot, lambda: app.controller.approvals, "the approval card", timeout=20)
    await pilot.pause()


async def test_the_attached_debugger_answers_and_the_agent_acts_on_it(target: str, tmp_path: Path):
    log = tmp_path / "tools.log"
    agent = start_agent(target, log)
    try:
        until_waiting(agent)
        app = DebuggerApp(attach_session([target, "r1"]), timings=False)
        async with app.run_test(size=SIZE) as pilot:
            await card_shown(pilot, app)
            text = screen_text(app)
            assert "attached · r1" in text and "count" in text
            assert "Approval needed: step 2" in text and "target  10000 rows" in text  # as it reads
            await pilot.press("a")
            await until(pilot, lambda: app.controller.finished, "the run's end", timeout=30)
            await pilot.pause()
            done = app.controller.step(2)
            assert done is not None and done.tool_result.data == "deleted 10000 rows"
            assert app.controller.step(3) is not None  # steps after the answer appear too
        out = finish(agent)
    finally:
        agent.kill()
        agent.communicate()
    assert "#2 ✓ delete(target='10000 rows')" in out and log.read_text() == "delete 10000 rows\n"
    store = open_store(target)
    (record,) = store.approvals("r1")
    assert record.decision == {"action": "approve"} and record.decided_by.startswith("looplet-tui@")
    store.close()


async def test_an_approval_answered_elsewhere_leaves_the_card_and_says_so(
    target: str, tmp_path: Path
):
    agent = start_agent(target, tmp_path / "tools.log")
    try:
        until_waiting(agent)
        app = DebuggerApp(attach_session([target, "r1"]), timings=False)
        async with app.run_test(size=SIZE) as pilot:
            await card_shown(pilot, app)
            answered = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "looplet_core",
                    "runs",
                    "deny",
                    "r1",
                    "--by",
                    "bob",
                    "--message",
                    "no",
                    "--store",
                    target,
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
                check=False,
            )
            assert answered.returncode == 0, answered.stderr
            await until(pilot, lambda: not app.controller.approvals, "the card to go", timeout=10)
            await until(
                pilot,
                lambda: "answered elsewhere: deny by bob (step 2)" in notices(app),
                "the notice",
            )
            await until(pilot, lambda: app.controller.finished, "the run's end", timeout=30)
        out = finish(agent)
    finally:
        agent.kill()
        agent.communicate()
    assert "#2 ✗ delete(target='10000 rows') → permission: denied: no" in out


def test_attaching_to_a_run_that_is_not_there_is_one_line(tmp_path: Path):
    SQLiteRunStore(tmp_path / "runs.db").close()
    with pytest.raises(SessionError, match="no run 'ghost'"):
        attach_session([str(tmp_path / "runs.db"), "ghost"])
    with pytest.raises(SessionError, match="unknown store URL scheme 'redis'"):
        attach_session(["redis://x", "r1"])


async def test_a_paused_run_in_a_store_resumes_in_the_debugger_with_its_checkpoints(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    log = tmp_path / "tools.log"
    monkeypatch.setenv("LOOPLET_TEST_LOG", str(log))  # the tool runs in this process now
    env = {**os.environ, "LOOPLET_TEST_LOG": str(log)}
    paused = subprocess.run(
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
            "--wait",
            "0.2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert paused.returncode == 3, paused.stderr
    session = resume_store_session(target, "r1", None)  # the agent is the one the run recorded
    app = DebuggerApp(session, start_paused=False, timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await card_shown(pilot, app)
        await pilot.press("a")
        await until(pilot, lambda: app.controller.finished, "the run's end", timeout=30)
        await pilot.press("t")  # the checkpoint browser, on the store
        await until(pilot, lambda: isinstance(app.screen, CheckpointScreen), "the browser")
        assert "run r1 · 5 checkpoints · 1 branch" in screen_text(app)
    opened = app.session.config.checkpoint if isinstance(app.session, RunSession) else None
    assert isinstance(opened, SQLRunStore)
    opened.close()
    store = open_store(target)
    assert store.run_info("r1").status == "finished"
    store.close()
    assert log.read_text() == "delete 10000 rows\n"


def test_attach_takes_the_store_as_an_option_or_as_the_first_argument(tmp_path: Path):
    from looplet_tui.__main__ import _parser
    from looplet_tui.cli import build_session

    store = open_store(tmp_path / "runs.db")
    store.set_run("r1", agent="tests.core.store_agent")
    store.close()
    for argv in (
        ["attach", "--store", str(tmp_path / "runs.db"), "r1"],
        ["attach", str(tmp_path / "runs.db"), "r1"],
    ):
        session = build_session(_parser().parse_args(argv))
        assert isinstance(session, AttachSession) and session.run_id == "r1"
        assert session.title == "attached · r1 · tests.core.store_agent"
        session.store.close()
    with pytest.raises(SessionError, match="the store and one run id"):
        build_session(_parser().parse_args(["attach", "a.db", "r1", "extra"]))


async def test_a_run_paused_at_a_breakpoint_shows_paused_and_c_lets_it_go_on(
    target: str, tmp_path: Path
):
    def runs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "looplet_core", "runs", *args, "--store", target],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )

    assert runs("pause", "r1", "--tool", "count").returncode == 0
    agent = start_agent(target, tmp_path / "tools.log")
    try:
        deadline = time.monotonic() + 30
        while "paused at a breakpoint" not in runs("list").stdout:
            assert time.monotonic() < deadline, "the run never paused"
            time.sleep(0.2)
        app = DebuggerApp(attach_session([target, "r1"]), timings=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.controller.pause_point is not None, "the pause", 20)
            await pilot.pause()
            assert "PAUSED" in screen_text(app)
            assert app.controller.step(1) is None  # count has not run
            await pilot.press("c")
            await card_shown(pilot, app)  # the run went on, to its approval
            assert app.controller.step(1) is not None
            await pilot.press("a")
            await until(pilot, lambda: app.controller.finished, "the run's end", timeout=30)
        out = finish(agent)
    finally:
        agent.kill()
        agent.communicate()
    assert "#1 ✓ count(i=1)" in out and "stop   done" in out


def test_attaching_or_resuming_a_store_that_does_not_exist_creates_no_file(tmp_path: Path):
    typo = tmp_path / "tpyo.db"
    with pytest.raises(SessionError, match=r"tpyo\.db: no such run store \(nothing was created\)"):
        attach_session([str(typo), "r1"])
    with pytest.raises(SessionError, match=r"tpyo\.db: no such run store"):
        resume_store_session(str(typo), None, None)
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_store_whose_newest_checkpoint_is_damaged_names_the_intact_one(tmp_path: Path):
    import sqlite3

    from looplet_core.runs.headless import run_in_store
    from tests.core.store_agent import make_agent

    path = tmp_path / "runs.db"
    store = open_store(path)
    run_in_store(make_agent(), store, run_id="r1", name="tests.core.store_agent", timeout=0.1)
    ids = store.list("r1")
    store.close()
    newest, intact = ids[-1], ids[-2]
    conn = sqlite3.connect(path)
    conn.execute("UPDATE looplet_checkpoints SET doc = '{\"format\": tru' WHERE id = ?", (newest,))
    conn.commit()
    conn.close()
    with pytest.raises(SessionError) as caught:
        resume_store_session(str(path), "r1", None)
    text = str(caught.value)
    assert f"#{newest}: not valid JSON" in text
    assert f"newest intact checkpoint of this run is {intact}: add --checkpoint {intact}" in text
    assert "resume(store" not in text  # the command's words, not the Python API's
    session = resume_store_session(str(path), "r1", None, checkpoint_id=intact)
    assert session.state is not None and session.state.checkpoint_id == intact
    opened = session.config.checkpoint
    assert isinstance(opened, SQLRunStore)
    opened.close()


def runs(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m looplet_core runs ARGS --store TARGET``, as someone else would type it."""
    return subprocess.run(
        [sys.executable, "-m", "looplet_core", "runs", *args, "--store", target],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def until_paused(target: str) -> None:
    deadline = time.monotonic() + 30
    while "paused at a breakpoint" not in runs(target, "list").stdout:
        assert time.monotonic() < deadline, "the run never paused"
        time.sleep(0.2)


def standing_tools(store: RunStore) -> list[object]:
    """The tool globs of the run's standing breakpoints (not its pause entries)."""
    return [e.get("tool") for e in store.breakpoints("r1") if is_standing(e)]


def paused_before(app: DebuggerApp, step: int) -> bool:
    point = app.controller.pause_point
    return point is not None and point.step == step


async def test_a_breakpoint_set_in_the_attached_debugger_pauses_the_run_where_it_runs(
    target: str, tmp_path: Path
):
    from textual.widgets import Input

    from looplet_tui.screens.breakpoints import BreakpointsScreen
    from looplet_tui.widgets.breakpoint_table import BreakpointTable

    assert runs(target, "pause", "r1", "--tool", "count").returncode == 0
    agent = start_agent(target, tmp_path / "tools.log")
    try:
        until_paused(target)
        app = DebuggerApp(attach_session([target, "r1"]), timings=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: paused_before(app, 1), "the pause before count", 20)
            await pilot.press("B")
            await until(pilot, lambda: isinstance(app.screen, BreakpointsScreen), "the screen")
            assert "tool 'count'" in screen_text(app)  # set with runs pause: listed here
            assert "kept in the run's store" in screen_text(app)
            await pilot.press(*"don*", "enter")  # the tool glob field has the focus
            await pilot.pause()
            store = open_store(target)  # what the run's process reads
            assert standing_tools(store) == ["count", "don*"]
            app.screen.query_one("#bp-after", Input).value = "2"
            app.screen.query_one("#bp-tool", Input).value = "delete"
            await pilot.press("enter")
            await pilot.pause()
            assert "'after N hits' cannot be sent" in screen_text(app)  # refused, said so
            assert standing_tools(store) == ["count", "don*"]
            app.screen.query_one(BreakpointTable).focus()
            await pilot.press("x")  # the cursor is on the first row: count's
            await pilot.pause()
            assert standing_tools(store) == ["don*"]
            await pilot.press("escape")
            await pilot.press("c")
            await card_shown(pilot, app)  # count ran, delete asks
            await pilot.press("a")
            await until(pilot, lambda: paused_before(app, 3), "the pause before done", 30)
            await pilot.pause()
            assert "PAUSED" in screen_text(app) and app.controller.step(2) is not None
            assert store.run_info("r1").status == "paused at a breakpoint"
            assert app.controller.step(3) is None and not app.controller.finished
            await pilot.press("t")  # time travel, on the attached run's checkpoints
            await until(pilot, lambda: isinstance(app.screen, CheckpointScreen), "the browser")
            await pilot.pause()
            text = screen_text(app)
            assert "run r1 · " in text and "read only: the run's own process runs it" in text
            assert "Steps (2)" in text  # the state at its newest checkpoint: count, delete
            await pilot.press("f")
            await until(pilot, lambda: any("Not forked" in n for n in notices(app)), "refusal")
            assert isinstance(app.screen, CheckpointScreen)  # no fork editor opened
            await pilot.press("escape")
            await pilot.press("c")
            await until(pilot, lambda: app.controller.finished, "the run's end", timeout=30)
            await pilot.press("t")  # the run ended by itself: its store is still there to browse
            await until(pilot, lambda: isinstance(app.screen, CheckpointScreen), "the browser")
            await pilot.pause()
            assert "Steps (3)" in screen_text(app)
            store.close()
        out = finish(agent)
    finally:
        agent.kill()
        agent.communicate()
    assert "#3 ✓ done(answer='cleaned')" in out and "stop   done" in out


async def test_n_while_attached_lets_the_run_make_one_call_and_pause_before_the_next(
    target: str, tmp_path: Path
):
    assert runs(target, "pause", "r1").returncode == 0  # before its first call
    agent = start_agent(target, tmp_path / "tools.log")
    try:
        until_paused(target)
        app = DebuggerApp(attach_session([target, "r1"]), timings=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: paused_before(app, 1), "the pause before count", 20)
            assert runs(target, "pause", "r1", "--tool", "done").returncode == 0  # elsewhere
            await until(
                pilot,
                lambda: [bp.tool for bp in app.controller.breakpoints.items()] == ["done"],
                "the breakpoint set elsewhere to show here",
            )
            await pilot.pause()
            assert app.controller.breakpoints.marks("done")  # the timeline marks its calls
            await pilot.press("n")
            await until(pilot, lambda: paused_before(app, 2), "the pause before delete", 30)
            assert app.controller.step(1) is not None and not app.controller.approvals
            await pilot.press("c")
            await card_shown(pilot, app)
            await pilot.press("a")
            await until(pilot, lambda: paused_before(app, 3), "the pause before done", 30)
            await pilot.press("c")
            await until(pilot, lambda: app.controller.finished, "the run's end", timeout=30)
        out = finish(agent)
    finally:
        agent.kill()
        agent.communicate()
    assert "#2 ✓ delete(target='10000 rows')" in out and "stop   done" in out
