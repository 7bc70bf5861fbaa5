"""``Stepping``: where a run stops, and the keys that move it on.

The debugger stops a run at a phase point (pre_prompt, pre_dispatch, post_dispatch, check_done)
because the user is stepping (``n`` a step, ``s`` a phase, ``i`` into a sub-agent, ``o`` out of
it), asked to pause (``p``), or a breakpoint matched.  Stopping means blocking the thread that
reached the point on a condition variable until the UI says go, polling the run's
``CancelToken`` so that quitting never hangs.  One stop is shown at a time; sub-agents running
side by side wait their turn (``live.turns``).

Stepping keeps to a depth: ``n`` and ``s`` stop at the depth of the stop they start from or
above (so at the run's level they step over a whole sub-agent), ``i`` stops at the next phase at
any depth, ``o`` at the next phase above the current sub-agent.  Breakpoints, ``p`` and
approvals stop at any depth.

A stop also carries what a person may edit there (``Editable``); the edit staged when the run
goes on is handed to the thread that stopped (``live.stop_edits`` stages it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from looplet_core import BaseToolRegistry, CancelToken, Event, EventKind
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase, Probe
from looplet_tui.live.children import ChildFrame
from looplet_tui.live.edits import EditKind, StagedEdit
from looplet_tui.live.history import RunHistory
from looplet_tui.live.runstate import PausePoint, RunState
from looplet_tui.live.turns import Turns

__all__ = ["ANY_DEPTH", "Editable", "Mode", "Stepping"]

ANY_DEPTH = 1 << 30
"""The stepping depth of ``i``: deeper than any run nests."""

Editable = tuple[EditKind, int, Any, ChildFrame | None]
"""What a stop lets a person edit: the kind, the step, the value as the loop has it, and the
sub-agent's frame (None for the run itself)."""


class Mode(StrEnum):
    STEP = "step"  # stop after the next step is recorded (check_done)
    PHASE = "phase"  # stop at the next phase, whatever it is
    CONTINUE = "continue"  # stop only at breakpoints and approvals
    PAUSE = "pause"  # stop at the next phase: the user pressed p, or the run starts paused


class Stepping(RunHistory):
    """The stepping keys (any thread) and the phase points the run's threads arrive at."""

    def __init__(
        self,
        *,
        start_paused: bool,
        cancel: CancelToken | None,
        breakpoints: BreakpointSet | None,
        window: int | None,
        tool_schemas: Sequence[Any],
        tools: BaseToolRegistry | None,
        clock: Callable[[], float],
        poll: float,
        on_change: Callable[[], None] | None,
    ) -> None:
        super().__init__(window=window, tool_schemas=tool_schemas, clock=clock, on_change=on_change)
        self.cancel_token = cancel or CancelToken()
        self.breakpoints = breakpoints if breakpoints is not None else BreakpointSet()
        self.poll = poll
        self._mode = Mode.PAUSE if start_paused else Mode.CONTINUE
        self._released = False
        self._arrived = False
        self.tools = tools
        """The run's tools: an edited call inside a sub-agent is checked against the
        sub-agent's tool (``validate_nested``), and a call of a sub-agent that starts in a
        batch holds later stops until its loop is seen (``_arrive``)."""
        self._editable: Editable | None = None
        """What the stop lets a person edit: set when the run stops there, for that stop only
        (sub-agents side by side each reach phases; only the stop shown is editable)."""
        self._staged: list[StagedEdit] = []
        """Edits staged at the current stop, newest last: the newest is applied, undo pops."""
        self.frames: list[ChildFrame] = []
        """The sub-agents' loops running now, in the order they started (a child's own child
        after it).  Replaced, never changed in place, so the UI can hold the list it read."""
        self._target = 0
        """The deepest sub-agent level at which ``n`` and ``s`` stop (0: the run itself)."""
        self._depth = 0
        """How deep the stop shown is, or the run was at its last phase point (0: in the run,
        1: in a sub-agent)."""
        self._stop: object | None = None
        """The ticket of the stop shown now: its thread waits until ``_go`` takes it away."""
        self._handed: dict[object, StagedEdit | None] = {}
        """The edit staged at a stop the run has left, for that stop's thread to apply."""
        self._turns = Turns()
        """Sub-agents side by side: whose stop comes first (``live.turns``)."""

    # -- commands (any thread) -------------------------------------------------------------------

    def next_step(self) -> None:
        """``n``: run until the next step has been recorded, at this depth or above: a
        sub-agent's steps do not count (it is stepped over), unless the stop is inside it."""
        self._go(Mode.STEP)

    def next_phase(self) -> None:
        """``s``: run until the next phase, at this depth or above."""
        self._go(Mode.PHASE)

    def step_into(self) -> None:
        """``i``: run until the next phase at any depth: at a sub-agent call's pre_dispatch,
        that is the sub-agent's first step (its pre_prompt); elsewhere it is ``s``."""
        self._go(Mode.PHASE, ANY_DEPTH)

    def step_out(self) -> bool:
        """``o``: inside a sub-agent, run until it has ended and stop at the parent step that
        ran it (its post_dispatch).  False, and nothing happens, at the run's own level."""
        with self._lock:
            depth = self._depth
        if depth == 0:
            return False
        self._go(Mode.PHASE, depth - 1)
        return True

    @property
    def depth(self) -> int:
        """How deep the run is (or was at its last phase point): 0 in the run itself."""
        with self._lock:
            return self._depth

    def resume(self) -> None:
        """``c``: run until a breakpoint, an approval, or the end."""
        self._go(Mode.CONTINUE)

    def pause(self) -> None:
        """``p``: stop at the next phase reached (a busy model or tool finishes first)."""
        with self._lock:
            self._mode = Mode.PAUSE
        self._changed()

    def cancel(self, reason: str = "cancelled in the debugger") -> None:
        """``q``: cancel the run and wake the worker wherever it waits; never blocks."""
        self.cancel_token.cancel(reason)
        with self._lock:
            self._cond.notify_all()
        self._changed()

    def _go(self, mode: Mode, target: int | None = None) -> None:
        with self._lock:
            self._mode = mode
            self._target = self._depth if target is None else target
            if self.pause_point is not None:  # running again from this instant, not on wake-up
                self.pause_point = None
                self.run_state = RunState.RUNNING
            if self._stop is not None:  # its thread takes the edit (another stop may be next)
                self._handed[self._stop] = self._staged[-1] if self._staged else None
                self._stop = None
                self._editable, self._staged = None, []
            self._released = True
            self._cond.notify_all()
        self._changed()

    @property
    def pause_requested(self) -> bool:
        """Whether ``p`` (or starting paused) asked for a stop at the next phase."""
        with self._lock:
            return self._mode is Mode.PAUSE

    @property
    def step_requested(self) -> bool:
        """Whether the run was last let go with ``n`` or ``s`` (a step), not ``c``."""
        with self._lock:
            return self._mode in (Mode.STEP, Mode.PHASE)

    # -- the thread that iterates the loop -------------------------------------------------------

    def hold(self, step: int, reason: str, *, settled: Callable[[], bool] | None = None) -> bool:
        """Block the calling thread, shown paused before ``step``'s call, until the UI lets the
        run go (``c``, ``n``, ``s``) or cancels: an attached run paused where it runs.
        ``settled`` is asked every poll whether the run went on anyway (continued elsewhere).
        Returns whether the UI let it go."""
        with self._lock:
            self.run_state = RunState.PAUSED
            self.pause_point = PausePoint(Phase.PRE_DISPATCH, step, reason)
            self._released = False
            self.live = None
        self._changed()
        with self._lock:
            self._wait_for(lambda: self._released, settled)
            released = self._released
            self.pause_point = None
            if not self.cancel_token.cancelled:
                self.run_state = RunState.RUNNING
        self._changed()
        return released

    def _wait_for(self, answered: Callable[[], bool], settled: Callable[[], bool] | None) -> None:
        """Wait, holding the lock, until ``answered()``, a cancel, or ``settled()`` (asked every
        poll, outside the lock: it may query a database) says the run went on elsewhere."""
        while not answered() and not self.cancel_token.cancelled:
            self._cond.wait(self.poll)
            if settled is not None and not answered():
                self._cond.release()
                try:
                    done = settled()
                finally:
                    self._cond.acquire()
                if done:
                    return

    # -- stops -----------------------------------------------------------------------------------

    def _stop_reason(self, probe: Probe, hit: Breakpoint | None, depth: int = 0) -> str | None:
        if hit is not None:
            return f"breakpoint {hit.id}: {hit.describe()}"
        if self._mode is Mode.PAUSE:
            return "paused" if self._arrived else "start"
        if depth > self._target:  # inside a sub-agent that n or s steps over
            return None
        if self._mode is Mode.PHASE:
            return "stepped into" if depth > self._depth else "phase"
        if self._mode is Mode.STEP and probe.phase is Phase.CHECK_DONE:
            return "step"
        return None

    def _passes(self, phase: Phase) -> bool:
        """Pass one of the run's own phase points (not a sub-agent's) at once, as ``_arrive``
        would, when nothing can stop it there: no breakpoint, no stop shown, not cancelled,
        and ``c`` (or ``n`` short of the step's end).  True when it was passed.

        A run going flat out passes four a step: this way it builds no ``Probe`` and takes no
        lock for them.  The unlocked reads are safe (single attribute reads); a key pressed
        meanwhile is seen at the next phase point, as it would be a moment later anyway."""
        mode = self._mode
        if not (
            (mode is Mode.CONTINUE or (mode is Mode.STEP and phase is not Phase.CHECK_DONE))
            and self.pause_point is None
            and not self.breakpoints
            and not self.cancel_token.cancelled
        ):
            return False
        # The change notice only when this changed what is shown: the hooks set the live
        # step's phase as they reach it, so a step passed flat out mostly changes nothing here.
        changed = False
        live = self.live
        if live is not None and phase is not Phase.CHECK_DONE and live.phase is not phase:
            live.phase = phase
            changed = True
        if self._depth or not self._arrived:
            self._depth = 0
            self._arrived = True
            changed = True
        if changed:
            self._changed()
        return True

    def _arrive(
        self, probe: Probe, frame: ChildFrame | None = None, editable: Editable | None = None
    ) -> StagedEdit | None:
        """A phase point (inside ``frame``'s sub-agent, if given): stop here if stepping,
        pausing or a breakpoint says so.  While stopped, ``editable`` may be edited: the edit
        staged when the run goes on is returned (None after a cancel).

        One stop is shown at a time.  Sub-agents of one batch run side by side, so two may want
        to stop at once: the stop shown is the one first in the model's order
        (``ChildFrame.order``), and a later sub-agent's stop waits its turn (``waiting``) while
        an earlier one is stopped, running or about to start; when its turn comes it is asked
        again, under the keys pressed since, whether it stops at all."""
        if self.cancel_token.cancelled:
            return None
        hit = self.breakpoints.check(probe)
        depth = 0 if frame is None else frame.depth
        stop: object | None = None
        queued = False
        with self._lock:
            live = self.live if frame is None else frame.live
            if live is not None and probe.phase is not Phase.CHECK_DONE:
                live.phase = probe.phase
            while not self.cancel_token.cancelled:
                reason = self._stop_reason(probe, hit, depth)
                if reason is None:
                    if self.pause_point is None:  # (a stop shown keeps its own depth)
                        self._depth = depth
                    break
                if self.pause_point is None and not self._turns.ahead(frame, self.frames):
                    stop = self._show_stop(probe, hit, reason, frame, editable)
                    break
                if not queued and frame is not None:
                    queued = True
                    self._queue(frame, True)
                self._cond.wait(self.poll)
            if queued and frame is not None:
                self._queue(frame, False)
            self._arrived = True
        self._changed()
        if stop is None:
            return None
        with self._lock:
            while self._stop is stop and not self.cancel_token.cancelled:
                self._cond.wait(self.poll)
            if self._stop is stop:  # cancelled while shown
                self._stop, self.pause_point = None, None
                self._editable, self._staged = None, []
            edit = self._handed.pop(stop, None)
        self._changed()
        return None if self.cancel_token.cancelled else edit

    def _show_stop(
        self,
        probe: Probe,
        hit: Breakpoint | None,
        reason: str,
        frame: ChildFrame | None,
        editable: Editable | None,
    ) -> object:
        """Under the lock: make this phase point the stop shown; its ticket."""
        depth = 0 if frame is None else frame.depth
        self._depth = depth
        self.run_state = RunState.PAUSED
        self.pause_point = PausePoint(
            probe.phase,
            probe.step,
            reason,
            hit.id if hit else None,
            "" if frame is None else frame.path,
            depth,
        )
        self._released = False
        self._editable, self._staged = editable, []
        self._stop = object()
        return self._stop

    def _calls(self, frame: ChildFrame | None, event: Event) -> None:
        """A call starting or ending (in the run, or in ``frame``): see ``Turns``."""
        kind = event.kind
        if kind is EventKind.TOOL_END and not self._turns.starting:
            return  # no sub-agent call is starting: nothing to end
        if kind is EventKind.TOOL_START or kind is EventKind.TOOL_END:
            with self._lock:
                if self._turns.call_event(frame, event, self.tools):
                    self._cond.notify_all()

    def _queue(self, frame: ChildFrame, waits: bool) -> None:
        """Under the lock: ``frame``'s stop starts or stops waiting its turn; the header says
        which sub-agents wait (``waiting``)."""
        self.waiting = self._turns.wait(frame, waits)
        self._cond.release()  # the UI is told outside the lock, as everywhere
        try:
            self._changed()
        finally:
            self._cond.acquire()
