"""Several calls of one reply run at the same time: a batch.

When ``LoopConfig.parallel_tools`` is above 1 and a reply's next calls are all of tools that may
overlap (``ToolSpec.runs_concurrently``), the engine takes them as one batch, in three passes:

1. decide: every call is checked and put to the ``pre_dispatch`` hooks, in the model's order,
   before any of them runs (a denied call becomes its step's denial; the others still run);
2. run: the calls allowed to run go to the driver as one ``RunTools`` effect; each keeps its
   own timeout and cancel token, and the driver sends back the real times each ran;
3. record: each call becomes its ``Step``, in the model's order (``post_dispatch`` hooks, the
   tool message, ``check_done``), carrying ``Step.batch`` and the times its tool really ran, so
   the overlap shows.  A call waiting for approval blocks only itself: it is asked, and run, at
   its turn here.

Between passes 2 and 3 the outcome of every call is mirrored in ``state.batch_done``, which
checkpoints save: a run stopped after some of the batch's steps resumes by recording the rest
from there, without running any call twice.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from looplet_core.engine.dispatch import Dispatch, Verdict
from looplet_core.engine.effects import Effect, EngineGen, RunTool, RunTools, now
from looplet_core.errors import HookError
from looplet_core.events import EventKind
from looplet_core.jsonsafe import jsonable
from looplet_core.messages import ToolCall
from looplet_core.step import BatchInfo, ChildRun, Step, StepStatus
from looplet_core.tools.batch import ToolOutcome

Plan = tuple[Step, Verdict, float]
"""A batch call's step, what was decided about it, and the seconds its hooks took deciding."""


class Batching(Dispatch):
    """Takes the leading overlap-safe calls of the queue as one concurrent batch."""

    def _batch_prefix(self) -> list[ToolCall]:
        """The queue's leading calls that may run together (none if fewer than two)."""
        st = self.state
        if self.config.parallel_tools <= 1 or len(st.queue) < 2:
            return []
        room = self.limit - st.step_number
        calls: list[ToolCall] = []
        ids: set[str] = set()
        for tc in st.queue:
            if len(calls) >= room or tc.parse_error is not None:
                break
            if not tc.id or tc.id in ids or tc.id in st.batch_done:
                break  # a batch's calls are told apart by id
            if tc.tool == self.config.done_tool and self.builtin_done:
                break
            spec = self.tools.get(tc.tool)
            if spec is None or not spec.runs_concurrently:
                break
            calls.append(tc)
            ids.add(tc.id)
        return calls if len(calls) >= 2 else []

    def _run_batch(self, calls: list[ToolCall]) -> EngineGen:
        st = self.state
        base = st.step_number
        batch_id = f"{st.llm_calls}.{base + 1}"  # reply and first step: unique in a branch
        plans: list[Plan] = []
        for index, tc in enumerate(calls):  # 1. decide, in the model's order
            step = self._new_step(tc, base + index + 1)
            step.batch = BatchInfo(batch_id, index, len(calls))
            try:
                verdict = self._verdict(step, tc, in_batch=True)
            except HookError:  # this call's error step is the run's last: none of the batch ran
                step.number, step.batch = base + 1, None
                del st.queue[index]
                raise
            if verdict.kind == "run" and not (verdict.spec and verdict.spec.runs_concurrently):
                verdict.later = True  # a hook made it a call of a tool unsafe to run alongside
            if verdict.kind == "record":
                step.finished_at = now()
                step.elapsed_ms = (step.finished_at - step.started_at) * 1000.0
                step.elapsed_ms -= self._hook_seconds * 1000.0
            plans.append((step, verdict, self._hook_seconds))
            if verdict.then == "stop":
                break
        self._current = None
        outcomes = yield from self._run_all(plans)
        decided_s = sum(hook_s for _, _, hook_s in plans)
        for (step, _, _), outcome in outcomes:
            step.tool_result = outcome.result
            step.status = StepStatus.OK if outcome.result.ok else StepStatus.ERROR
            if step.batch is not None and step.batch.index > 0:
                step.started_at = outcome.started_at
            step.finished_at = outcome.finished_at
            step.elapsed_ms = (step.finished_at - step.started_at) * 1000.0
            if step.batch is not None and step.batch.index == 0:  # began with the model call
                step.elapsed_ms -= decided_s * 1000.0
        self._save_outcomes(calls, plans)
        for index, (step, verdict, hook_s) in enumerate(plans):  # 3. record, in order
            tc = calls[index]
            if st.queue and st.queue[0] is tc:
                st.queue.pop(0)
            st.batch_done.pop(tc.id, None)
            self._current = step
            self._hook_seconds = hook_s
            if verdict.kind == "run" and not verdict.later:
                yield from self._finish_call(step, step.tool_result)
                continue
            if verdict.kind == "approve" or verdict.later:  # at its turn: blocks only itself
                step.started_at = now()
            yield from self._act(step, verdict)

    def _run_all(self, plans: list[Plan]) -> Generator[Effect, Any, list[tuple[Plan, ToolOutcome]]]:
        """2. run every call allowed to, at the same time, as one effect."""
        runs = [
            plan
            for plan in plans
            if plan[1].kind == "run" and plan[1].spec is not None and not plan[1].later
        ]
        if not runs:
            return []
        effects: list[RunTool] = []
        children: list[list[ChildRun]] = []
        for step, verdict, _ in runs:
            assert verdict.spec is not None and step.tool_call is not None
            kids: list[ChildRun] = []
            children.append(kids)
            args = verdict.args or {}
            self.emit(EventKind.TOOL_START, step=step.number, tool=step.tool_call.tool, args=args)
            spec = verdict.spec
            timeout = spec.timeout if spec.timeout is not None else self.config.tool_timeout
            effects.append(RunTool(spec, args, self._tool_context(step, kids), timeout))
        outcomes: list[ToolOutcome] = yield RunTools(effects, self.config.parallel_tools)
        for (step, _, _), kids, outcome in zip(runs, children, outcomes, strict=True):
            self._adopt_children(step, kids)
            self._tool_ended(step, outcome.result)
        return list(zip(runs, outcomes, strict=True))

    def _save_outcomes(self, calls: list[ToolCall], plans: list[Plan]) -> None:
        """Mirror the batch in ``state.batch_done`` so a checkpoint taken mid-batch keeps it."""
        done = self.state.batch_done
        for index, (step, verdict, hook_s) in enumerate(plans):
            if verdict.kind == "approve" or verdict.then or verdict.later:
                continue  # asked (or stopped) again on resume: nothing of it ran
            step.hook_ms = hook_s * 1000.0
            record: dict[str, Any] = step.to_dict(prompt=False)
            done[calls[index].id] = {
                "kind": verdict.kind,
                "text": verdict.text,
                "step": jsonable(record),
            }
