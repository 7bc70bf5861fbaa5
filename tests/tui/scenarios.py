"""The debugger's main states, each a deterministic app plus the steps that bring it there.

Shared by the snapshot tests and by ``screenshots/make_screenshots.py`` (``make screenshots``), so
the pictures in the README are exactly what the tests check.  Determinism: the scripted demo
agent, no model delay, a frozen clock, no per-step durations, and waits on the controller's state
(never on wall-clock sleeps).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from looplet_core import (
    CancelToken,
    LLMResponse,
    MockLLMBackend,
    ProvenanceSink,
    composable_loop,
)
from looplet_core.backends.base import DeltaCallback, ToolSchema
from looplet_core.messages import Message
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import replay_session
from looplet_tui.demo import SCRIPT, make_agent
from looplet_tui.live.breakpoints import Breakpoint
from looplet_tui.screens.child_run import ChildRunScreen
from looplet_tui.session import run_session
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.pilot import FIXED_CLOCK, settled, until

Ready = Callable[[Pilot[Any], DebuggerApp], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    make: Callable[[Path], DebuggerApp]
    ready: Ready
    caption: str


def _app(llm: Any = None, **kwargs: Any) -> DebuggerApp:
    agent = make_agent(delay=0)
    if llm is not None:
        agent["llm"] = llm
    session = run_session(agent, where="the demo", title="demo · clean customers.csv")
    return DebuggerApp(session, clock=lambda: FIXED_CLOCK, timings=False, **kwargs)


class StallingBackend(MockLLMBackend):
    """The demo's script, but reply ``stall_at`` streams half its text and then waits until the
    run is cancelled, so a screenshot catches the model mid-answer."""

    def __init__(self, script: Sequence[Any], stall_at: int) -> None:
        super().__init__(script, report_usage=True)
        self.stall_at = stall_at
        self.cancel = CancelToken()

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        if len(self.requests) + 1 == self.stall_at:
            reply = self.script[self.stall_at - 1]
            if on_delta is not None and isinstance(reply, LLMResponse):
                on_delta("text", reply.text[: len(reply.text) // 2])
            while not self.cancel.wait(0.01):
                pass
        return super().generate(messages, tools=tools, on_delta=on_delta)


def make_running(_: Path) -> DebuggerApp:
    llm = StallingBackend(SCRIPT, stall_at=3)
    app = _app(llm, start_paused=False)
    llm.cancel = app.controller.cancel_token  # closing the app releases the stalled reply
    return app


async def ready_running(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await until(
        pilot,
        lambda: app.controller.live is not None and app.controller.live.text,
        "the third reply to stream",
    )
    await until(pilot, lambda: not app.controller.unread, "the screen to catch up")
    await pilot.press("2")


def make_breakpoint(_: Path) -> DebuggerApp:
    app = _app(start_paused=False)
    app.controller.breakpoints.add(Breakpoint(tool="profile", after=2))
    app.controller.breakpoints.add(Breakpoint(on_error=True, enabled=False))
    return app


async def ready_breakpoint(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await settled(pilot, app)
    await pilot.press("3")


def make_approval(_: Path) -> DebuggerApp:
    return _app(start_paused=False)


async def ready_approval(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await settled(pilot, app)


def make_compaction(_: Path) -> DebuggerApp:
    app = _app(start_paused=False)
    app.controller.breakpoints.add(Breakpoint(tool="save_csv"))
    return app


async def ready_compaction(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await until(pilot, lambda: app.controller.approvals, "the drop_rows approval")
    app.controller.approve()
    await until(pilot, lambda: app.controller.pause_point is not None, "the save_csv breakpoint")
    await settled(pilot, app)
    await pilot.press("1")
    pane = app.query_one(StepDetails).prompt_pane
    await until(
        pilot,
        lambda: pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y,
        "the prompt to open at its newest messages",
    )


def make_finished(_: Path) -> DebuggerApp:
    return _app(start_paused=False)


async def ready_finished(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await until(pilot, lambda: app.controller.approvals, "the first approval")
    await pilot.press("A")
    await until(
        pilot,
        lambda: app.controller.approvals and app.controller.approvals[0].tool == "save_csv",
        "the second approval",
    )
    await pilot.press("a")
    await settled(pilot, app)
    await until(pilot, lambda: app.controller.finished, "the end")
    await settled(pilot, app)
    await pilot.press("4")


def record_trace(directory: Path) -> Path:
    """Run the demo to the end, approving everything, with a ProvenanceSink writing a trace."""
    agent = make_agent(delay=0)
    agent["hooks"] = [*agent["hooks"], ProvenanceSink(directory, llm=agent["llm"])]
    agent["config"].record_prompts = True
    for step in composable_loop(**agent):
        if step.approval is not None and not step.approval.decided:
            step.approval.approve()
    return directory


def make_replay(tmp: Path) -> DebuggerApp:
    trace = tmp / "demo-run"
    if not trace.exists():
        record_trace(trace)
    return DebuggerApp(replay_session(trace), clock=lambda: FIXED_CLOCK, timings=False)


async def ready_replay(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await settled(pilot, app)  # the replay opens on step 1
    await pilot.press("n")  # (not step 3: its traceback names this machine's paths)
    await until(pilot, lambda: app.controller.steps_done == 2, "replayed step 2")
    await settled(pilot, app)
    await pilot.press("4")


def make_agents(_: Path) -> DebuggerApp:
    """The research example: three searches as one batch, then the analyst sub-agent."""
    from looplet_core import DefaultState
    from looplet_core.examples.research_agent import LEAD_SCRIPT
    from looplet_core.examples.research_agent import make_agent as research

    agent = research(delay=0)
    agent["llm"] = MockLLMBackend(LEAD_SCRIPT, report_usage=True)  # never a real model here
    agent["state"] = DefaultState(run_id="research0001")
    session = run_session(agent, where="research_agent", title="research · how owls hunt")
    return DebuggerApp(session, start_paused=False, clock=lambda: FIXED_CLOCK, timings=False)


async def ready_agents(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await until(pilot, lambda: app.controller.finished, "the end")
    await settled(pilot, app)
    timeline = app.main.query_one(StepTimeline)
    timeline.select_step(4)
    timeline.focus()
    await pilot.pause()
    await pilot.press("3")


async def ready_subagent(pilot: Pilot[Any], app: DebuggerApp) -> None:
    await ready_agents(pilot, app)
    app.main.query_one(StepTimeline).focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ChildRunScreen), "the analyst's steps")
    await pilot.pause()
    await pilot.pause()


SCENARIOS = (
    Scenario(
        "running",
        make_running,
        ready_running,
        "Running: the model's third reply streams into the Response tab",
    ),
    Scenario(
        "breakpoint",
        make_breakpoint,
        ready_breakpoint,
        "Paused at a breakpoint (the second profile call), Tool call tab",
    ),
    Scenario(
        "approval",
        make_approval,
        ready_approval,
        "A dangerous call waits on the non-modal approval card",
    ),
    Scenario(
        "compaction",
        make_compaction,
        ready_compaction,
        "Just after a compaction: the marker, the drop in the sparkline, the new prompt",
    ),
    Scenario(
        "finished",
        make_finished,
        ready_finished,
        "The run finished: final answer in the header, the last result",
    ),
    Scenario(
        "replay",
        make_replay,
        ready_replay,
        "Replaying a saved trace: the scrubber under the timeline, step 2 of 10",
    ),
    Scenario(
        "agents",
        make_agents,
        ready_agents,
        "Three searches ran as one batch (┌∥ … └∥); step 4 ran the analyst sub-agent (⤷3)",
    ),
    Scenario(
        "subagent",
        make_agents,
        ready_subagent,
        "Enter on step 4: the analyst sub-agent's own steps, under a breadcrumb",
    ),
)
