"""Approval requests: the loop pauses on a call until a person (or an approver) decides.

A step with status ``awaiting_approval`` carries an ``ApprovalRequest`` on ``step.approval``.
Resolve it before asking the loop for the next step::

    for step in loop:
        if step.approval:
            step.approval.approve()                  # or approve(args={...}), deny("why"), stop()

A request can be about a call inside a sub-agent: a checkpointed child paused at an approval
makes its parent's step wait too, and that request's ``nested`` names the child's call
(``extra["subagent"]``).  ``call_tool`` / ``call_args`` are the call a person decides on either
way, and ``approve(args=...)`` edits that call: the child's, checked against the child tool's
schema.

If the request is still undecided when the loop resumes, the run pauses with stop reason
``awaiting_approval``; the request stays on the state (and in the checkpoint) so a later
``resume(..., decision=...)`` dispatches that same call without asking the model again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from looplet_core.errors import ApprovalError
from looplet_core.messages import optional

__all__ = ["ApprovalDecision", "ApprovalRequest", "Approver", "NestedCall"]


class ApprovalDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class NestedCall:
    """The paused call inside a sub-agent that a parent's request waits for.

    ``path`` names the sub-agent tools from the parent's registry down (``("janitor",)``, or
    ``("lead", "janitor")`` two deep); ``tool`` and ``args`` are the innermost call.
    """

    path: tuple[str, ...]
    tool: str
    args: dict[str, Any]
    run_id: str = ""

    @property
    def agent(self) -> str:
        """The sub-agent whose call it is (the innermost)."""
        return self.path[-1]

    @property
    def where(self) -> str:
        """``"sub-agent janitor"`` (``"sub-agent lead > janitor"`` when nested)."""
        return "sub-agent " + " > ".join(self.path)

    def to_dict(self, reason: str = "") -> dict[str, Any]:
        return {
            "agent": self.agent,
            "path": list(self.path),
            "run_id": self.run_id,
            "tool": self.tool,
            "args": self.args,
            "reason": reason,
        }

    @classmethod
    def from_extra(cls, value: object) -> NestedCall | None:
        """Read ``extra["subagent"]``; None when it is not a nested call's record (a child's
        request answered inline carries the sub-agent's name there, and ``subagent_path``)."""
        if not isinstance(value, dict):
            return None
        data = cast(dict[str, Any], value)
        tool, args = data.get("tool"), data.get("args")
        path: object = data.get("path") or [data.get("agent")]
        if not isinstance(tool, str) or not isinstance(args, dict) or not isinstance(path, list):
            return None
        names = cast(list[object], path)
        if not names or not all(isinstance(name, str) and name for name in names):
            return None
        return cls(
            tuple(cast(list[str], names)),
            tool,
            dict(cast(dict[str, Any], args)),
            str(data.get("run_id") or ""),
        )


@dataclass(slots=True)
class ApprovalRequest:
    """One call waiting for a decision.  ``args`` are the arguments that will actually run."""

    step: int
    tool: str
    args: dict[str, Any]
    call_id: str = ""
    reason: str = ""
    dangerous: bool = True
    requested_by: str = ""
    decision: ApprovalDecision | None = None
    edited_args: dict[str, Any] | None = None
    message: str = ""
    decided_by: str = ""
    scope: str = "once"
    match: dict[str, str] | None = None
    """With scope ``always``: remember the decision only for calls whose arguments match these
    regular expressions (``{"path": r"data/.*"}``, full match); None means any arguments."""
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    validator: Callable[[dict[str, Any]], str | None] | None = field(
        default=None, repr=False, compare=False
    )
    """Set by the loop: checks edited arguments against the tool's schema (not serialised)."""

    @property
    def decided(self) -> bool:
        return self.decision is not None

    @property
    def nested(self) -> NestedCall | None:
        """The sub-agent's paused call this request waits for, if it waits for one."""
        return NestedCall.from_extra(self.extra.get("subagent"))

    @property
    def asked_in(self) -> tuple[str, ...]:
        """The sub-agents, from the run down, inside which the call being decided is made:
        ``("researcher", "helper")`` for a call of ``helper`` that ``researcher`` runs; empty
        for a call of the run itself.  Both for a parent's request waiting on a paused child
        (``nested``) and for a child's own request answered inline by the run's approver."""
        nested = self.nested
        if nested is not None:
            return nested.path
        path = self.extra.get("subagent_path")
        if isinstance(path, list) and path:
            return tuple(str(name) for name in cast(list[object], path))
        agent = self.extra.get("subagent")
        return (agent,) if isinstance(agent, str) and agent else ()

    @property
    def call_tool(self) -> str:
        """The tool of the call being decided: the sub-agent's (``nested``), else ``tool``."""
        nested = self.nested
        return nested.tool if nested is not None else self.tool

    @property
    def call_args(self) -> dict[str, Any]:
        """The arguments of the call being decided (what ``approve(args=...)`` replaces)."""
        nested = self.nested
        return nested.args if nested is not None else self.args

    def _decide(self, decision: ApprovalDecision, by: str) -> None:
        if self.decision is not None:
            raise ApprovalError(
                f"approval for step {self.step} ({self.tool}) was already decided: "
                f"{self.decision.value}"
            )
        self.decision = decision
        self.decided_by = by

    def approve(
        self,
        args: dict[str, Any] | None = None,
        *,
        by: str = "caller",
        scope: str = "once",
        match: dict[str, str] | None = None,
    ) -> None:
        """Run the call; ``args`` replaces the arguments (validated against the tool's schema).
        For a request about a sub-agent's call (``nested``) they are that call's arguments,
        checked against the sub-agent's tool, and the sub-agent runs its call with them.

        ``scope="always"`` approves later calls of this tool too (only those matching ``match``,
        when given).  Invalid edited arguments raise ``ApprovalError`` and leave the request
        undecided, so the approver can correct them.
        """
        _check_scope(scope, match)
        if args is not None and self.validator is not None:
            problem = self.validator(dict(args))
            if problem is not None:
                nested = self.nested
                where = f" (in {nested.where}, step {self.step})" if nested is not None else ""
                raise ApprovalError(
                    f"edited arguments for {self.call_tool}{where} are invalid: {problem}"
                )
        self._decide(ApprovalDecision.APPROVE, by)
        self.edited_args = dict(args) if args is not None else None
        self.scope = scope
        self.match = match

    def deny(
        self,
        message: str = "",
        *,
        by: str = "caller",
        scope: str = "once",
        match: dict[str, str] | None = None,
    ) -> None:
        """Do not run the call; ``message`` is what the model is told.  ``scope="always"`` denies
        later calls of this tool too (those matching ``match``, when given)."""
        _check_scope(scope, match)
        self._decide(ApprovalDecision.DENY, by)
        self.message = message
        self.scope = scope
        self.match = match

    def stop(self, message: str = "", *, by: str = "caller") -> None:
        """Do not run the call and end the run."""
        self._decide(ApprovalDecision.STOP, by)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "tool": self.tool,
            "args": self.args,
            "call_id": self.call_id,
            "reason": self.reason,
            "dangerous": self.dangerous,
            "requested_by": self.requested_by,
            "decision": self.decision.value if self.decision else None,
            "edited_args": self.edited_args,
            "message": self.message,
            "decided_by": self.decided_by,
            "scope": self.scope,
            "match": self.match,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApprovalRequest:
        decision = data.get("decision")
        return cls(
            step=int(data["step"]),
            tool=str(data["tool"]),
            args=dict(data.get("args") or {}),
            call_id=str(data.get("call_id") or ""),
            reason=str(data.get("reason") or ""),
            dangerous=bool(data.get("dangerous", True)),
            requested_by=str(data.get("requested_by") or ""),
            decision=ApprovalDecision(decision) if decision else None,
            edited_args=cast(
                dict[str, Any] | None, optional(data.get("edited_args"), dict, "edited_args")
            ),
            message=str(data.get("message") or ""),
            decided_by=str(data.get("decided_by") or ""),
            scope=str(data.get("scope") or "once"),
            match=cast(dict[str, str] | None, optional(data.get("match"), dict, "match")),
            extra=dict(data.get("extra") or {}),
        )


def _check_scope(scope: str, match: dict[str, str] | None) -> None:
    if scope not in ("once", "always"):
        raise ApprovalError(f"approval scope must be 'once' or 'always', got {scope!r}")
    if match is not None and scope != "always":
        raise ApprovalError("an argument pattern (match=...) needs scope='always'")


Approver = Callable[[ApprovalRequest], None]
"""Answers a request inline by calling ``approve`` / ``deny`` / ``stop`` on it.

An approver that leaves the request undecided pauses the run, as if there were no approver.
"""
