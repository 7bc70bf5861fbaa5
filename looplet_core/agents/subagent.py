"""``subagent``: a tool that runs a nested loop and answers with the nested loop's answer.

The parent model calls it like any tool (``{"task": "..."}``).  Each call runs a fresh child
loop: a new ``DefaultState`` (its own run id), the sub-agent's own tools, hooks and budget, and a
cancel token that is a child of the call's (``CancelToken.child``), so cancelling the parent run
(or the call timing out) stops the child, while a child that cancels itself stops only itself.

What the parent sees:

* a child that ends with an answer (``done`` or, with ``text_is_final``, text) is a successful
  call whose result is that answer, as text;
* any other end (the child's step budget spent, its model failing, a hook stopping it, a pause
  for an approval nobody answers) is a tool error in the parent, ``SubagentError`` naming the
  sub-agent and the child's stop reason; the parent's model is told and goes on;
* a call in the child that needs approval is put to the child's ``config.approver``, else to
  the parent run's (``request.asked_in`` names the sub-agents down to it); with neither, the child
  pauses: with a ``checkpoint`` store the parent's step then waits for approval too (its
  request's ``nested`` is the child's call: a person sees and edits that call, checked against
  the child's tool), and approving it resumes the child at that call with the decision and any
  edited arguments; without one, it is an error in the parent;
* the parent run's hooks may take part in the child's loop: those with a ``child_hooks``
  method add hooks to it (``looplet_core.hooks``; the debugger steps into sub-agents so);
* either way the child's run, steps and all, is the parent step's ``child``, and the child's
  token usage is added to the parent run's.  Children nest: a sub-agent's tools may include
  sub-agents.

While the child runs, each of its steps is reported as the call's progress
(``ToolContext.report_progress``), so the parent's event listeners (the debugger's live row,
tracing) see it live; a replay with recorded tools serves the recorded child run instead of
running the sub-agent again.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from looplet_core.approvals.hooks import Decision
from looplet_core.approvals.requests import ApprovalDecision, ApprovalRequest
from looplet_core.backends.base import LLMBackend
from looplet_core.errors import ConfigError, SubagentError
from looplet_core.events import Event, EventKind
from looplet_core.loop import async_composable_loop, composable_loop
from looplet_core.records import StopReason
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import ChildRun, LoopResult, Step
from looplet_core.tools.registry import BaseToolRegistry
from looplet_core.tools.run import ToolContext
from looplet_core.tools.spec import ToolSpec

if TYPE_CHECKING:
    from looplet_core.durable.checkpoints import CheckpointStore

__all__ = ["SubagentSpec", "child_run_id", "subagent"]

HooksArg = Sequence[object] | Callable[[], Sequence[object]]


@dataclass(frozen=True, slots=True)
class SubagentSpec:
    """How a sub-agent's child loop is built for each call (kept on the tool as ``agent``)."""

    name: str
    llm: LLMBackend | Callable[[], LLMBackend]
    tools: BaseToolRegistry
    config: LoopConfig
    hooks: HooksArg = ()
    on_step: Callable[[Step], None] | None = None

    def backend(self) -> LLMBackend:
        llm = self.llm
        if not hasattr(llm, "generate") and callable(llm):
            return llm()  # a factory: a fresh backend per call
        return llm  # type: ignore[return-value]  # an LLMBackend

    def config_for(self, ctx: ToolContext) -> LoopConfig:
        """The child's config for one call: it keeps prompts when the parent run does (the
        debugger's Prompt tab shows a sub-agent's prompts too), and without an approver of its
        own it asks the parent's, naming itself in the request: ``extra["subagent"]`` is the
        sub-agent whose call it is, ``extra["subagent_path"]`` the sub-agents from the run down
        to it (each level adds its name in front on the way up), so ``ApprovalRequest.asked_in``
        names a call two deep in full."""
        changes: dict[str, Any] = {}
        if ctx.record_prompts and not self.config.record_prompts:
            changes["record_prompts"] = True
        parent = ctx.approver
        if self.config.approver is None and parent is not None:
            name = self.name

            def ask_parent(request: ApprovalRequest) -> None:
                extra = request.extra
                extra.setdefault("subagent", name)  # the innermost: where the call is
                path: object = extra.get("subagent_path")
                inner = cast(list[object], path) if isinstance(path, list) else []
                extra["subagent_path"] = [name, *(str(n) for n in inner)]
                parent(request)

            changes["approver"] = ask_parent
        return replace(self.config, **changes) if changes else self.config

    def hook_list(self, ctx: ToolContext | None = None) -> list[object]:
        """The child's own hooks, then those the parent run's hooks add to it (a debugger's,
        say: ``ToolContext.child_hooks``), last so they see what the child's hooks decided."""
        return [*self.own_hooks(), *self.added_hooks(ctx)]

    def own_hooks(self) -> list[object]:
        """The sub-agent's own hooks for one call (a factory's fresh set)."""
        hooks = self.hooks
        return list(hooks() if callable(hooks) else hooks)

    def added_hooks(self, ctx: ToolContext | None) -> list[object]:
        """The hooks the parent run's hooks add to this call's child loop."""
        if ctx is None or ctx.child_hooks is None:
            return []
        return list(ctx.child_hooks(self.name, ctx.step))


def subagent(
    name: str,
    description: str,
    *,
    llm: LLMBackend | Callable[[], LLMBackend],
    tools: BaseToolRegistry,
    config: LoopConfig | None = None,
    hooks: HooksArg = (),
    max_steps: int | None = None,
    system_prompt: str | None = None,
    timeout: float | None = None,
    read_only: bool = False,
    requires_approval: bool = False,
    asynchronous: bool = False,
    on_step: Callable[[Step], None] | None = None,
    checkpoint: CheckpointStore | None = None,
) -> ToolSpec:
    """A tool named ``name`` that hands its ``task`` argument to a child loop.

    ``llm`` is the child's model (or a no-argument factory returning one per call); ``tools``,
    ``hooks`` (or a factory of them: hooks with state want a fresh set per call) and ``config``
    are the child's own.  ``max_steps`` and ``system_prompt`` override ``config``'s.  The child
    may take at most its ``max_steps`` steps: running out is an error in the parent, never a
    silent partial answer.  ``asynchronous=True`` makes the tool ``async def`` and runs the child
    with ``async_composable_loop`` (for a parent driven by the async loop).  ``read_only`` lets
    the parent run several calls of it at the same time (``LoopConfig.parallel_tools``) and
    re-run it in replays; only set it if the child's tools are read-only too.  ``on_step`` sees
    every child step as it happens.

    ``checkpoint`` saves each child run in that store under a run id derived from the parent
    run, step and sub-agent name.  When the same call runs again (the parent resumed after its
    process died inside the child), the child resumes from its last checkpoint, with its steps
    and budget so far, instead of starting over; a child that had finished is not run again.
    Not with ``asynchronous=True``.
    """
    child_config = config or LoopConfig()
    if checkpoint is not None and asynchronous:
        raise ConfigError(
            f"subagent {name!r}: checkpoint= works with the sync loop only; drop "
            "asynchronous=True or the checkpoint store"
        )
    # Without a store of its own the child never checkpoints: the parent's checkpoints hold it.
    changes: dict[str, Any] = {"checkpoint": checkpoint}
    if max_steps is not None:
        if max_steps < 1:
            raise ConfigError(f"subagent {name!r}: max_steps must be at least 1, got {max_steps}")
        changes["max_steps"] = max_steps
    if system_prompt is not None:
        changes["system_prompt"] = system_prompt
    spec = SubagentSpec(name, llm, tools, replace(child_config, **changes), hooks, on_step)
    parameters = {
        "type": "object",
        "properties": {
            "task": {
                "type": "string",
                "description": "The task for the sub-agent, with everything it needs to know.",
            }
        },
        "required": ["task"],
        "additionalProperties": False,
    }

    def run(task: str, ctx: ToolContext) -> str:
        added = spec.added_hooks(ctx)  # first: they hear of the end even if the llm factory fails
        hooks = [*spec.own_hooks(), *added]
        states: list[DefaultState] = []
        try:
            return run_child(task, ctx, hooks, states)
        except BaseException as exc:
            if not states or states[0].result is None:  # the loop did not end: no run_end yet
                _loop_raised(added, exc)
            raise

    def run_child(
        task: str, ctx: ToolContext, hooks: list[object], states: list[DefaultState]
    ) -> str:
        cancel = ctx.cancel.child()
        config = spec.config_for(ctx)
        if checkpoint is not None:
            run_id = child_run_id(ctx.run_id, ctx.step, name)
            if checkpoint.list(run_id):  # this call ran before: go on from where it stopped
                from looplet_core.runs.resume import resume

                resumed = resume(
                    checkpoint,
                    run_id,
                    llm=spec.backend(),
                    tools=spec.tools,
                    hooks=hooks,
                    config=config,
                    cancel=cancel,
                    decision=_passed_on(ctx, checkpoint, run_id),
                )
                states.append(resumed.state)
                for step in resumed:
                    _seen(spec, step, ctx)
                return _answer(spec, task, resumed.state, ctx, resumable=True)
            state = DefaultState(run_id=run_id)
        else:
            state = DefaultState()
        states.append(state)
        steps = composable_loop(
            llm=spec.backend(),
            tools=spec.tools,
            task=task,
            config=config,
            state=state,
            hooks=hooks,
            cancel=cancel,
        )
        for step in steps:
            _seen(spec, step, ctx)
        return _answer(spec, task, state, ctx, resumable=checkpoint is not None)

    async def arun(task: str, ctx: ToolContext) -> str:
        state = DefaultState()
        cancel = ctx.cancel.child()
        added = spec.added_hooks(ctx)
        try:
            async for step in async_composable_loop(
                llm=spec.backend(),
                tools=spec.tools,
                task=task,
                config=spec.config_for(ctx),
                state=state,
                hooks=[*spec.own_hooks(), *added],
                cancel=cancel,
            ):
                _seen(spec, step, ctx)
        except BaseException as exc:
            if state.result is None:
                _loop_raised(added, exc)
            raise
        return _answer(spec, task, state, ctx)

    return ToolSpec(
        name=name,
        description=description,
        parameters=parameters,
        execute=arun if asynchronous else run,
        timeout=timeout,
        requires_approval=requires_approval,
        read_only=read_only,
        agent_tools=spec.tools,
    )


def child_run_id(parent_run_id: str, step: int, agent: str) -> str:
    """The run id of the sub-agent ``agent`` started by step ``step`` of run ``parent_run_id``:
    the same every time that call runs, so its checkpoints are found again."""
    digest = hashlib.sha256(f"{parent_run_id}/{step}/{agent}".encode()).hexdigest()
    return digest[:12]


def _loop_raised(added: Sequence[object], exc: BaseException) -> None:
    """The child loop raised instead of ending (its backend factory failed, say): the hooks
    the parent's hooks added to it still get a ``run_end`` (stop reason ``error``), so a
    debugger following the child knows it is over.  The child's own hooks get nothing."""
    event = Event(
        EventKind.RUN_END,
        data={
            "stop_reason": "error",
            "message": f"the sub-agent's loop raised {type(exc).__name__}: {exc}",
            "steps": 0,
            "usage": {},
        },
    )
    for hook in added:
        listener = getattr(hook, "on_event", None)
        if callable(listener):
            with contextlib.suppress(Exception):  # the loop's own error is the one to report
                listener(event)


def _seen(spec: SubagentSpec, step: Step, ctx: ToolContext) -> None:
    """A child step happened: tell ``on_step``, and the parent's observers as tool progress
    (the debugger's live row reads ``researcher step 2: lookup(...) → ...``)."""
    if spec.on_step is not None:
        spec.on_step(step)
    ctx.report_progress(None, f"{spec.name} step {step.number}: {step.pretty()}")


def _passed_on(ctx: ToolContext, store: CheckpointStore, run_id: str) -> Decision | None:
    """The approval of the parent's call (which waited for this child's paused call), for the
    child's call, when the child still waits: with the arguments the person edited (they are
    the child's call's: ``ApprovalRequest.nested``), and its scope."""
    approval = ctx.approval
    if approval is None or approval.decision is not ApprovalDecision.APPROVE:
        return None
    from looplet_core.runs.resume import restore

    waiting = restore(store, run_id, tools=BaseToolRegistry(), check_tools=False)
    if waiting.state.pending_approval is None:
        return None
    return Decision.approve(approval.edited_args, scope=approval.scope, match=approval.match)


def _answer(
    spec: SubagentSpec,
    task: str,
    state: DefaultState,
    ctx: ToolContext,
    *,
    resumable: bool = False,
) -> str:
    result = state.result
    if result is None:  # the loop always sets it; a missing one is a stop we cannot explain
        result = LoopResult(StopReason.HOOK_ERROR, list(state.steps), state.usage, run_id="")
    child = ChildRun(
        agent=spec.name,
        task=task,
        run_id=state.run_id,
        stop_reason=result.stop_reason,
        message=result.message,
        answer=result.final_answer,
        steps=list(state.steps),
        usage=state.usage,
        llm_calls=state.llm_calls,
        pending=state.pending_approval if resumable else None,
    )
    if ctx.child_runs is not None:
        ctx.child_runs(child)
    if not child.ok:
        why = f": {result.message}" if result.message else ""
        raise SubagentError(
            f"sub-agent {spec.name!r} stopped without an answer "
            f"({result.stop_reason.value}{why}) after {len(child.steps)} step(s)"
        )
    return result.answer_text
