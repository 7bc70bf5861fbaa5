"""From the model's call to a decision: parse errors, validation, and pre_dispatch hooks.

``_verdict`` takes every decision about a call without running it or recording anything, so a
batch of concurrent calls (``engine.batch``) can decide all its calls, in the model's order,
before any of them runs; ``_dispatch`` is the one-call path: decide, then act at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import is_
from typing import Any, Literal

from looplet_core.approvals.requests import ApprovalRequest
from looplet_core.decisions import Allow, AskApproval, Deny, Edit, Stop
from looplet_core.engine.approvals import Approvals
from looplet_core.engine.effects import EngineGen, Finish
from looplet_core.errors import (
    HookError,
)
from looplet_core.messages import ToolCall
from looplet_core.records import (
    ErrorKind,
    StopReason,
    ToolResult,
)
from looplet_core.step import Step, StepStatus
from looplet_core.tools.spec import ToolSpec


@dataclass(slots=True)
class Verdict:
    """What to do with a call once its checks and pre_dispatch hooks have spoken.

    ``record``: the step is complete (an error or a denial); tell the model ``text``.
    ``run``: run ``spec`` with ``args``.  ``approve``: ask for ``request`` first.
    ``then`` is what follows recording: a parse-failure check, or the run's stop.
    """

    kind: Literal["record", "run", "approve"]
    text: str | None = None
    spec: ToolSpec | None = None
    args: dict[str, Any] | None = None
    request: ApprovalRequest | None = None
    then: Literal["", "parse", "stop"] = ""
    stop_reason: str = ""
    later: bool = False
    """In a batch: run at its turn, after the others (a hook switched it to a tool that is not
    safe to run concurrently)."""


class Dispatch(Approvals):
    """Checks a call and asks the hooks about it before it runs."""

    def _dispatch(self, tc: ToolCall) -> EngineGen:
        saved = self.state.batch_done.pop(tc.id, None) if self.state.batch_done else None
        if saved is not None:  # ran in a batch before the run stopped: record it, never rerun
            yield from self._record_saved(saved)
            return
        step = self._new_step(tc)
        verdict = self._verdict(step, tc)
        if verdict.kind == "run":  # the common case, one generator less than through _act
            yield from self._execute(step, verdict.spec, verdict.args or {})
        else:
            yield from self._act(step, verdict)

    def _act(self, step: Step, verdict: Verdict) -> EngineGen:
        if verdict.kind == "run":
            yield from self._execute(step, verdict.spec, verdict.args or {})
        elif verdict.kind == "approve":
            assert verdict.request is not None
            yield from self._approval(step, verdict.spec, verdict.request)
        else:
            yield from self._record(step, verdict.text)
            if verdict.then == "parse":
                self._stop_on_parse_failures()
            elif verdict.then == "stop":
                raise Finish(StopReason.HOOK_STOP, verdict.stop_reason)

    def _record_saved(self, saved: dict[str, Any]) -> EngineGen:
        """Record a batch call that ran before a checkpoint, from its saved step."""
        step = Step.from_dict(saved["step"])
        step.prompt = self._last_prompt
        self._current = step
        self._hook_seconds = step.hook_ms / 1000.0
        if saved.get("kind") == "run":
            yield from self._finish_call(step, step.tool_result)
        else:
            yield from self._record(step, saved.get("text"))

    def _verdict(self, step: Step, tc: ToolCall, *, in_batch: bool = False) -> Verdict:
        st = self.state
        if tc.parse_error is not None:
            st.parse_failures += 1
            error = f"The arguments for {tc.tool} were not valid JSON: {tc.parse_error}"
            step.tool_result = ToolResult(error=error, error_kind=ErrorKind.PARSE)
            step.status = StepStatus.ERROR
            return Verdict("record", error + " Send the call again with valid JSON.", then="parse")
        spec: ToolSpec | None = None
        if tc.tool == self.config.done_tool and self.builtin_done:
            args, error = dict(tc.args), None
        else:
            spec = self.tools.get(tc.tool)
            args, error = self.tools.validate(tc)
        st.parse_failures = 0
        if error is not None or args is None:
            step.tool_result = ToolResult(error=error, error_kind=ErrorKind.VALIDATION)
            step.status = StepStatus.ERROR
            return Verdict("record", error)
        return self._pre_dispatch(step, tc, spec, args, in_batch=in_batch)

    def _pre_dispatch(
        self,
        step: Step,
        tc: ToolCall,
        spec: ToolSpec | None,
        args: dict[str, Any],
        *,
        in_batch: bool = False,
    ) -> Verdict:
        st = self.state
        approval: AskApproval | None = None
        approval_by = ""
        if spec is not None and spec.requires_approval:
            approval, approval_by = AskApproval("the tool requires approval"), "ToolSpec"
        tool = tc.tool
        for name, fn in self.hooks.pre_dispatch:
            current = ToolCall(tool, args, tc.id)
            out = self._call(name, "pre_dispatch", fn, st, st.steps, current, step.number)
            edit: Edit | None = None
            if isinstance(out, Edit):
                edit, out = out, out.value
            if out is None:
                continue
            if isinstance(out, Allow):
                if out.tool is not None and out.tool != tool:
                    new_spec = self.tools.get(out.tool)
                    if new_spec is None:
                        problem = self.tools.validate(ToolCall(out.tool, {}, tc.id))[1]
                        return self._rewrite_failed(step, tc, out, name, edit=edit, problem=problem)
                    tool, spec = out.tool, new_spec
                    if spec.requires_approval and approval is None:
                        approval = AskApproval("the tool requires approval")
                        approval_by = "ToolSpec"
                if out.args is not None or out.tool is not None:
                    wanted = args if out.args is None else out.args
                    new_args, error = self._revalidate(ToolCall(tool, tc.args, tc.id), wanted, spec)
                    if error is not None or new_args is None:
                        return self._rewrite_failed(step, tc, out, name, edit=edit, problem=error)
                    detail = _short(wanted)
                    self._decide_on(step, name, "pre_dispatch", "rewrite", detail, edit=edit)
                    args = new_args
                else:
                    self._decide_on(step, name, "pre_dispatch", "allow", "", edit=edit)
            elif isinstance(out, Deny):
                kind = "deny_retry" if out.retry else "deny"
                self._decide_on(step, name, "pre_dispatch", kind, out.reason, edit=edit)
                text = self._denied(
                    step, tc, args, out.reason, retry=out.retry, skip_rest=not in_batch
                )
                return Verdict("record", text)
            elif isinstance(out, Stop):
                self._decide_on(step, name, "pre_dispatch", "stop", out.reason, edit=edit)
                reason = out.reason or f"stopped by {name}"
                text = self._denied(step, tc, args, reason)
                return Verdict("record", text, then="stop", stop_reason=reason)
            elif isinstance(out, AskApproval):
                approval, approval_by = out, name
                self._decide_on(step, name, "pre_dispatch", "ask_approval", out.reason, edit=edit)
            else:
                raise HookError(name, "pre_dispatch", TypeError(f"unsupported return {out!r}"))
        if tc.parse_error is None and tool == tc.tool and _unchanged(args, tc.args):
            step.tool_call = tc  # the model's own call: one object less kept per step
        else:
            step.tool_call = ToolCall(tool, args, tc.id)
            if args != tc.args or tool != tc.tool:
                step.original_args = tc.args
        if approval is None:
            return Verdict("run", spec=spec, args=args)
        request = ApprovalRequest(
            step=step.number,
            tool=tool,
            args=args,
            call_id=tc.id,
            reason=approval.reason,
            dangerous=approval.dangerous,
            requested_by=approval_by,
            extra={"original_args": tc.args, "decisions": [d.to_dict() for d in step.decisions]},
        )
        return Verdict("approve", spec=spec, args=args, request=request)

    def _rewrite_failed(
        self,
        step: Step,
        tc: ToolCall,
        out: Allow,
        hook: str,
        *,
        edit: Edit | None,
        problem: str | None,
    ) -> Verdict:
        """A hook's ``Allow`` named a tool that does not exist or arguments its schema rejects:
        the call does not run, and the step says which hook made it invalid and how."""
        wanted = out.args if out.args is not None else tc.args
        self._decide_on(step, hook, "pre_dispatch", "rewrite", _short(wanted), edit=edit)
        step.tool_call = ToolCall(out.tool or tc.tool, wanted, tc.id)
        step.original_args = tc.args
        what = "the call" if out.tool not in (None, tc.tool) else "the arguments"
        step.tool_result = ToolResult(
            error=f"hook {hook} rewrote {what} into an invalid one: {problem}",
            error_kind=ErrorKind.VALIDATION,
        )
        step.status = StepStatus.ERROR
        return Verdict("record", step.tool_result.error)


_ABSENT = object()


def _unchanged(args: dict[str, Any], given: dict[str, Any]) -> bool:
    """True when checking ``given`` changed nothing: the same keys holding the very same
    objects (a coerced, copied or defaulted value is a change, even when it compares equal)."""
    if len(args) != len(given):
        return False
    return all(map(is_, map(given.get, args, repeat(_ABSENT)), args.values()))  # at C speed


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
