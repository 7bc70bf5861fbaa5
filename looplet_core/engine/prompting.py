"""Asking the model: pre_prompt hooks, the call with retries, and replies with no usable call."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, cast

from looplet_core.backends.base import LLMResponse
from looplet_core.context.prompt import Prompt
from looplet_core.decisions import ContextExhausted, Edit, InjectContext, Stop
from looplet_core.engine.core import EngineCore
from looplet_core.engine.effects import CallModel, Effect, EngineGen, Finish, Sleep, clock, now
from looplet_core.errors import (
    BackendError,
    ContextLengthError,
    DeadlineError,
    HookError,
    RateLimitError,
    ScriptExhaustedError,
    TransientBackendError,
)
from looplet_core.events import EventKind
from looplet_core.firstuse import NOT_YET
from looplet_core.messages import Message, ToolCall
from looplet_core.records import (
    AttemptFailure,
    ContextStats,
    ErrorKind,
    LLMCall,
    StopReason,
    ToolResult,
)
from looplet_core.step import StepStatus
from looplet_core.tools.textcalls import parse_tool_calls

_LLM_START, _LLM_END = EventKind.LLM_START, EventKind.LLM_END  # read once (as core._STEP)


class Prompting(EngineCore):
    """Builds the prompt, calls the model (retrying what is transient), queues its calls."""

    def _ask_model(self) -> EngineGen:
        st = self.state
        messages: Sequence[Message] = st.conversation.view()
        stats = self.meter.measure(messages, self.backend_tools, st.conversation)
        prompt: Prompt | None = None
        if self.hooks.pre_prompt:  # a Prompt is built for hooks (and an overflow) only
            prompt = self._pre_prompt(self._prompt(messages, stats))
        self._check_interrupts()  # a cancel while hooks ran (a paused debugger) skips the call
        if prompt is not None:  # what is sent: hooks may have compacted, injected or edited
            messages = prompt.messages
            stats = self.meter.measure(messages, self.backend_tools, st.conversation)
        self._context = stats
        if self.config.record_prompts:
            self._last_prompt = messages  # an immutable view or a hook's own list: no copy
        self._step_started = now()
        response, messages = yield from self._call_llm(messages, prompt)
        st.llm_calls += 1
        calls = response.tool_calls
        parse_error: str | None = None
        if self.json_mode:
            calls, parse_error = parse_tool_calls(response.text)
        shared = tuple(calls)  # the call's tool_calls and the assistant message's, one tuple
        call = LLMCall(  # positional (every field, in order): keywords cost a match each
            st.llm_calls,
            response.text,
            response.reasoning,
            cast("list[ToolCall]", shared),  # read as a list, made on first use (firstuse.py)
            response.usage,
            response.latency_ms,
            response.stop_reason,
            response.model,
            self._attempts,
            len(messages),
            NOT_YET if self._failures is None else self._failures,
        )
        if response.usage is not None:
            st.usage = st.usage + response.usage
            self._context = self.meter.observe(response.usage.input_tokens) or self._context
        if self._heard_by[_LLM_END]:  # the payload costs a dict per step; build it only when heard
            self._heard(_LLM_END, 0, {"call": call.to_dict()})
        st.conversation.append(
            Message(  # positional, as LLMCall above
                "assistant",
                response.text,
                () if self.json_mode else shared,
                None,
                None,
                response.reasoning,
            )
        )
        st.current_call = call
        st.current_context, st.context_ratio = self._context, self.meter.ratio
        if calls:
            st.queue = list(calls)
            return
        if response.text.strip() and self.config.text_is_final:
            raise Finish(StopReason.FINAL_TEXT, "the model answered in text", response.text)
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

    def _prompt(self, messages: Sequence[Message], stats: ContextStats) -> Prompt:
        """The ``Prompt`` that ``pre_prompt`` hooks (and compaction after an overflow) act on."""
        st = self.state
        return Prompt(
            messages,
            self.schemas,
            st.step_number + 1,
            st.conversation,
            stats=stats,
            meter=self.meter,
            llm=self.llm,
            emit=self.emit,
        )

    def _pre_prompt(self, prompt: Prompt) -> Prompt:
        st = self.state
        for name, fn in self.hooks.pre_prompt:
            revision = st.conversation.revision
            out = self._call(name, "pre_prompt", fn, st, st.steps, prompt, prompt.step)
            edit: Edit | None = None
            if isinstance(out, Edit):
                edit, out = out, out.value
            rewrote = st.conversation.revision != revision
            # An edit that also rewrote the history says so; a bare Prompt stays an "edit".
            kind = "rewrite_history" if rewrote and edit is not None else "edit"
            if out is None:
                if rewrote:
                    prompt.messages = st.conversation.view()
                    self._decide(name, "pre_prompt", "rewrite_history", edit=edit)
            elif isinstance(out, Prompt):
                prompt = out
                self._decide(name, "pre_prompt", kind, edit=edit)
            elif isinstance(out, list):
                prompt = prompt.with_messages(out)  # type: ignore[arg-type]
                self._decide(name, "pre_prompt", kind, edit=edit)
            elif isinstance(out, InjectContext):
                st.conversation.append(Message("user", out.text))
                prompt.messages = st.conversation.view()
                self._decide(name, "pre_prompt", "inject", out.text, edit=edit)
            elif isinstance(out, Stop):
                self._decide(name, "pre_prompt", "stop", out.reason, edit=edit)
                reason = (
                    StopReason.CONTEXT_EXHAUSTED
                    if isinstance(out, ContextExhausted)
                    else StopReason.HOOK_STOP
                )
                raise Finish(reason, out.reason or f"stopped by {name}")
            else:
                raise HookError(name, "pre_prompt", TypeError(f"unsupported return {out!r}"))
        return prompt

    def _call_llm(
        self, messages: Sequence[Message], prompt: Prompt | None
    ) -> Generator[Effect, Any, tuple[LLMResponse, Sequence[Message]]]:
        """Send ``messages`` (``prompt``'s, when hooks saw one), retrying what is transient;
        return the reply and the messages it answered (compaction after an overflow changes
        them)."""
        self._attempts = 0
        self._failures = None  # a list once an attempt fails: most calls have none
        self._prompt_messages = len(messages)
        overflowed = False
        while True:
            self._attempts += 1
            deadline, limit = self._attempt_deadline()
            if self._heard_by[_LLM_START]:
                self._heard(
                    _LLM_START,
                    0,
                    {
                        "call": self.state.llm_calls + 1,
                        "messages": len(messages),
                        "prompt": messages,
                        "tools": self.backend_tools,
                    },
                )
            began = clock()
            configured = getattr(self.config, limit)
            outcome = yield CallModel(
                messages, self.backend_tools, self.on_delta, deadline, limit, configured
            )
            if isinstance(outcome, LLMResponse):
                return outcome, messages
            self._check_interrupts()  # cancelled while the model answered: that, not an error
            if isinstance(outcome, ScriptExhaustedError):
                raise outcome
            error: BaseException = outcome
            failure = AttemptFailure(
                attempt=self._attempts,
                error=str(error),
                kind=type(error).__name__,
                latency_ms=(clock() - began) * 1000.0,
                status=error.status if isinstance(error, BackendError) else None,
            )
            if self._failures is None:
                self._failures = []
            self._failures.append(failure)
            if isinstance(error, ContextLengthError) and not overflowed:
                overflowed = True
                if prompt is None:
                    prompt = self._prompt(messages, self._context or self.meter.measure(messages))
                if self._compact_after_overflow(prompt):
                    messages = prompt.messages
                    continue
            if (
                isinstance(error, TransientBackendError)
                and self._attempts <= self.config.llm_retries
                and not (isinstance(error, DeadlineError) and error.limit == "run_deadline")
            ):
                wait = self.config.retry_backoff * 2 ** (self._attempts - 1)
                if isinstance(error, RateLimitError) and error.retry_after is not None:
                    wait = error.retry_after
                wait = min(wait, self.config.max_retry_wait)
                left = self._run_left()
                if left is not None and wait >= left:  # the run would end while it waited
                    yield from self._llm_failed(error)
                self._failures[-1] = AttemptFailure(
                    failure.attempt,
                    failure.error,
                    failure.kind,
                    failure.latency_ms,
                    failure.status,
                    wait,
                )
                self.emit(
                    EventKind.LLM_RETRY, attempt=self._attempts, wait_s=wait, error=str(error)
                )
                yield Sleep(wait)
                self._check_interrupts()
                continue
            yield from self._llm_failed(error)

    def _attempt_deadline(self) -> tuple[float | None, str]:
        """Seconds the next attempt may take, and the setting that sets them: ``llm_deadline``,
        or ``run_deadline`` when less of the run is left than that."""
        allowed = self.config.llm_deadline
        left = self._run_left()
        if left is None or (allowed is not None and allowed <= left):
            return allowed, "llm_deadline"
        if left <= 0:
            raise self._run_out()
        return left, "run_deadline"

    def _compact_after_overflow(self, prompt: Prompt) -> bool:
        """The server said the prompt is too long: compact the history once, for one retry."""
        from looplet_core.context.hooks import compact_after_overflow  # only on overflow

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
            self._last_prompt = prompt.messages  # an immutable view or a hook's own list: no copy
        return True

    def _llm_failed(self, error: BaseException) -> EngineGen:
        st = self.state
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
        # The call that got no answer, with every attempt, so a debugger and a trace show them.
        call = LLMCall(
            index=st.llm_calls + 1,
            model=getattr(self.llm, "model", None),
            attempts=self._attempts,
            prompt_messages=self._prompt_messages,
            failures=self._failures or [],
        )
        self.emit(EventKind.LLM_ERROR, error=detail, status=status, call=call.to_dict())
        st.current_call = call
        step = self._new_step(None)
        step.tool_result = ToolResult(
            error=detail, error_kind=ErrorKind.CONTEXT if overflow else ErrorKind.LLM
        )
        step.status = StepStatus.ERROR
        yield from self._record(step, None)
        if isinstance(error, DeadlineError) and error.limit == "run_deadline":
            raise Finish(StopReason.DEADLINE, detail)
        raise Finish(StopReason.CONTEXT_EXHAUSTED if overflow else StopReason.LLM_ERROR, detail)
