"""Asking for approval: ``ApprovalHook``, the terminal approver, decisions for ``resume``, and the
memory behind "always".

Three ways to make a call wait for a person: ``ToolSpec(requires_approval=True)``, an
``ApprovalHook`` (tool globs and/or a predicate), or a ``PermissionHook`` rule that says ``ask``.
However many of them ask, the call is put to the approver once.

"Always" decisions live in ``state.approval_memory`` (so checkpoints keep them): the key is the
tool name, or ``"<tool> <json of the argument patterns>"`` for a decision limited to matching
arguments; the value is ``approve`` or ``deny``.  When several remembered decisions match a call,
deny wins.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO, cast

from looplet_core.approvals.permissions import arg_text, args_match
from looplet_core.approvals.requests import ApprovalDecision, ApprovalRequest
from looplet_core.decisions import AskApproval
from looplet_core.errors import ApprovalError
from looplet_core.messages import ToolCall

__all__ = [
    "ApprovalHook",
    "Decision",
    "TerminalApprover",
    "auto_approve",
    "recall_approval",
    "remember_approval",
]


class ApprovalHook:
    """Pause calls to tools matching ``tools`` (globs; none given: every tool) for approval,
    or only those for which ``when(tc)`` is True."""

    def __init__(
        self,
        *tools: str,
        when: Callable[[ToolCall], bool] | None = None,
        reason: str = "needs approval",
        name: str = "ApprovalHook",
    ) -> None:
        self.tools = tools or ("*",)
        self.when = when
        self.reason = reason
        self.name = name

    def pre_dispatch(
        self, state: object, log: object, tc: ToolCall, step: int
    ) -> AskApproval | None:
        if not any(fnmatch.fnmatchcase(tc.tool, pattern) for pattern in self.tools):
            return None
        if self.when is not None and not self.when(tc):
            return None
        return AskApproval(self.reason)


def _memory_key(tool: str, match: Mapping[str, str] | None) -> str:
    return tool if not match else f"{tool} {json.dumps(dict(match), sort_keys=True)}"


def remember_approval(memory: dict[str, str], request: ApprovalRequest) -> None:
    """Store an ``always`` decision (the engine calls this)."""
    if request.decision is not None:
        memory[_memory_key(request.tool, request.match)] = request.decision.value


def recall_approval(memory: Mapping[str, str], tool: str, args: Mapping[str, Any]) -> str | None:
    """``approve`` / ``deny`` if an ``always`` decision covers this call, else None."""
    found = memory.get(tool)
    if found == "deny" or len(memory) <= (1 if found else 0):
        return found
    prefix = tool + " "
    for key, value in memory.items():
        if not key.startswith(prefix):
            continue
        try:
            match = cast(object, json.loads(key[len(prefix) :]))
        except ValueError:
            continue
        if isinstance(match, dict) and args_match(cast(dict[str, str], match), args):
            if value == "deny":
                return "deny"
            found = value
    return found


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on a pending approval, made ahead of time: ``resume(..., decision=...)``.

    ``Decision.approve(args={...})`` runs the call with edited arguments (validated against the
    tool's schema before anything runs); ``Decision.deny("why")`` tells the model why;
    ``Decision.stop()`` ends the run.  ``scope`` / ``match`` as on ``ApprovalRequest``.
    """

    action: ApprovalDecision
    args: dict[str, Any] | None = None
    message: str = ""
    scope: str = "once"
    match: dict[str, str] | None = None

    @classmethod
    def approve(
        cls,
        args: dict[str, Any] | None = None,
        *,
        scope: str = "once",
        match: dict[str, str] | None = None,
    ) -> Decision:
        return cls(ApprovalDecision.APPROVE, args, "", scope, match)

    @classmethod
    def deny(
        cls, message: str = "", *, scope: str = "once", match: dict[str, str] | None = None
    ) -> Decision:
        return cls(ApprovalDecision.DENY, None, message, scope, match)

    @classmethod
    def stop(cls, message: str = "") -> Decision:
        return cls(ApprovalDecision.STOP, None, message)

    @classmethod
    def parse(cls, value: Decision | str) -> Decision:
        """Accept a ``Decision`` or the words ``approve`` / ``deny`` / ``stop``."""
        if isinstance(value, Decision):
            return value
        try:
            return cls(ApprovalDecision(value))
        except ValueError:
            raise ApprovalError(
                f"decision must be a Decision or 'approve', 'deny' or 'stop', got {value!r}"
            ) from None

    def apply(self, request: ApprovalRequest, *, by: str = "resume") -> None:
        if self.action is ApprovalDecision.APPROVE:
            request.approve(self.args, by=by, scope=self.scope, match=self.match)
        elif self.action is ApprovalDecision.DENY:
            request.deny(self.message, by=by, scope=self.scope, match=self.match)
        else:
            request.stop(self.message, by=by)


def auto_approve(request: ApprovalRequest) -> None:
    """An approver that approves everything (for demos and ``--auto-approve``)."""
    request.approve(by="auto-approve")


def _safe(text: str) -> str:
    """Model text shown at a terminal: control characters (escape sequences) made visible."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


_MENU = (
    "  y approve · e edit arguments · a approve always (this tool) · p always (these arguments)\n"
    "  n deny · d deny always · s stop the run · q decide later (the run pauses)\n"
)


class TerminalApprover:
    """Ask at the terminal.  Use it as ``LoopConfig(approver=TerminalApprover())``, or call it on
    ``step.approval`` inside your loop (then the pending call is checkpointed before you are
    asked, so even Ctrl-C leaves it resumable).  End of input or ``q`` leaves it undecided.

    Arguments are shown as ASCII JSON and model text with control characters escaped, so a
    hostile model cannot drive the terminal.
    """

    def __init__(self, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.stdin = stdin
        self.stdout = stdout

    def _out(self) -> TextIO:
        return self.stdout or sys.stdout

    def _ask(self, prompt: str) -> str | None:
        out = self._out()
        out.write(prompt)
        out.flush()
        line = (self.stdin or sys.stdin).readline()
        return None if not line else line.strip()

    def __call__(self, request: ApprovalRequest) -> None:
        out = self._out()
        reason = f" ({_safe(request.reason)})" if request.reason else ""
        out.write(f"\n⏸ step {request.step}: {_safe(request.tool)} needs approval{reason}\n")
        out.write(f"  arguments: {json.dumps(request.args, ensure_ascii=True, default=str)}\n")
        out.write(_MENU)
        while not request.decided:
            answer = self._ask("approve? [y/e/a/p/n/d/s/q] ")
            if answer is None or answer.lower() in ("q", "quit"):
                out.write("  left pending: resume the run to decide\n")
                return
            self._handle(request, answer.lower()[:1])

    def _handle(self, request: ApprovalRequest, key: str) -> None:
        out = self._out()
        by = "terminal"
        if key == "y":
            request.approve(by=by)
        elif key == "a":
            request.approve(by=by, scope="always")
        elif key == "p":
            match = {name: _exact(value) for name, value in request.args.items()}
            request.approve(by=by, scope="always", match=match)
        elif key == "e":
            text = self._ask("  new arguments as a JSON object (empty keeps them): ")
            if text:
                try:
                    args = cast(object, json.loads(text))
                    if not isinstance(args, dict):
                        raise ApprovalError("the arguments must be a JSON object")
                    request.approve(cast(dict[str, Any], args), by=by)
                except (ValueError, ApprovalError) as exc:
                    out.write(f"  not accepted: {_safe(str(exc))}\n")
        elif key in ("n", "d"):
            message = self._ask("  tell the model why (optional): ") or ""
            request.deny(message, by=by, scope="always" if key == "d" else "once")
        elif key == "s":
            request.stop("stopped at the terminal", by=by)
        else:
            out.write(_MENU)


def _exact(value: Any) -> str:
    return re.escape(arg_text(value))
