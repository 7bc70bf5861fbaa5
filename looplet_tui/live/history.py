"""``RunHistory``: what the debugger knows about a run, kept where the UI can read it.

The steps and compaction markers in order, the step in progress, context use per step, usage,
model, elapsed time, the run's state and the approvals waiting.  ``DebugController`` (which
decides where to stop) extends it; the worker thread writes it under one lock, the UI reads it.

The UI is told about changes through ``on_change()``, called at most once until the UI calls
``acknowledge()`` (a stop is always announced): a fast run or a streaming reply collapses into
one redraw per frame, whatever the worker's speed, and the worker never waits on the UI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from looplet_core import (
    ApprovalRequest,
    ContextStats,
    Event,
    EventKind,
    LoopResult,
    Message,
    Prompt,
    Step,
    StopReason,
    Usage,
)
from looplet_tui.live.context import estimate, stats_for
from looplet_tui.live.runstate import Entry, Live, Marker, PausePoint, RunState, Sample
from looplet_tui.live.stream import StreamedText

__all__ = ["RunHistory", "SampleTotals"]

_ENDED = (RunState.DONE, RunState.FAILED)

_FAILED = {
    StopReason.LLM_ERROR,
    StopReason.HOOK_ERROR,
    StopReason.PARSE_ERROR,
    StopReason.CONTEXT_EXHAUSTED,
}


class RunHistory:
    """The run as the debugger shows it; every field is safe to read from the UI thread."""

    def __init__(
        self,
        *,
        window: int | None,
        tool_schemas: Sequence[Any],
        clock: Callable[[], float],
        on_change: Callable[[], None] | None,
    ) -> None:
        self.window = window
        self.tool_schemas = tool_schemas
        self.clock = clock
        self.on_change = on_change
        self.run_state = RunState.RUNNING
        self.pause_point: PausePoint | None = None
        self.waiting: tuple[str, ...] = ()
        """Sub-agents (their paths) whose stop waits for its turn: one running side by side
        with an earlier one in the model's order stops after it (``DebugController``)."""
        self.entries: list[Entry] = []
        """Steps and markers in order.  Only appended to, except by a replay stepping back
        (``rewind``), so the UI may hold the list and read it; it re-reads its length each time."""
        self.live: Live | None = None
        self.approvals: list[ApprovalRequest] = []
        self.samples: list[Sample] = []
        self.model = ""
        self.max_steps: int | None = None
        self.result: LoopResult | None = None
        self.error = ""
        self.revisions: dict[int, int] = {}
        """Step number -> a counter bumped whenever that step changes, so views redraw only then."""
        self._lock = threading.RLock()
        """Guards every field; held directly (``with self._lock``, C speed) where nothing
        waits, and through ``_cond`` (the same lock) where a thread waits or wakes others."""
        self._cond = threading.Condition(self._lock)
        self._notified = False
        self._index: dict[int, int] = {}
        self._usage: Callable[[], Usage] | None = None
        self._last_percent: float | None = None
        self._last_prompt: Sequence[Message] | None = None
        self._last_context: ContextStats | None = None
        self._started: float | None = None
        self._ended: float | None = None
        self._on_kind = self._event_handlers()

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
        return self.run_state in _ENDED

    def step(self, number: int) -> Step | None:
        with self._lock:
            i = self._index.get(number)
            entry = self.entries[i] if i is not None else None
        return entry if isinstance(entry, Step) else None

    def context(self) -> ContextStats | None:
        """The newest context stats: the live prompt's, else the last step's."""
        with self._lock:
            return self.samples[-1].stats if self.samples else None

    @property
    def unread(self) -> bool:
        """True while a change has been announced and the UI has not read it yet."""
        return self._notified

    def acknowledge(self) -> None:
        """The UI is about to read: the next change calls ``on_change`` again."""
        with self._lock:
            self._notified = False

    def changed(self) -> None:
        """Tell the UI that something it shows changed outside the run's own history (an
        attached run's breakpoints, read again from its store)."""
        self._changed()

    def _changed(self) -> None:
        # The common case, a change while one is still unread and the run goes on, returns
        # without the lock: the worker calls this several times a step.  Reading ``_notified``
        # unlocked loses nothing: the change was made before it was read, and the UI clears it
        # before it reads what changed.
        if self.on_change is None or (
            self._notified
            and self.pause_point is None
            and not self.approvals
            and self.run_state not in _ENDED
        ):
            return
        with self._lock:
            stopped = self.pause_point is not None or bool(self.approvals) or self.finished
            # A stop is announced even if the last change is unread: the UI may be holding that
            # one back (a run going flat out redraws ten times a second), and a stop it learned
            # of only at its next frame would show up to a frame late after every `n`.
            if (self._notified and not stopped) or self.on_change is None:
                return
            self._notified = True
            callback = self.on_change
        callback()

    # -- the worker's side ------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """One dict look-up per event: a run going flat out sends five a step, and most (a
        step's ``tool_end`` and ``step``, an ``llm_end`` naming the same model) change nothing
        shown, so they return without the lock or a change notice."""
        handle = self._on_kind.get(event.kind)
        if handle is not None:
            handle(event)

    def _event_handlers(self) -> dict[EventKind, Callable[[Event], None]]:
        """The events this history shows something of, and what shows it; a subclass adds its
        own (``DebugController``: calls that start sub-agents, ``pre_prompt`` decisions)."""
        return {
            EventKind.RUN_START: self._run_started,
            EventKind.LLM_START: self._llm_started,
            EventKind.LLM_DELTA: self._llm_delta,
            EventKind.LLM_END: self._llm_ended,
            EventKind.TOOL_START: self._tool_started,
            EventKind.TOOL_PROGRESS: self._tool_progress,
            EventKind.COMPACTION: self._compacted,
            EventKind.DECISION: self._decided_on,
        }

    def _run_started(self, event: Event) -> None:
        with self._lock:
            self._started = self.clock()
            self.max_steps = event.data.get("max_steps")
        self._changed()

    def _llm_started(self, event: Event) -> None:
        with self._lock:
            live = self.live
            if live is None:
                return
            live.activity = "calling the model"
            live.text, live.reasoning = StreamedText(), StreamedText()
            live.revision += 1
        self._changed()

    def _llm_delta(self, event: Event) -> None:
        data = event.data
        with self._lock:
            live = self.live
            if live is None:
                return
            streamed = live.reasoning if data.get("kind") == "reasoning" else live.text
            streamed.append(str(data.get("text", "")))
            live.revision += 1
        self._changed()

    def _llm_ended(self, event: Event) -> None:
        call = event.data.get("call")
        model = str((call.get("model") if isinstance(call, dict) else None) or self.model)
        if model == self.model:  # (only this thread writes it: the unlocked read is current)
            return
        with self._lock:
            self.model = model
        self._changed()

    def _tool_started(self, event: Event) -> None:
        with self._lock:
            live = self.live
            if live is None:
                return
            live.activity = f"running {event.data.get('tool')}"
        self._changed()

    def _tool_progress(self, event: Event) -> None:
        data = event.data
        with self._lock:
            live = self.live
            if live is None:
                return
            fraction = data.get("fraction")
            share = f" {fraction:.0%}" if isinstance(fraction, float) else ""
            live.activity = f"running {data.get('tool')}{share} {data.get('message', '')}"
        self._changed()

    def _compacted(self, event: Event) -> None:
        with self._lock:
            self.entries.append(Marker(self.steps_done, "compaction", _compaction(event.data)))
        self._changed()

    def _decided_on(self, event: Event) -> None:
        if event.data.get("decision") != "rewrite_history":
            return
        with self._lock:
            last = self.entries[-1] if self.entries else None
            if isinstance(last, Marker) and last.after_step == self.steps_done:
                return  # the compaction event already marked this rewrite
            text = f"history rewritten by {event.data.get('hook')}"
            self.entries.append(Marker(self.steps_done, "compaction", text))
        self._changed()

    def record(self, step: Step) -> None:
        """Put ``step`` on the timeline, or mark it changed if it is there already."""
        stats = step.context
        if stats is None:  # a step that predates context stats: estimated from its prompt
            stats = stats_for(step, self.window, self.tool_schemas)
        with self._lock:
            if step.number not in self._index:
                self._index[step.number] = len(self.entries)
                self.entries.append(step)
                self._sample(step.number, stats)
            self._bump(step.number)
            self.live = None
        self._changed()

    def update(self, step: Step) -> None:
        """Put ``step`` in place of the entry with its number (or on the end): an attached run's
        step that was shown waiting for approval, now read back done from the store."""
        with self._lock:
            i = self._index.get(step.number)
            if i is None:
                self._index[step.number] = len(self.entries)
                self.entries.append(step)
            else:
                self.entries[i] = step
            self._bump(step.number)
        self._changed()

    def rewind(self, last: int | None) -> None:
        """Forget every entry after step ``last`` (None: all of them): a replay stepping back.

        The only change to ``entries`` that is not an append; the UI notices the shorter list on
        its next read.  The run is paused again, not finished.
        """
        with self._lock:
            cut = 0 if last is None else self._index[last] + 1
            for entry in self.entries[cut:]:
                if isinstance(entry, Step):
                    del self._index[entry.number]
            del self.entries[cut:]
            while self.samples and (last is None or self.samples[-1].step > last):
                self.samples.pop()
            self.result = None
            self.error = ""
            self._ended = None
            self.live = None
            self.run_state = RunState.PAUSED
        self._changed()

    def finish(self, result: LoopResult | None) -> None:
        """The loop ended (``result`` is None when it ended without one)."""
        with self._lock:
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
        with self._lock:
            self.error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            self._ended = self.clock()
            self.run_state = RunState.FAILED
            self.live = None
            self.pause_point = None
        self._changed()

    # -- internals --------------------------------------------------------------------------------

    def watch(self, state: Any) -> None:
        """Read usage (and the run's clock) from ``state``: the loop's, once it is known."""
        self._attach(state)

    def _attach(self, state: Any) -> None:
        if self._usage is None:
            self._usage = lambda: state.usage
            if self._started is None:
                self._started = self.clock()

    def _sample(self, step: int, stats: ContextStats | None) -> None:
        samples = self.samples
        if samples and samples[-1].step == step:
            # The step recorded mostly carries the very stats its prompt had: the sample stays
            # the same object then, so the gauge's history has nothing to convert again.
            if stats is not None and stats is not samples[-1].stats:
                samples[-1] = Sample(step, stats)
        else:
            self.samples.append(Sample(step, stats))
        if stats is not None and stats.percent is not None:
            self._last_percent = stats.percent

    def _prompt_stats(self, ctx: Prompt) -> ContextStats | None:
        """The prompt's context use: the loop's figures, else an estimate; against ``window``
        when the loop knows no window."""
        stats = ctx.stats
        if stats is None and ctx.messages:
            stats = estimate(ctx.messages, ctx.tools, self.window)
        if stats is not None and stats.window is None and self.window is not None:
            stats = ContextStats(
                stats.by_role, stats.total, self.window, stats.measured, stats.tier
            )
        return stats

    def _bump(self, number: int) -> None:
        self.revisions[number] = self.revisions.get(number, 0) + 1


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


class SampleTotals:
    """Each sample's prompt total, for the gauge's sparkline, kept in step with
    ``RunHistory.samples`` by converting only what changed since the last look.

    The samples only grow at their end, have their last one replaced, or are cut back (a replay
    stepping back), so the totals already converted stay valid up to the first sample that is
    no longer the same object.  Re-reading all of them on every redraw cost the UI thread time
    that grew with the run.
    """

    def __init__(self) -> None:
        self._seen: list[Sample] = []
        self._totals: list[float | None] = []

    def reset(self) -> None:
        """Forget what was converted: the next ``update`` returns the totals whatever changed
        (the gauge showed another history meanwhile, a sub-agent's)."""
        self._seen.clear()
        self._totals.clear()

    def update(self, samples: Sequence[Sample]) -> tuple[float | None, ...] | None:
        """The totals when ``samples`` changed since the last call, else None."""
        current = list(samples)  # one copy: the worker may append while this runs
        seen, totals = self._seen, self._totals
        keep = min(len(seen), len(current))
        while keep and current[keep - 1] is not seen[keep - 1]:
            keep -= 1
        if keep == len(seen) == len(current):
            return None
        del seen[keep:], totals[keep:]
        for sample in current[keep:]:
            seen.append(sample)
            totals.append(sample.stats.total if sample.stats else None)
        return tuple(totals)
