"""``DebugController``: the debugger's brain, an ordinary looplet_core hook with no UI in it.

The loop runs on a worker thread.  The controller sits in its hook list (last, so it sees what the
other hooks decided) and, at each phase (pre_prompt, pre_dispatch, post_dispatch, check_done),
decides whether to stop there: because the user is stepping, asked to pause, or a breakpoint
matched.  Stopping means blocking the worker thread on a condition variable until the UI says go,
polling the run's ``CancelToken`` so that quitting never hangs.  Approvals block the same way.

The UI never reads the worker's objects mid-change through callbacks: the controller calls
``on_change()`` at most once until the UI calls ``acknowledge()``, and the UI then reads the
controller's fields.  That coalesces a flood of updates (a fast run, a streaming reply) into one
redraw per frame, whatever the worker's speed.  Nothing here imports Textual, so all of it is unit
tested by driving hooks from plain threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from looplet_core import (
    ApprovalRequest,
    CancelToken,
    ContextStats,
    Event,
    EventKind,
    LoopResult,
    Message,
    Prompt,
    Step,
    StepStatus,
    Stop,
    StopReason,
    ToolCall,
    ToolResult,
    Usage,
)
from looplet_tui.breakpoints import Breakpoint, BreakpointSet, Phase, Probe
from looplet_tui.context import estimate, stats_for
from looplet_tui.runstate import Entry, Live, Marker, PausePoint, RunState, Sample

__all__ = ["DebugController"]

_FAILED = {
    StopReason.LLM_ERROR,
    StopReason.HOOK_ERROR,
    StopReason.PARSE_ERROR,
    StopReason.CONTEXT_EXHAUSTED,
}


class _Mode(StrEnum):
    STEP = "step"  # stop after the next step is recorded (check_done)
    PHASE = "phase"  # stop at the next phase, whatever it is
    CONTINUE = "continue"  # stop only at breakpoints and approvals
    PAUSE = "pause"  # stop at the next phase: the user pressed p, or the run starts paused


class DebugController:
    """Pauses, steps and breakpoints for one run, plus what the UI shows about it.

    Hand it to the loop as the last hook; call ``request_approval`` from the thread that iterates
    the loop when a step waits for approval, and ``finish`` / ``fail`` when the loop ends.  The
    UI-side commands (``next_step``, ``next_phase``, ``resume``, ``pause``, ``cancel``,
    ``approve``, ``deny``) may be called from any thread.

    ``window`` is the context window in tokens (for percentages when the loop reports none);
    ``clock`` is injectable so screenshots and tests show a fixed elapsed time.
    """

    name = "debugger"

    def __init__(
        self,
        *,
        start_paused: bool = True,
        cancel: CancelToken | None = None,
        breakpoints: BreakpointSet | None = None,
        window: int | None = None,
        tool_schemas: Sequence[Any] = (),
        clock: Callable[[], float] = time.monotonic,
        poll: float = 0.05,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.cancel_token = cancel or CancelToken()
        self.breakpoints = breakpoints or BreakpointSet()
        self.window = window
        self.tool_schemas = tool_schemas
        self.clock = clock
        self.poll = poll
        self.on_change = on_change
        self.run_state = RunState.RUNNING
        self.pause_point: PausePoint | None = None
        self.entries: list[Entry] = []
        """Steps and markers in order; append-only, so the UI may hold the list and read it."""
        self.live: Live | None = None
        self.approvals: list[ApprovalRequest] = []
        self.samples: list[Sample] = []
        self.model = ""
        self.max_steps: int | None = None
        self.result: LoopResult | None = None
        self.error = ""
        self.revisions: dict[int, int] = {}
        """Step number -> a counter bumped whenever that step changes, so views redraw only then."""
        self._mode = _Mode.PAUSE if start_paused else _Mode.CONTINUE
        self._cond = threading.Condition(threading.RLock())
        self._released = False
        self._notified = False
        self._arrived = False
        self._index: dict[int, int] = {}
        self._usage: Callable[[], Usage] | None = None
        self._last_percent: float | None = None
        self._last_prompt: Sequence[Message] | None = None
        self._last_context: ContextStats | None = None
        self._started: float | None = None
        self._ended: float | None = None

    # -- what the UI reads ------------------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        return self._usage() if self._usage is not None else Usage()

    @property
    def elapsed(self) -> float:
        if self._started is None:
            return 0.0
        return (self._ended if self._ended is not None else self.clock()) - self._started

    @property
    def steps_done(self) -> int:
        return len(self._index)

    @property
    def finished(self) -> bool:
        return self.run_state in (RunState.DONE, RunState.FAILED)

    def step(self, number: int) -> Step | None:
        with self._cond:
            i = self._index.get(number)
            entry = self.entries[i] if i is not None else None
        return entry if isinstance(entry, Step) else None

    def context(self) -> ContextStats | None:
        """The newest context stats: the live prompt's, else the last step's."""
        with self._cond:
            return self.samples[-1].stats if self.samples else None

    @property
    def unread(self) -> bool:
        """True while a change has been announced and the UI has not read it yet."""
        return self._notified

    def acknowledge(self) -> None:
        """The UI is about to read: the next change calls ``on_change`` again."""
        with self._cond:
            self._notified = False

    def _changed(self) -> None:
        with self._cond:
            if self._notified or self.on_change is None:
                return
            self._notified = True
            callback = self.on_change
        callback()

    # -- commands (any thread) --------------------------------------------------------------------

    def next_step(self) -> None:
        """``n``: run until the next step has been recorded."""
        self._go(_Mode.STEP)

    def next_phase(self) -> None:
        """``s``: run until the next phase, whichever it is."""
        self._go(_Mode.PHASE)

    def resume(self) -> None:
        """``c``: run until a breakpoint, an approval, or the end."""
        self._go(_Mode.CONTINUE)

    def pause(self) -> None:
        """``p``: stop at the next phase reached (a busy model or tool finishes first)."""
        with self._cond:
            self._mode = _Mode.PAUSE
        self._changed()

    def cancel(self, reason: str = "cancelled in the debugger") -> None:
        """``q``: cancel the run and wake the worker wherever it waits; never blocks."""
        self.cancel_token.cancel(reason)
        with self._cond:
            self._cond.notify_all()
        self._changed()

    def _go(self, mode: _Mode) -> None:
        with self._cond:
            self._mode = mode
            if self.pause_point is not None:  # running again from this instant, not on wake-up
                self.pause_point = None
                self.run_state = RunState.RUNNING
            self._released = True
            self._cond.notify_all()
        self._changed()

    def approve(
        self,
        request: ApprovalRequest | None = None,
        *,
        args: dict[str, Any] | None = None,
        always: bool = False,
    ) -> None:
        """Approve ``request`` (default: the first waiting), optionally with edited ``args``.

        Invalid ``args`` raise ``ApprovalError`` and leave the request waiting, so the editor can
        show the problem and let the user fix it.
        """
        target = self._waiting(request)
        target.approve(args, by="debugger", scope="always" if always else "once")
        self._decided()

    def deny(
        self, request: ApprovalRequest | None = None, message: str = "", *, always: bool = False
    ) -> None:
        """Deny ``request`` (default: the first waiting); ``message`` is what the model is told."""
        target = self._waiting(request)
        target.deny(message, by="debugger", scope="always" if always else "once")
        self._decided()

    def _waiting(self, request: ApprovalRequest | None) -> ApprovalRequest:
        with self._cond:
            if request is None:
                if not self.approvals:
                    raise LookupError("no approval is waiting")
                return self.approvals[0]
            return request

    def _decided(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- the hook ---------------------------------------------------------------------------------

    def pre_prompt(self, state: Any, log: Any, ctx: Prompt, step: int) -> Stop | None:
        self._attach(state)
        if not self.tool_schemas:
            self.tool_schemas = list(ctx.tools)
        stats = ctx.stats
        if stats is None and ctx.messages:
            stats = estimate(ctx.messages, ctx.tools, self.window)
        if stats is not None and stats.window is None and self.window is not None:
            stats = ContextStats(
                stats.by_role, stats.total, self.window, stats.measured, stats.tier
            )
        prompt = ctx.messages  # the loop's immutable view: kept, not copied
        with self._cond:
            self._last_prompt, self._last_context = prompt, stats
            self.live = Live(
                Step(number=step, context=stats),
                prompt,
                Phase.PRE_PROMPT,
                "about to call the model",
            )
            self._sample(step, stats)
        self._arrive(Probe(Phase.PRE_PROMPT, step, context_percent=self._last_percent))
        if self.cancel_token.cancelled:  # the model must not be called after the user quit
            return Stop(self.cancel_token.reason)
        return None

    def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> None:
        self._attach(state)
        provisional = Step(
            number=step,
            tool_call=tc,
            context=self._last_context,
            llm_call=getattr(state, "current_call", None),
        )
        self._set_live(provisional, Phase.PRE_DISPATCH, f"about to run {tc.tool}")
        self._arrive(
            Probe(Phase.PRE_DISPATCH, step, tc.tool, tc.args, context_percent=self._last_percent)
        )
        # After a cancel the loop's registry refuses to start the tool (a "cancelled" result).

    def post_dispatch(
        self, state: Any, log: Any, tc: ToolCall, result: ToolResult, step: int
    ) -> None:
        with self._cond:
            if self.live is not None:
                self.live.step.tool_result = result
        self._set_live(None, Phase.POST_DISPATCH, f"{tc.tool} returned")
        self._arrive(
            Probe(
                Phase.POST_DISPATCH,
                step,
                tc.tool,
                tc.args,
                failed=not result.ok,
                context_percent=self._last_percent,
            )
        )

    def check_done(self, state: Any, log: Sequence[Step], step: int) -> None:
        recorded = log[-1] if log and log[-1].number == step else None
        if recorded is None:
            return
        self.record(recorded)
        failed = recorded.status is StepStatus.ERROR
        args = recorded.tool_call.args if recorded.tool_call else None
        self._arrive(
            Probe(
                Phase.CHECK_DONE,
                step,
                recorded.tool,
                args,
                failed=failed,
                context_percent=self._last_percent,
            )
        )

    def on_event(self, event: Event) -> None:
        kind, data = event.kind, event.data
        with self._cond:
            if kind is EventKind.RUN_START:
                self._started = self.clock()
                self.max_steps = data.get("max_steps")
            elif kind is EventKind.LLM_START and self.live is not None:
                self.live.activity = "calling the model"
                self.live.text = self.live.reasoning = ""
                self.live.revision += 1
            elif kind is EventKind.LLM_DELTA and self.live is not None:
                if data.get("kind") == "reasoning":
                    self.live.reasoning += str(data.get("text", ""))
                else:
                    self.live.text += str(data.get("text", ""))
                self.live.revision += 1
            elif kind is EventKind.LLM_END:
                self.model = str(data.get("call", {}).get("model") or self.model)
            elif kind is EventKind.TOOL_START and self.live is not None:
                self.live.activity = f"running {data.get('tool')}"
            elif kind is EventKind.TOOL_PROGRESS and self.live is not None:
                fraction = data.get("fraction")
                share = f" {fraction:.0%}" if isinstance(fraction, float) else ""
                self.live.activity = f"running {data.get('tool')}{share} {data.get('message', '')}"
            elif kind is EventKind.COMPACTION:
                self.entries.append(Marker(self.steps_done, "compaction", _compaction(data)))
            elif kind is EventKind.DECISION and data.get("decision") == "rewrite_history":
                last = self.entries[-1] if self.entries else None
                if isinstance(last, Marker) and last.after_step == self.steps_done:
                    return  # the compaction event already marked this rewrite
                text = f"history rewritten by {data.get('hook')}"
                self.entries.append(Marker(self.steps_done, "compaction", text))
            else:
                return
        self._changed()

    # -- the thread that iterates the loop --------------------------------------------------------

    def request_approval(self, step: Step) -> None:
        """Block the loop's thread until the UI decides ``step.approval`` or the run is cancelled.

        A cancel leaves the request undecided: the loop then ends with ``awaiting_approval`` and
        the request stays in the run's state (and checkpoint), so a resume can still decide it.
        """
        request = step.approval
        if request is None or request.decided:
            return
        self.record(step)
        with self._cond:
            self.approvals.append(request)
            self.run_state = RunState.AWAITING_APPROVAL
            self.live = None
        self._changed()
        with self._cond:
            while not request.decided and not self.cancel_token.cancelled:
                self._cond.wait(self.poll)
            self.approvals.remove(request)
            if not self.approvals:
                self.run_state = RunState.RUNNING
            self._bump(step.number)
        self._changed()

    def record(self, step: Step) -> None:
        """Put ``step`` on the timeline, or mark it changed if it is there already."""
        stats = stats_for(step, self.window, self.tool_schemas)
        with self._cond:
            if step.number not in self._index:
                self._index[step.number] = len(self.entries)
                self.entries.append(step)
                self._sample(step.number, stats)
            self._bump(step.number)
            self.live = None
        self._changed()

    def finish(self, result: LoopResult | None) -> None:
        """The loop ended (``result`` is None when it ended without one)."""
        with self._cond:
            self.result = result
            self._ended = self.clock()
            failed = result is None or result.stop_reason in _FAILED
            self.run_state = RunState.FAILED if failed else RunState.DONE
            if result is not None and failed:
                self.error = result.message
            self.live = None
            self.pause_point = None
        self._changed()

    def fail(self, error: BaseException | str) -> None:
        """The loop raised (a broken factory, a scripted backend out of replies, ...)."""
        with self._cond:
            self.error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            self._ended = self.clock()
            self.run_state = RunState.FAILED
            self.live = None
            self.pause_point = None
        self._changed()

    # -- internals --------------------------------------------------------------------------------

    def _attach(self, state: Any) -> None:
        if self._usage is None:
            self._usage = lambda: state.usage
            if self._started is None:
                self._started = self.clock()

    def _sample(self, step: int, stats: ContextStats | None) -> None:
        if self.samples and self.samples[-1].step == step:
            self.samples[-1] = Sample(step, stats or self.samples[-1].stats)
        else:
            self.samples.append(Sample(step, stats))
        if stats is not None and stats.percent is not None:
            self._last_percent = stats.percent

    def _bump(self, number: int) -> None:
        self.revisions[number] = self.revisions.get(number, 0) + 1

    def _set_live(self, step: Step | None, phase: Phase, activity: str) -> None:
        with self._cond:
            if step is not None:
                old = self.live
                self.live = Live(step, self._last_prompt, phase, activity)
                if old is not None and old.step.number == step.number:  # keep what streamed in
                    self.live.text, self.live.reasoning = old.text, old.reasoning
            elif self.live is not None:
                self.live.phase, self.live.activity = phase, activity
                self.live.revision += 1
        self._changed()

    def _stop_reason(self, probe: Probe, hit: Breakpoint | None) -> str | None:
        if hit is not None:
            return f"breakpoint {hit.id}: {hit.describe()}"
        if self._mode is _Mode.PAUSE:
            return "paused" if self._arrived else "start"
        if self._mode is _Mode.PHASE:
            return "phase"
        if self._mode is _Mode.STEP and probe.phase is Phase.CHECK_DONE:
            return "step"
        return None

    def _arrive(self, probe: Probe) -> None:
        """A phase point: stop here if stepping, pausing or a breakpoint says so."""
        if self.cancel_token.cancelled:
            return
        hit = self.breakpoints.check(probe)
        with self._cond:
            if self.live is not None and probe.phase is not Phase.CHECK_DONE:
                self.live.phase = probe.phase
            reason = self._stop_reason(probe, hit)
            self._arrived = True
            if reason is None:
                stopped = False
            else:
                stopped = True
                self.run_state = RunState.PAUSED
                self.pause_point = PausePoint(
                    probe.phase, probe.step, reason, hit.id if hit else None
                )
                self._released = False
        self._changed()
        if not stopped:
            return
        with self._cond:
            while not self._released and not self.cancel_token.cancelled:
                self._cond.wait(self.poll)
            self.pause_point = None
            if not self.cancel_token.cancelled:
                self.run_state = RunState.RUNNING
        self._changed()


def _compaction(data: dict[str, Any]) -> str:
    """``compacted 641 → 432 tokens, 20 → 17 msgs (prune+truncate, threshold)``: numbers first,
    so they survive a narrow timeline cutting the line short."""
    how = ", ".join(str(data[k]) for k in ("strategy", "trigger") if data.get(k))
    before, after = data.get("tokens_before"), data.get("tokens_after")
    if before == after and data.get("messages_before") == data.get("messages_after"):
        return f"compaction found nothing to remove at {before} tokens ({how})"
    text = f"compacted {before} → {after} tokens"
    if data.get("messages_before") is not None:
        text += f", {data.get('messages_before')} → {data.get('messages_after')} msgs"
    return f"{text} ({how})"
