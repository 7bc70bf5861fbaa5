"""``resume``: continue a checkpointed run exactly where it stopped.

    for step in resume(store, llm=llm, tools=tools):            # the newest run in the store
        print(step.pretty())

The run continues with the same step numbers, budget, messages, usage and state; hooks and the
approver are code, so pass them again.  A run that paused for approval re-yields its pending call,
or, given ``decision=``, dispatches it at once (the model is not asked again).  A run that ended
for good (``done``, final text, step budget, a hook's ``Stop``, parse failures) is not run again:
the returned ``ResumedRun`` has ``finished`` True and yields nothing.  A run that ended because of
something outside it (cancelled, the model server failed, a hook raised) continues.

Async loops: use ``run.task``, ``run.config`` and ``run.state`` of the returned ``ResumedRun`` with
``async_composable_loop``; nothing runs until the run is iterated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from looplet_core.approvals.hooks import Decision
from looplet_core.approvals.requests import ApprovalRequest, Approver
from looplet_core.backends.base import LLMBackend
from looplet_core.cancel import CancelToken
from looplet_core.durable.checkpointer import tool_fingerprints
from looplet_core.durable.checkpoints import (
    Checkpoint,
    CheckpointStore,
    Snapshot,
    latest_checkpoint,
    load,
    parse_checkpoint_id,
)
from looplet_core.errors import ApprovalError, CheckpointError
from looplet_core.loop import composable_loop
from looplet_core.messages import ToolCall
from looplet_core.records import ErrorKind, StopReason
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import LoopResult, Step, StepStatus
from looplet_core.tools.registry import BaseToolRegistry

__all__ = ["RESUMABLE", "ResumedRun", "restore", "resume"]

RESUMABLE = frozenset(
    {
        StopReason.AWAITING_APPROVAL,
        StopReason.CANCELLED,
        StopReason.LLM_ERROR,
        StopReason.HOOK_ERROR,
        StopReason.DEADLINE,
    }
)
"""Runs that ended for these reasons continue when resumed; any other end is final."""


class ResumedRun(Iterator[Step]):
    """A resumed or forked run: iterate it like ``composable_loop`` (its return value, the
    ``LoopResult``, is also on ``result``).  ``checkpoint`` is where it started from."""

    def __init__(
        self,
        *,
        llm: LLMBackend,
        tools: BaseToolRegistry,
        hooks: Sequence[object],
        snapshot: Snapshot,
        config: LoopConfig,
        cancel: CancelToken | None,
    ) -> None:
        self.checkpoint: Checkpoint = snapshot.checkpoint
        self.state: DefaultState = snapshot.state
        self.task: Any = snapshot.task
        self.config = config
        self._loop = composable_loop(
            llm=llm,
            tools=tools,
            task=snapshot.task,
            config=config,
            state=snapshot.state,
            hooks=hooks,
            cancel=cancel,
        )

    def __next__(self) -> Step:
        return next(self._loop)

    def close(self) -> None:
        """Stop here (like ``generator.close()``); the last checkpoint stays resumable."""
        self._loop.close()

    @property
    def finished(self) -> bool:
        """True if the run has ended for good (nothing left to run)."""
        return self.state.finished

    @property
    def result(self) -> LoopResult | None:
        return self.state.result

    @property
    def pending_approval(self) -> ApprovalRequest | None:
        return self.state.pending_approval

    def __repr__(self) -> str:
        where = "finished" if self.finished else f"at step {self.state.step_number}"
        return f"ResumedRun({self.state.run_id}/{self.state.branch_id}, {where})"


def resume(
    store: CheckpointStore,
    run_id: str | None = None,
    *,
    llm: LLMBackend,
    tools: BaseToolRegistry,
    hooks: Sequence[object] = (),
    decision: Decision | str | None = None,
    config: LoopConfig | None = None,
    approver: Approver | None = None,
    checkpoint_id: str | None = None,
    branch: str | None = None,
    cancel: CancelToken | None = None,
    check_tools: bool = True,
) -> ResumedRun:
    """Continue ``run_id`` (default: the most recently written run) from its newest checkpoint
    (or ``checkpoint_id``; or the newest of ``branch``).

    ``config`` defaults to the run's saved settings (budget included) with ``approver`` added;
    the run keeps checkpointing into ``store`` unless ``config.checkpoint`` names another store.
    ``decision`` resolves a pending approval (``Decision.approve(args=...)``, ``"deny"``, ...).
    ``check_tools`` refuses tools whose names or schemas differ from those the run started with.
    """
    snapshot = restore(
        store,
        run_id,
        tools=tools,
        checkpoint_id=checkpoint_id,
        branch=branch,
        check_tools=check_tools,
    )
    run_cfg = run_config(snapshot, config, approver, store)
    settle(snapshot.state, run_cfg)
    if decision is not None:
        apply_decision(snapshot, decision, tools)
    return ResumedRun(
        llm=llm, tools=tools, hooks=hooks, snapshot=snapshot, config=run_cfg, cancel=cancel
    )


def restore(
    store: CheckpointStore,
    run_id: str | None = None,
    *,
    tools: BaseToolRegistry,
    checkpoint_id: str | None = None,
    branch: str | None = None,
    check_tools: bool = True,
) -> Snapshot:
    """Load a checkpoint and check it fits ``tools``.  If the newest checkpoint is unreadable,
    the error names it and the newest intact one to resume from instead."""
    if checkpoint_id is not None:
        snapshot = load(store, checkpoint_id)
    else:
        newest = latest_checkpoint(store, run_id, branch=branch)
        try:
            snapshot = load(store, newest)
        except CheckpointError as exc:
            good = _newest_loadable(store, newest)
            if good is None:
                raise
            raise CheckpointError(
                f"{exc}; the newest intact checkpoint of this run is {good}: "
                f"resume(store, checkpoint_id={good!r}, ...) continues from there",
                intact=good,
                problem=str(exc),
            ) from None
    if check_tools:
        check_tool_set(snapshot, tools)
    return snapshot


def _newest_loadable(store: CheckpointStore, bad: str, tries: int = 50) -> str | None:
    run_id, seq = parse_checkpoint_id(bad)
    older = [cid for cid in store.list(run_id) if parse_checkpoint_id(cid)[1] < seq]
    for cid in reversed(older[-tries:]):
        try:
            load(store, cid)
        except CheckpointError:
            continue
        return cid
    return None


def check_tool_set(snapshot: Snapshot, tools: BaseToolRegistry) -> None:
    saved, now = snapshot.tools, tool_fingerprints(tools)
    if saved == now:
        return
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("missing", sorted(set(saved) - set(now))),
            ("schema changed", sorted(n for n in saved if n in now and saved[n] != now[n])),
            ("not in the run", sorted(set(now) - set(saved))),
        )
        if names
    ]
    raise CheckpointError(
        f"{snapshot.root.source}: run {snapshot.checkpoint.run_id} was checkpointed with other "
        f"tools ({'; '.join(problems)}). Pass the tools it ran with, or check_tools=False to "
        "continue anyway."
    )


def run_config(
    snapshot: Snapshot,
    config: LoopConfig | None,
    approver: Approver | None,
    store: CheckpointStore,
) -> LoopConfig:
    """The config to continue with: the given one, or the saved settings rebuilt."""
    if config is None:
        config = _saved_config(snapshot)
    changes: dict[str, Any] = {}
    if config.checkpoint is None:
        changes["checkpoint"] = store
    if approver is not None:
        changes["approver"] = approver
    return replace(config, **changes) if changes else config


# Saved settings whose default is None, and the JSON types they are saved as.
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "system_prompt": (str,),
    "tool_timeout": (int, float),
    "context_window": (int,),
    "workspace": (str,),
    "run_deadline": (int, float),
}
# Saved settings with a default that may also be turned off with None.
_NULLABLE = frozenset({"llm_deadline"})


def _saved_config(snapshot: Snapshot) -> LoopConfig:
    """The run's saved settings rebuilt; a damaged one is a CheckpointError, not a crash later."""
    defaults = LoopConfig()
    saved: dict[str, Any] = {}
    for f in fields(LoopConfig):
        if f.name not in snapshot.config:
            continue
        value: object = snapshot.config[f.name]
        default: object = getattr(defaults, f.name)
        kinds: tuple[type, ...]
        if default is None:
            kinds = _OPTIONAL_TYPES.get(f.name, ())
        else:
            kinds = (int, float) if isinstance(default, float) else (type(default),)
        wrong = not isinstance(value, kinds) or isinstance(value, bool) != isinstance(default, bool)
        if value is None and f.name in _NULLABLE:
            wrong = False
        if wrong and (value is not None or default is not None):
            raise CheckpointError(
                f"{snapshot.root.source}: saved setting {f.name}={value!r} is not valid"
            )
        saved[f.name] = Path(value) if f.name == "workspace" and isinstance(value, str) else value
    try:
        return LoopConfig(**saved)
    except ValueError as exc:  # ConfigError: a value out of range
        raise CheckpointError(
            f"{snapshot.root.source}: saved settings are invalid: {exc}"
        ) from None


def settle(state: DefaultState, config: LoopConfig) -> None:
    """Decide whether the restored run is over.

    A resumable end is cleared so the loop continues.  A run whose last saved step ended it (a
    ``done``, a ``Stop`` decision, too many parse failures) but whose end was not saved (the
    process died in between) is marked finished, so the model is not asked again.
    """
    result = state.result
    if result is not None:
        if result.stop_reason in RESUMABLE:
            state.result = None
        return
    last = state.steps.last
    if last is None:
        return
    reason: StopReason | None = None
    if last.status is StepStatus.DONE:
        reason = StopReason.DONE
    elif any(d.decision == "stop" for d in last.decisions):
        reason = StopReason.HOOK_STOP
    elif (
        last.tool_result.error_kind is ErrorKind.PARSE
        and state.parse_failures > config.max_parse_retries
    ):
        reason = StopReason.PARSE_ERROR
    if reason is not None:
        state.result = LoopResult(
            stop_reason=reason,
            steps=list(state.steps),
            usage=state.usage,
            final_answer=last.tool_result.data if reason is StopReason.DONE else None,
            message=f"the run ended at step {last.number}",
            run_id=state.run_id,
            llm_calls=state.llm_calls,
        )


def apply_decision(snapshot: Snapshot, decision: Decision | str, tools: BaseToolRegistry) -> None:
    """Resolve the pending approval now; edited arguments are checked before anything runs."""
    state = snapshot.state
    request = state.pending_approval
    if request is None:
        why = "it has finished" if state.finished else "no call is waiting for approval"
        raise ApprovalError(
            f"{snapshot.checkpoint.source}: cannot apply a decision to run {state.run_id}: {why}"
        )

    nested = request.nested

    def validate(args: dict[str, Any]) -> str | None:
        if nested is not None:  # the edits are for the sub-agent's paused call
            return tools.validate_nested(nested.path, ToolCall(nested.tool, args))[1]
        if request.tool not in tools:
            return None
        return tools.validate(ToolCall(request.tool, args, request.call_id))[1]

    request.validator = validate
    Decision.parse(decision).apply(request)
