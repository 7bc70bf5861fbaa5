"""``Redrawing``: when the debugger's screen is drawn again, and what it reads from the controller.

A mixin of the app, so ``debugger`` stays about layout.  The controller's change notices arrive
as ``RunUpdated`` messages on the UI thread; this module paces them into frames while the run goes
on unattended (``RUNNING_FRAME``, ``_UI_SHARE``), draws a stop at once, and brings the header,
the timeline, the approval card, the scrubber, the stop editor and the footer's keys up to date
from the controller.  It sits over the key mixins because a frame shows what each of them owns.
"""

from __future__ import annotations

import contextlib
import time

from textual.css.query import NoMatches
from textual.message import Message
from textual.timer import Timer

from looplet_tui.app.edit_keys import EditActions
from looplet_tui.app.replay_keys import ReplayActions, count_matches
from looplet_tui.app.step_view import StepView
from looplet_tui.live.heap import SettledHeap
from looplet_tui.widgets.approval_card import ApprovalCard
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.header import RunHeader, describe_run
from looplet_tui.widgets.scrubber import ReplayScrubber
from looplet_tui.widgets.timeline import StepTimeline

__all__ = ["RUNNING_FRAME", "Redrawing"]

RUNNING_FRAME = 0.1
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


class Redrawing(EditActions, StepView, ReplayActions):
    """Frames paced by their cost, and the controller's state drawn into every pane."""

    _heap: SettledHeap
    _frame_gap: float
    _last_redraw: float
    _redraw_cpu: float
    _redraw_timer: Timer | None
    _last_pause: object
    _keys_state: tuple[object, ...] | None
    _approvals_seen: int

    def on_debugger_app_run_updated(self, _: Message) -> None:
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
            self._frame_gap = RUNNING_FRAME
        elif not self._heap.held:  # the run goes on again: the time since was not a frame's
            self._heap.hold()
        else:
            spent = (cpu - self._redraw_cpu) / _UI_SHARE
            self._frame_gap = min(_SLOWEST_FRAME, max(RUNNING_FRAME, spent))
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

    def _scrubber_note(self) -> str:
        parts: list[str] = []
        if self.step_filter.active:
            parts.append(f"only {self.step_filter.describe()}")
        if self.hits:
            parts.append(f"{count_matches(self.hits)} for {self._hits_query!r}")
        return " · ".join(parts)
