"""``DebuggerApp``: the Textual app around one run (or one recording) and its ``DebugController``.

The loop runs in a thread worker.  The worker touches no widget: the controller calls
``on_change`` (which only posts ``RunUpdated``), and the app reads the controller on its own thread
and redraws.  Keys call controller commands, which never block.  So the screen stays live while
the model thinks or a tool runs, and ``q`` works at any moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input

from looplet_core import LoopletError, Step
from looplet_core import Message as ModelMessage
from looplet_tui.app.collector import CollectorPace
from looplet_tui.app.edit_keys import EDIT_ACTIONS, EditActions
from looplet_tui.app.keys import KEY_BINDINGS, KEYS, debugger_commands, footer_order
from looplet_tui.app.redraw import RUNNING_FRAME, Redrawing
from looplet_tui.app.replay_keys import FRAME, REPLAY_ONLY, ReplayActions
from looplet_tui.app.step_view import StepView
from looplet_tui.app.subagent_keys import SUBAGENT_ACTIONS, SubagentActions
from looplet_tui.app.worker import RunWorker
from looplet_tui.live.filters import StepFilter
from looplet_tui.live.heap import SettledHeap
from looplet_tui.live.history import SampleTotals
from looplet_tui.live.runstate import Live
from looplet_tui.session import ReplaySession, Session, tool_views
from looplet_tui.widgets.approval_card import ApprovalCard
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.gauge import ContextGauge
from looplet_tui.widgets.header import RunHeader
from looplet_tui.widgets.scrubber import ReplayScrubber
from looplet_tui.widgets.stop_editor import StopEditor
from looplet_tui.widgets.timeline import Row, StepTimeline, inner

if TYPE_CHECKING:
    from looplet_tui.screens.checkpoints import CheckpointScreen

__all__ = ["DebuggerApp"]

_APPROVAL_ACTIONS = {"approve", "approve_always", "deny", "deny_with_message", "edit_args"}
_STEPPING_ACTIONS = {"next_step", "next_phase", "resume", "pause"}
_MAIN_SCREEN_ACTIONS = {action for _, action, _, _ in KEYS} - {"quit", "help"}
_LIVE_ONLY = {"next_phase", "resume", "pause", "step_into", "step_out"}
"""A replay has no phases to step through, and plays and pauses with space (or c and p)."""


class DebuggerApp(Redrawing, EditActions, StepView, SubagentActions, ReplayActions, RunWorker):
    """Step through one agent run: timeline, detail tabs, context gauge, approvals.

    ``clock`` and ``timings`` exist for deterministic screenshots and snapshot tests: a fixed
    clock freezes the elapsed time, ``timings=False`` hides per-step durations.
    """

    CSS_PATH = "app.tcss"
    TITLE = "looplet debugger"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        # The footer lists keys in this order and cuts what does not fit at the right, so the
        # ones a person must always find (? and q), then the approval keys, come first.
        *footer_order(KEY_BINDINGS),
        Binding("escape", "close_search", "Close search", show=False),
        # In a replay, c and p keep working as play and pause without taking footer room.
        Binding("c", "play", "Play", show=False),
        Binding("p", "stop", "Pause", show=False),
    ]

    class RunUpdated(Message):
        """The controller changed; read it.  Consecutive ones collapse into one."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DebuggerApp.RunUpdated)

    def __init__(
        self,
        session: Session,
        *,
        start_paused: bool = True,
        clock: Callable[[], float] | None = None,
        timings: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.timings = timings
        self.clock = clock or time.monotonic
        self.breakpoints_problem = ""
        self.controller = self._controller_for(session, start_paused=start_paused)
        self.loop_done = threading.Event()
        """Set when the worker has returned: the CLI waits on it before leaving."""
        self._store_lock = threading.Lock()
        """Orders closing an attached run's store between its follower and the app."""
        self._last_pause: object = None
        self._keys_state: tuple[object, ...] | None = None
        self._last_redraw = 0.0
        self._redraw_cpu = 0.0
        """The UI thread's CPU time (``time.thread_time``) at the last redraw."""
        self._frame_gap = RUNNING_FRAME
        """Seconds from one unattended redraw to the next: see ``redraw._UI_SHARE``."""
        self._heap = SettledHeap()
        """Held while the run goes on unattended (``live.heap``), let go when it stops."""
        self._collector = CollectorPace()
        """Held from mount to unmount: fewer young collections while on screen (``collector``)."""
        self._live_prompt: tuple[object, tuple[ModelMessage, ...]] = (None, ())
        self._redraw_timer: Timer | None = None
        self._history = SampleTotals()
        self._nested_shape: tuple[int, object] | None = None
        self._shown_row: Row | None = None
        self._approvals_seen = 0

    def open_session(self, session: Session, *, start_paused: bool = True) -> None:
        """Debug ``session`` in place of the current one: a fork's branch, a re-run of a replay.

        The current run is cancelled (a checkpointed run can be resumed later; its checkpoints
        and the branch tree keep it), the screen is rebuilt around a new controller, and the new
        run starts on its own worker, paused at its first phase unless ``start_paused`` is off.
        """
        self.controller.cancel("the debugger switched to another run")
        self._close_attached()
        self.session = session
        self.breakpoints_problem = ""
        self.controller = self._controller_for(session, start_paused=start_paused)
        self.loop_done = threading.Event()
        self._last_pause = None
        self._keys_state = None
        self._approvals_seen = 0
        self._live_prompt = (None, ())
        self._history = SampleTotals()
        self._nested_shape = None
        self._shown_row = None
        self.hits, self._hits_query, self._index = (), "", None
        while len(self.screen_stack) > 1:  # back to the debugger's own screen
            self.pop_screen()
        self.main.query_one(StepTimeline).show_source(self.controller)
        self._start()

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield StepTimeline(self.controller, id="timeline")
                yield Input(
                    placeholder="search steps · enter, then ] next, [ previous · escape closes",
                    id="search",
                )
                yield Input(placeholder="go to step, enter", id="seek")
                yield ContextGauge(id="gauge")
            with Vertical(id="right"):
                yield StepDetails(id="details")
                yield StopEditor(id="editor")
        yield ApprovalCard(id="approval")
        yield ReplayScrubber(id="scrubber")
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p is listed in ?

    def on_mount(self) -> None:
        self._collector.hold()
        self.main.query_one(StepTimeline).timings = self.timings
        self.main.query_one(StepDetails).timings = self.timings
        self.set_interval(1.0, self._tick)
        self.set_interval(FRAME, self.play_tick)
        self._start()

    def _start(self) -> None:
        """Point the screen at ``self.session`` and start its worker."""
        header = self.main.query_one(RunHeader)
        header.title = self.session.title
        header.replay = isinstance(self.session, ReplaySession)
        details = self.main.query_one(StepDetails)
        details.replay = header.replay
        views = tool_views(self.session)
        details.views = details.prompt_pane.views = views
        self.main.query_one(ApprovalCard).views = views
        gauge = self.main.query_one(ContextGauge)
        gauge.warn_at, gauge.compact_at = self.session.thresholds
        self.main.query_one(StepTimeline).focus()
        if self.breakpoints_problem:
            self.notify(self.breakpoints_problem, severity="error", markup=False)
        self.controller.on_change = self._post_update
        self.main.query_one(ReplayScrubber).display = self.player is not None
        self.main.query_one(StepTimeline).set_filter(None)
        self.step_filter = StepFilter()
        if self.player is not None:  # nothing runs: the player moves on the UI thread
            self.loop_done.set()
            self._guarded(self.player.forward)  # open on the first step, not an empty screen
        else:
            self.run_loop(self.controller, self.session, self.loop_done)
        self._refresh()

    def on_unmount(self) -> None:
        """However the app ends (q, ctrl+c, a test leaving ``run_test``), cancel the run so the
        worker thread never stays blocked at a breakpoint with nobody left to release it."""
        self.controller.cancel("the debugger closed")
        self._heap.release()
        self._collector.release()
        self._close_attached()

    def _post_update(self) -> None:
        """Called on the worker thread: post only (thread-safe), never touch widgets here."""
        self.post_message(self.RunUpdated())

    # -- actions: stepping ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._covered() and action in _MAIN_SCREEN_ACTIONS:
            return False  # a screen or dialog on top (checkpoints, fork editor) has its own keys
        if action in REPLAY_ONLY:
            return self.player is not None
        if action in _LIVE_ONLY and self.player is not None:
            return False
        if action in EDIT_ACTIONS:
            return self.player is None and self.edit_available(action)
        if action in SUBAGENT_ACTIONS:
            return self.subagent_available(action)
        if action in _APPROVAL_ACTIONS:
            return bool(self.controller.approvals)
        if action in _STEPPING_ACTIONS and self.controller.finished:
            return None
        return True

    def _covered(self) -> bool:
        """Whether another screen or dialog is in front: its keys are the only ones that act,
        and the footer lists only them (the fork editor must not offer ``n Next``)."""
        return self.screen is not self.main

    def _can_step(self) -> bool:
        if self.controller.finished:
            self.notify("The run has ended.", severity="warning")
            return False
        if self.controller.approvals:
            # On the card, not in a toast: the hint goes when the call is decided, never lingers.
            card = self.main.query_one(ApprovalCard)
            card.problem = "Decide this call first (a approve, d deny, e edit); then it goes on."
        return True

    def action_next_step(self) -> None:
        if self.player is not None:
            self.action_step_forward()
        elif self._can_step():
            self.controller.next_step()

    def action_next_phase(self) -> None:
        if self._can_step():
            self.controller.next_phase()

    def action_resume(self) -> None:
        if self._can_step():
            self.controller.resume()

    def action_pause(self) -> None:
        if self._can_step():
            self.controller.pause()

    async def action_quit(self) -> None:
        """Cancel the run, wake the worker wherever it waits, and leave without waiting for it."""
        self.controller.cancel("quit in the debugger")
        self.exit(0)

    def action_tab(self, tab: str) -> None:
        self.main.query_one(StepDetails).switch(tab)

    def action_toggle_fold(self) -> None:
        details = self.main.query_one(StepDetails)
        details.folded = not details.folded

    def action_toggle_raw(self) -> None:
        details = self.main.query_one(StepDetails)
        details.raw = not details.raw

    # -- actions: breakpoints -------------------------------------------------------------------

    def action_toggle_breakpoint(self) -> None:
        row = inner(self.main.query_one(StepTimeline).selected)
        step = row.step if isinstance(row, Live) else row
        tool = step.tool if isinstance(step, Step) else None
        if tool is None:
            self.notify("Select a step with a tool call to break on its tool.", severity="warning")
            return
        try:
            added = self.controller.breakpoints.toggle_tool(tool)
        except LoopletError as exc:  # an attached run's store could not be written
            self.notify(f"Breakpoint not changed: {exc}", severity="error", markup=False)
            return
        verb = "Breakpoint set: before" if added else "Breakpoint removed from"
        self.notify(f"{verb} every {tool} call", markup=False)
        self.main.query_one(StepTimeline).refresh()

    def action_breakpoints(self) -> None:
        from looplet_tui.screens.breakpoints import BreakpointsScreen

        self.push_screen(
            BreakpointsScreen(self.controller.breakpoints, self.session.breakpoints_file),
            lambda _: self._redraw_timeline(),
        )

    def action_checkpoints(self) -> None:
        from looplet_tui.screens.checkpoints import browser_for

        found = browser_for(self.session, lambda: self.controller.finished)
        if isinstance(found, str):
            self.notify(found, severity="warning", markup=False)
        else:
            self.push_screen(found)

    def on_checkpoint_screen_branch_chosen(self, message: CheckpointScreen.BranchChosen) -> None:
        self.open_session(message.session)

    def _redraw_timeline(self) -> None:
        self.main.query_one(StepTimeline).refresh()

    # -- actions: search, help, palette ---------------------------------------------------------

    def action_search(self) -> None:
        search = self.main.query_one("#search", Input)
        search.add_class("-open")
        search.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            self.main.query_one(StepTimeline).search(event.value, include_current=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            self.search_submitted(event.value)
        elif event.input.id == "seek":
            self.seek_to(event.value)

    def action_close_search(self) -> None:
        self.close_box("#search")
        self.close_box("#seek")

    def action_help(self) -> None:
        from looplet_tui.screens.help import HelpScreen, help_rows

        rows = help_rows((KEY_BINDINGS, self.BINDINGS, StepTimeline.BINDINGS), self.in_this_mode)
        self.push_screen(HelpScreen(rows, "replay" if self.player is not None else "live run"))

    def in_this_mode(self, action: str) -> bool:
        """Whether ``action`` belongs to this debugger's mode: a replay's keys are not a live
        run's (no phases to step through), and a live run has no playhead to move."""
        if action in REPLAY_ONLY:
            return self.player is not None
        return not (action in _LIVE_ONLY and self.player is not None)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from debugger_commands(self, self.in_this_mode)
        yield from super().get_system_commands(screen)
