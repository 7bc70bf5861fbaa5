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
from textual.widgets import TextArea

from looplet_core import (
    ApprovalHook,
    CancelToken,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    composable_loop,
)
from looplet_core.backends.base import DeltaCallback, ToolSchema
from looplet_core.examples import coding_agent
from looplet_core.messages import Message
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import replay_session
from looplet_tui.demo import SCRIPT, make_agent
from looplet_tui.live.breakpoints import Breakpoint, Phase
from looplet_tui.screens.child_run import ChildRunScreen
from looplet_tui.session import run_session
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.stop_editor import StopEditor
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


def coding_agent_args(workspace: Path, *, ask: Sequence[str] = ()) -> dict[str, Any]:
    """The coding agent's scripted fizzbuzz run in ``workspace`` (write, bash, edit, grep, done);
    ``ask`` names the tools that wait for approval."""
    return {
        "llm": MockLLMBackend(coding_agent.SCRIPT),
        "tools": coding_agent.build_tools(coding_agent.Workspace(workspace)),
        "task": coding_agent.SCRIPTED_TASK,
        "config": LoopConfig(
            max_steps=10, system_prompt=coding_agent.SYSTEM_PROMPT, record_prompts=True
        ),
        "hooks": [ApprovalHook(*ask, reason="changes the workspace")] if ask else [],
    }


def record_coding_trace(directory: Path) -> Path:
    """The coding agent's fizzbuzz run recorded as a trace in ``directory``."""
    args = coding_agent_args(directory.parent / f"{directory.name}-workspace")
    args["hooks"] = [ProvenanceSink(directory, llm=args["llm"])]
    for _ in composable_loop(**args):
        pass
    return directory


def make_coding_replay(tmp: Path) -> DebuggerApp:
    trace = tmp / "coding-run"
    if not trace.exists():
        record_coding_trace(trace)
    return DebuggerApp(replay_session(trace), clock=lambda: FIXED_CLOCK, timings=False)


def replay_to(number: int, *keys: str) -> Ready:
    """Step the replay to step ``number``, then press ``keys``."""

    async def ready(pilot: Pilot[Any], app: DebuggerApp) -> None:
        await settled(pilot, app)
        while app.controller.steps_done < number:
            done = app.controller.steps_done
            await pilot.press("n")
            await until(pilot, lambda d=done: app.controller.steps_done > d, f"step {done + 1}")
        await settled(pilot, app)
        for key in keys:
            await pilot.press(key)
        await settled(pilot, app)

    return ready


def make_coding_approval(tmp: Path) -> DebuggerApp:
    workspace = tmp / "coding-approval-workspace"
    workspace.mkdir(exist_ok=True)
    for stale in workspace.iterdir():  # each size starts from an empty workspace
        stale.unlink()
    args = coding_agent_args(workspace, ask=("write", "bash", "edit"))
    session = run_session(args, where="the coding agent", title="coding agent · fizzbuzz")
    return DebuggerApp(session, clock=lambda: FIXED_CLOCK, timings=False, start_paused=False)


def approval_of(tool: str, *, approve: Sequence[str] = ()) -> Ready:
    """Approve the calls of ``approve`` in turn, then wait on the approval of ``tool``."""

    async def ready(pilot: Pilot[Any], app: DebuggerApp) -> None:
        for name in approve:
            await until(
                pilot,
                lambda name=name: (
                    app.controller.approvals and app.controller.approvals[0].tool == name
                ),
                f"the {name} approval",
            )
            await pilot.press("a")
        await until(
            pilot,
            lambda: app.controller.approvals and app.controller.approvals[0].tool == tool,
            f"the {tool} approval",
        )
        await settled(pilot, app)

    return ready


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


def make_nested(tmp: Path) -> DebuggerApp:
    """The research example, stopped inside the analyst sub-agent after its second step."""
    app = make_agents(tmp)
    app.controller.breakpoints.add(Breakpoint(tool="read_page", phase=Phase.CHECK_DONE, after=2))
    return app


async def ready_nested(pilot: Pilot[Any], app: DebuggerApp) -> None:
    """Mid-run inside the analyst: its two read_page steps (one batch) nested, unfolded, under
    the run's live step 4 that runs it; the header names the sub-agent."""
    ctl = app.controller
    await until(
        pilot,
        lambda: ctl.pause_point is not None and ctl.pause_point.agent == "analyst",
        "the stop inside the analyst",
    )
    await settled(pilot, app)
    await until(pilot, lambda: not ctl.unread, "the screen to catch up")
    await pilot.pause()


def make_edit(_: Path) -> DebuggerApp:
    app = _app(start_paused=False)
    app.controller.breakpoints.add(Breakpoint(tool="profile", phase=Phase.PRE_DISPATCH))
    return app


async def _edit_to(pilot: Pilot[Any], app: DebuggerApp, text: str) -> None:
    """At the stop: open the editor with e, put ``text`` in it, and ask to apply it."""
    await settled(pilot, app)
    await pilot.press("e")
    await pilot.pause()
    area = app.query_one(StopEditor).query_one(TextArea)
    area.cursor_blink = False  # a blinking cursor's phase depends on the machine's speed
    area.load_text(text)
    await pilot.press("ctrl+s")


async def ready_edit(pilot: Pilot[Any], app: DebuggerApp) -> None:
    """Stopped before the first profile call, its call open in the editor with a bad column
    name typed and refused, so the picture shows the editor and its complaint."""
    await _edit_to(
        pilot, app, '{\n  "tool": "profile",\n  "args": {"column": "email", "sample": 3}\n}'
    )
    editor = app.query_one(StopEditor)
    await until(pilot, lambda: editor.problem_text, "the refusal")
    await pilot.pause()


async def ready_edited(pilot: Pilot[Any], app: DebuggerApp) -> None:
    """The first profile call edited to another column and run: the Tool call tab shows the
    debugger's edit with what the call was before and after."""
    await _edit_to(pilot, app, '{"tool": "profile", "args": {"column": "city"}}')
    app.controller.breakpoints.remove(1)
    await pilot.press("n")
    await until(pilot, lambda: app.controller.steps_done == 2, "the edited step")
    await settled(pilot, app)
    await pilot.press("3")
    app.clear_notifications()  # "Staged: ..." would time out on a slow machine: not in the picture
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
        "code-write",
        make_coding_replay,
        replay_to(2, "3"),
        "A coding agent's write call: the file's code, highlighted by its extension",
    ),
    Scenario(
        "code-edit",
        make_coding_replay,
        replay_to(4, "3"),
        "An edit call drawn as a unified diff of its old and new text",
    ),
    Scenario(
        "code-result",
        make_coding_replay,
        replay_to(3, "4"),
        "A bash result: exit code inline, the output as its real lines",
    ),
    Scenario(
        "code-prompt",
        make_coding_replay,
        replay_to(5, "1"),
        "The Prompt tab: each tool call and tool result drawn for reading",
    ),
    Scenario(
        "code-raw",
        make_coding_replay,
        replay_to(2, "3", "r"),
        "r shows the exact JSON of the call (r again: drawn for reading)",
    ),
    Scenario(
        "code-approval",
        make_coding_approval,
        approval_of("edit", approve=("write", "bash")),
        "An edit waits for approval: the card shows the diff that will be applied",
    ),
    Scenario(
        "agents",
        make_agents,
        ready_agents,
        "Three searches ran as one batch (┌∥ … └∥); step 4 ran the analyst sub-agent (⤷3)",
    ),
    Scenario(
        "edit",
        make_edit,
        ready_edit,
        "e at a stop: the call about to run, in the editor under the tabs; a bad edit is refused",
    ),
    Scenario(
        "edited",
        make_edit,
        ready_edited,
        "The edited call ran: the Tool call tab shows the debugger's edit, before and after",
    ),
    Scenario(
        "subagent",
        make_agents,
        ready_subagent,
        "Enter on step 4: the analyst sub-agent's own steps, under a breadcrumb",
    ),
    Scenario(
        "nested",
        make_nested,
        ready_nested,
        "Stopped inside the analyst sub-agent: its steps nested under step 4, which runs it",
    ),
)
