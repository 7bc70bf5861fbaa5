"""Replaying a trace: the recorded model replies, recorded or live tools, and the first divergence.

``ReplayBackend`` is an ordinary backend that serves a trace's model replies in order; use it
anywhere a backend goes (the debugger replays saved traces with it).  ``replay_loop`` drives the
loop with it and compares every step with the recording:

* ``mode="recorded"``: no tool runs.  Each call gets the result recorded for that step, so a replay
  has no side effects.  If the replay asks for a call the recording never made (another tool,
  other arguments), there is no result to give: the step gets an error saying so and the replay
  stops there, with the divergence reported.
* ``mode="live"``: tools run for real, so a tool whose behaviour changed shows up as the first step
  whose result differs, and the replay goes on to the end.

Pass ``llm=`` to replace the recorded model (a new script, another model) and see where its run
parts from the recording.  Pass the same ``config`` (and hooks) the run had; by default the
recorded step budget is used.  Replay drives the same ``Engine`` as ``composable_loop``, so hooks,
approval and stop rules behave exactly as in a live run.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from looplet_core.backends.base import DeltaCallback, LLMBackend, LLMResponse, ToolSchema
from looplet_core.cancel import CancelToken
from looplet_core.engine import CallModel, Engine, RunTool
from looplet_core.errors import BackendError, ScriptExhaustedError
from looplet_core.messages import Message
from looplet_core.provenance.compare import Divergence, canonical, compare_steps, describe_step
from looplet_core.provenance.reader import TraceReader
from looplet_core.provenance.redact import Redactor
from looplet_core.records import ErrorKind, LLMCall, ToolResult
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import LoopResult, Step, StepStatus
from looplet_core.tools.registry import BaseToolRegistry

__all__ = ["ReplayBackend", "ReplayResult", "recorded_reply", "replay", "replay_loop"]

TraceLike = TraceReader | str | os.PathLike[str]


def _reader(trace: TraceLike) -> TraceReader:
    return trace if isinstance(trace, TraceReader) else TraceReader(trace)


def recorded_reply(call: LLMCall, on_delta: DeltaCallback | None = None) -> LLMResponse:
    """``call``'s reply as a backend returns it, streamed to ``on_delta`` as it was recorded
    (reasoning, then text); a new object each time, so a run never changes the recording."""
    if on_delta is not None:
        if call.reasoning:
            on_delta("reasoning", call.reasoning)
        if call.text:
            on_delta("text", call.text)
    return LLMResponse(
        text=call.text,
        tool_calls=list(call.tool_calls),
        usage=copy.copy(call.usage),
        stop_reason=call.stop_reason,
        latency_ms=call.latency_ms,
        model=call.model,
        reasoning=call.reasoning,
    )


class ReplayBackend:
    """A backend that answers with a trace's recorded replies, in order.

    Raises ``ScriptExhaustedError`` when asked for more replies than were recorded, like
    ``MockLLMBackend``: a replay that needs a reply the model never gave has diverged.
    """

    in_process = True  # answers without I/O: the loop calls it directly, no deadline thread

    def __init__(self, trace: TraceLike) -> None:
        self.trace = _reader(trace)
        self.calls = [c for c in self.trace.llm_calls() if not c.failed]  # answers only
        self.model = self.trace.model or "replay"
        self.requests: list[Sequence[Message]] = []
        self._position = 0

    @property
    def remaining(self) -> int:
        return len(self.calls) - self._position

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        self.requests.append(messages)
        if self._position >= len(self.calls):
            raise ScriptExhaustedError(
                f"the trace {self.trace.path} recorded {len(self.calls)} model replies and reply "
                f"{self._position + 1} was asked for: the replay has diverged from the recording"
            )
        call = self.calls[self._position]
        self._position += 1
        return recorded_reply(call, on_delta)

    async def agenerate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        return self.generate(messages, tools=tools, on_delta=on_delta)


@dataclass(slots=True)
class ReplayResult:
    """How a replay went: its steps and result, and where it first parted from the recording."""

    result: LoopResult
    divergence: Divergence | None
    mode: str
    steps: list[Step] = field(default_factory=list[Step])

    @property
    def diverged(self) -> bool:
        return self.divergence is not None

    def __str__(self) -> str:
        head = f"replay ({self.mode}): {len(self.steps)} steps, {self.result.stop_reason.value}"
        if self.divergence is None:
            return head + "; matches the recording"
        return f"{head}; diverged at {self.divergence}"


class _Replay:
    """The state of one replay: recorded steps read on demand, the first divergence so far."""

    def __init__(self, reader: TraceReader, redactor: Redactor, compare_prompts: bool) -> None:
        self.reader = reader
        self.redactor = redactor
        self.compare_prompts = compare_prompts
        self.divergence: Divergence | None = None
        self.calls = 0

    def recorded(self, number: int) -> Step | None:
        return self.reader.step(number) if number <= len(self.reader) else None

    def note(self, found: Divergence | None) -> None:
        if self.divergence is None:
            self.divergence = found

    def live(self, step: Step) -> Step:
        """The step as the trace would hold it (secrets redacted), for a fair comparison."""
        return Step.from_dict(self.redactor.value(step.to_dict()))

    def check_prompt(self, call: int, step: int, messages: Sequence[Message]) -> None:
        if not self.compare_prompts or self.divergence is not None:
            return
        try:
            want = [m.to_dict() for m in self.reader.prompt(call)]
        except IndexError:
            return  # a call past the recording: reported as an "end" divergence
        got = [self.redactor.value(m.to_dict()) for m in messages]
        for i in range(max(len(want), len(got))):
            a = want[i] if i < len(want) else None
            b = got[i] if i < len(got) else None
            if a != b:
                self.note(Divergence(step, "prompt", _message(i, a), _message(i, b)))
                return

    def tool_result(self, effect: RunTool, cancel: CancelToken) -> ToolResult:
        """The recorded result for this call, or (when the call differs) an error and a stop."""
        number, name = effect.ctx.step, effect.spec.name
        recorded = self.recorded(number)
        args = canonical(self.redactor.value(effect.args))
        want = canonical(recorded.tool_call.args) if recorded and recorded.tool_call else ""
        ran = (
            recorded is not None
            and recorded.status is not StepStatus.DENIED
            and recorded.tool_result.error_kind not in _NOT_RUN
        )
        if recorded is not None and recorded.tool == name and want == args and ran:
            return ToolResult.from_dict(recorded.tool_result.to_dict())
        if recorded is None or recorded.tool != name:
            self.note(Divergence(number, "tool", describe_step(recorded), f"{name} {args}"))
        elif want != args:
            self.note(Divergence(number, "args", want, args))
        else:
            self.note(Divergence(number, "status", describe_step(recorded), f"{name} {args} ran"))
        cancel.cancel(f"replay diverged from the recording at step {number}")
        return ToolResult(
            error="replay diverged from the recording here: it has no result for this call, "
            "so the call was not run",
            error_kind=ErrorKind.EXECUTION,
        )


_NOT_RUN = (ErrorKind.VALIDATION, ErrorKind.PERMISSION, ErrorKind.PARSE, ErrorKind.LLM)


def _message(position: int, message: dict[str, Any] | None) -> str:
    if message is None:
        return f"message {position + 1}: (none)"
    text = " ".join(str(message.get("content") or "").split())
    calls = message.get("tool_calls")
    extra = f" calls {calls}" if calls else ""
    return f"message {position + 1} ({message.get('role')}): {text[:120]!r}{extra}"[:200]


def replay_loop(
    trace: TraceLike,
    tools: BaseToolRegistry,
    *,
    mode: Literal["recorded", "live"] = "recorded",
    llm: LLMBackend | None = None,
    config: LoopConfig | None = None,
    state: DefaultState | None = None,
    hooks: Sequence[object] = (),
    task: Any = None,
    redact: Redactor | None = None,
    compare_prompts: bool = True,
) -> Generator[Step, None, ReplayResult]:
    """Replay ``trace``, yielding steps like ``composable_loop``; returns a ``ReplayResult``.

    ``task`` defaults to the recorded one; ``redact`` should match the recording's redaction
    when it used custom patterns or secrets (live values are redacted before comparing, so a
    secret in a live step does not count as a divergence).
    """
    if mode not in ("recorded", "live"):
        raise ValueError(f"mode must be 'recorded' or 'live', got {mode!r}")
    reader = _reader(trace)
    backend = llm if llm is not None else ReplayBackend(reader)
    max_steps = reader.manifest.get("max_steps")
    config = config or LoopConfig(max_steps=max_steps if isinstance(max_steps, int) else 50)
    state = state if state is not None else DefaultState()
    cancel = CancelToken()
    replay = _Replay(reader, redact or Redactor(), compare_prompts)
    engine = Engine(
        tools=tools,
        task=reader.task if task is None else task,
        config=config,
        state=state,
        hooks=list(hooks),
        cancel=cancel,
    )
    gen = engine.run()
    steps: list[Step] = []
    reply: Any = None
    try:
        while True:
            effect = gen.send(reply)
            reply = None
            if isinstance(effect, Step):
                if effect.status is not StepStatus.AWAITING_APPROVAL:
                    steps.append(effect)
                    replay.note(compare_steps(replay.recorded(effect.number), replay.live(effect)))
                yield effect
            elif isinstance(effect, CallModel):
                replay.calls += 1
                upcoming = state.step_number + 1
                replay.check_prompt(replay.calls, upcoming, effect.messages)
                if isinstance(backend, ReplayBackend) and backend.remaining == 0:
                    reply = _past_recording(reader, replay, upcoming)
                else:
                    reply = _generate(backend, effect)
            elif isinstance(effect, RunTool):
                if mode == "live":
                    reply = tools.execute(
                        effect.spec, effect.args, effect.ctx, timeout=effect.timeout
                    )
                else:
                    reply = replay.tool_result(effect, cancel)
            else:
                cancel.wait(effect.seconds)
    except StopIteration as finished:
        result: LoopResult = finished.value
    finally:
        gen.close()
    if replay.divergence is None and len(steps) < len(reader):
        replay.note(compare_steps(replay.recorded(len(steps) + 1), None))
    recorded_stop = reader.stop_reason
    if (
        replay.divergence is None
        and recorded_stop is not None
        and result.stop_reason is not recorded_stop
    ):
        replay.note(
            Divergence(len(steps), "stop_reason", recorded_stop.value, result.stop_reason.value)
        )
    return ReplayResult(result=result, divergence=replay.divergence, mode=mode, steps=steps)


def replay(trace: TraceLike, tools: BaseToolRegistry, **kwargs: Any) -> ReplayResult:
    """Run ``replay_loop`` to the end and return its ``ReplayResult``."""
    gen = replay_loop(trace, tools, **kwargs)
    while True:
        try:
            next(gen)
        except StopIteration as finished:
            outcome: ReplayResult = finished.value
            return outcome


def _past_recording(reader: TraceReader, replay: _Replay, step: int) -> BaseException:
    """What the model 'answers' when the replay wants a reply the recording does not have."""
    if reader.stop_reason is not None and reader.stop_reason.value == "llm_error":
        return BackendError(str(reader.manifest.get("message") or "recorded model failure"))
    replay.note(
        Divergence(
            step,
            "end",
            f"the run ended ({reader.stop_reason or 'unfinished'}) after {len(reader)} steps",
            "another model call",
        )
    )
    return BackendError("replay: the recording has no further model reply")


def _generate(llm: LLMBackend, effect: CallModel) -> LLMResponse | BaseException:
    try:
        return llm.generate(effect.messages, tools=effect.tools, on_delta=effect.on_delta)
    except Exception as exc:  # the engine decides, as in composable_loop
        return exc
