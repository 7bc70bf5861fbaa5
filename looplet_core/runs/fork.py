"""``fork``: a new branch from any checkpoint, with an edited prompt, tool call or tool result.

    run = fork(store, cp_id, args={"column": "status"}, llm=llm, tools=tools)
    for step in run: ...

The fork is written as a checkpoint whose parent is ``checkpoint_id`` (``reason="fork"``, with
``fork = {"from", "edit", "step"}``), on a new ``branch_id``; the parent branch is never touched,
and ``checkpoint_tree`` lists both.  One edit per fork:

* ``messages=[...]``: the conversation becomes this list; queued calls and a pending approval are
  dropped and the model is asked next.  Step numbers and budget carry on from the checkpoint.
* ``args={...}``: the call of the checkpoint's last step (or its pending approval) is made again
  with these arguments, as if the model had asked for them (its message is edited to match).
  The branch replaces that step: it goes through validation, hooks and approval as usual.
* ``result=...``: the checkpoint's last step returned this instead (a ``ToolResult`` to fork with
  an error); the model sees it next.  The step records a ``fork`` decision.

With no edit, the branch simply re-runs from the checkpoint (useful with a sampling model).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from looplet_core.approvals.requests import Approver
from looplet_core.backends.base import LLMBackend
from looplet_core.cancel import CancelToken
from looplet_core.durable.checkpointer import step_record
from looplet_core.durable.checkpoints import (
    Checkpoint,
    CheckpointStore,
    Snapshot,
    load,
    state_document,
)
from looplet_core.errors import ConfigError
from looplet_core.messages import Conversation, Message, ToolCall
from looplet_core.records import HookDecision, ToolResult
from looplet_core.runs.resume import ResumedRun, check_tool_set, run_config
from looplet_core.state import DefaultState, LoopConfig, StepLog
from looplet_core.step import Step, StepStatus
from looplet_core.tools.registry import BaseToolRegistry
from looplet_core.tools.results import result_to_text

__all__ = ["fork"]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


def fork(
    store: CheckpointStore,
    checkpoint_id: str | Checkpoint,
    *,
    llm: LLMBackend,
    tools: BaseToolRegistry,
    messages: Sequence[Message | dict[str, Any]] | None = None,
    args: dict[str, Any] | None = None,
    result: Any = _UNSET,
    hooks: Sequence[object] = (),
    config: LoopConfig | None = None,
    approver: Approver | None = None,
    branch: str | None = None,
    cancel: CancelToken | None = None,
    check_tools: bool = True,
) -> ResumedRun:
    """Start a branch from ``checkpoint_id`` with at most one edit; returns the run to iterate.

    ``branch`` names the new branch (default ``fork-<random>``); it must be new in the run.
    ``config``, ``approver``, ``hooks`` and ``check_tools`` are as for ``resume``.
    """
    cid = checkpoint_id.id if isinstance(checkpoint_id, Checkpoint) else checkpoint_id
    edits = [
        name
        for name, given in (
            ("messages", messages is not None),
            ("args", args is not None),
            ("result", result is not _UNSET),
        )
        if given
    ]
    if len(edits) > 1:
        raise ConfigError(f"fork takes one edit at a time, got {' and '.join(edits)}")
    snapshot = load(store, cid)
    if check_tools:
        check_tool_set(snapshot, tools)
    cfg = run_config(snapshot, config, approver, store)
    state = snapshot.state
    base = snapshot.checkpoint
    branch_id = branch or f"fork-{uuid.uuid4().hex[:6]}"
    if branch is not None and any(
        store.get(c).branch_id == branch for c in store.list(base.run_id)
    ):
        raise ConfigError(f"run {base.run_id} already has a branch named {branch!r}")
    old_messages = list(state.conversation)
    old_steps = list(state.steps)
    state.result = None
    state.branch_id = branch_id
    edit = edits[0] if edits else "none"
    at = state.step_number
    if messages is not None:
        _edit_messages(state, messages)
    elif args is not None:
        at = _edit_args(state, args, tools, base)
    elif result is not _UNSET:
        at = _edit_result(state, result, cfg, base)
    saved = _save_fork(
        store, state, base, old_messages=old_messages, old_steps=old_steps, edit=edit, at=at
    )
    state.checkpoint_id = saved.id
    forked = Snapshot(saved, state, snapshot.task, snapshot.config, snapshot.tools, snapshot.root)
    return ResumedRun(llm=llm, tools=tools, hooks=hooks, snapshot=forked, config=cfg, cancel=cancel)


def _edit_messages(state: DefaultState, messages: Sequence[Message | dict[str, Any]]) -> None:
    state.conversation = Conversation(
        [m if isinstance(m, Message) else Message.from_dict(m) for m in messages]
    )
    state.queue = []
    state.pending_approval = None
    state.pending_injections = []


def _edit_args(
    state: DefaultState, args: dict[str, Any], tools: BaseToolRegistry, base: Checkpoint
) -> int:
    msgs = list(state.conversation)
    request = state.pending_approval
    if request is not None:  # the paused call: it has no result yet
        tool, call_id, at, cut = request.tool, request.call_id, request.step, len(msgs)
        state.pending_approval = None
    else:
        last = _last_call_step(state, base)
        assert last.tool_call is not None
        tool, call_id, at = last.tool, last.tool_call.id, last.number
        cut = _result_index(msgs, last.tool_call, base)
        steps = list(state.steps)[:-1]
        state.steps = StepLog(steps)
        state.step_number = at - 1
        state.last_error = steps[-1].tool_result.error if steps and not steps[-1].ok else None
        state.pending_injections = []
    assert tool is not None
    if tool in tools:
        _, problem = tools.validate(ToolCall(tool, args, call_id))
        if problem is not None:
            raise ConfigError(f"edited arguments for {tool} are invalid: {problem}")
    edited = ToolCall(tool, dict(args), call_id)
    queue = [edited, *state.queue]
    for i in range(cut - 1, -1, -1):  # the model's message that made the call (native mode)
        message = msgs[i]
        if message.role == "assistant" and any(c.id == call_id for c in message.tool_calls):
            answered = {m.tool_call_id for m in msgs[i + 1 : cut] if m.role == "tool"}
            calls = tuple(edited if c.id == call_id else c for c in message.tool_calls)
            msgs[i] = replace(message, tool_calls=calls)
            queue = [c for c in calls if c.id not in answered]
            break
    state.conversation = Conversation(msgs[:cut])
    state.queue = queue
    if state.current_call is not None:
        state.current_call.tool_calls = [
            edited if c.id == call_id else c for c in state.current_call.tool_calls
        ]
    return at


def _edit_result(state: DefaultState, result: Any, cfg: LoopConfig, base: Checkpoint) -> int:
    if state.pending_approval is not None:
        raise ConfigError(
            f"checkpoint {base.id} waits for approval: its call has no result to edit "
            "(fork with args=..., or decide the approval)"
        )
    last = _last_call_step(state, base)
    tc = last.tool_call
    assert tc is not None
    if last.status is StepStatus.DONE:
        raise ConfigError(f"step {last.number} finished the run; fork from an earlier checkpoint")
    new = result if isinstance(result, ToolResult) else ToolResult(data=result)
    if new.ok:
        text = result_to_text(new.data, cfg.result_limit)
    else:
        kind = new.error_kind.value if new.error_kind else "error"
        text = f"Error ({kind}): {new.error}"
    msgs = list(state.conversation)
    i = _result_index(msgs, tc, base)
    if msgs[i].role == "tool":
        msgs[i] = Message("tool", text, tool_call_id=tc.id, name=tc.tool)
    else:
        msgs[i] = Message("user", f"Result of {tc.tool} ({tc.id}):\n{text}")
    state.conversation = Conversation(msgs)
    step = Step.from_dict(last.to_dict())
    step.tool_result = new
    step.status = StepStatus.OK if new.ok else StepStatus.ERROR
    step.branch_id = state.branch_id
    step.decisions.append(HookDecision("fork", "fork", "edit_result", f"forked from {base.id}"))
    state.steps = StepLog([*list(state.steps)[:-1], step])
    state.last_error = new.error
    return last.number


def _last_call_step(state: DefaultState, base: Checkpoint) -> Step:
    last = state.steps.last
    if last is None or last.tool_call is None:
        raise ConfigError(f"checkpoint {base.id}: its last step made no tool call to edit")
    return last


def _result_index(msgs: list[Message], tc: ToolCall, base: Checkpoint) -> int:
    """Where the result of ``tc`` sits: a tool message (native) or a ``Result of`` user message
    (JSON mode).  Searched from the end: it is among the last few messages."""
    prefix = f"Result of {tc.tool} ({tc.id}):"
    for i in range(len(msgs) - 1, -1, -1):
        m = msgs[i]
        if (m.role == "tool" and m.tool_call_id == tc.id) or (
            m.role == "user" and m.content.startswith(prefix)
        ):
            return i
    raise ConfigError(f"checkpoint {base.id}: no result message for call {tc.id} ({tc.tool})")


def _save_fork(
    store: CheckpointStore,
    state: DefaultState,
    base: Checkpoint,
    *,
    old_messages: list[Message],
    old_steps: list[Step],
    edit: str,
    at: int,
) -> Checkpoint:
    messages = list(state.conversation)
    steps = list(state.steps)
    mkeep = _shared_prefix(old_messages, messages)
    skeep = _shared_prefix(old_steps, steps)
    doc, pending = state_document(state)
    return store.put(
        Checkpoint(
            run_id=state.run_id,
            branch_id=state.branch_id,
            step=state.step_number,
            state=doc,
            messages_keep=mkeep,
            messages_add=[m.to_dict() for m in messages[mkeep:]],
            steps_keep=skeep,
            steps_add=[step_record(s) for s in steps[skeep:]],
            parent=base.id,
            pending_approval=pending,
            reason="fork",
            created_at=time.time(),
            fork={"from": base.id, "edit": edit, "step": at},
        )
    )


def _shared_prefix(old: Sequence[object], new: Sequence[object]) -> int:
    n = min(len(old), len(new))
    i = 0
    while i < n and (old[i] is new[i] or old[i] == new[i]):
        i += 1
    return i
