"""The loop's logic, written once for both the sync and the async loop.

``Engine.run()`` is a generator that never does I/O itself: it yields *effects* (``CallModel``,
``RunTool``, ``Sleep``) for a driver to carry out and send back, and ``Step``s for the driver to
hand to the caller.  ``loop.py`` has the two drivers (a plain generator and an async generator),
each a few lines, so the sync and async loops cannot drift apart.

Per step the engine does constant work apart from what the model is sent: the conversation is
appended to, never re-scanned, and the backend receives an O(1) view of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from looplet_core.approval import ApprovalDecision, ApprovalRequest
from looplet_core.approval_hooks import recall_approval, remember_approval
from looplet_core.backends.base import DeltaCallback, LLMResponse, ToolSchema
from looplet_core.cancel import CancelToken
from looplet_core.context_hooks import ContextExhausted, compact_after_overflow
from looplet_core.decisions import Allow, AskApproval, Continue, Deny, InjectContext, Stop
from looplet_core.errors import (
    BackendError,
    ContextLengthError,
    HookError,
    RateLimitError,
    ScriptExhaustedError,
    TransientBackendError,
)
from looplet_core.events import Event, EventKind
from looplet_core.hooks import HookSet
from looplet_core.messages import Message, ToolCall
from looplet_core.prompt import Prompt
from looplet_core.records import (
    ContextStats,
    ErrorKind,
    HookDecision,
    LLMCall,
    StopReason,
    ToolResult,
)
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import LoopResult, Step, StepStatus
from looplet_core.taskprompt import BUILTIN_DONE_SCHEMA, initial_messages
from looplet_core.textcalls import parse_tool_calls
from looplet_core.tokens import ContextMeter
from looplet_core.tools import BaseToolRegistry, ToolContext, ToolSpec, result_to_text

__all__ = ["CallModel", "Engine", "RunTool", "Sleep"]


@dataclass(slots=True)
class CallModel:
    messages: Sequence[Message]
    tools: Sequence[ToolSchema]
    on_delta: DeltaCallback | None


@dataclass(slots=True)
class RunTool:
    spec: ToolSpec
    args: dict[str, Any]
    ctx: ToolContext
    timeout: float | None


@dataclass(slots=True)
class Sleep:
    seconds: float


Effect = CallModel | RunTool | Sleep | Step
EngineGen = Generator[Effect, Any, None]


class _Finish(Exception):  # control flow only: never escapes the engine
    def __init__(self, reason: StopReason, message: str = "", answer: Any = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.answer = answer


def _now() -> float:
    return time.time()


class Engine:
    """One run of the loop.  Create it, drive ``run()``, read ``state.result`` afterwards."""

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
        self._last_prompt: tuple[Message, ...] | None = None
        self._event_error: HookError | None = None
        self._step_started = 0.0
        self._attempts = 0
        self._current: Step | None = None
        self._skipped: list[ToolCall] = []
        self.listeners: list[Callable[[Step], None]] = []
        """Called with every step just before it is yielded (checkpointing plugs in here)."""
        self.finish_listeners: list[Callable[[LoopResult], None]] = []
        """Called with the result when the run ends or pauses (checkpointing saves the end)."""

    # -- events ---------------------------------------------------------------------------------

    def emit(self, event_kind: EventKind, step: int = 0, **data: Any) -> None:
        if not self.hooks.on_event:
            return
        event = Event(event_kind, self.state.run_id, step or self.state.step_number, data)
        for name, fn in self.hooks.on_event:
            try:
                fn(event)
            except Exception as exc:
                if self._event_error is None:
                    self._event_error = HookError(name, "on_event", exc)

    def _delta(self, kind: str, text: str) -> None:
        self.emit(EventKind.LLM_DELTA, call=self.state.llm_calls + 1, kind=kind, text=text)

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> Generator[Effect, Any, LoopResult]:
        st = self.state
        if st.finished and st.result is not None:
            return st.result
        resumed = len(st.conversation) > 0
        if not resumed:
            st.conversation.extend(
                initial_messages(self.task, self.config, self.schemas if self.json_mode else None)
            )
        st.result = None
        self.emit(
            EventKind.RUN_START, task=_jsonable(self.task), resumed=resumed, max_steps=self.limit
        )
        try:
            yield from self._main()
            raise AssertionError("unreachable: the main loop only ends by _Finish")
        except _Finish as finish:
            return self._finalize(finish)

    def _main(self) -> EngineGen:
        st = self.state
        while True:
            self._check_interrupts()
            if st.pending_approval is not None:
                yield from self._guarded(self._resume_approval(st.pending_approval))
                continue
            if not st.queue:
                self._flush_injections()
                if st.step_number >= self.limit:
                    raise _Finish(StopReason.MAX_STEPS, f"step budget of {self.limit} spent")
                yield from self._guarded(self._ask_model())
                continue
            if st.step_number >= self.limit:
                raise _Finish(StopReason.MAX_STEPS, f"step budget of {self.limit} spent")
            yield from self._guarded(self._dispatch(st.queue.pop(0)))

    def _guarded(self, gen: EngineGen) -> EngineGen:
        """Run a phase; a hook that raises becomes an error step naming it, then a clean stop."""
        self._current = None
        try:
            yield from gen
        except HookError as err:
            step = self._current or self._new_step(None)
            step.tool_result = ToolResult(error=str(err), error_kind=ErrorKind.HOOK)
            step.status = StepStatus.ERROR
            step.decisions.append(HookDecision(err.hook, err.phase, "raised", str(err.cause)))
            text = f"Internal error in hook {err.hook}.{err.phase}; the run is stopping."
            yield from self._record(step, text, hooks=False)
            raise _Finish(StopReason.HOOK_ERROR, str(err)) from None

    def _check_interrupts(self) -> None:
        if self.cancel.cancelled:
            raise _Finish(StopReason.CANCELLED, self.cancel.reason or "cancelled")
        if self._event_error is not None:
            raise _Finish(StopReason.HOOK_ERROR, str(self._event_error))

    def _finalize(self, finish: _Finish) -> LoopResult:
        st = self.state
        if finish.reason is not StopReason.AWAITING_APPROVAL:
            note = f"Not run: the run ended ({finish.reason.value})."
            for tc in st.queue:
                self._append_tool_message(tc, note)
            st.queue.clear()
            self._flush_injections()
        result = LoopResult(
            stop_reason=finish.reason,
            steps=list(st.steps),
            usage=st.usage,
            final_answer=finish.answer,
            message=finish.message,
            run_id=st.run_id,
            llm_calls=st.llm_calls,
        )
        st.result = result
        for listener in self.finish_listeners:
            listener(result)
        self.emit(
            EventKind.RUN_END,
            stop_reason=finish.reason.value,
            message=finish.message,
            steps=st.step_number,
            usage=st.usage.to_dict(),
        )
        return result

    # -- prompting ------------------------------------------------------------------------------

    def _ask_model(self) -> EngineGen:
        st = self.state
        prompt = Prompt(
            st.conversation.view(),
            self.schemas,
            st.step_number + 1,
            st.conversation,
            meter=self.meter,
            llm=self.llm,
            emit=self.emit,
        )
        prompt.stats = stats = self.meter.measure(
            prompt.messages, self.backend_tools, st.conversation
        )
        prompt = self._pre_prompt(prompt)
        if self.hooks.pre_prompt:  # what is sent: hooks may have compacted, injected or edited
            stats = self.meter.measure(prompt.messages, self.backend_tools, st.conversation)
        self._context = stats
        if self.config.record_prompts:
            self._last_prompt = tuple(prompt.messages)
        self._step_started = _now()
        response = yield from self._call_llm(prompt)
        st.llm_calls += 1
        calls = response.tool_calls
        parse_error: str | None = None
        if self.json_mode:
            calls, parse_error = parse_tool_calls(response.text)
        call = LLMCall(
            index=st.llm_calls,
            text=response.text,
            reasoning=response.reasoning,
            tool_calls=list(calls),
            usage=response.usage,
            latency_ms=response.latency_ms,
            stop_reason=response.stop_reason,
            model=response.model,
            attempts=self._attempts,
            prompt_messages=len(prompt.messages),
        )
        if response.usage is not None:
            st.usage = st.usage + response.usage
            self._context = self.meter.observe(response.usage.input_tokens) or self._context
        if self.hooks.on_event:  # the payload costs a dict per step; build it only when heard
            self.emit(EventKind.LLM_END, call=call.to_dict())
        st.conversation.append(
            Message(
                "assistant",
                response.text,
                () if self.json_mode else tuple(calls),
                reasoning=response.reasoning,
            )
        )
        st.current_call = call
        st.current_context, st.context_ratio = self._context, self.meter.ratio
        if calls:
            st.queue = list(calls)
            return
        if response.text.strip() and self.config.text_is_final:
            raise _Finish(StopReason.FINAL_TEXT, "the model answered in text", response.text)
        st.parse_failures += 1
        if parse_error is None:
            parse_error = (
                "Your reply was empty."
                if not response.text.strip()
                else "Your reply did not call a tool."
            )
        guidance = (
            f"{parse_error} Call one of the tools, or call `{self.config.done_tool}` "
            "with your answer when the task is complete."
        )
        step = self._new_step(None)
        step.tool_result = ToolResult(error=parse_error, error_kind=ErrorKind.PARSE)
        step.status = StepStatus.ERROR
        yield from self._record(step, guidance)
        self._stop_on_parse_failures()

    def _stop_on_parse_failures(self) -> None:
        if self.state.parse_failures > self.config.max_parse_retries:
            raise _Finish(
                StopReason.PARSE_ERROR,
                f"the model gave no usable tool call {self.state.parse_failures} times in a row",
            )

    def _pre_prompt(self, prompt: Prompt) -> Prompt:
        st = self.state
        for name, fn in self.hooks.pre_prompt:
            revision = st.conversation.revision
            out = self._call(name, "pre_prompt", fn, st, st.steps, prompt, prompt.step)
            if out is None:
                if st.conversation.revision != revision:
                    prompt.messages = st.conversation.view()
                    self._decide(name, "pre_prompt", "rewrite_history")
            elif isinstance(out, Prompt):
                prompt = out
                self._decide(name, "pre_prompt", "edit")
            elif isinstance(out, list):
                prompt = prompt.with_messages(out)  # type: ignore[arg-type]
                self._decide(name, "pre_prompt", "edit")
            elif isinstance(out, InjectContext):
                st.conversation.append(Message("user", out.text))
                prompt.messages = st.conversation.view()
                self._decide(name, "pre_prompt", "inject", out.text)
            elif isinstance(out, Stop):
                self._decide(name, "pre_prompt", "stop", out.reason)
                reason = (
                    StopReason.CONTEXT_EXHAUSTED
                    if isinstance(out, ContextExhausted)
                    else StopReason.HOOK_STOP
                )
                raise _Finish(reason, out.reason or f"stopped by {name}")
            else:
                raise HookError(name, "pre_prompt", TypeError(f"unsupported return {out!r}"))
        return prompt

    def _call_llm(self, prompt: Prompt) -> Generator[Effect, Any, LLMResponse]:
        self._attempts = 0
        overflowed = False
        while True:
            self._attempts += 1
            self.emit(
                EventKind.LLM_START,
                call=self.state.llm_calls + 1,
                messages=len(prompt.messages),
                prompt=prompt.messages,
                tools=self.backend_tools,
            )
            outcome = yield CallModel(prompt.messages, self.backend_tools, self.on_delta)
            if isinstance(outcome, LLMResponse):
                return outcome
            if isinstance(outcome, ScriptExhaustedError):
                raise outcome
            error: BaseException = outcome
            if isinstance(error, ContextLengthError) and not overflowed:
                overflowed = True
                if self._compact_after_overflow(prompt):
                    continue
            if (
                isinstance(error, TransientBackendError)
                and self._attempts <= self.config.llm_retries
            ):
                wait = self.config.retry_backoff * 2 ** (self._attempts - 1)
                if isinstance(error, RateLimitError) and error.retry_after is not None:
                    wait = error.retry_after
                wait = min(wait, self.config.max_retry_wait)
                self.emit(
                    EventKind.LLM_RETRY, attempt=self._attempts, wait_s=wait, error=str(error)
                )
                yield Sleep(wait)
                self._check_interrupts()
                continue
            yield from self._llm_failed(error)

    def _compact_after_overflow(self, prompt: Prompt) -> bool:
        """The server said the prompt is too long: compact the history once, for one retry."""
        report = compact_after_overflow(prompt, self._hook_objects)
        change = f"{report.tokens_before} -> {report.tokens_after} estimated tokens"
        self._overflow_note = f"; compacting the history ({change}) did not make it fit"
        if not report.changed:
            self._overflow_note = "; compaction found nothing to remove"
            return False
        self._decide("loop", "context", "compact_after_overflow", change)
        self._context = self.meter.measure(
            prompt.messages, self.backend_tools, self.state.conversation
        )
        if self.config.record_prompts:
            self._last_prompt = tuple(prompt.messages)
        return True

    def _llm_failed(self, error: BaseException) -> EngineGen:
        status = error.status if isinstance(error, BackendError) else None
        kind = type(error).__name__
        detail = (
            f"{kind}: {error}"
            if isinstance(error, BackendError)
            else (f"unexpected {kind} from the backend: {error}")
        )
        if self._attempts > 1:
            detail += f" (after {self._attempts} attempts)"
        overflow = isinstance(error, ContextLengthError)
        if overflow:
            detail += self._overflow_note
        self.emit(EventKind.LLM_ERROR, error=detail, status=status)
        step = self._new_step(None)
        step.tool_result = ToolResult(
            error=detail, error_kind=ErrorKind.CONTEXT if overflow else ErrorKind.LLM
        )
        step.status = StepStatus.ERROR
        yield from self._record(step, None)
        raise _Finish(StopReason.CONTEXT_EXHAUSTED if overflow else StopReason.LLM_ERROR, detail)

    # -- dispatch -------------------------------------------------------------------------------

    def _new_step(self, tc: ToolCall | None) -> Step:
        st = self.state
        step = Step(
            number=st.step_number + 1,
            tool_call=tc,
            llm_call=st.current_call,
            run_id=st.run_id,
            branch_id=st.branch_id,
            started_at=self._step_started or _now(),
            prompt=self._last_prompt,
            context=self._context,
        )
        self._step_started = 0.0
        if self._pending_decisions:
            step.decisions.extend(self._pending_decisions)
            self._pending_decisions.clear()
        self._current = step
        return step

    def _dispatch(self, tc: ToolCall) -> EngineGen:
        st = self.state
        step = self._new_step(tc)
        if tc.parse_error is not None:
            st.parse_failures += 1
            error = f"The arguments for {tc.tool} were not valid JSON: {tc.parse_error}"
            step.tool_result = ToolResult(error=error, error_kind=ErrorKind.PARSE)
            step.status = StepStatus.ERROR
            yield from self._record(step, error + " Send the call again with valid JSON.")
            self._stop_on_parse_failures()
            return
        spec: ToolSpec | None = None
        if tc.tool == self.config.done_tool and self.builtin_done:
            args, error = dict(tc.args), None
        else:
            spec = self.tools.get(tc.tool)
            args, error = self.tools.validate(tc)
        if error is not None or args is None:
            st.parse_failures = 0
            step.tool_result = ToolResult(error=error, error_kind=ErrorKind.VALIDATION)
            step.status = StepStatus.ERROR
            yield from self._record(step, error)
            return
        st.parse_failures = 0
        yield from self._pre_dispatch(step, tc, spec, args)

    def _pre_dispatch(
        self, step: Step, tc: ToolCall, spec: ToolSpec | None, args: dict[str, Any]
    ) -> EngineGen:
        st = self.state
        approval: AskApproval | None = None
        approval_by = ""
        if spec is not None and spec.requires_approval:
            approval, approval_by = AskApproval("the tool requires approval"), "ToolSpec"
        for name, fn in self.hooks.pre_dispatch:
            current = ToolCall(tc.tool, args, tc.id)
            out = self._call(name, "pre_dispatch", fn, st, st.steps, current, step.number)
            if out is None:
                continue
            if isinstance(out, Allow):
                if out.args is not None:
                    new_args, error = self._revalidate(tc, out.args, spec)
                    self._decide_on(step, name, "pre_dispatch", "rewrite", _short(out.args))
                    if error is not None or new_args is None:
                        step.tool_call = ToolCall(tc.tool, out.args, tc.id)
                        step.original_args = tc.args
                        step.tool_result = ToolResult(
                            error=f"hook {name} rewrote the arguments into invalid ones: {error}",
                            error_kind=ErrorKind.VALIDATION,
                        )
                        step.status = StepStatus.ERROR
                        yield from self._record(step, step.tool_result.error)
                        return
                    args = new_args
                else:
                    self._decide_on(step, name, "pre_dispatch", "allow")
            elif isinstance(out, Deny):
                self._decide_on(
                    step, name, "pre_dispatch", "deny_retry" if out.retry else "deny", out.reason
                )
                yield from self._deny(step, tc, args, out.reason, retry=out.retry)
                return
            elif isinstance(out, Stop):
                self._decide_on(step, name, "pre_dispatch", "stop", out.reason)
                yield from self._deny(step, tc, args, out.reason or f"stopped by {name}")
                raise _Finish(StopReason.HOOK_STOP, out.reason or f"stopped by {name}")
            elif isinstance(out, AskApproval):
                approval, approval_by = out, name
                self._decide_on(step, name, "pre_dispatch", "ask_approval", out.reason)
            else:
                raise HookError(name, "pre_dispatch", TypeError(f"unsupported return {out!r}"))
        step.tool_call = ToolCall(tc.tool, args, tc.id)
        if args != tc.args:
            step.original_args = tc.args
        if approval is None:
            yield from self._execute(step, spec, args)
            return
        request = ApprovalRequest(
            step=step.number,
            tool=tc.tool,
            args=args,
            call_id=tc.id,
            reason=approval.reason,
            dangerous=approval.dangerous,
            requested_by=approval_by,
            extra={"original_args": tc.args, "decisions": [d.to_dict() for d in step.decisions]},
        )
        yield from self._approval(step, spec, request)

    def _revalidate(
        self, tc: ToolCall, args: dict[str, Any], spec: ToolSpec | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        if spec is None:
            return dict(args), None
        return self.tools.validate(ToolCall(tc.tool, args, tc.id))

    def _deny(
        self, step: Step, tc: ToolCall, args: dict[str, Any], reason: str, *, retry: bool = False
    ) -> EngineGen:
        step.tool_call = ToolCall(tc.tool, args, tc.id)
        if args != tc.args:
            step.original_args = tc.args
        step.tool_result = ToolResult(error=f"denied: {reason}", error_kind=ErrorKind.PERMISSION)
        step.status = StepStatus.DENIED
        if retry:
            text = f"Not run: {reason}. You may call it again."
            skipped = self.state.queue[:]
            self.state.queue.clear()
            self._skipped = skipped
            if skipped:
                step.decisions.append(
                    HookDecision(
                        "loop",
                        "pre_dispatch",
                        "skip_queued",
                        f"{len(skipped)} queued call(s) skipped",
                    )
                )
        else:
            text = f"Denied: {reason}. Do not repeat this call; choose another approach."
        yield from self._record(step, text)

    # -- approval -------------------------------------------------------------------------------

    def _approval(self, step: Step, spec: ToolSpec | None, request: ApprovalRequest) -> EngineGen:
        st = self.state
        remembered = recall_approval(st.approval_memory, request.tool, request.args)
        if remembered == "approve":
            request.approve(by="remembered (always)")
        elif remembered == "deny":
            request.deny("denied always for this tool", by="remembered (always)")
        elif self.config.approver is not None:
            request.validator = self._validator(step.tool_call or ToolCall(request.tool))
            try:
                self.config.approver(request)
            except Exception as exc:
                raise HookError("approver", "approval", exc) from exc
        yield from self._resolve_approval(step, spec, request)

    def _validator(self, tc: ToolCall) -> Any:
        def validate(args: dict[str, Any]) -> str | None:
            if tc.tool == self.config.done_tool and self.builtin_done:
                return None
            return self.tools.validate(ToolCall(tc.tool, args, tc.id))[1]

        return validate

    def _resume_approval(self, request: ApprovalRequest) -> EngineGen:
        """Continue a run restored with a pending approval: same call, model not asked again."""
        tc = ToolCall(
            request.tool, dict(request.extra.get("original_args") or request.args), request.call_id
        )
        self._step_started = _now()
        step = self._new_step(ToolCall(request.tool, request.args, request.call_id))
        if tc.args != request.args:
            step.original_args = tc.args
        step.decisions.extend(HookDecision.from_dict(d) for d in request.extra.get("decisions", []))
        spec = self.tools.get(request.tool)
        if request.decided:
            yield from self._resolve_approval(step, spec, request)
        else:  # remembered "always" decisions and the approver answer, as on the first pass
            yield from self._approval(step, spec, request)

    def _resolve_approval(
        self, step: Step, spec: ToolSpec | None, request: ApprovalRequest
    ) -> EngineGen:
        st = self.state
        request.validator = self._validator(step.tool_call or ToolCall(request.tool))
        if not request.decided:
            st.pending_approval = request
            step.status = StepStatus.AWAITING_APPROVAL
            step.approval = request
            self.emit(EventKind.APPROVAL_REQUESTED, step=step.number, request=request.to_dict())
            for listener in self.listeners:
                listener(step)
            yield step
            if not request.decided:
                raise _Finish(
                    StopReason.AWAITING_APPROVAL,
                    f"step {step.number} ({request.tool}) is waiting for approval",
                )
            step.status = StepStatus.OK
        st.pending_approval = None
        step.approval = request
        decision = request.decision
        assert decision is not None
        self.emit(EventKind.APPROVAL_RESOLVED, step=step.number, request=request.to_dict())
        step.decisions.append(
            HookDecision(
                request.decided_by or "approver", "approval", decision.value, request.message
            )
        )
        if request.scope == "always" and decision is not ApprovalDecision.STOP:
            remember_approval(st.approval_memory, request)
        assert step.tool_call is not None
        tc = step.tool_call
        if decision is ApprovalDecision.APPROVE:
            args = request.edited_args if request.edited_args is not None else request.args
            if request.edited_args is not None:  # validated and coerced like the model's own
                checked, problem = self._revalidate(tc, args, spec)
                if checked is None:
                    step.tool_result = ToolResult(
                        error=f"the approved arguments are invalid: {problem}",
                        error_kind=ErrorKind.VALIDATION,
                    )
                    step.status = StepStatus.ERROR
                    yield from self._record(step, step.tool_result.error)
                    return
                args = checked
            if args != tc.args:
                step.original_args = step.original_args or tc.args
                step.tool_call = ToolCall(tc.tool, args, tc.id)
            yield from self._execute(step, spec, args)
            return
        reason = request.message or "the user denied this call"
        original = ToolCall(tc.tool, step.original_args or tc.args, tc.id)
        yield from self._deny(step, original, tc.args, reason)
        if decision is ApprovalDecision.STOP:
            raise _Finish(StopReason.HOOK_STOP, request.message or "stopped at approval")

    # -- execution ------------------------------------------------------------------------------

    def _execute(self, step: Step, spec: ToolSpec | None, args: dict[str, Any]) -> EngineGen:
        st = self.state
        assert step.tool_call is not None
        tc = step.tool_call
        self.emit(EventKind.TOOL_START, step=step.number, tool=tc.tool, args=args)
        if spec is None:  # the loop's built-in done tool
            result = ToolResult(data=args.get("answer", args))
        else:
            ctx = ToolContext(
                cancel=self.cancel,
                step=step.number,
                run_id=st.run_id,
                workspace=self.config.workspace,
                emit=self._emit_event if self.hooks.on_event else None,
            )
            timeout = spec.timeout if spec.timeout is not None else self.config.tool_timeout
            result = yield RunTool(spec, args, ctx, timeout)
        self.emit(
            EventKind.TOOL_END,
            step=step.number,
            tool=tc.tool,
            ok=result.ok,
            error_kind=result.error_kind.value if result.error_kind else None,
            elapsed_ms=result.elapsed_ms,
        )
        stop: Stop | None = None
        for name, fn in self.hooks.post_dispatch:
            out = self._call(name, "post_dispatch", fn, st, st.steps, tc, result, step.number)
            if out is None:
                continue
            if isinstance(out, InjectContext):
                st.pending_injections.append(out.text)
                self._decide_on(step, name, "post_dispatch", "inject", out.text)
            elif isinstance(out, Stop):
                stop = out
                self._decide_on(step, name, "post_dispatch", "stop", out.reason)
            elif isinstance(out, ToolResult):
                result = out
                self._decide_on(step, name, "post_dispatch", "replace_result")
            else:
                result = ToolResult(data=out, elapsed_ms=result.elapsed_ms)
                self._decide_on(step, name, "post_dispatch", "replace_result")
        step.tool_result = result
        step.status = StepStatus.OK if result.ok else StepStatus.ERROR
        answer: Any = None
        if tc.tool == self.config.done_tool and result.ok:
            step.status = StepStatus.DONE
            answer = result.data
        if result.ok:
            text = result_to_text(result.data, self.config.result_limit)
        else:
            text = (
                f"Error ({result.error_kind.value if result.error_kind else 'error'}): "
                f"{result.error}"
            )
        yield from self._record(step, text)
        if stop is not None:
            raise _Finish(StopReason.HOOK_STOP, stop.reason or "stopped by a hook")
        if step.status is StepStatus.DONE:
            raise _Finish(StopReason.DONE, "the model called done", answer)

    def _emit_event(self, event: Event) -> None:
        for name, fn in self.hooks.on_event:
            try:
                fn(event)
            except Exception as exc:
                if self._event_error is None:
                    self._event_error = HookError(name, "on_event", exc)

    # -- recording ------------------------------------------------------------------------------

    def _record(self, step: Step, model_text: str | None, *, hooks: bool = True) -> EngineGen:
        """Finish a step: check_done, tell the model, log it, yield it, honour stop decisions."""
        st = self.state
        step.finished_at = _now()
        step.elapsed_ms = (step.finished_at - step.started_at) * 1000.0
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
        self.emit(EventKind.STEP, step=step.number, status=step.status.value, tool=step.tool)
        for listener in self.listeners:
            listener(step)
        yield step
        if stop is not None:
            raise _Finish(StopReason.HOOK_STOP, stop.reason or "stopped by a hook")

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
            self.state.conversation.append(Message("tool", text, tool_call_id=tc.id, name=tc.tool))

    def _flush_injections(self) -> None:
        st = self.state
        if st.pending_injections:
            for text in st.pending_injections:
                st.conversation.append(Message("user", text))
            st.pending_injections.clear()

    # -- hook plumbing --------------------------------------------------------------------------

    def _call(self, name: str, phase: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise HookError(name, phase, exc) from exc

    def _decide(self, hook: str, phase: str, decision: str, detail: str = "") -> None:
        record = HookDecision(hook, phase, decision, detail)
        self._pending_decisions.append(record)
        self.emit(EventKind.DECISION, **record.to_dict())

    def _decide_on(
        self, step: Step, hook: str, phase: str, decision: str, detail: str = ""
    ) -> None:
        record = HookDecision(hook, phase, decision, detail)
        step.decisions.append(record)
        self.emit(EventKind.DECISION, step=step.number, **record.to_dict())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}  # type: ignore[misc]
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]  # type: ignore[misc]
    return repr(value)
