"""``Step``: one tool call of a run, as plain data you can print, save, diff and replay.

``Step.pretty()`` gives the one-line form (``#1 ✓ search(query='cats') → 12 items [182ms]``);
``Step.__rich__`` gives a styled form in which model and tool text is always literal (never read as
Rich markup or terminal escapes).  Rich finds ``__rich__`` by duck typing, so this module does not
import rich unless a renderer asks for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from looplet_core.compactread import (
    compact_calls,
    compact_context,
    compact_decisions,
    shared_text,
)
from looplet_core.firstuse import NOT_YET, first_use, lists_on_first_use
from looplet_core.messages import Message, ToolCall, optional
from looplet_core.records import (
    ContextStats,
    HookDecision,
    LLMCall,
    StopReason,
    ToolResult,
    Usage,
)

if TYPE_CHECKING:
    from looplet_core.approvals.requests import ApprovalRequest

__all__ = ["BatchInfo", "ChildRun", "LoopResult", "Step", "StepStatus", "summarize_value"]


class StepStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    DENIED = "denied"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"


_ICONS = {
    StepStatus.OK: "✓",
    StepStatus.DONE: "✓",
    StepStatus.ERROR: "✗",
    StepStatus.DENIED: "✗",
    StepStatus.AWAITING_APPROVAL: "⏸",
}
_STYLES = {
    StepStatus.OK: "green",
    StepStatus.DONE: "bold green",
    StepStatus.ERROR: "bold red",
    StepStatus.DENIED: "yellow",
    StepStatus.AWAITING_APPROVAL: "bold magenta",
}

_ARG_LIMIT = 40
_RESULT_LIMIT = 60


def _visible_table() -> dict[int, str]:
    # C0 and C1 controls as \xNN (0x9b alone is a CSI on some terminals), as the CLI shows them.
    table = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
    bidi = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    table.update({code: f"<U+{code:04X}>" for code in bidi})
    return table


_VISIBLE = _visible_table()


def visible(text: str) -> str:
    """``text`` with control, escape and bidi characters replaced by visible stand-ins
    (ESC becomes the four characters ``\\x1b``), so that printing it cannot drive a terminal."""
    return text.translate(_VISIBLE)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_arg(value: Any) -> str:
    if isinstance(value, str):
        return repr(_shorten(value, _ARG_LIMIT))
    try:
        rendered = json.dumps(value, ensure_ascii=False, default=str)
    except RecursionError:  # nested past what json (and repr) can walk: say so, don't crash
        rendered = "…(nested too deep to show)"
    except (TypeError, ValueError):
        rendered = repr(value)
    return _shorten(rendered, _ARG_LIMIT)


def summarize_value(value: Any) -> str:
    """Short description of a result: ``12 items``, ``3 keys``, or the text itself, shortened."""
    if value is None:
        return "None"
    if isinstance(value, list | tuple | set | frozenset):
        n = len(cast(list[Any], value))
        return f"{n} item" if n == 1 else f"{n} items"
    if isinstance(value, dict):
        n = len(cast(dict[Any, Any], value))
        return f"{n} key" if n == 1 else f"{n} keys"
    if isinstance(value, str):
        return _shorten(value, _RESULT_LIMIT) or "''"
    return _shorten(repr(value), _RESULT_LIMIT)


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """Where a step stands in a batch: the tool calls of one reply that ran concurrently.

    ``id`` is shared by the batch's steps (``"<model call>.<first step>"``, unique in a
    branch), ``index`` is the call's place in the model's reply
    (0-based) and ``size`` the number of calls in the batch.
    """

    id: str
    index: int
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "index": self.index, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchInfo:
        return cls(str(data["id"]), int(data["index"]), int(data["size"]))


@dataclass(slots=True)
class ChildRun:
    """A sub-agent's run, kept on the parent step that started it (``Step.child``).

    ``steps`` are the child's own steps (each may hold a ``child`` of its own, so runs nest);
    ``answer`` is what the parent was told; ``usage`` is already added to the parent run's.
    ``to_dict`` leaves the child steps' prompts out.
    """

    agent: str
    task: str
    run_id: str
    stop_reason: StopReason
    message: str = ""
    answer: Any = None
    steps: list[Step] = field(default_factory=list["Step"])
    usage: Usage = field(default_factory=Usage)
    llm_calls: int = 0
    pending: ApprovalRequest | None = None
    """The child's call waiting for approval, when the child paused and can be resumed (it
    checkpoints): the parent's step then waits for approval too, and approving it goes on."""

    @property
    def ok(self) -> bool:
        return self.stop_reason in (StopReason.DONE, StopReason.FINAL_TEXT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "task": self.task,
            "run_id": self.run_id,
            "stop_reason": self.stop_reason.value,
            "message": self.message,
            "answer": self.answer,
            # without prompts: each repeats the child's conversation, so files would grow
            # quadratically (the trace keeps the model's calls; the debugger, the live steps)
            "steps": [s.to_dict(prompt=False) for s in self.steps],
            "usage": self.usage.to_dict(),
            "llm_calls": self.llm_calls,
            **({"pending": self.pending.to_dict()} if self.pending else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, compact: bool = False) -> ChildRun:
        """The run ``to_dict`` wrote; ``compact`` as for ``Step.from_dict``, for its steps."""
        from looplet_core.approvals.requests import ApprovalRequest

        steps = cast(list[dict[str, Any]], data.get("steps") or [])
        return cls(
            agent=str(data.get("agent") or ""),
            task=str(data.get("task") or ""),
            run_id=str(data.get("run_id") or ""),
            stop_reason=StopReason(data["stop_reason"]),
            message=str(data.get("message") or ""),
            answer=data.get("answer"),
            steps=[Step.from_dict(s, compact=compact) for s in steps],
            usage=Usage.from_dict(data.get("usage") or {}),
            llm_calls=int(data.get("llm_calls") or 0),
            pending=ApprovalRequest.from_dict(cast(dict[str, Any], data["pending"]))
            if data.get("pending")
            else None,
        )


@dataclass(slots=True)
class Step:
    """One tool call: what the model asked, what ran, what came back, and why.

    ``tool_call`` holds the *effective* arguments (after hooks); ``original_args`` holds the model's
    own when a hook or approver changed them.  ``tool_call`` is None for a step that records a reply
    with no usable call (status ``error``, kind ``parse``).  ``prompt`` is the exact message list
    the model was sent for this step, kept only when ``LoopConfig(record_prompts=True)``.
    ``elapsed_ms`` is the model's and the tool's time; ``hook_ms`` is what the step's hooks and an
    in-process approver took (a debugger paused at a breakpoint included), kept apart so that a
    person's pause never reads as a slow tool.  ``batch`` is set when the step's call ran
    concurrently with others of the same reply (``LoopConfig.parallel_tools``); ``child`` holds
    the run of a sub-agent the call started (``looplet_core.agents``).
    """

    number: int
    tool_call: ToolCall | None = None
    tool_result: ToolResult = field(default_factory=ToolResult)
    status: StepStatus = StepStatus.OK
    original_args: dict[str, Any] | None = None
    llm_call: LLMCall | None = None
    context: ContextStats | None = None
    decisions: list[HookDecision] = NOT_YET  # a list, made when first read (firstuse.py)
    elapsed_ms: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    hook_ms: float = 0.0
    run_id: str = ""
    branch_id: str = "main"
    prompt: Sequence[Message] | None = None
    approval: ApprovalRequest | None = None
    batch: BatchInfo | None = None
    child: ChildRun | None = None

    @property
    def tool(self) -> str | None:
        return self.tool_call.tool if self.tool_call else None

    @property
    def ok(self) -> bool:
        return self.status in (StepStatus.OK, StepStatus.DONE)

    def call_text(self) -> str:
        """``name(arg='v', n=3)``, or ``(no tool call)``; escapes are shown, never obeyed."""
        if self.tool_call is None:
            return "(no tool call)"
        args = ", ".join(f"{k}={_format_arg(v)}" for k, v in self.tool_call.args.items())
        return visible(f"{self.tool_call.tool}({args})")

    def outcome_text(self) -> str:
        if self.status is StepStatus.AWAITING_APPROVAL:
            reason = self.approval.reason if self.approval and self.approval.reason else ""
            return "awaiting approval" + (
                f": {visible(_shorten(reason, _RESULT_LIMIT))}" if reason else ""
            )
        if self.tool_result.error is not None:
            kind = self.tool_result.error_kind
            prefix = f"{kind.value}: " if kind else ""
            return prefix + visible(_shorten(self.tool_result.error, _RESULT_LIMIT))
        return visible(summarize_value(self.tool_result.data))

    def pretty(self) -> str:
        """One line: ``#1 ✓ search(query='cats') → 12 items [182ms]``."""
        icon = _ICONS[self.status]
        return (
            f"#{self.number} {icon} {self.call_text()} → {self.outcome_text()} "
            f"[{self.elapsed_ms:.0f}ms]"
        )

    def __str__(self) -> str:
        return self.pretty()

    def __rich__(self) -> Any:
        from rich.text import Text  # imported here: looplet_core must not need rich

        text = Text()
        text.append(f"#{self.number} ", style="dim")
        text.append(_ICONS[self.status] + " ", style=_STYLES[self.status])
        text.append(self.call_text(), style="bold cyan")  # literal: append never parses markup
        text.append(" → ", style="dim")
        outcome_style = "red" if self.tool_result.error is not None else ""
        text.append(self.outcome_text(), style=outcome_style)
        text.append(f" [{self.elapsed_ms:.0f}ms]", style="dim")
        return text

    def to_dict(self, *, prompt: bool = True) -> dict[str, Any]:
        """JSON-ready data; ``prompt=False`` leaves the prompt out (``"prompt": None``) without
        encoding it, for writers that keep prompts elsewhere (traces, a child's steps)."""
        return {
            "number": self.number,
            "tool_call": self.tool_call.to_dict() if self.tool_call else None,
            "tool_result": self.tool_result.to_dict(),
            "status": self.status.value,
            "original_args": self.original_args,
            "llm_call": self.llm_call.to_dict() if self.llm_call else None,
            "context": self.context.to_dict() if self.context else None,
            "decisions": [d.to_dict() for d in _decisions.stored(self)],
            "elapsed_ms": self.elapsed_ms,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            **({"hook_ms": self.hook_ms} if self.hook_ms else {}),
            "run_id": self.run_id,
            "branch_id": self.branch_id,
            "prompt": [m.to_dict() for m in self.prompt]
            if prompt and self.prompt is not None
            else None,
            "approval": self.approval.to_dict() if self.approval else None,
            **({"batch": self.batch.to_dict()} if self.batch else {}),
            **({"child": self.child.to_dict()} if self.child else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, compact: bool = False) -> Step:
        """The step ``to_dict`` wrote.  ``compact=True`` builds the same step in less memory
        (shared and interned parts, see ``looplet_core.compactread``), for readers that keep
        many, such as a replay; it compares and serialises equal to the plain one."""
        from looplet_core.approvals.requests import ApprovalRequest

        tc = data.get("tool_call")
        llm = data.get("llm_call")
        ctx = data.get("context")
        prompt = data.get("prompt")
        approval = data.get("approval")
        batch = data.get("batch")
        child = data.get("child")
        decisions = cast(list[dict[str, Any]], data.get("decisions") or [])
        if compact:
            tool_call, llm_call = compact_calls(tc, llm)
            context = compact_context(ctx) if ctx else None
            made = compact_decisions(decisions)
            run_id, branch_id = shared_text(data.get("run_id") or ""), data.get("branch_id")
            branch_id = shared_text(branch_id) if branch_id else "main"
        else:
            tool_call = ToolCall.from_dict(tc) if tc else None
            llm_call = LLMCall.from_dict(llm) if llm else None
            context = ContextStats.from_dict(ctx) if ctx else None
            made = [HookDecision.from_dict(d) for d in decisions]
            run_id = str(data.get("run_id") or "")
            branch_id = str(data.get("branch_id") or "main")
        return cls(
            number=int(data["number"]),
            tool_call=tool_call,
            tool_result=ToolResult.from_dict(data.get("tool_result") or {}),
            status=StepStatus(data.get("status", "ok")),
            original_args=cast(
                dict[str, Any] | None, optional(data.get("original_args"), dict, "original_args")
            ),
            llm_call=llm_call,
            context=context,
            decisions=made,
            elapsed_ms=float(data.get("elapsed_ms") or 0.0),
            started_at=float(data.get("started_at") or 0.0),
            finished_at=float(data.get("finished_at") or 0.0),
            hook_ms=float(data.get("hook_ms") or 0.0),
            run_id=run_id,
            branch_id=branch_id,
            prompt=tuple(Message.from_dict(m) for m in prompt) if prompt is not None else None,
            approval=ApprovalRequest.from_dict(approval) if approval else None,
            batch=BatchInfo.from_dict(cast(dict[str, Any], batch)) if batch else None,
            child=ChildRun.from_dict(cast(dict[str, Any], child), compact=compact)
            if child
            else None,
        )


lists_on_first_use(Step, "decisions")
_decisions = first_use(Step, "decisions")


def answer_text(answer: Any) -> str:
    """A final answer for printing: a ``done`` tool's ``{"answer": "..."}`` is its text.

    ``final_answer`` is whatever the finishing tool returned, usually a one-key dict; shown as a
    Python dict it reads as debug output.  A lone string (alone or as a dict's only value) is
    shown as itself, anything else as compact JSON, and no answer as an empty string.
    """
    if answer is None:
        return ""
    if isinstance(answer, dict):
        values = list(cast(dict[str, Any], answer).values())
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
    if isinstance(answer, str):
        return answer
    try:
        return json.dumps(answer, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # a circular structure
        return str(cast(object, answer))


@dataclass(slots=True)
class LoopResult:
    """How a run ended: the generator's return value, also kept on ``state.result``."""

    stop_reason: StopReason
    steps: list[Step] = field(default_factory=list[Step])
    usage: Usage = field(default_factory=Usage)
    final_answer: Any = None
    message: str = ""
    run_id: str = ""
    llm_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.stop_reason in (StopReason.DONE, StopReason.FINAL_TEXT)

    @property
    def answer_text(self) -> str:
        """The final answer as a person reads it (``final_answer`` keeps the tool's data)."""
        return answer_text(self.final_answer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stop_reason": self.stop_reason.value,
            "steps": [s.to_dict() for s in self.steps],
            "usage": self.usage.to_dict(),
            "final_answer": self.final_answer,
            "message": self.message,
            "run_id": self.run_id,
            "llm_calls": self.llm_calls,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopResult:
        steps = cast(list[dict[str, Any]], data.get("steps") or [])
        return cls(
            stop_reason=StopReason(data["stop_reason"]),
            steps=[Step.from_dict(s) for s in steps],
            usage=Usage.from_dict(data.get("usage") or {}),
            final_answer=data.get("final_answer"),
            message=str(data.get("message") or ""),
            run_id=str(data.get("run_id") or ""),
            llm_calls=int(data.get("llm_calls") or 0),
        )
