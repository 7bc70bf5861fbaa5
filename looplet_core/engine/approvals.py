"""Pausing a call for approval, remembering "always" decisions, and resuming a paused call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from looplet_core.approvals.requests import ApprovalDecision, ApprovalRequest, NestedCall
from looplet_core.engine.effects import EngineGen, Finish, now
from looplet_core.engine.execution import Execution
from looplet_core.errors import (
    HookError,
)
from looplet_core.events import EventKind
from looplet_core.messages import ToolCall
from looplet_core.records import (
    ErrorKind,
    HookDecision,
    StopReason,
    ToolResult,
)
from looplet_core.step import Step, StepStatus
from looplet_core.tools.spec import ToolSpec


class Approvals(Execution):
    """Approval requests: answered inline by an approver, or yielded for the caller."""

    def _approval(self, step: Step, spec: ToolSpec | None, request: ApprovalRequest) -> EngineGen:
        st = self.state
        from looplet_core.approvals.hooks import recall_approval  # loaded with the first approval

        remembered = recall_approval(st.approval_memory, request.tool, request.args)
        if remembered == "approve":
            request.approve(by="remembered (always)")
        elif remembered == "deny":
            request.deny("denied always for this tool", by="remembered (always)")
        elif self.config.approver is not None:
            request.validator = self._validator(request)
            began = now()
            try:
                self.config.approver(request)
            except Exception as exc:
                raise HookError("approver", "approval", exc) from exc
            finally:  # a person deciding is not the step's time (see Step.hook_ms)
                self._hook_seconds += now() - began
        yield from self._resolve_approval(step, spec, request)

    def _child_waits(self, step: Step, spec: ToolSpec | None, args: dict[str, Any]) -> EngineGen:
        """A sub-agent paused at an approval: this step waits for one too.  The request names
        the child's call (``ApprovalRequest.nested``: the innermost one when sub-agents nest), so
        a person sees and edits that call; approving runs this call again, and the sub-agent
        resumes its child with the approval and the edited arguments."""
        child = step.child
        assert child is not None and child.pending is not None and step.tool_call is not None
        inner = child.pending
        deeper = inner.nested
        if deeper is not None:  # the child waits for a sub-agent of its own
            why = str(inner.extra["subagent"].get("reason") or "")
            nested = NestedCall((child.agent, *deeper.path), deeper.tool, deeper.args, child.run_id)
        else:
            why = inner.reason
            nested = NestedCall((child.agent,), inner.tool, inner.args, child.run_id)
        request = ApprovalRequest(
            step=step.number,
            tool=step.tool_call.tool,
            args=args,
            call_id=step.tool_call.id,
            reason=f"{nested.where} asks: {nested.tool} "
            + (f"({why})" if why else "needs approval"),
            dangerous=inner.dangerous,
            requested_by=nested.where,
            extra={
                "original_args": step.original_args or step.tool_call.args,
                "decisions": [d.to_dict() for d in step.decisions],
                "subagent": nested.to_dict(why),
            },
        )
        yield from self._resolve_approval(step, spec, request)

    def _validator(self, request: ApprovalRequest) -> Callable[[dict[str, Any]], str | None]:
        """Checks edited arguments for ``request``'s call: the sub-agent's, when it is about one."""
        nested = request.nested
        tool, call_id = request.tool, request.call_id

        def validate(args: dict[str, Any]) -> str | None:
            if nested is not None:
                return self.tools.validate_nested(nested.path, ToolCall(nested.tool, args))[1]
            if tool == self.config.done_tool and self.builtin_done:
                return None
            return self.tools.validate(ToolCall(tool, args, call_id))[1]

        return validate

    def _resume_approval(self, request: ApprovalRequest) -> EngineGen:
        """Continue a run restored with a pending approval: same call, model not asked again."""
        tc = ToolCall(
            request.tool, dict(request.extra.get("original_args") or request.args), request.call_id
        )
        self._step_started = now()
        step = self._new_step(ToolCall(request.tool, request.args, request.call_id))
        if tc.args != request.args:
            step.original_args = tc.args
        step.decisions.extend(HookDecision.from_dict(d) for d in request.extra.get("decisions", []))
        spec = self.tools.get(request.tool)
        if request.decided:
            yield from self._resolve_approval(step, spec, request)
        else:  # remembered "always" decisions and the approver answer, as on the first pass
            yield from self._approval(step, spec, request)

    def _resolve_approval(
        self, step: Step, spec: ToolSpec | None, request: ApprovalRequest
    ) -> EngineGen:
        st = self.state
        request.validator = self._validator(request)
        if not request.decided:
            st.pending_approval = request
            step.status = StepStatus.AWAITING_APPROVAL
            step.approval = request
            self.emit(EventKind.APPROVAL_REQUESTED, step=step.number, request=request.to_dict())
            for listener in self.listeners:
                listener(step)
            yield step
            if self._event_error is not None:  # the pause was not recorded (the store went away)
                raise Finish(StopReason.HOOK_ERROR, str(self._event_error))
            if not request.decided:
                raise Finish(
                    StopReason.AWAITING_APPROVAL,
                    f"step {step.number} ({request.tool}) is waiting for approval",
                )
            step.status = StepStatus.OK
        st.pending_approval = None
        step.approval = request
        decision = request.decision
        assert decision is not None
        self.emit(EventKind.APPROVAL_RESOLVED, step=step.number, request=request.to_dict())
        step.decisions.append(
            HookDecision(
                request.decided_by or "approver", "approval", decision.value, request.message
            )
        )
        nested = request.nested
        # "always" about a sub-agent's call is the sub-agent's to remember (it gets the scope)
        if request.scope == "always" and decision is not ApprovalDecision.STOP and nested is None:
            from looplet_core.approvals.hooks import remember_approval

            remember_approval(st.approval_memory, request)
        assert step.tool_call is not None
        tc = step.tool_call
        if decision is ApprovalDecision.APPROVE:
            args = request.edited_args if request.edited_args is not None else request.args
            if nested is not None:  # the edits are the sub-agent's call's: it applies them
                problem = None
                if request.edited_args is not None:
                    edited = ToolCall(nested.tool, request.edited_args)
                    problem = self.tools.validate_nested(nested.path, edited)[1]
                if problem is not None:
                    step.tool_result = ToolResult(
                        error=f"the approved arguments for {nested.tool} (in {nested.where}) "
                        f"are invalid: {problem}",
                        error_kind=ErrorKind.VALIDATION,
                    )
                    step.status = StepStatus.ERROR
                    yield from self._record(step, step.tool_result.error)
                    return
                yield from self._execute(step, spec, tc.args)
                return
            if request.edited_args is not None:  # validated and coerced like the model's own
                checked, problem = self._revalidate(tc, args, spec)
                if checked is None:
                    step.tool_result = ToolResult(
                        error=f"the approved arguments are invalid: {problem}",
                        error_kind=ErrorKind.VALIDATION,
                    )
                    step.status = StepStatus.ERROR
                    yield from self._record(step, step.tool_result.error)
                    return
                args = checked
            if args != tc.args:
                step.original_args = step.original_args or tc.args
                step.tool_call = ToolCall(tc.tool, args, tc.id)
            yield from self._execute(step, spec, args)
            return
        reason = request.message or "the user denied this call"
        original = ToolCall(tc.tool, step.original_args or tc.args, tc.id)
        yield from self._deny(step, original, tc.args, reason)
        if decision is ApprovalDecision.STOP:
            raise Finish(StopReason.HOOK_STOP, request.message or "stopped at approval")
