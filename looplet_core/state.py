"""Run configuration (``LoopConfig``) and the run's mutable state (``DefaultState``).

``DefaultState`` holds everything needed to continue a run exactly: the conversation, the steps so
far, the calls still queued from the model's last reply, a pending approval, usage totals and
counters.  Checkpoints serialise it; ``resume`` hands it back to the loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from looplet_core.approvals.requests import ApprovalRequest, Approver
from looplet_core.errors import ConfigError
from looplet_core.messages import Conversation, ToolCall
from looplet_core.records import ContextStats, LLMCall, Usage
from looplet_core.step import LoopResult, Step

if TYPE_CHECKING:
    from pathlib import Path

    from looplet_core.context.budget import ContextBudget
    from looplet_core.context.tokens import TokenEstimator

__all__ = ["DefaultState", "LoopConfig", "StepLog"]


@dataclass(slots=True)
class LoopConfig:
    """How the loop behaves.  Every field has a safe default.

    ``max_steps``: tool calls (steps) allowed in the run; never overshot.
    ``tool_mode``: ``"native"`` uses the backend's tool calling; ``"json"`` asks for JSON in text.
    ``text_is_final``: a reply with text and no tool call ends the run (``final_text``) instead of
    being reported to the model as a missing call.
    ``record_prompts``: keep on every step the exact message list the model saw (the debugger
    turns this on; messages are shared, not copied, but the per-step tuple costs memory).
    ``result_limit``: longest tool result text (characters) the model is sent; longer is cut with
    a marker saying how much was dropped.
    ``context_window``: the model's window in tokens (else the backend's ``context_window``).
    ``context_budget``: the warn / compact / block tiers of ``Step.context`` (docs/context.md).
    ``token_estimator``: prices prompts between usage reports (default: tiktoken if it loads,
    else a fast heuristic).
    ``llm_deadline``: seconds one model attempt may take in all, from the request to the reply's
    last byte, streamed or not (a client's ``timeout`` only bounds the gap between reads, so a
    server that drips a byte at a time or streams keep-alive lines would hold the run for ever).
    Past it the attempt is a ``DeadlineError``, retried like a timeout.  None: no limit.
    ``run_deadline``: seconds this run may take from its start (or its resume), checked before
    every model call and between steps, and cutting a model call short; past it the run ends
    ``deadline`` with an error step saying so, and can be resumed.  None (default): no limit.
    ``max_repeated_failures``: a model that calls a tool that does not exist, or makes the very
    same failing call, this many replies in a row is stuck: the run ends ``stuck`` instead of
    spending its whole step budget.  0 turns the check off.
    """

    max_steps: int = 50
    system_prompt: str | None = None
    tool_mode: Literal["native", "json"] = "native"
    done_tool: str = "done"
    text_is_final: bool = False
    max_parse_retries: int = 3
    llm_retries: int = 3
    retry_backoff: float = 0.5
    max_retry_wait: float = 30.0
    tool_timeout: float | None = None
    result_limit: int | None = 20_000
    record_prompts: bool = False
    stream: bool = False
    approver: Approver | None = None
    workspace: Path | None = None
    context_window: int | None = None
    context_budget: ContextBudget | None = None
    token_estimator: TokenEstimator | None = None
    checkpoint: Any = None  # a CheckpointStore; typed loosely to keep this module import-light
    llm_deadline: float | None = 300.0
    run_deadline: float | None = None
    max_repeated_failures: int = 3

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.tool_mode not in ("native", "json"):
            raise ConfigError(f"tool_mode must be 'native' or 'json', got {self.tool_mode!r}")
        if self.max_parse_retries < 0 or self.llm_retries < 0:
            raise ConfigError("max_parse_retries and llm_retries must not be negative")
        for name in ("llm_deadline", "run_deadline"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds or None: {value}")
        if self.max_repeated_failures < 0:
            raise ConfigError(
                f"max_repeated_failures must be 0 (off) or more, got {self.max_repeated_failures}"
            )
        if self.result_limit is not None and self.result_limit < 100:
            raise ConfigError(
                f"result_limit must be at least 100 characters or None, got {self.result_limit}"
            )


class StepLog(Sequence[Step]):
    """The steps of a run so far (the ``log`` argument hooks receive); append-only."""

    __slots__ = ("_steps",)

    def __init__(self, steps: Sequence[Step] = ()) -> None:
        self._steps: list[Step] = list(steps)

    def append(self, step: Step) -> None:
        self._steps.append(step)

    @property
    def last(self) -> Step | None:
        return self._steps[-1] if self._steps else None

    def errors(self) -> list[Step]:
        return [s for s in self._steps if s.tool_result.error is not None]

    def by_tool(self, name: str) -> list[Step]:
        return [s for s in self._steps if s.tool == name]

    def __len__(self) -> int:
        return len(self._steps)

    @overload
    def __getitem__(self, index: int) -> Step: ...
    @overload
    def __getitem__(self, index: slice) -> list[Step]: ...
    def __getitem__(self, index: int | slice) -> Step | list[Step]:
        return self._steps[index]

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps)

    def __repr__(self) -> str:
        return f"StepLog({len(self._steps)} steps)"


def _new_run_id() -> str:
    return os.urandom(6).hex()  # 48 random bits, as uuid4().hex[:12] gave, without uuid's import


@dataclass
class DefaultState:
    """The run's state, passed to every hook as ``state``.

    Read freely; write only ``data`` (your scratch space, saved in checkpoints when JSON-safe).
    ``last_error`` is the error text of the most recent step if it failed (status ``error``); a
    successful or denied step clears it.
    """

    max_steps: int | None = None
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    run_id: str = field(default_factory=_new_run_id)
    branch_id: str = "main"
    steps: StepLog = field(default_factory=StepLog)
    conversation: Conversation = field(default_factory=Conversation)
    usage: Usage = field(default_factory=Usage)
    last_error: str | None = None
    step_number: int = 0
    llm_calls: int = 0
    parse_failures: int = 0
    queue: list[ToolCall] = field(default_factory=list[ToolCall])
    current_call: LLMCall | None = None
    current_context: ContextStats | None = None
    """Context stats of the prompt behind ``current_call`` (its steps carry them)."""
    context_ratio: float = 1.0
    """The token meter's calibration, so a resumed run estimates as the original would."""
    pending_approval: ApprovalRequest | None = None
    pending_injections: list[str] = field(default_factory=list[str])
    approval_memory: dict[str, str] = field(default_factory=dict[str, str])
    result: LoopResult | None = None
    checkpoint_id: str | None = None
    """The checkpoint this state was last saved as or restored from; the next save links to it."""

    @property
    def messages(self) -> Conversation:
        return self.conversation

    @property
    def finished(self) -> bool:
        """True once the run has ended for good (a paused approval is not an end)."""
        return self.result is not None and self.result.stop_reason.value != "awaiting_approval"

    def to_dict(self) -> dict[str, Any]:
        """All but the conversation and steps, which checkpoints store as append-only logs."""
        return {
            "max_steps": self.max_steps,
            "data": self.data,
            "run_id": self.run_id,
            "branch_id": self.branch_id,
            "usage": self.usage.to_dict(),
            "last_error": self.last_error,
            "step_number": self.step_number,
            "llm_calls": self.llm_calls,
            "parse_failures": self.parse_failures,
            "queue": [tc.to_dict() for tc in self.queue],
            "current_call": self.current_call.to_dict() if self.current_call else None,
            "current_context": self.current_context.to_dict() if self.current_context else None,
            "context_ratio": self.context_ratio,
            "pending_approval": self.pending_approval.to_dict() if self.pending_approval else None,
            "pending_injections": list(self.pending_injections),
            "approval_memory": dict(self.approval_memory),
            "result": self.result.to_dict() | {"steps": []} if self.result else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DefaultState:
        """Rebuild from ``to_dict`` output; the caller restores conversation and steps."""
        approval = data.get("pending_approval")
        call = data.get("current_call")
        context = data.get("current_context")
        result = data.get("result")
        queue = cast(list[dict[str, Any]], data.get("queue") or [])
        return cls(
            max_steps=data.get("max_steps"),
            data=dict(data.get("data") or {}),
            run_id=str(data["run_id"]),
            branch_id=str(data.get("branch_id") or "main"),
            usage=Usage.from_dict(data.get("usage") or {}),
            last_error=data.get("last_error"),
            step_number=int(data.get("step_number") or 0),
            llm_calls=int(data.get("llm_calls") or 0),
            parse_failures=int(data.get("parse_failures") or 0),
            queue=[ToolCall.from_dict(q) for q in queue],
            current_call=LLMCall.from_dict(call) if call else None,
            current_context=ContextStats.from_dict(context) if context else None,
            context_ratio=float(data.get("context_ratio") or 1.0),
            pending_approval=ApprovalRequest.from_dict(approval) if approval else None,
            pending_injections=[
                str(t) for t in cast(list[Any], data.get("pending_injections") or [])
            ],
            approval_memory={
                str(k): str(v)
                for k, v in cast(dict[str, Any], data.get("approval_memory") or {}).items()
            },
            result=LoopResult.from_dict(result) if result else None,
        )
