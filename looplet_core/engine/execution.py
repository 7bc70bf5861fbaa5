"""Running a tool (and post_dispatch hooks), or telling the model it was denied."""

from __future__ import annotations

from typing import Any

from looplet_core.decisions import Edit, InjectContext, Stop
from looplet_core.engine.core import EngineCore
from looplet_core.engine.effects import EngineGen, Finish, RunTool
from looplet_core.events import EventKind
from looplet_core.messages import ToolCall
from looplet_core.records import (
    ErrorKind,
    HookDecision,
    StopReason,
    ToolResult,
)
from looplet_core.step import ChildRun, Step, StepStatus
from looplet_core.tools.results import result_to_text
from looplet_core.tools.run import ToolContext
from looplet_core.tools.spec import ToolSpec

_TOOL_START, _TOOL_END = EventKind.TOOL_START, EventKind.TOOL_END  # read once (as core._STEP)
_TOOL_PROGRESS = EventKind.TOOL_PROGRESS


class Execution(EngineCore):
    """The last stage of a call: run it or deny it, then record the step."""

    def _execute(self, step: Step, spec: ToolSpec | None, args: dict[str, Any]) -> EngineGen:
        assert step.tool_call is not None
        tc = step.tool_call
        if self._heard_by[_TOOL_START]:  # event payloads are built only for a listener
            self._heard(_TOOL_START, step.number, {"tool": tc.tool, "args": args})
        if spec is None:  # the loop's built-in done tool
            result = ToolResult(data=args.get("answer", args))
        else:
            children: list[ChildRun] = []
            ctx = self._tool_context(step, children)
            timeout = spec.timeout if spec.timeout is not None else self.config.tool_timeout
            result = yield RunTool(spec, args, ctx, timeout)
            self._adopt_children(step, children)
        if self._heard_by[_TOOL_END]:
            self._tool_ended(step, result)
        if step.child is not None and step.child.pending is not None:
            yield from self._child_waits(step, spec, args)  # (approvals.py)
            return
        yield from self._finish_call(step, result)

    def _child_waits(self, step: Step, spec: ToolSpec | None, args: dict[str, Any]) -> EngineGen:
        """Pause ``step`` for its sub-agent's approval: ``Approvals``, the next phase, has it."""
        raise NotImplementedError

    def _tool_context(self, step: Step, children: list[ChildRun]) -> ToolContext:
        return ToolContext(  # every field, in order (keywords cost a name match each)
            self.cancel,
            step.number,
            self.state.run_id,
            self.config.workspace,
            self._emit_event if self._heard_by[_TOOL_PROGRESS] else None,
            "",  # the tool's name: filled in when the call starts
            children.append,
            self.config.record_prompts or self.hooks.child_prompts,
            self.config.approver,
            step.approval if step.approval and step.approval.decided else None,
            self.hooks.for_child if self.hooks.child_hooks else None,
        )

    def _adopt_children(self, step: Step, children: list[ChildRun]) -> None:
        """A sub-agent's run becomes the step's ``child``; its usage joins the parent's."""
        if not children:
            return
        step.child = children[-1]
        for child in children:
            if child.pending is None:  # a paused child's usage is counted once it has finished
                self.state.usage = self.state.usage + child.usage

    def _tool_ended(self, step: Step, result: ToolResult) -> None:
        assert step.tool_call is not None
        kind = result.error_kind
        self._heard(
            _TOOL_END,
            step.number,
            {
                "tool": step.tool_call.tool,
                "ok": result.ok,
                "error_kind": kind.value if kind else None,
                "elapsed_ms": result.elapsed_ms,
            },
        )

    def _finish_call(self, step: Step, result: ToolResult) -> EngineGen:
        """post_dispatch hooks on a call that ran, then record its step."""
        st = self.state
        assert step.tool_call is not None
        tc = step.tool_call
        stop: Stop | None = None
        for name, fn in self.hooks.post_dispatch:
            out = self._call(name, "post_dispatch", fn, st, st.steps, tc, result, step.number)
            edit: Edit | None = None
            if isinstance(out, Edit):
                edit, out = out, out.value
            if out is None:
                continue
            if isinstance(out, InjectContext):
                st.pending_injections.append(out.text)
                self._decide_on(step, name, "post_dispatch", "inject", out.text, edit=edit)
            elif isinstance(out, Stop):
                stop = out
                self._decide_on(step, name, "post_dispatch", "stop", out.reason, edit=edit)
            elif isinstance(out, ToolResult):
                result = out
                self._decide_on(step, name, "post_dispatch", "replace_result", edit=edit)
            else:
                result = ToolResult(data=out, elapsed_ms=result.elapsed_ms)
                self._decide_on(step, name, "post_dispatch", "replace_result", edit=edit)
        step.tool_result = result
        step.status = StepStatus.OK if result.ok else StepStatus.ERROR
        answer: Any = None
        if tc.tool == self.config.done_tool and result.ok:
            step.status = StepStatus.DONE
            answer = result.data
        if result.ok:
            text = result_to_text(result.data, self.config.result_limit)
        else:
            text = (
                f"Error ({result.error_kind.value if result.error_kind else 'error'}): "
                f"{result.error}"
            )
        yield from self._record(step, text)
        if stop is not None:
            raise Finish(StopReason.HOOK_STOP, stop.reason or "stopped by a hook")
        if step.status is StepStatus.DONE:
            raise Finish(StopReason.DONE, "the model called done", answer)

    def _deny(
        self, step: Step, tc: ToolCall, args: dict[str, Any], reason: str, *, retry: bool = False
    ) -> EngineGen:
        yield from self._record(step, self._denied(step, tc, args, reason, retry=retry))

    def _denied(
        self,
        step: Step,
        tc: ToolCall,
        args: dict[str, Any],
        reason: str,
        *,
        retry: bool = False,
        skip_rest: bool = True,
    ) -> str:
        """Mark ``step`` denied; return what the model is told.  A retryable denial skips the
        reply's remaining calls (``skip_rest``), which the model may want to redo."""
        step.tool_call = ToolCall(tc.tool, args, tc.id)
        if args != tc.args:
            step.original_args = tc.args
        step.tool_result = ToolResult(error=f"denied: {reason}", error_kind=ErrorKind.PERMISSION)
        step.status = StepStatus.DENIED
        if not retry:
            return f"Denied: {reason}. Do not repeat this call; choose another approach."
        if skip_rest:
            skipped = self.state.queue[:]
            self.state.queue.clear()
            self._skipped = skipped
            if skipped:
                step.decisions.append(
                    HookDecision(
                        "loop",
                        "pre_dispatch",
                        "skip_queued",
                        f"{len(skipped)} queued call(s) skipped",
                    )
                )
        return f"Not run: {reason}. You may call it again."

    def _revalidate(
        self, tc: ToolCall, args: dict[str, Any], spec: ToolSpec | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        if spec is None:
            return dict(args), None
        return self.tools.validate(ToolCall(tc.tool, args, tc.id))
