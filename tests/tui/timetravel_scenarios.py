"""The debugger's time-travel views, each a deterministic app plus the steps that bring it there.

Companion of ``tests/tui/scenarios.py`` (same shape: ``make``, ``ready``, ``caption``), shared by
``tests/tui/test_snapshots_timetravel.py`` and ``screenshots/make_screenshots.py``, so the
pictures in the docs are exactly what the snapshot tests check.

Everything on screen must be the same on every machine and every run, so:

* the run id is fixed (``DefaultState(run_id=...)``): checkpoint ids derive from it, and a default
  run id is random;
* the fork is named (``fork(..., branch=...)``): the default branch name is random too;
* the fork is made with ``looplet_core.runs.fork.fork`` and run to its end before the browser
  opens, not through the fork editor: what a fork started from the UI does next is the UI's
  business and may change, while the tree it leaves in the store is what this picture is about;
* the checkpoint browser leaves step durations out, as the app's ``timings=False`` asks;
* the run diff's labels are the names a user would type (``looplet-tui diff runs/a runs/b``),
  not the temporary directories the traces are written to;
* the scripted demo agent, no model delay, a frozen clock, no per-step durations, and waits on
  state (never on wall-clock sleeps), as in ``scenarios.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from looplet_core import (
    DefaultState,
    LLMResponse,
    MemoryCheckpointStore,
    MockLLMBackend,
    ProvenanceSink,
    Step,
    ToolCall,
    composable_loop,
    fork,
)
from looplet_tui.app import DebuggerApp
from looplet_tui.demo import SCRIPT, make_agent, make_tools
from looplet_tui.live.runstate import Live
from looplet_tui.rundiff.align import compare_traces
from looplet_tui.screens.checkpoints import CheckpointScreen
from looplet_tui.screens.fork import ForkEditScreen
from looplet_tui.screens.run_diff import RunDiffApp, RunDiffScreen
from looplet_tui.session import RunSession, run_session
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.pilot import FIXED_CLOCK, settled, until

Ready = Callable[[Pilot[Any], App[Any]], Awaitable[None]]

RUN_ID = "demo-run"
"""The checkpointed run's id, fixed so the checkpoint ids on screen are too."""
FORK_FROM_STEP = 5
"""The checkpoint the fork starts from: after ``find_duplicates(key='email')``, before the drop."""
FORK_BRANCH = "by-name"
"""The fork's name: it looks for duplicates by name instead of by email."""
MAX_STEPS = 20
"""The demo's step budget (``make_agent``'s default, passed explicitly for ``StepsLeft``)."""
COMPACTED_STEP = 9
"""The demo's step whose prompt was compacted (the history passes 60% of its small window)."""


@dataclass(frozen=True)
class Scenario:
    """One picture: ``make`` builds the app (``tmp`` is a scratch directory shared by the
    scenarios of one session), ``ready`` drives it to the state shown, ``caption`` says what it
    shows.  Unlike ``scenarios.Scenario`` the app may be any Textual app: the run diff is a
    separate app (``looplet-tui diff``), not a screen of the debugger's."""

    name: str
    make: Callable[[Path], App[Any]]
    ready: Ready
    caption: str


def _debugger(app: App[Any]) -> DebuggerApp:
    """The scenario's app as the debugger (the ready functions of debugger scenarios need it)."""
    assert isinstance(app, DebuggerApp), f"expected the debugger, got {type(app).__name__}"
    return app


def _demo_app(*, checkpoints: bool = False, hooks: Sequence[object] = ()) -> DebuggerApp:
    """The demo, running from the start; with ``checkpoints`` every checkpoint is kept in a
    memory store under ``RUN_ID``; ``hooks`` go after the demo's own."""
    agent = make_agent(delay=0, max_steps=MAX_STEPS)
    agent["hooks"] = [*agent["hooks"], *hooks]
    if checkpoints:
        agent["state"] = DefaultState(run_id=RUN_ID)
        agent["config"].checkpoint = MemoryCheckpointStore()
    session = run_session(agent, where="the demo", title="demo · clean customers.csv")
    return DebuggerApp(session, clock=lambda: FIXED_CLOCK, timings=False, start_paused=False)


async def _finish(pilot: Pilot[Any], app: DebuggerApp) -> None:
    """Run the demo to its end, approving its two dangerous calls in turn.

    Each approval is awaited by tool name: a decided request stays listed until the worker
    thread takes it, so "an approval is waiting" alone could approve the same one twice."""
    ctl = app.controller
    for tool in ("drop_rows", "save_csv"):
        await until(
            pilot,
            lambda tool=tool: ctl.approvals and ctl.approvals[0].tool == tool,
            f"the {tool} approval",
        )
        ctl.approve()
    await until(pilot, lambda: ctl.finished, "the end")
    await settled(pilot, app)


def _fork_by_name(app: DebuggerApp) -> None:
    """Branch ``FORK_BRANCH`` from the step-5 checkpoint: the same call by name, then the end.

    Made and run to its end here, on the test's thread, once the debugger's own run has ended (so
    nothing else writes to the store meanwhile)."""
    session = app.session
    assert isinstance(session, RunSession) and session.config.checkpoint is not None
    store = session.config.checkpoint
    start = next(
        cp
        for cp in map(store.get, store.list(RUN_ID))
        if cp.step == FORK_FROM_STEP and cp.reason == "step"
    )
    answer = "Rows 4 and 7 repeat rows 1 and 3 by name as well; nothing else to drop."
    done = LLMResponse(
        text="Same duplicates by name.",
        tool_calls=[ToolCall("done", {"answer": answer}, "call_done_by_name")],
        stop_reason="tool_calls",
        model="scripted",
    )
    branch = fork(
        store,
        start.id,
        args={"key": "name"},
        llm=MockLLMBackend([done], report_usage=True),
        tools=make_tools(),
        branch=FORK_BRANCH,
    )
    for _ in branch:
        pass


async def _open_browser(pilot: Pilot[Any], app: DebuggerApp) -> CheckpointScreen:
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, CheckpointScreen), "the checkpoint browser")
    screen = app.screen
    assert isinstance(screen, CheckpointScreen)
    return screen


async def _highlight(
    pilot: Pilot[Any], screen: CheckpointScreen, wanted: Callable[[Any], bool], what: str
) -> None:
    """Move the tree's cursor with the arrow keys until ``wanted(checkpoint)``: up first (the
    tree opens at the run's newest checkpoint, below the ones wanted here), then down."""
    tree = screen.branch_tree
    for key in ("up", "down"):
        for _ in range(40):
            snapshot = screen.snapshot
            if snapshot is not None and wanted(snapshot.checkpoint):
                await pilot.pause()
                return
            line = tree.cursor_line
            await pilot.press(key)
            await pilot.pause()
            if tree.cursor_line == line:  # the first or the last line
                break
    raise AssertionError(f"no checkpoint in the tree is {what}")


def make_checkpoint_tree(_: Path) -> App[Any]:
    return _demo_app(checkpoints=True)


async def ready_checkpoint_tree(pilot: Pilot[Any], app: App[Any]) -> None:
    debugger = _debugger(app)
    await _finish(pilot, debugger)
    _fork_by_name(debugger)
    screen = await _open_browser(pilot, debugger)
    await _highlight(
        pilot,
        screen,
        lambda cp: cp.branch_id == FORK_BRANCH and cp.reason == "fork",
        "the fork's first checkpoint",
    )


def make_fork_editor(_: Path) -> App[Any]:
    return _demo_app(checkpoints=True)


async def ready_fork_editor(pilot: Pilot[Any], app: App[Any]) -> None:
    debugger = _debugger(app)
    await _finish(pilot, debugger)
    screen = await _open_browser(pilot, debugger)
    await _highlight(
        pilot,
        screen,
        lambda cp: cp.branch_id == "main" and cp.step == FORK_FROM_STEP and cp.reason == "step",
        f"main's step {FORK_FROM_STEP}",
    )
    await pilot.press("f")
    await until(pilot, lambda: isinstance(debugger.screen, ForkEditScreen), "the fork editor")
    await pilot.pause()


_NOTE = "\n[steps left: "
HOOK_STEP = 2
"""The step whose prompt diff shows ``StepsLeft``'s rewrite (and the first call's result)."""


class StepsLeft:
    """A ``pre_prompt`` hook that keeps a note of the steps left at the end of the system message.

    It rewrites a message the model has already seen, which is what the Diff tab's "changed by"
    line is for: the picture shows the hook named and the old and new line."""

    name = "steps_left"

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps

    def pre_prompt(self, state: Any, log: Any, ctx: Any, step: int) -> None:
        system, *rest = list(state.conversation)
        base = system.content.split(_NOTE)[0]
        note = f"{base}{_NOTE}{self.max_steps - step + 1} of {self.max_steps}]"
        state.conversation.replace([dataclasses.replace(system, content=note), *rest])


async def _diff_tab_at(pilot: Pilot[Any], app: DebuggerApp, number: int, hook: str) -> None:
    """Select step ``number`` in the timeline (it opens at the newest) and open the Diff tab.

    ``hook`` must have changed that step's prompt: if the demo drifts (another step compacts),
    this fails here rather than producing a picture of something else."""
    step = app.controller.step(number)
    assert step is not None and any(d.hook == hook for d in step.decisions), step
    timeline = app.query_one(StepTimeline)
    timeline.focus()
    for _ in range(40):
        if _number(timeline.selected) == number:
            break
        await pilot.press("k")
    assert _number(timeline.selected) == number, timeline.selected
    await pilot.press("5")
    tabs = app.query_one(StepDetails).query_one(TabbedContent)
    await until(pilot, lambda: tabs.active == "tab-diff", "the Prompt diff tab")
    await pilot.pause()


def _number(row: object) -> int | None:
    """The step number of a timeline row: a recorded step, or the live one in progress."""
    if isinstance(row, Live):
        return row.step.number
    return row.number if isinstance(row, Step) else None


def make_prompt_diff(_: Path) -> App[Any]:
    return _demo_app()


async def ready_prompt_diff(pilot: Pilot[Any], app: App[Any]) -> None:
    # To the end, not paused inside step 9: the step names the compacting hook once recorded.
    debugger = _debugger(app)
    await _finish(pilot, debugger)
    await _diff_tab_at(pilot, debugger, COMPACTED_STEP, "threshold_compact")


def make_prompt_diff_hook(_: Path) -> App[Any]:
    return _demo_app(hooks=[StepsLeft(MAX_STEPS)])


async def ready_prompt_diff_hook(pilot: Pilot[Any], app: App[Any]) -> None:
    debugger = _debugger(app)
    await _finish(pilot, debugger)
    await _diff_tab_at(pilot, debugger, HOOK_STEP, StepsLeft.name)


def _record(directory: Path, *, deny_drop: bool) -> Path:
    """The demo run to its end with a ``ProvenanceSink`` writing a trace into ``directory``.

    Every approval is granted, except ``drop_rows`` when ``deny_drop``: then the run goes on
    without the drop, and its final answer (the script's last reply) says so."""
    script = list(SCRIPT)
    if deny_drop:
        answer = "Kept the duplicates (the drop was denied), filled 2 missing emails, saved 8 rows."
        script[-1] = LLMResponse(
            text="Done.",
            tool_calls=[ToolCall("done", {"answer": answer}, "call_done_4")],
            stop_reason="tool_calls",
            model="scripted",
        )
    agent = make_agent(delay=0)
    llm = MockLLMBackend(script, report_usage=True, stream_chunk=6)
    agent["llm"] = llm
    agent["hooks"] = [*agent["hooks"], ProvenanceSink(directory, llm=llm)]
    agent["config"].record_prompts = True
    for step in composable_loop(**agent):
        approval = step.approval
        if approval is not None and not approval.decided:
            if deny_drop and step.tool == "drop_rows":
                approval.deny("Keep every row: duplicates are reviewed by hand.")
            else:
                approval.approve()
    return directory


RUN_A = "runs/approved"
RUN_B = "runs/drop-denied"
"""The run diff's labels: the trace directories as a user would name them on the command line."""


def make_run_diff(tmp: Path) -> App[Any]:
    a, b = tmp / "run-approved", tmp / "run-drop-denied"
    if not a.exists():
        _record(a, deny_drop=False)
    if not b.exists():
        _record(b, deny_drop=True)
    comparison = dataclasses.replace(compare_traces(a, b), label_a=RUN_A, label_b=RUN_B)
    return RunDiffApp(comparison)


async def ready_run_diff(pilot: Pilot[Any], app: App[Any]) -> None:
    await until(pilot, lambda: isinstance(app.screen, RunDiffScreen), "the run diff")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, RunDiffScreen)
    first = screen.comparison.first
    assert first is not None and screen.selected is first, "not opened at the first divergence"


SCENARIOS = (
    Scenario(
        "checkpoint-tree",
        make_checkpoint_tree,
        ready_checkpoint_tree,
        "Checkpoints (t): the run's branch tree with a fork, and the state at the fork",
    ),
    Scenario(
        "fork-editor",
        make_fork_editor,
        ready_fork_editor,
        "Forking from step 5 (f): the edit as JSON, and the steps whose effects stay",
    ),
    Scenario(
        "prompt-diff",
        make_prompt_diff,
        ready_prompt_diff,
        "Prompt diff (5) after a compaction: what the hook took out of the prompt",
    ),
    Scenario(
        "prompt-diff-hook",
        make_prompt_diff_hook,
        ready_prompt_diff_hook,
        "Prompt diff (5) after a hook rewrote a message: the hook named, the line out and in",
    ),
    Scenario(
        "run-diff",
        make_run_diff,
        ready_run_diff,
        "Two runs side by side (looplet-tui diff A B), opened at the first divergence",
    ),
)
