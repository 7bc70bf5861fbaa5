"""``DebugController``: the debugger's brain, an ordinary looplet_core hook with no UI in it.

The loop runs on a worker thread.  The controller sits in its hook list (last, so it sees what the
other hooks decided) and, at each phase (pre_prompt, pre_dispatch, post_dispatch, check_done),
decides whether to stop there.  It is built in layers, one module each:

- ``live.history.RunHistory``: what it knows about the run (steps, the live step, context use,
  approvals waiting) and how the UI is told about changes;
- ``live.stepping.Stepping``: where the run stops (stepping keys, pause, breakpoints) and how a
  thread waits at a stop;
- ``live.stop_edits.StopEdits``: editing the prompt, call or result a stop is about;
- ``live.approvals.Approvals``: a step waiting for approval;
- ``live.child_frames.SubagentFrames``: the same inside the sub-agents a run starts;
- this module: the hook the run's loop calls, tying them together.

Nothing here imports Textual, so all of it is unit tested by driving hooks from plain threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    CancelToken,
    Edit,
    Event,
    EventKind,
    HookDecision,
    LoopResult,
    Prompt,
    Step,
    StepStatus,
    Stop,
    ToolCall,
    ToolResult,
)
from looplet_tui.live.breakpoints import BreakpointSet, Phase, Probe
from looplet_tui.live.child_frames import SubagentFrames
from looplet_tui.live.edits import EditKind, Validate
from looplet_tui.live.runstate import Live

__all__ = ["DebugController"]


class DebugController(SubagentFrames):
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
        validate: Validate | None = None,
        tools: BaseToolRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll: float = 0.05,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            start_paused=start_paused,
            cancel=cancel,
            breakpoints=breakpoints,
            window=window,
            tool_schemas=tool_schemas,
            tools=tools,
            clock=clock,
            poll=poll,
            on_change=on_change,
        )
        self.validate = validate
        self._prompt_decisions: list[HookDecision] = []
        """``pre_prompt`` decisions of earlier hooks, for the live step: the loop only puts
        them on the step when it is recorded, after the run may have paused inside it."""

    # -- the hook --------------------------------------------------------------------------------

    def pre_prompt(self, state: Any, log: Any, ctx: Prompt, step: int) -> Stop | Edit | None:
        if self._usage is None:
            self._attach(state)
        if not self.tool_schemas:
            self.tool_schemas = list(ctx.tools)
        stats = ctx.stats
        if stats is None or (stats.window is None and self.window is not None):
            stats = self._prompt_stats(ctx)
        prompt = ctx.messages  # the loop's immutable view: kept, not copied
        with self._lock:
            self._last_prompt, self._last_context = prompt, stats
            decisions, self._prompt_decisions = self._prompt_decisions, []
            self.live = Live(
                Step(number=step, context=stats, decisions=decisions),
                prompt,
                Phase.PRE_PROMPT,
                "about to call the model",
            )
            self._sample(step, stats)
        self._changed()
        if self._passes(Phase.PRE_PROMPT):
            return None
        probe = Probe(Phase.PRE_PROMPT, step, context_percent=self._last_percent)
        edit = self._arrive(probe, editable=(EditKind.PROMPT, step, prompt, None))
        return self._prompt_edit(state, ctx, edit)

    def _event_handlers(self) -> dict[EventKind, Callable[[Event], None]]:
        """The history's events, plus what a call starting or ending means for sub-agents side
        by side (``_calls``), and the ``pre_prompt`` hook decisions (a compaction, a rewrite)
        made before this hook's own ``pre_prompt``: the live step keeps them, so its prompt
        diff can name who changed the prompt while the run is paused inside the step."""
        handlers = super()._event_handlers()
        shown_decision = handlers[EventKind.DECISION]

        def tool_started(event: Event) -> None:  # the history's own, and the call, in one lock
            with self._lock:
                live = self.live
                if live is not None:
                    live.activity = f"running {event.data.get('tool')}"
                if self._turns.call_event(None, event, self.tools):
                    self._cond.notify_all()
            self._changed()

        def tool_ended(event: Event) -> None:
            if self._turns.starting:  # else no sub-agent call is starting: nothing to end
                self._calls(None, event)

        def decided_on(event: Event) -> None:
            shown_decision(event)
            if event.data.get("phase") == "pre_prompt":
                with self._lock:
                    self._prompt_decisions.append(HookDecision.from_dict(event.data))

        handlers[EventKind.TOOL_START] = tool_started
        handlers[EventKind.TOOL_END] = tool_ended
        handlers[EventKind.DECISION] = decided_on
        return handlers

    def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> Edit | None:
        if self._usage is None:
            self._attach(state)
        call = getattr(state, "current_call", None)
        with self._lock:
            live = self.live
            if live is not None and live.step.number == step and live.step.tool_call is None:
                # The step pre_prompt began: it takes the call in place (a second Step and Live
                # a step would only be garbage), and its revision tells the views.
                shown = live.step
                shown.tool_call, shown.llm_call, shown.context = tc, call, self._last_context
                live.phase, live.activity = Phase.PRE_DISPATCH, f"about to run {tc.tool}"
                live.revision += 1
            else:  # a later call of the same reply, or a step that began before this hook
                provisional = Step(
                    number=step, tool_call=tc, context=self._last_context, llm_call=call
                )
                fresh = Live(
                    provisional, self._last_prompt, Phase.PRE_DISPATCH, f"about to run {tc.tool}"
                )
                if live is not None and live.step.number == step:  # keep what streamed in
                    provisional.decisions = list(live.step.decisions)
                    fresh.text, fresh.reasoning = live.text, live.reasoning
                self.live = fresh
        self._changed()
        if self._passes(Phase.PRE_DISPATCH):
            return None
        probe = Probe(
            Phase.PRE_DISPATCH, step, tc.tool, tc.args, context_percent=self._last_percent
        )
        # After a cancel the loop's registry refuses to start the tool (a "cancelled" result).
        edit = self._arrive(probe, editable=(EditKind.CALL, step, tc, None))
        return None if edit is None else edit.as_edit()

    def post_dispatch(
        self, state: Any, log: Any, tc: ToolCall, result: ToolResult, step: int
    ) -> Edit | None:
        self._drop_frames(step)  # a sub-agent that ended without a word (its loop raised)
        with self._lock:
            live = self.live
            if live is not None:
                live.step.tool_result = result
                live.phase, live.activity = Phase.POST_DISPATCH, f"{tc.tool} returned"
                live.revision += 1
        self._changed()
        if self._passes(Phase.POST_DISPATCH):
            return None
        probe = Probe(
            Phase.POST_DISPATCH,
            step,
            tc.tool,
            tc.args,
            failed=not result.ok,
            context_percent=self._last_percent,
        )
        edit = self._arrive(probe, editable=(EditKind.RESULT, step, result, None))
        return None if edit is None else edit.as_edit()

    def check_done(self, state: Any, log: Sequence[Step], step: int) -> None:
        recorded = log[-1] if log and log[-1].number == step else None
        if recorded is None:
            return
        self.record(recorded)
        if self._passes(Phase.CHECK_DONE):
            return
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

    def finish(self, result: LoopResult | None) -> None:
        with self._lock:
            self.frames = []
        super().finish(result)

    def fail(self, error: BaseException | str) -> None:
        with self._lock:
            self.frames = []
        super().fail(error)
