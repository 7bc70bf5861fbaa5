"""Plain data the loop produces besides steps: tool results, usage, LLM calls, context stats.

All of it round-trips through JSON (``to_dict`` / ``from_dict``) so steps can be saved, diffed,
checkpointed and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from looplet_core.firstuse import (
    NOT_YET,
    PackedOnFirstUse,
    first_use,
    lists_on_first_use,
    packed_on_first_use,
)
from looplet_core.messages import ToolCall, optional

__all__ = [
    "CONTEXT_ROLES",
    "AttemptFailure",
    "ContextStats",
    "ErrorKind",
    "HookDecision",
    "LLMCall",
    "StopReason",
    "ToolResult",
    "Usage",
]


class ErrorKind(StrEnum):
    """Why a step failed; the debugger colours and filters by it."""

    VALIDATION = "validation"  # arguments did not match the tool's schema, or no such tool
    EXECUTION = "execution"  # the tool raised
    TIMEOUT = "timeout"  # the tool ran past its timeout
    PERMISSION = "permission"  # a hook or approver denied the call
    PARSE = "parse"  # the model's reply held no usable call (prose, empty, bad JSON)
    LLM = "llm"  # the model server failed
    HOOK = "hook"  # a hook raised
    CANCELLED = "cancelled"  # the run was cancelled while the call was pending
    CONTEXT = "context"  # the prompt could not fit the context window


class StopReason(StrEnum):
    """Why a run ended; on ``LoopResult.stop_reason``."""

    DONE = "done"  # the model called the done tool and check_done hooks agreed
    MAX_STEPS = "max_steps"  # the step budget is spent
    HOOK_STOP = "hook_stop"  # a hook returned Stop
    CANCELLED = "cancelled"  # the cancel token was set
    LLM_ERROR = "llm_error"  # the model server failed after retries
    PARSE_ERROR = "parse_error"  # the model kept replying with nothing usable
    HOOK_ERROR = "hook_error"  # a hook raised
    CONTEXT_EXHAUSTED = "context_exhausted"  # the prompt could not be made to fit
    AWAITING_APPROVAL = "awaiting_approval"  # paused on a pending approval; resume to continue
    FINAL_TEXT = "final_text"  # the model answered in text and the config accepts that as final
    DEADLINE = "deadline"  # the run passed LoopConfig.run_deadline; resume to continue
    STUCK = "stuck"  # the model kept making a call that cannot work (unknown tool, same failure)


@dataclass(slots=True)
class ToolResult:
    """What a tool returned, or why it did not.  ``error`` is None on success."""

    data: Any = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    traceback: str | None = None
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "error": self.error,
            "error_kind": self.error_kind.value if self.error_kind else None,
            "traceback": self.traceback,
            "elapsed_ms": self.elapsed_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolResult:
        kind = data.get("error_kind")
        return cls(
            data=data.get("data"),
            error=optional(data.get("error"), str, "error"),
            error_kind=ErrorKind(kind) if kind else None,
            traceback=optional(data.get("traceback"), str, "traceback"),
            elapsed_ms=float(data.get("elapsed_ms") or 0.0),
        )


@dataclass(slots=True)
class Usage:
    """Token counts.  ``measured`` is True when the provider reported them, False if estimated."""

    input_tokens: int = 0
    output_tokens: int = 0
    measured: bool = True

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.measured and other.measured,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "measured": self.measured,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        return cls(
            int(data.get("input_tokens") or 0),
            int(data.get("output_tokens") or 0),
            bool(data.get("measured", True)),
        )


@dataclass(frozen=True, slots=True)
class AttemptFailure:
    """One request to the model that failed: which attempt, what came back, how long it took.

    ``status`` is the HTTP status when the server answered with one; ``error`` the loop's own
    wording of the failure (the key redacted); ``wait_s`` the backoff before the next attempt
    (None for the last).  Kept on the step's ``LLMCall`` so a debugger or a trace can show every
    attempt, not only the message of the last.
    """

    attempt: int
    error: str
    kind: str
    latency_ms: float
    status: int | None = None
    wait_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "error": self.error,
            "kind": self.kind,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "wait_s": self.wait_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttemptFailure:
        status = data.get("status")
        wait = data.get("wait_s")
        return cls(
            attempt=int(data["attempt"]),
            error=str(data.get("error") or ""),
            kind=str(data.get("kind") or ""),
            latency_ms=float(data.get("latency_ms") or 0.0),
            status=int(status) if status is not None else None,
            wait_s=float(wait) if wait is not None else None,
        )


@dataclass(slots=True)
class LLMCall:
    """One request to the model and its answer.  Steps made from one reply share one LLMCall."""

    index: int
    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = NOT_YET  # a list, made when first read (firstuse.py)
    usage: Usage | None = None
    latency_ms: float = 0.0
    stop_reason: str | None = None
    model: str | None = None
    attempts: int = 1
    prompt_messages: int = 0  # how many messages were sent
    failures: list[AttemptFailure] = NOT_YET  # a list, made when first read (firstuse.py)
    """Every attempt that failed before this answer (or, on an ``llm_error`` step, all of them)."""

    @property
    def failed(self) -> bool:
        """No answer came back: every attempt failed (the call of an ``llm_error`` step)."""
        return len(_failures.stored(self)) >= self.attempts

    def to_dict(self) -> dict[str, Any]:
        out = self._fields()
        failures = _failures.stored(self)
        if failures:  # only when something failed, so old readers and files stay as they were
            out["failures"] = [f.to_dict() for f in failures]
        return out

    def _fields(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "text": self.text,
            "reasoning": self.reasoning,
            "tool_calls": [tc.to_dict() for tc in _tool_calls.stored(self)],
            "usage": self.usage.to_dict() if self.usage else None,
            "latency_ms": self.latency_ms,
            "stop_reason": self.stop_reason,
            "model": self.model,
            "attempts": self.attempts,
            "prompt_messages": self.prompt_messages,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LLMCall:
        usage = data.get("usage")
        calls = cast(list[dict[str, Any]], data.get("tool_calls") or [])
        return cls(
            index=int(data["index"]),
            text=str(data.get("text") or ""),
            reasoning=optional(data.get("reasoning"), str, "reasoning"),
            tool_calls=[ToolCall.from_dict(c) for c in calls],
            usage=Usage.from_dict(usage) if usage else None,
            latency_ms=float(data.get("latency_ms") or 0.0),
            stop_reason=optional(data.get("stop_reason"), str, "stop_reason"),
            model=optional(data.get("model"), str, "model"),
            attempts=int(data.get("attempts") or 1),
            prompt_messages=int(data.get("prompt_messages") or 0),
            failures=[
                AttemptFailure.from_dict(f)
                for f in cast(list[dict[str, Any]], data.get("failures") or [])
            ],
        )


lists_on_first_use(LLMCall, "tool_calls", "failures")
_tool_calls = first_use(LLMCall, "tool_calls")
_failures = first_use(LLMCall, "failures")


CONTEXT_ROLES: tuple[str, ...] = ("system", "tools", "user", "assistant", "tool")
"""The keys of ``ContextStats.by_role`` as the context meter writes them, in its order."""

_COUNT_BITS = 40  # a count up to a trillion tokens packs; a dict with a larger one is kept as is
_COUNT_LIMIT = 1 << _COUNT_BITS
_COUNT_MASK = _COUNT_LIMIT - 1


def _pack_counts(by_role: dict[str, int]) -> int | dict[str, int]:
    """A meter's five counts in one int, ``_COUNT_BITS`` bits each in ``CONTEXT_ROLES`` order
    (``system`` highest); ``by_role`` itself when its keys are not those, in that order, or a
    count is not an integer from 0 to ``_COUNT_LIMIT - 1`` (an integer of another type, a
    bool say, reads back as the int of equal value).

    Why an int: a step's stats keep the counts for the whole run.  A dict of five is 184 bytes,
    a tuple 80 and keeps two counts alive that change every step (the running totals of the
    assistant's and the tools' messages, 32 bytes each); the int is 56 bytes alone, and the
    garbage collector never walks it."""
    if tuple(by_role) != CONTEXT_ROLES:
        return by_role
    system, tools, user, assistant, tool = by_role.values()
    try:
        fits = 0 <= system | tools | user | assistant | tool < _COUNT_LIMIT  # a negative: < 0
    except TypeError:  # a count that is not an integer
        return by_role
    if not fits:
        return by_role
    bits = _COUNT_BITS
    return (((system << bits | tools) << bits | user) << bits | assistant) << bits | tool


def _unpack_counts(packed: int) -> dict[str, int]:
    """The dict ``_pack_counts`` packed, keys in ``CONTEXT_ROLES`` order."""
    bits, mask = _COUNT_BITS, _COUNT_MASK
    counts = (
        packed >> 4 * bits,
        (packed >> 3 * bits) & mask,
        (packed >> 2 * bits) & mask,
        (packed >> bits) & mask,
        packed & mask,
    )
    return dict(zip(CONTEXT_ROLES, counts, strict=True))


@dataclass(slots=True)
class ContextStats:
    """How full the context window was for the prompt behind a step, by role.

    ``by_role`` keys: system, tools (schemas), user, assistant, tool (results).  ``measured`` says
    whether ``total`` came from the provider's reported usage or from the estimator.

    Stats made by ``counted`` (the context meter's, one a step) hold ``by_role`` packed in one
    int until it is first read, when the dict is made and kept (``firstuse.py``): a long run
    keeps one per step and most are never read.
    """

    by_role: dict[str, int] = field(default_factory=dict[str, int])
    total: int = 0
    window: int | None = None
    measured: bool = False
    tier: str = "ok"

    @property
    def percent(self) -> float | None:
        if not self.window:
            return None
        return 100.0 * self.total / self.window

    @classmethod
    def counted(
        cls, by_role: dict[str, int], total: int, window: int | None, measured: bool, tier: str
    ) -> ContextStats:
        """Stats that keep ``by_role`` packed in an int while it is unread, when its keys are
        ``CONTEXT_ROLES`` in order and its counts ints that fit (as the context meter's are);
        otherwise as given."""
        packed: Any = _pack_counts(by_role)  # (not cast(): a call every step)
        return cls(packed, total, window, measured, tier)

    def to_dict(self) -> dict[str, Any]:
        stored = _by_role.stored(self)  # the int, unpacked without keeping the dict, or the dict
        return {
            "by_role": _unpack_counts(stored)
            if type(stored) is int
            else dict(cast(dict[str, int], stored)),
            "total": self.total,
            "window": self.window,
            "measured": self.measured,
            "tier": self.tier,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContextStats:
        return cls(
            by_role={str(k): int(v) for k, v in dict(data.get("by_role") or {}).items()},
            total=int(data.get("total") or 0),
            window=optional(data.get("window"), int, "window"),
            measured=bool(data.get("measured", False)),
            tier=str(data.get("tier") or "ok"),
        )


packed_on_first_use(ContextStats, "by_role", _unpack_counts)
_by_role = cast(PackedOnFirstUse, ContextStats.__dict__["by_role"])


@dataclass(frozen=True, slots=True)
class HookDecision:
    """A decision a hook (or the approver, or the loop's own rules) made about a step.

    ``before`` and ``after`` are set for an edit that said what it changed (``Edit``): the
    changed part as it was and as it went on.  They are written only when set, so records
    without them read and write exactly as before.
    """

    hook: str
    phase: str
    decision: str
    detail: str = ""
    before: str = ""
    after: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = {
            "hook": self.hook,
            "phase": self.phase,
            "decision": self.decision,
            "detail": self.detail,
        }
        if self.before or self.after:
            data["before"] = self.before
            data["after"] = self.after
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HookDecision:
        return cls(
            str(data["hook"]),
            str(data["phase"]),
            str(data["decision"]),
            str(data.get("detail") or ""),
            str(data.get("before") or ""),
            str(data.get("after") or ""),
        )
