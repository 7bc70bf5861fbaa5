"""Lifecycle events delivered to every hook's ``on_event``.

Events are for observers (tracing, metrics, provenance, the debugger); they cannot change the run.
``kind`` is one of the ``EventKind`` values; ``data`` holds JSON-safe details for that kind, with
one exception: ``llm_start`` carries ``prompt``, the exact message list about to be sent (the loop's
O(1) immutable view of ``Message`` objects, so observers such as ``ProvenanceSink`` see what the
model sees after every ``pre_prompt`` hook without a copy per call).  ``Event.to_dict()`` renders
it as message dicts, so ``to_dict()`` output is always JSON-safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Event", "EventKind"]


class EventKind(StrEnum):
    RUN_START = "run_start"  # data: task, max_steps, resumed
    RUN_END = "run_end"  # data: stop_reason, message, steps, usage
    LLM_START = "llm_start"  # data: call, messages (count), prompt (view), tools (schemas sent)
    LLM_DELTA = "llm_delta"  # data: call, kind ("text" | "reasoning"), text
    LLM_END = "llm_end"  # data: call (LLMCall.to_dict())
    LLM_RETRY = "llm_retry"  # data: attempt, wait_s, error
    LLM_ERROR = "llm_error"  # data: error, status
    TOOL_START = "tool_start"  # data: tool, args
    TOOL_PROGRESS = "tool_progress"  # data: tool, fraction, message
    TOOL_END = "tool_end"  # data: tool, ok, error_kind, elapsed_ms
    DECISION = "decision"  # data: HookDecision.to_dict()
    APPROVAL_REQUESTED = "approval_requested"  # data: ApprovalRequest.to_dict()
    APPROVAL_RESOLVED = "approval_resolved"  # data: ApprovalRequest.to_dict()
    COMPACTION = "compaction"  # data: strategy, tokens_before, tokens_after, removed
    CONTEXT_TIER = "context_tier"  # data: tier, previous, percent
    CHECKPOINT = "checkpoint"  # data: checkpoint_id, step
    STEP = "step"  # data: status, tool (the step itself is in the step log hooks receive)
    ERROR = "error"  # data: error, where


_now = time.time
_UNSET: Any = object()
"""An argument not given: ``data`` then gets a new dict and ``time`` the time of the call."""


@dataclass(frozen=True, slots=True, init=False)
class Event:
    kind: EventKind
    run_id: str = ""
    step: int = 0
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    time: float = field(default_factory=time.time)

    # Written out, not generated (as ``messages.ToolCall``'s): a frozen dataclass's own __init__
    # sets each field through object.__setattr__, and a run with a listener builds five events
    # a step.  The slot setters below do the same work directly.
    def __init__(
        self,
        kind: EventKind,
        run_id: str = "",
        step: int = 0,
        data: dict[str, Any] = _UNSET,
        time: float = _UNSET,
    ) -> None:
        _set_kind(self, kind)
        _set_run_id(self, run_id)
        _set_step(self, step)
        _set_data(self, {} if data is _UNSET else data)
        _set_time(self, _now() if time is _UNSET else time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "run_id": self.run_id,
            "step": self.step,
            "data": _json_data(self.kind, self.data),
            "time": self.time,
        }


_set_kind, _set_run_id, _set_step, _set_data, _set_time = (
    Event.__dict__[name].__set__ for name in ("kind", "run_id", "step", "data", "time")
)


def _json_data(kind: EventKind, data: dict[str, Any]) -> dict[str, Any]:
    prompt = data.get("prompt") if kind is EventKind.LLM_START else None
    if prompt is None:
        return data
    return {**data, "prompt": [message.to_dict() for message in prompt]}
