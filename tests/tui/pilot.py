"""Helpers for the debugger's Pilot and snapshot tests: deterministic apps, waiting, screen text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from textual.pilot import Pilot

from looplet_core import BaseToolRegistry, DefaultState, LoopConfig, MockLLMBackend
from looplet_tui.app import DebuggerApp
from looplet_tui.demo import make_agent
from looplet_tui.session import RunSession, run_session
from tests.tui.helpers import make_tools

SIZE = (120, 36)
FIXED_CLOCK = 1000.0


def demo_app(**kwargs: Any) -> DebuggerApp:
    """The demo agent with no model delay, a frozen clock and no per-step timings."""
    session = run_session(make_agent(delay=0), where="the demo", title="demo · clean customers.csv")
    return DebuggerApp(session, clock=lambda: FIXED_CLOCK, timings=False, **kwargs)


def session_for(
    script: Sequence[Any],
    *,
    tools: BaseToolRegistry | None = None,
    config: LoopConfig | None = None,
    hooks: Sequence[object] = (),
    delay: float = 0.0,
) -> RunSession:
    llm = MockLLMBackend(script, report_usage=True, delay=delay)
    return RunSession(
        llm=llm,
        tools=tools or make_tools(),
        task="test task",
        config=config or LoopConfig(max_steps=20),
        state=DefaultState(),
        hooks=list(hooks),
        title="test",
    )


def app_for(script: Sequence[Any], *, start_paused: bool = True, **kwargs: Any) -> DebuggerApp:
    return DebuggerApp(
        session_for(script, **kwargs),
        start_paused=start_paused,
        clock=lambda: FIXED_CLOCK,
        timings=False,
    )


async def until(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str = "", timeout: float = 5.0
) -> None:
    """Let the app run until ``predicate()`` holds (the worker thread runs meanwhile)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            app = pilot.app
            state = getattr(getattr(app, "controller", None), "run_state", None)
            raise AssertionError(f"timed out waiting for {what or predicate}; state {state}")
        await asyncio.sleep(0.005)
        await pilot.pause()


async def settled(pilot: Pilot[Any], app: DebuggerApp) -> None:
    """Wait until the worker is blocked or done, and the screen shows its latest state."""
    ctl = app.controller
    await until(
        pilot,
        lambda: ctl.pause_point is not None or ctl.approvals or ctl.finished,
        "the run to stop",
    )
    await pilot.pause()
    await pilot.pause()


def screen_text(app: DebuggerApp) -> str:
    """The screen as plain text, line by line (what a user would read)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
