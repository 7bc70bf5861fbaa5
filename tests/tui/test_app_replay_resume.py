"""Pilot tests: replaying a saved trace read-only, and resuming a run paused on an approval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from looplet_core import (
    DefaultState,
    FileCheckpointStore,
    StopReason,
    composable_loop,
)
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import AGENT_FILE, replay_session, resume_session
from looplet_tui.demo import make_agent
from looplet_tui.live.breakpoints import Breakpoint, Phase
from looplet_tui.live.runstate import Marker, RunState
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, settled, until
from tests.tui.scenarios import record_trace


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_trace(tmp_path_factory.mktemp("traces") / "demo-run")


def replay_app(trace: Path, **kwargs: object) -> DebuggerApp:
    return DebuggerApp(replay_session(trace), clock=lambda: FIXED_CLOCK, timings=False, **kwargs)  # type: ignore[arg-type]


async def test_replay_steps_through_the_recording_read_only(demo_trace: Path) -> None:
    app = replay_app(demo_trace)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        text = screen_text(app)
        assert "REPLAY" in text and "PAUSED" in text
        assert app.controller.steps_done == 1  # it opens on the first step, not an empty screen
        assert "#1 load_csv(path='customers.csv')" in text
        await pilot.press("1")  # the prompt is read from the trace when the step is shown
        await pilot.pause()
        assert "SYSTEM" in screen_text(app)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end of the recording")
        await pilot.pause()
        assert app.controller.run_state is RunState.DONE
        assert app.controller.steps_done == 10
        assert any(isinstance(e, Marker) and "compacted" in e.text for e in app.controller.entries)
        assert not app.controller.approvals  # approvals were recorded, never asked again


async def test_replay_honours_breakpoints(demo_trace: Path) -> None:
    app = replay_app(demo_trace)
    app.controller.breakpoints.add(Breakpoint(on_error=True))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("space")
        await until(pilot, lambda: not app.controller.playing, "the error")
        point = app.controller.pause_point
        assert point is not None and (point.phase, point.step) == (Phase.CHECK_DONE, 3)
        assert point.reason.startswith("breakpoint")
        assert app.controller.steps_done == 3


def paused_demo_run(directory: Path) -> str:
    """Start the demo with checkpoints and stop when it waits for its first approval."""
    agent = make_agent(delay=0)
    agent["config"].checkpoint = FileCheckpointStore(directory)
    state: DefaultState = agent["state"]
    for step in composable_loop(**agent):
        if step.approval is not None:
            break  # the user walked away: the approval stays pending in the checkpoint
    (directory / AGENT_FILE).write_text(json.dumps({"agent": "looplet_tui.demo:make_agent"}))
    return state.run_id


async def test_resume_reopens_a_run_paused_on_an_approval(tmp_path: Path) -> None:
    run_id = paused_demo_run(tmp_path)
    session = resume_session(tmp_path, None, None)
    assert run_id in session.title
    app = DebuggerApp(session, start_paused=False, clock=lambda: FIXED_CLOCK, timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the pending approval")
        await settled(pilot, app)
        assert app.controller.approvals[0].tool == "drop_rows"
        assert app.controller.steps_done == 6  # the history before the pause is on screen
        assert "#5 find_duplicates(key='email')" in screen_text(app)
        assert " 0 in · 0 out" not in screen_text(app)  # the usage so far, before any new call
        await pilot.press("A")
        await until(
            pilot,
            lambda: app.controller.approvals and app.controller.approvals[0].tool == "save_csv",
            "the next approval",
        )
        await pilot.press("a")
        await until(pilot, lambda: app.controller.finished, "the end")
    result = app.session.state.result  # type: ignore[union-attr]
    assert result is not None and result.stop_reason is StopReason.DONE
    tools = [s.tool for s in app.session.state.steps]  # type: ignore[union-attr]
    assert "load_csv" not in tools[6:]  # the scripted model went on with its script


def test_resume_continues_the_branch_asked_for(tmp_path: Path) -> None:
    from looplet_core.durable.checkpoints import load
    from looplet_core.runs.fork import fork

    run_id = paused_demo_run(tmp_path)
    store = FileCheckpointStore(tmp_path)
    early = next(cid for cid in store.list(run_id) if load(store, cid).checkpoint.step == 2)
    agent = make_agent(delay=0)
    branch = fork(store, early, llm=agent["llm"], tools=agent["tools"], branch="try-again")
    next(branch)  # the fork is now the newest checkpoint of the run
    newest = resume_session(tmp_path, None, None)
    assert newest.state.branch_id == "try-again"
    main = resume_session(tmp_path, None, None, branch="main")
    assert main.state.branch_id == "main"
    assert len(main.state.steps) == 5  # where main stopped: step 6 waits for approval
