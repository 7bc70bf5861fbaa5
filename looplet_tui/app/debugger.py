"""``DebuggerApp``: the Textual app around one run (or one recording) and its ``DebugController``.

The loop runs in a thread worker.  The worker touches no widget: the controller calls
``on_change`` (which only posts ``RunUpdated``), and the app reads the controller on its own thread
and redraws.  Keys call controller commands, which never block.  So the screen stays live while
the model thinks or a tool runs, and ``q`` works at any moment.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, TabbedContent

from looplet_core import LoopletError, Step
from looplet_core import Message as ModelMessage
from looplet_tui.app.collector import CollectorPace
from looplet_tui.app.edit_keys import EDIT_ACTIONS, EditActions
from looplet_tui.app.keys import KEY_BINDINGS, KEYS, debugger_commands, footer_order
from looplet_tui.app.replay_keys import FRAME, REPLAY_ONLY, ReplayActions, count_matches
from looplet_tui.app.subagent_keys import SUBAGENT_ACTIONS, SubagentActions
from looplet_tui.live.attach import debugger_name, follow
from looplet_tui.live.breakpoints import BreakpointSet
from looplet_tui.live.context import stats_for
from looplet_tui.live.controller import DebugController
from looplet_tui.live.filters import StepFilter
from looplet_tui.live.heap import SettledHeap
from looplet_tui.live.history import SampleTotals
from looplet_tui.live.runstate import Live, Marker
from looplet_tui.live.store_breakpoints import StoreBreakpointSet
from looplet_tui.replay.player import ReplayPlayer
from looplet_tui.screens.child_run import ChildRunScreen
from looplet_tui.session import AttachSession, ReplaySession, RunSession, Session, tool_views
from looplet_tui.widgets.approval_card import ApprovalCard
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.gauge import ContextGauge
from looplet_tui.widgets.header import RunHeader, describe_run
from looplet_tui.widgets.prompt_diff import PromptDiffPane
from looplet_tui.widgets.scrubber import ReplayScrubber
from looplet_tui.widgets.stop_editor import StopEditor
from looplet_tui.widgets.timeline import Nested, Row, StepTimeline, inner

if TYPE_CHECKING:
    from looplet_tui.screens.checkpoints import CheckpointScreen

__all__ = ["DebuggerApp"]

_RUNNING_FRAME = 0.1
"""The least seconds between redraws while the run goes on unattended (stops are drawn at once).
Ten frames a second keep a flat-out run readable; at 30 the frames' layout and compositing held
the GIL long enough to take most of the worker's time and to delay keys by 50-70 ms (median)."""
_UI_SHARE = 0.15
"""While the run goes on unattended, the UI thread's share of the CPU: the next redraw waits
until the CPU time the UI spent since the last one (its layout, compositing and messages) is at
most this share of the time between them.  Frames cost 20-40 ms at 120x36 with a long run on
screen, and every one of them is GIL the worker does not have: at ten a second they took a
third of a flat-out run's time; paced by their cost, a costly screen redraws less often and the
run keeps at least ``1 - _UI_SHARE`` of the CPU.  A cheap screen still redraws ten times a
second; a stop is drawn at once whatever it costs."""
_SLOWEST_FRAME = 1.0
"""The most seconds between redraws while the run goes on, however costly its frames."""
_APPROVAL_ACTIONS = {"approve", "approve_always", "deny", "deny_with_message", "edit_args"}
_STEPPING_ACTIONS = {"next_step", "next_phase", "resume", "pause"}
_MAIN_SCREEN_ACTIONS = {action for _, action, _, _ in KEYS} - {"quit", "help"}
_LIVE_ONLY = {"next_phase", "resume", "pause", "step_into", "step_out"}
"""A replay has no phases to step through, and plays and pauses with space (or c and p)."""


class DebuggerApp(EditActions, SubagentActions, ReplayActions):
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
        self._frame_gap = _RUNNING_FRAME
        """Seconds from one unattended redraw to the next: see ``_UI_SHARE``."""
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

    def _controller_for(self, session: Session, *, start_paused: bool) -> DebugController:
        """A controller for ``session``, with the breakpoints saved next to it (an attached
        run's are its store's: the run checks them where it runs)."""
        breakpoints = BreakpointSet()
        if isinstance(session, AttachSession):
            breakpoints = StoreBreakpointSet(session.store, session.run_id, by=debugger_name())
            try:
                breakpoints.pull()
            except LoopletError as exc:
                self.breakpoints_problem = f"Cannot read the run's breakpoints: {exc}"
        path = session.breakpoints_file
        if path is not None and path.is_file():
            try:
                breakpoints.load(path)
            except ValueError as exc:
                self.breakpoints_problem = str(exc)
        if isinstance(session, ReplaySession):
            reader = session.reader
            return ReplayPlayer(
                session.steps,
                session.events,
                result=session.result,
                numbers=[e.number for e in reader.entries] if reader else None,
                model=(reader.model or "") if reader is not None else "",
                breakpoints=breakpoints,
                window=session.window,
                clock=self.clock,
            )
        schemas = session.tools.schemas() if isinstance(session, RunSession) else ()
        return DebugController(
            start_paused=start_paused and not isinstance(session, AttachSession),
            breakpoints=breakpoints,
            window=session.window,
            tool_schemas=schemas,
            validate=session.tools.validate if isinstance(session, RunSession) else None,
            tools=session.tools if isinstance(session, RunSession) else None,
            clock=self.clock,
        )

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

    def _close_attached(self) -> None:
        """Close an attached run's store once its follower is done with it (the follower
        closes it itself if it is still running: it sees the cancel)."""
        session = self.session
        if isinstance(session, AttachSession):
            with self._store_lock:
                if self.loop_done.is_set():
                    session.store.close()

    def _post_update(self) -> None:
        """Called on the worker thread: post only (thread-safe), never touch widgets here."""
        self.post_message(self.RunUpdated())

    # -- the worker -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, name="looplet run", group="run")
    def run_loop(self, ctl: DebugController, session: Session, done: threading.Event) -> None:
        """Drive the loop (or the replay) on this thread; only the controller talks to the UI.

        Takes its controller, session and done-event as arguments rather than reading them off
        the app, so a run the user switched away from finishes against its own objects."""
        try:
            if isinstance(session, AttachSession):  # the run is another process's: follow it
                try:
                    follow(ctl, session, self._notify_from_worker)
                finally:
                    with self._store_lock:  # a run over by itself stays open to browse (t)
                        if ctl.cancel_token.cancelled:
                            session.store.close()
                        done.set()
                return
            assert isinstance(session, RunSession)  # a replay has no worker (ReplayPlayer)
            loop = session.start([ctl], ctl.cancel_token)
            ctl.watch(session.state)  # its usage so far shows now, not after the next model call
            for step in session.state.steps:  # a resumed run's history, before it continues
                ctl.record(step)
            for step in loop:
                if step.approval is not None and not step.approval.decided:
                    ctl.request_approval(step)
            ctl.finish(session.state.result)
        except Exception as exc:  # a broken agent must show on screen, not kill the debugger
            ctl.fail(exc)
        finally:
            done.set()

    def _notify_from_worker(self, text: str, severity: str) -> None:
        """For the attach follower: a toast, drawn on the UI thread (text shown literally)."""
        level = severity if severity in ("information", "warning", "error") else "information"
        with contextlib.suppress(RuntimeError):  # the app already closed
            self.call_from_thread(self.notify, text, severity=level, markup=False)  # pyright: ignore[reportArgumentType]

    # -- redrawing ------------------------------------------------------------------------------

    @property
    def _main_screen_up(self) -> bool:
        """False while the app is starting or closing: updates then have nowhere to go."""
        return bool(self.screen_stack) and self.main.is_attached

    def on_debugger_app_run_updated(self, _: RunUpdated) -> None:
        """Redraw now, or (while the run goes flat out) once ``_frame_gap`` has passed.

        The controller announces nothing more until the redraw acknowledges it, so a throttled
        redraw also throttles the messages: the UI stays light and the worker keeps the CPU.
        A stop (pause, breakpoint, approval, end) is always drawn at once.
        """
        ctl = self.controller
        stopped = ctl.pause_point is not None or bool(ctl.approvals) or ctl.finished
        wait = self._last_redraw + self._frame_gap - time.monotonic()
        if stopped or wait <= 0:
            self._redraw()
        elif self._redraw_timer is None:
            self._redraw_timer = self.set_timer(wait, self._redraw)

    def _redraw(self) -> None:
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
            self._redraw_timer = None
        ctl = self.controller
        now, cpu = time.monotonic(), time.thread_time()
        if ctl.pause_point is not None or ctl.approvals or ctl.finished:
            self._heap.release()
            self._frame_gap = _RUNNING_FRAME
        elif not self._heap.held:  # the run goes on again: the time since was not a frame's
            self._heap.hold()
        else:
            spent = (cpu - self._redraw_cpu) / _UI_SHARE
            self._frame_gap = min(_SLOWEST_FRAME, max(_RUNNING_FRAME, spent))
        self._last_redraw, self._redraw_cpu = now, cpu
        ctl.acknowledge()
        if self._main_screen_up:
            with contextlib.suppress(NoMatches):  # closing: a widget is already gone
                self._refresh()

    def _refresh(self) -> None:
        ctl = self.controller
        header = self.main.query_one(RunHeader)
        header.run_state = ctl.run_state
        header.step = ctl.steps_done
        header.max_steps = ctl.max_steps
        header.model = ctl.model
        usage = ctl.usage
        header.tokens_in, header.tokens_out = usage.input_tokens, usage.output_tokens
        header.elapsed = ctl.elapsed
        header.detail = describe_run(ctl)
        timeline = self.main.query_one(StepTimeline)
        pause = (ctl.pause_point, len(ctl.approvals))
        if pause != self._last_pause and (ctl.pause_point or ctl.approvals):
            timeline.follow = True  # a debugger shows where it stopped
        self._last_pause = pause
        timeline.sync()
        self._show(timeline.selected)  # now, in this frame: not a frame later via the message
        self.main.query_one(ApprovalCard).requests = tuple(ctl.approvals)
        if len(ctl.approvals) > self._approvals_seen:
            self.main.query_one(StepDetails).switch("tool")
        self._approvals_seen = len(ctl.approvals)
        player = self.player
        if player is not None:
            scrubber = self.main.query_one(ReplayScrubber)
            scrubber.position, scrubber.total = player.position, player.total
            scrubber.playing, scrubber.speed = player.playing, player.speed
            scrubber.note = self._scrubber_note()
        self.sync_editor()
        editable = ctl.editable
        # what check_action depends on
        keys = (
            bool(ctl.approvals),
            ctl.finished,
            editable and editable[0],
            ctl.staged_edit,
            ctl.depth > 0,
            self.subagent_available("step_into"),  # not the phase: it flips on every n
        )
        if keys != self._keys_state:  # the footer rebuilds itself on every refresh: only then
            self._keys_state = keys
            self.refresh_bindings()

    def _tick(self) -> None:
        if not self.controller.finished and self._main_screen_up:
            for header in self.main.query(RunHeader):  # none while the app is closing
                header.elapsed = self.controller.elapsed

    def on_step_timeline_selected(self, message: StepTimeline.Selected) -> None:
        if message.row is self._shown_row:
            # The redraw showed it already.  The step in progress is one object the worker keeps
            # updating: by the time this message arrives it has moved on, and drawing it here
            # would draw every redraw twice; the controller's next change notice redraws it.
            return
        if self._main_screen_up:
            with contextlib.suppress(NoMatches):  # closing: a widget is already gone
                self._show(message.row)

    def on_step_timeline_child_requested(self, message: StepTimeline.ChildRequested) -> None:
        """Enter on a step that ran a sub-agent: open the sub-agent's steps on top."""
        message.stop()
        run = message.step.run_id or "run"
        self.push_screen(ChildRunScreen(message.step, [f"run {run}"], timings=self.timings))

    def _show(self, row: Row | None) -> None:
        self._shown_row = row
        if isinstance(row, Nested):  # a sub-agent's step (app/subagent_keys.py)
            self.show_nested(row)
            return
        ctl = self.controller
        if isinstance(row, Step):
            version: object = ctl.revisions.get(row.number, 0)
        elif isinstance(row, Live):
            version = (row.revision, row.phase, row.activity)
        else:
            version = None
        if isinstance(row, Step):
            self._load_prompt(row)
        details = self.main.query_one(StepDetails)
        details.running = not (ctl.pause_point or ctl.approvals or ctl.finished)
        details.show_row(row, version)
        if details.active == "diff":  # a diff walks whole prompts: only when it is on screen
            for diff_pane in self.main.query(PromptDiffPane):
                diff_pane.show_row(inner(self._with_prompt(row)), ctl.step, self._load_prompt)
        gauge = self.main.query_one(ContextGauge)
        samples = ctl.samples
        history = self._history.update(samples)
        if history is not None:
            gauge.history = history
        self._nested_shape = None  # the gauge holds the run's history, not a sub-agent's
        if isinstance(row, Marker):
            return
        step = row.step if isinstance(row, Live) else row
        if step is None:
            gauge.stats = ctl.context()
            gauge.selected = len(samples) - 1 if samples else None
            return
        gauge.stats = (
            step.context if isinstance(row, Live) else stats_for(step, ctl.window, ctl.tool_schemas)
        )
        gauge.selected = next(
            (i for i in range(len(samples) - 1, -1, -1) if samples[i].step == step.number), None
        )

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-diff":
            self._show(self.main.query_one(StepTimeline).selected)

    def _with_prompt(self, row: Row | None) -> Row | None:
        """The live row with its prompt on its step, as the Diff tab reads it (copied once per
        prompt: the live row keeps the loop's view instead, to stay cheap while running)."""
        if not isinstance(row, Live) or row.prompt is None or row.step.prompt is not None:
            return row
        view, copied = self._live_prompt
        if view is not row.prompt:
            self._live_prompt = view, copied = row.prompt, tuple(row.prompt)
        return Live(
            replace(row.step, prompt=copied),
            row.prompt,
            row.phase,
            row.activity,
            row.text,
            row.reasoning,
            row.revision,
        )

    def _load_prompt(self, step: Step) -> None:
        """A replayed step's prompt is read from the trace when it is first shown."""
        session = self.session
        if not isinstance(session, ReplaySession) or session.load_prompt is None:
            return
        if step.prompt is None and step.llm_call is not None:
            try:
                step.prompt = session.load_prompt(step.llm_call.index)
            except (LoopletError, IndexError) as exc:
                self.notify(
                    f"Cannot read the prompt of step {step.number}: {exc}",
                    severity="error",
                    markup=False,
                )
                step.prompt = ()

    # -- actions: stepping ----------------------------------------------------------------------

    def _scrubber_note(self) -> str:
        parts: list[str] = []
        if self.step_filter.active:
            parts.append(f"only {self.step_filter.describe()}")
        if self.hits:
            parts.append(f"{count_matches(self.hits)} for {self._hits_query!r}")
        return " · ".join(parts)

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
