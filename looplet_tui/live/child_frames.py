"""``SubagentFrames``: the debugger inside the sub-agents a run starts.

Its ``child_hooks`` (a looplet_core hook method) puts a ``ChildHook`` in every child loop the
run starts (``live.children``), which reports the child's phases here with the child's
``ChildFrame``: the frame keeps the child's steps, live step and context for the UI, and a
child's phase point may stop like the run's own (``Stepping._arrive`` with the frame).
"""

from __future__ import annotations

from typing import Any

from looplet_core import (
    Edit,
    Event,
    EventKind,
    Prompt,
    Step,
    StepStatus,
    Stop,
    ToolCall,
    ToolResult,
)
from looplet_tui.live.approvals import Approvals
from looplet_tui.live.breakpoints import Phase, Probe
from looplet_tui.live.children import ChildFrame, ChildHook
from looplet_tui.live.edits import EditKind
from looplet_tui.live.runstate import Live
from looplet_tui.live.stream import StreamedText

__all__ = ["SubagentFrames"]


class SubagentFrames(Approvals):
    """The sub-agents' loops running now (``frames``) and their phases (their threads)."""

    def child_hooks(self, agent: str, step: int) -> list[object]:
        """looplet_core asks this when a call of step ``step`` starts the sub-agent ``agent``'s
        loop: the debugger follows that loop with a ``ChildHook``."""
        return [self.child_started(agent, step)]

    def child_started(self, agent: str, step: int, parent: ChildFrame | None = None) -> ChildHook:
        frame = ChildFrame(agent, step, parent)
        with self._lock:
            self.frames = [*self.frames, frame]
            self._turns.started(parent, step)
        self._changed()
        return ChildHook(self, frame)

    def child_ended(self, frame: ChildFrame) -> None:
        """The sub-agent's loop ended: its steps go on as the parent step's ``child``."""
        with self._lock:
            if frame not in self.frames:
                return
            self.frames = [f for f in self.frames if f is not frame]
            self._cond.notify_all()  # a stop waiting for this sub-agent may be next
        self._changed()

    def _drop_frames(self, step: int) -> None:
        """The run's step ``step`` is past its call: no sub-agent of it runs any more."""
        if not self.frames:  # (replaced, never changed in place: an unlocked look is safe)
            return
        with self._lock:
            if not any(f.parent is None and f.parent_step == step for f in self.frames):
                return
            gone = {id(f) for f in self.frames if f.parent is None and f.parent_step == step}
            kept: list[ChildFrame] = []
            for frame in self.frames:  # a child's own children go with it (they start later)
                if id(frame) in gone or (frame.parent is not None and id(frame.parent) in gone):
                    gone.add(id(frame))
                else:
                    kept.append(frame)
            self.frames = kept
            self._cond.notify_all()
        self._changed()

    def child_pre_prompt(
        self, frame: ChildFrame, state: Any, ctx: Prompt, step: int
    ) -> Stop | Edit | None:
        stats = self._prompt_stats(ctx)
        with self._lock:
            frame.context = stats
            if not frame.tool_schemas:
                frame.tool_schemas = list(ctx.tools)
            frame.live = Live(
                Step(number=step, context=stats),
                ctx.messages,
                Phase.PRE_PROMPT,
                "about to call the model",
            )
            frame.revision += 1
        percent = stats.percent if stats is not None else None
        probe = Probe(Phase.PRE_PROMPT, step, context_percent=percent)
        edit = self._arrive(probe, frame, (EditKind.PROMPT, step, ctx.messages, frame))
        return self._prompt_edit(state, ctx, edit)

    def child_pre_dispatch(
        self, frame: ChildFrame, state: Any, tc: ToolCall, step: int
    ) -> Edit | None:
        with self._lock:
            old = frame.live
            live = Live(
                Step(
                    number=step,
                    tool_call=tc,
                    context=frame.context,
                    llm_call=getattr(state, "current_call", None),
                ),
                old.prompt if old is not None else None,
                Phase.PRE_DISPATCH,
                f"about to run {tc.tool}",
            )
            if old is not None and old.step.number == step:  # keep what streamed in
                live.text, live.reasoning = old.text, old.reasoning
            frame.live = live
            frame.revision += 1
        percent = frame.context.percent if frame.context is not None else None
        probe = Probe(Phase.PRE_DISPATCH, step, tc.tool, tc.args, context_percent=percent)
        edit = self._arrive(probe, frame, (EditKind.CALL, step, tc, frame))
        return None if edit is None else edit.as_edit()

    def child_post_dispatch(
        self, frame: ChildFrame, tc: ToolCall, result: ToolResult, step: int
    ) -> Edit | None:
        with self._lock:
            if frame.live is not None:
                frame.live.step.tool_result = result
                frame.live.activity = f"{tc.tool} returned"
                frame.live.revision += 1
            frame.revision += 1
        percent = frame.context.percent if frame.context is not None else None
        probe = Probe(
            Phase.POST_DISPATCH,
            step,
            tc.tool,
            tc.args,
            failed=not result.ok,
            context_percent=percent,
        )
        edit = self._arrive(probe, frame, (EditKind.RESULT, step, result, frame))
        return None if edit is None else edit.as_edit()

    def child_step(self, frame: ChildFrame, step: Step) -> None:
        with self._lock:
            if frame.steps and frame.steps[-1].number == step.number:
                frame.steps[-1] = step
            else:
                frame.steps.append(step)
            frame.live = None
            frame.revision += 1
        percent = frame.context.percent if frame.context is not None else None
        args = step.tool_call.args if step.tool_call else None
        failed = step.status is StepStatus.ERROR
        probe = Probe(
            Phase.CHECK_DONE, step.number, step.tool, args, failed=failed, context_percent=percent
        )
        self._arrive(probe, frame)

    def child_event(self, frame: ChildFrame, event: Event) -> None:
        """What the child's live row says it does (model, tool, streamed text), and its end."""
        kind, data = event.kind, event.data
        if kind is EventKind.RUN_END:
            self.child_ended(frame)
            return
        self._calls(frame, event)
        with self._lock:
            live = frame.live
            if live is None:
                return
            if kind is EventKind.LLM_START:
                live.activity = "calling the model"
                live.text, live.reasoning = StreamedText(), StreamedText()
            elif kind is EventKind.LLM_DELTA:
                streamed = live.reasoning if data.get("kind") == "reasoning" else live.text
                streamed.append(str(data.get("text", "")))
            elif kind is EventKind.TOOL_START:
                live.activity = f"running {data.get('tool')}"
            elif kind is EventKind.TOOL_PROGRESS:
                live.activity = f"running {data.get('tool')} {data.get('message', '')}"
            else:
                return
            live.revision += 1
            frame.revision += 1
        self._changed()
