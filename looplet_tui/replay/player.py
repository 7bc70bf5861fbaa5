"""``ReplayPlayer``: a recorded run played back like a video, one step at a time or at a speed.

A replay has the whole run on disk, so it needs no worker thread and nothing blocks: every command
(forward, back, seek, play, pause) runs on the UI thread and only moves a *playhead*.  The steps
before the playhead are the controller's history, exactly what a live run would have shown at that
moment (timeline, gauge, usage, elapsed time, compaction markers), so every view of the live
debugger works unchanged.  Stepping back forgets the newest step; seeking loads or forgets the
steps in between.  Playing advances on a timer the app owns, calling ``tick``; it stops at a
breakpoint, at the end, or when asked.

Each step is read from the trace when the playhead reaches it, so opening a 10,000-step trace
reads one step file, and memory grows only with what was played.

A filter (``only``) narrows stepping and playing to some steps, say the errors or every call of one
tool: the steps in between are still played (the history stays true), just not stopped at.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from looplet_core import (
    Event,
    EventKind,
    LoopletError,
    LoopResult,
    Step,
    StepStatus,
    StopReason,
    Usage,
)
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase, Probe
from looplet_tui.live.controller import DebugController
from looplet_tui.live.runstate import PausePoint, RunState

__all__ = ["SPEEDS", "ReplayPlayer"]

SPEEDS = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0)
"""Playing speeds, in steps per second."""
_DEFAULT_SPEED = 3  # 10 steps a second: fast enough to watch a long run, slow enough to read


@dataclass(frozen=True, slots=True)
class _Played:
    """The playhead after a step: its number, its model call, and the recording's totals."""

    number: int
    call: int | None
    usage: Usage
    elapsed: float


class ReplayPlayer(DebugController):
    """Plays ``steps`` (and the run's compaction ``events``) into the debugger's history.

    ``numbers`` are the steps' numbers in order, when known without reading the steps (a trace's
    index has them); ``result`` is how the recorded run ended, shown when the playhead reaches
    the end.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        events: Sequence[Event] = (),
        *,
        result: LoopResult | None = None,
        numbers: Sequence[int] | None = None,
        model: str = "",
        breakpoints: BreakpointSet | None = None,
        window: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(start_paused=True, breakpoints=breakpoints, window=window, clock=clock)
        self.steps = steps
        self.total = len(steps)
        self.recorded_result = result
        self.model = model
        self.max_steps = self.total
        self.playing = False
        self.speed_index = _DEFAULT_SPEED
        self.only: frozenset[int] | None = None
        """Step numbers that stepping and playing stop at (None: every step)."""
        self._numbers = list(numbers) if numbers is not None else None
        self._events = sorted(
            (e for e in events if e.kind in (EventKind.COMPACTION, EventKind.DECISION)),
            key=lambda e: e.step,
        )
        self._event_steps = [e.step for e in self._events]
        self._next_event = 0
        self._played = [_Played(0, None, Usage(), 0.0)]
        """Where the playhead has been: the start, then one entry per step played."""
        self.problem: str | None = None
        """Why the last move stopped short: a step the trace could not give back."""
        self.run_state = RunState.PAUSED
        if not self.total:  # nothing to play: the recording is over before it starts
            self.finish(result or LoopResult(StopReason.DONE, message="the trace has no steps"))

    # -- what the UI reads ------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """How many steps are played (0 before the first)."""
        return len(self._played) - 1

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    @property
    def usage(self) -> Usage:
        """The recorded tokens of the model calls up to the playhead."""
        return self._played[-1].usage

    @property
    def elapsed(self) -> float:
        """The recorded time of the steps up to the playhead, not the time spent replaying."""
        return self._played[-1].elapsed

    def number_at(self, position: int) -> int:
        """The number of the step at ``position`` (1-based), reading the step only if needed."""
        if self._numbers is None:
            self._numbers = [step.number for step in self.steps]
        return self._numbers[position - 1]

    def position_of(self, number: int) -> int:
        """The position that plays step ``number`` last (the nearest step at or before it)."""
        if self._numbers is None:
            self._numbers = [step.number for step in self.steps]
        return bisect.bisect_right(self._numbers, number)

    # -- the loop's commands, as a replay understands them -------------------------------------

    def next_step(self) -> None:
        """``n``: play one step (the next one the filter lets through)."""
        self.forward()

    def next_phase(self) -> None:
        """``s``: a recorded step has no phases left to stop at: the same as ``n``."""
        self.forward()

    def resume(self) -> None:
        """``c``: play until a breakpoint or the end."""
        self.play()

    def pause(self) -> None:
        """``p``: stop playing where the playhead is."""
        self.stop("paused")

    # -- the scrubber's commands ----------------------------------------------------------------

    def forward(self) -> bool:
        """Play up to the next step the filter lets through; False at the end."""
        self.playing = False
        played = self._advance(check_breakpoints=False)
        if self.problem is None:
            self._stopped("step" if played else "end of the recording")
        return played

    def back(self) -> bool:
        """Step back to the previous step the filter lets through; False when there is none."""
        self.playing = False
        target = next((p for p in range(self.position - 1, 0, -1) if self._shown(p)), None)
        if target is None:
            self._stopped("start of the recording")
            return False
        self._rewind(target)
        self._stopped("step back")
        return True

    def seek(self, number: int) -> None:
        """Move the playhead to step ``number`` (clamped to the recording)."""
        self.playing = False
        target = max(1, min(self.position_of(number), self.total)) if self.total else 0
        if target < self.position:
            self._rewind(target)
        while self.position < target:
            if self._read() is None:
                return
        self._stopped(f"went to step {self.number_at(target)}" if target else "empty recording")

    def play(self) -> None:
        if self.position >= self.total:
            self._stopped("end of the recording")
            return
        with self._cond:
            self.playing = True
            self.run_state = RunState.RUNNING
            self.pause_point = None
        self._changed()

    def stop(self, reason: str) -> None:
        self.playing = False
        self._stopped(reason)

    def toggle(self) -> None:
        """Space: play or pause."""
        if self.playing:
            self.stop("paused")
        else:
            self.play()

    def faster(self) -> None:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)
        self._changed()

    def slower(self) -> None:
        self.speed_index = max(self.speed_index - 1, 0)
        self._changed()

    def tick(self, steps: int = 1) -> None:
        """Play ``steps`` shown steps (the app's timer calls this while playing)."""
        for _ in range(steps):
            if not self.playing:
                return
            if not self._advance(check_breakpoints=True):
                if self.problem is None:
                    self.stop("end of the recording")
                return

    def set_filter(self, only: frozenset[int] | None) -> None:
        """Stop only at these step numbers from now on (None: at every step)."""
        self.only = only
        self._changed()

    # -- internals --------------------------------------------------------------------------------

    def _shown(self, position: int) -> bool:
        return self.only is None or self.number_at(position) in self.only

    def _advance(self, *, check_breakpoints: bool) -> bool:
        """Play steps until one the filter shows (or a breakpoint fires); False at the end."""
        self.problem = None
        while self.position < self.total:
            read = self._read()
            if read is None:
                return False
            step, new_call = read
            hit = self._breakpoint(step, new_call) if check_breakpoints else None
            if hit is not None:
                phase, bp = hit
                self.playing = False
                self._stopped(f"breakpoint {bp.id}: {bp.describe()}", phase, bp.id)
                return True
            if self._shown(self.position):
                return True
        return False

    def _read(self) -> tuple[Step, bool] | None:
        """Play the next step; a step the trace cannot give back stops the player, saying so."""
        try:
            return self._play_one()
        except (LoopletError, OSError, IndexError) as exc:
            self.playing = False
            self.problem = f"step {self.position + 1} of the recording cannot be read: {exc}"
            self._stopped(self.problem)
            return None

    def _play_one(self) -> tuple[Step, bool]:
        step = self.steps[self.position]
        while self._next_event < len(self._events) and self._event_steps[self._next_event] <= (
            step.number
        ):
            self.on_event(self._events[self._next_event])
            self._next_event += 1
        call = step.llm_call
        last = self._played[-1]
        new_call = call is None or call.index != last.call
        usage = last.usage
        if new_call and call is not None and call.usage is not None:
            usage = usage + call.usage
        index = call.index if call is not None else None
        with self._cond:
            self._played.append(
                _Played(step.number, index, usage, last.elapsed + step.elapsed_ms / 1000)
            )
        self.record(step)
        if self.position == self.total:
            self.finish(self.recorded_result or LoopResult(StopReason.DONE, message="end of trace"))
        return step, new_call

    def _rewind(self, target: int) -> None:
        with self._cond:
            del self._played[target + 1 :]
            last = self._played[-1].number if target else None
            self._next_event = 0 if last is None else bisect.bisect_right(self._event_steps, last)
        self.rewind(last)

    def _stopped(self, reason: str, phase: Phase = Phase.CHECK_DONE, bp: int | None = None) -> None:
        with self._cond:
            if self.position < self.total or self.result is None:
                self.run_state = RunState.PAUSED
                number = self._played[-1].number
                self.pause_point = PausePoint(phase, number, reason, bp)
        self._changed()

    def _breakpoint(self, step: Step, new_call: bool) -> tuple[Phase, Breakpoint] | None:
        """The first breakpoint the recorded step fires, checked phase by phase as live."""
        percent = step.context.percent if step.context is not None else None
        tc, result = step.tool_call, step.tool_result
        args = tc.args if tc is not None else None
        probes: list[Probe] = []
        if new_call:
            probes.append(Probe(Phase.PRE_PROMPT, step.number, context_percent=percent))
        if tc is not None:
            probes.append(Probe(Phase.PRE_DISPATCH, step.number, tc.tool, args, False, percent))
            failed = result is not None and not result.ok
            probes.append(Probe(Phase.POST_DISPATCH, step.number, tc.tool, args, failed, percent))
        failed = step.status is StepStatus.ERROR
        probes.append(Probe(Phase.CHECK_DONE, step.number, step.tool, args, failed, percent))
        for probe in probes:
            hit = self.breakpoints.check(probe)
            if hit is not None:
                return probe.phase, hit
        return None
