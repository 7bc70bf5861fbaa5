"""From the model's call to a decision: parse errors, validation, and pre_dispatch hooks."""

from __future__ import annotations

from typing import Any

from looplet_core.approvals.requests import ApprovalRequest
from looplet_core.decisions import Allow, AskApproval, Deny, Stop
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


class Dispatch(Approvals):
    """Checks a call and asks the hooks about it before it runs."""

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
                raise Finish(StopReason.HOOK_STOP, out.reason or f"stopped by {name}")
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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
