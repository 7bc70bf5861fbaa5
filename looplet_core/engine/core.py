"""The engine's state and bookkeeping: events, hook plumbing, and recording a finished step.

Every phase module builds on ``EngineCore``; recording lives here because every phase ends a step
the same way (check_done hooks, tell the model, log, yield).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from looplet_core.backends.base import DeltaCallback, ToolSchema
from looplet_core.cancel import CancelToken
from looplet_core.context.tokens import ContextMeter
from looplet_core.decisions import Continue, Edit, InjectContext, Stop
from looplet_core.engine.effects import EngineGen, Finish, clock, now
from looplet_core.engine.taskprompt import BUILTIN_DONE_SCHEMA
from looplet_core.errors import (
    DeadlineError,
    HookError,
)
from looplet_core.events import Event, EventKind
from looplet_core.hooks import HookSet
from looplet_core.messages import Message, ToolCall
from looplet_core.records import (
    AttemptFailure,
    ContextStats,
    ErrorKind,
    HookDecision,
    StopReason,
    ToolResult,
)
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import LoopResult, Step, StepStatus
from looplet_core.tools.registry import BaseToolRegistry

# The kinds of the events every step sends, read once: an enum member read off its class is a
# descriptor call each time (Python 3.11), and these are read for every step a listener hears.
_STEP = EventKind.STEP


class EngineCore:
    """State and bookkeeping shared by every phase of the engine."""

    def __init__(
        self,
        *,
        tools: BaseToolRegistry,
        task: Any,
        config: LoopConfig,
        state: DefaultState,
        hooks: Sequence[object],
        cancel: CancelToken,
        llm: object = None,
    ) -> None:
        self.tools = tools
        self.task = task
        self.config = config
        self.state = state
        self.hooks = HookSet.build(hooks)
        self._heard_by = self.hooks.heard_by
        """The listeners of each event kind: an event none hears is not built."""
        self.llm = llm
        self._hook_objects = tuple(hooks)
        self.meter = ContextMeter.for_run(config, llm)
        self.meter.ratio = state.context_ratio
        """Prices every prompt by role for ``Step.context`` (docs/context.md)."""
        self._context: ContextStats | None = state.current_context
        self._overflow_note = ""
        self.cancel = cancel
        self.limit = config.max_steps
        if state.max_steps is not None:
            self.limit = min(self.limit, state.max_steps)
        self.builtin_done = config.done_tool not in tools
        schemas = list(tools.schemas())
        if self.builtin_done:
            schemas.append(BUILTIN_DONE_SCHEMA | {"name": config.done_tool})
        self.schemas = schemas
        self.json_mode = config.tool_mode == "json"
        self.backend_tools: Sequence[ToolSchema] = [] if self.json_mode else schemas
        self.on_delta: DeltaCallback | None = self._delta if config.stream else None
        self._pending_decisions: list[HookDecision] = []
        self._last_prompt: Sequence[Message] | None = None
        self._event_error: HookError | None = None
        self._step_started = 0.0
        self._hook_seconds = 0.0  # spent inside hooks since the step began: not the step's time
        self._attempts = 0
        self._failures: list[AttemptFailure] | None = None
        self._prompt_messages = 0
        self._run_ends: float | None = None  # the monotonic time run_deadline runs out
        self._current: Step | None = None
        self._skipped: list[ToolCall] = []
        self.listeners: list[Callable[[Step], None]] = []
        """Called with every step just before it is yielded (checkpointing plugs in here)."""
        self.finish_listeners: list[Callable[[LoopResult], None]] = []
        """Called with the result when the run ends or pauses (checkpointing saves the end)."""

    def emit(self, event_kind: EventKind, step: int = 0, **data: Any) -> None:
        if not self._heard_by[event_kind]:
            return
        self._emit_event(Event(event_kind, self.state.run_id, step or self.state.step_number, data))

    def _heard(self, event_kind: EventKind, step: int, data: dict[str, Any]) -> None:
        """``emit`` for the events of every step, called only when a hook hears it: ``data`` is
        built by the caller as a dict display, not gathered from keywords (a dict and a name
        match per field fewer), and ``step`` is given (0: the last step that finished)."""
        st = self.state
        self._emit_event(Event(event_kind, st.run_id, step or st.step_number, data))

    def _delta(self, kind: str, text: str) -> None:
        self.emit(EventKind.LLM_DELTA, call=self.state.llm_calls + 1, kind=kind, text=text)

    def _emit_event(self, event: Event) -> None:
        for name, fn in self._heard_by[event.kind]:
            try:
                fn(event)
            except Exception as exc:
                if self._event_error is None:
                    self._event_error = HookError(name, "on_event", exc)

    def fail_soon(self, hook: str, phase: str, exc: Exception) -> None:
        """End the run with ``hook_error`` at the next safe point (before the next call or model
        request), as a raising ``on_event`` hook does: for a listener (the checkpointer) whose
        failure must stop the run but must not raise into the caller's loop."""
        if self._event_error is None:
            self._event_error = HookError(hook, phase, exc)

    def _check_interrupts(self) -> None:
        if self.cancel.cancelled:
            raise Finish(StopReason.CANCELLED, self.cancel.reason or "cancelled")
        if self._event_error is not None:
            raise Finish(StopReason.HOOK_ERROR, str(self._event_error))

    def _start_clock(self) -> None:
        """The run's deadline counts from here: its start, or its resume in this process."""
        if self.config.run_deadline is not None:
            self._run_ends = clock() + self.config.run_deadline

    def _run_left(self) -> float | None:
        return None if self._run_ends is None else self._run_ends - clock()

    def _run_out(self) -> DeadlineError:
        seconds = self.config.run_deadline or 0.0
        return DeadlineError(
            f"the run passed its run_deadline of {seconds:g} s after {self.state.step_number} "
            "steps; resume it to go on (the deadline starts again), or raise "
            "LoopConfig.run_deadline",
            limit="run_deadline",
            seconds=seconds,
        )

    def _check_run_deadline(self) -> EngineGen:
        """Between steps: a run past its deadline ends with an error step saying so."""
        left = self._run_left()
        if left is None or left > 0:
            return
        error = self._run_out()
        step = self._new_step(None)
        step.tool_result = ToolResult(error=str(error), error_kind=ErrorKind.TIMEOUT)
        step.status = StepStatus.ERROR
        yield from self._record(step, None)
        raise Finish(StopReason.DEADLINE, str(error))

    def _stop_if_stuck(self) -> None:
        """End a run whose model keeps making a call that cannot work.

        Stuck means: the last ``max_repeated_failures`` steps failed, each from its own reply,
        and either every one called a tool that does not exist, or all made the very same call
        (tool and arguments) and failed the same way.  Read from the step log, so it holds
        across a resume without any saved counter.
        """
        limit = self.config.max_repeated_failures
        steps = self.state.steps
        if limit == 0 or len(steps) < limit or steps[-1].status is not StepStatus.ERROR:
            return  # (the last step is among the recent ones: one that did not fail ends it)
        recent = steps[-limit:]
        if any(s.status is not StepStatus.ERROR or s.tool_call is None for s in recent):
            return
        replies = {s.llm_call.index if s.llm_call is not None else -i for i, s in enumerate(recent)}
        if len(replies) < limit:
            return  # several calls of one reply: the model has not been told yet
        unknown = [s.tool for s in recent if s.tool not in self.tools and not self._is_done(s)]
        if len(unknown) == limit:
            names = ", ".join(sorted({str(t) for t in unknown}))
            raise Finish(
                StopReason.STUCK,
                f"the model called tools that do not exist ({names}) {limit} replies in a row; "
                "check the tool names the system prompt and the tool list give it, or raise "
                "LoopConfig.max_repeated_failures",
            )
        first = recent[0]
        assert first.tool_call is not None
        same = all(
            s.tool_call is not None
            and s.tool_call.tool == first.tool_call.tool
            and s.tool_call.args == first.tool_call.args
            and s.tool_result.error_kind is first.tool_result.error_kind
            for s in recent
        )
        if same:
            kind = first.tool_result.error_kind.value if first.tool_result.error_kind else "error"
            raise Finish(
                StopReason.STUCK,
                f"the model made the same failing call to {first.tool_call.tool} {limit} replies "
                f"in a row ({kind}: {first.tool_result.error}); the run stopped instead of "
                "spending its step budget (LoopConfig.max_repeated_failures)",
            )

    def _is_done(self, step: Step) -> bool:
        return step.tool == self.config.done_tool and self.builtin_done

    def _stop_on_parse_failures(self) -> None:
        if self.state.parse_failures > self.config.max_parse_retries:
            raise Finish(
                StopReason.PARSE_ERROR,
                f"the model gave no usable tool call {self.state.parse_failures} times in a row",
            )

    def _new_step(self, tc: ToolCall | None, number: int | None = None) -> Step:
        st = self.state
        call = st.current_call
        if number is None:
            number = st.step_number + 1
            # One call a step (the usual case): the step keeps the call's own int, not a new
            # equal one (an int past 256 is 32 bytes, and every step is kept for the run)
            if call is not None and call.index == number:
                number = call.index
        step = Step(
            number=number,
            tool_call=tc,
            llm_call=call,
            run_id=st.run_id,
            branch_id=st.branch_id,
            started_at=self._step_started or now(),
            prompt=self._last_prompt,
            context=self._context,
        )
        self._step_started = 0.0
        self._hook_seconds = 0.0
        if self._pending_decisions:
            step.decisions.extend(self._pending_decisions)
            self._pending_decisions.clear()
        self._current = step
        return step

    def _record(self, step: Step, model_text: str | None, *, hooks: bool = True) -> EngineGen:
        """Finish a step: check_done, tell the model, log it, yield it, honour stop decisions."""
        st = self.state
        # A step's time is the model's and the tool's: time a hook held it (a debugger paused at
        # a breakpoint, a person reading) is kept apart, so a pause never reads as a slow tool.
        # (0.0 itself when no hook ran: a new float a step is 24 bytes every step keeps)
        step.hook_ms = self._hook_seconds * 1000.0 if self._hook_seconds else 0.0
        if step.batch is None or not step.finished_at:
            step.finished_at = now()
            step.elapsed_ms = (step.finished_at - step.started_at) * 1000.0 - step.hook_ms
        # else: a call of a concurrent batch keeps the real times its tool ran (engine.batch)
        st.step_number = step.number
        st.steps.append(step)
        # A denial is a decision, not a failure: it clears last_error (so a hook that denies "after
        # an error" lets the retry through), as does any step that succeeded.
        st.last_error = step.tool_result.error if step.status is StepStatus.ERROR else None
        try:
            stop, model_text = self._check_done(step, model_text) if hooks else (None, model_text)
        except HookError:
            self._tell_model(step, model_text)
            self._current = None
            raise
        self._tell_model(step, model_text)
        self._current = None
        if self._heard_by[_STEP]:  # the payload is built only when heard
            self._heard(_STEP, step.number, {"status": step.status.value, "tool": step.tool})
        for listener in self.listeners:
            listener(step)
        yield step
        if stop is not None:
            raise Finish(StopReason.HOOK_STOP, stop.reason or "stopped by a hook")

    def _check_done(self, step: Step, model_text: str | None) -> tuple[Stop | None, str | None]:
        st = self.state
        stop: Stop | None = None
        for name, fn in self.hooks.check_done:
            out = self._call(name, "check_done", fn, st, st.steps, step.number)
            if out is None:
                continue
            if isinstance(out, Continue):
                if step.status is StepStatus.DONE:
                    step.status = StepStatus.DENIED
                    step.tool_result.error = f"not done: {out.reason}"
                    step.tool_result.error_kind = ErrorKind.PERMISSION
                    model_text = (
                        f"The task is not finished yet: {out.reason}. "
                        "Keep working, then call done again."
                    )
                self._decide_on(step, name, "check_done", "continue", out.reason)
            elif isinstance(out, Stop):
                stop = out
                self._decide_on(step, name, "check_done", "stop", out.reason)
            elif isinstance(out, InjectContext):
                st.pending_injections.append(out.text)
                self._decide_on(step, name, "check_done", "inject", out.text)
            else:
                raise HookError(name, "check_done", TypeError(f"unsupported return {out!r}"))
        return stop, model_text

    def _tell_model(self, step: Step, model_text: str | None) -> None:
        if model_text is not None:
            if step.tool_call is not None:
                self._append_tool_message(step.tool_call, model_text)
            else:
                self.state.conversation.append(Message("user", model_text))
        for other in self._skipped:
            self._append_tool_message(
                other,
                "Not run: an earlier call in this reply was denied; call it again if it is "
                "still needed.",
            )
        self._skipped = []
        if not self.state.queue:
            self._flush_injections()

    def _append_tool_message(self, tc: ToolCall, text: str) -> None:
        if self.json_mode:
            self.state.conversation.append(
                Message("user", f"Result of {tc.tool} ({tc.id}):\n{text}")
            )
        else:
            # positional (role, content, tool_calls, tool_call_id, name): once a step, and
            # keyword arguments cost a name match each
            self.state.conversation.append(Message("tool", text, (), tc.id, tc.tool))

    def _flush_injections(self) -> None:
        st = self.state
        if st.pending_injections:
            for text in st.pending_injections:
                st.conversation.append(Message("user", text))
            st.pending_injections.clear()

    def _call(self, name: str, phase: str, fn: Any, *args: Any) -> Any:
        began = now()
        try:
            return fn(*args)
        except Exception as exc:
            raise HookError(name, phase, exc) from exc
        finally:
            self._hook_seconds += now() - began

    def _decide(
        self, hook: str, phase: str, decision: str, detail: str = "", *, edit: Edit | None = None
    ) -> None:
        record = _record(hook, phase, decision, detail, edit)
        self._pending_decisions.append(record)
        self.emit(EventKind.DECISION, **record.to_dict())

    def _decide_on(
        self,
        step: Step,
        hook: str,
        phase: str,
        decision: str,
        detail: str = "",
        *,
        edit: Edit | None = None,
    ) -> None:
        record = _record(hook, phase, decision, detail, edit)
        step.decisions.append(record)
        self.emit(EventKind.DECISION, step=step.number, **record.to_dict())


def _record(hook: str, phase: str, decision: str, detail: str, edit: Edit | None) -> HookDecision:
    """The decision as recorded: an ``Edit``'s note (when given) is its detail, and its
    before/after texts go with it."""
    if edit is None:
        return HookDecision(hook, phase, decision, detail)
    return HookDecision(hook, phase, decision, edit.note or detail, edit.before, edit.after)
