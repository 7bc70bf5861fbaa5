"""The checkpoint browser's plain-Python side: a run's checkpoints laid out as branches, and the
state at one of them.

``looplet_core.checkpoint_tree`` links every checkpoint to its parent, so a 50-step run is a chain
50 deep.  Drawn as it is, the tree would indent off the screen; ``branches`` instead keeps each
branch flat (its checkpoints one under another) and nests only a *fork* under the checkpoint it
was forked from.  ``describe_state`` summarises a rebuilt ``Snapshot`` for the pane beside the tree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from looplet_core import (
    BaseToolRegistry,
    Checkpoint,
    CheckpointStore,
    Message,
    Step,
    checkpoint_tree,
)
from looplet_core.durable.checkpoints import CheckpointNode, Snapshot

__all__ = [
    "EDITS",
    "Branch",
    "branch_pair",
    "branch_steps",
    "branches",
    "checkpoint_label",
    "describe_state",
    "fork_template",
    "parse_fork_edit",
    "run_branches",
    "side_effect_steps",
]


@dataclass(slots=True)
class Branch:
    """One branch: its checkpoints in order, and the branches forked from each of them."""

    name: str
    checkpoints: list[Checkpoint] = field(default_factory=list[Checkpoint])
    forks: dict[str, list[Branch]] = field(default_factory=dict[str, list["Branch"]])
    """Checkpoint id -> the branches that start from it."""

    def count(self) -> int:
        """Checkpoints on this branch and every branch forked from it."""
        return len(self.checkpoints) + sum(b.count() for bs in self.forks.values() for b in bs)


def branches(roots: Sequence[CheckpointNode]) -> list[Branch]:
    """Lay out ``checkpoint_tree``'s nodes as flat branches with nested forks."""
    return [_walk(root) for root in roots]


def _walk(start: CheckpointNode) -> Branch:
    branch = Branch(start.checkpoint.branch_id)
    node: CheckpointNode | None = start
    while node is not None:
        cp = node.checkpoint
        branch.checkpoints.append(cp)
        same = [c for c in node.children if c.checkpoint.branch_id == cp.branch_id]
        following = same[0] if same else None
        forked = [_walk(c) for c in node.children if c is not following]
        if forked:
            branch.forks[cp.id] = forked
        node = following
    return branch


def run_branches(store: CheckpointStore, run_id: str) -> list[Branch]:
    """``branches`` of the run's checkpoint tree, read from ``store``."""
    return branches(checkpoint_tree(store, run_id))


def checkpoint_label(cp: Checkpoint) -> str:
    """One line for the tree: ``step 3 · #4 (approval)``; a fork's first checkpoint says what was
    edited."""
    text = f"step {cp.step} · #{cp.seq}"
    if cp.reason != "step":
        text += f" ({cp.reason})"
    if cp.fork:
        text += f" edit: {cp.fork.get('edit') or 'none'}"
    if cp.pending_approval and cp.reason != "approval":  # "(approval)" says it already
        text += " · awaiting approval"
    return text


def describe_state(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(label, value) lines describing the state a checkpoint holds, for the detail pane."""
    cp, state = snapshot.checkpoint, snapshot.state
    rows: list[tuple[str, str]] = [
        ("checkpoint", cp.describe()),
        ("run", cp.run_id),
        ("branch", cp.branch_id),
        ("steps done", str(len(state.steps))),
        ("messages", str(len(state.conversation))),
        ("model calls", str(state.llm_calls)),
        (
            "tokens",
            f"{state.usage.input_tokens:,} in · {state.usage.output_tokens:,} out",
        ),
    ]
    if cp.fork:
        rows.append(("forked from", f"{cp.fork.get('from')} ({cp.fork.get('edit')})"))
    if state.last_error:
        rows.append(("last error", state.last_error))
    if state.pending_approval is not None:
        rows.append(("waiting", f"approval of {state.pending_approval.tool}"))
    if state.data:
        rows.append(("data", ", ".join(sorted(map(str, state.data)))))
    return rows


EDITS = ("args", "result", "messages")
"""What a fork may change (one of them), as ``looplet_core.runs.fork`` names them."""


def side_effect_steps(steps: Sequence[Step], tools: BaseToolRegistry, after: int) -> list[Step]:
    """The steps numbered above ``after`` whose tools are not marked ``read_only``: what a fork
    from step ``after`` goes back past without undoing (files written, messages sent...)."""
    found: list[Step] = []
    for step in steps:
        if step.number <= after or step.tool is None or step.tool == "done":
            continue
        spec = tools.get(step.tool)
        if spec is None or not spec.read_only:
            found.append(step)
    return found


def fork_template(snapshot: Snapshot) -> str:
    """The editor's starting text: the checkpoint's last call's arguments as an ``args`` edit."""
    steps = list(snapshot.state.steps)
    last = steps[-1] if steps else None
    if last is not None and last.tool_call is not None:
        return json.dumps({"args": last.tool_call.args}, indent=2, ensure_ascii=False, default=str)
    messages = [m.to_dict() for m in snapshot.state.conversation]
    return json.dumps({"messages": messages}, indent=2, ensure_ascii=False, default=str)


def parse_fork_edit(text: str) -> dict[str, Any]:
    """The editor's JSON as keyword arguments for ``fork``: an object with at most one of
    ``args`` (an object), ``result`` (any JSON) or ``messages`` (a list of message objects).
    ``ValueError`` says what is wrong, in words for the editor."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(
            'write a JSON object: {"args": {...}}, {"result": ...} or {"messages": [...]}'
        )
    edit = cast(dict[str, Any], data)
    unknown = sorted(set(edit) - set(EDITS))
    if unknown:
        raise ValueError(f"unknown edit {', '.join(unknown)}: use one of {', '.join(EDITS)}")
    if len(edit) > 1:
        raise ValueError(f"one edit per fork, got {len(edit)}: {', '.join(edit)}")
    if "args" in edit and not isinstance(edit["args"], dict):
        raise ValueError("args must be a JSON object of argument names and values")
    if "messages" in edit:
        messages = edit["messages"]
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) for m in cast(list[object], messages)
        ):
            raise ValueError("messages must be a list of message objects (role, content)")
        for i, message in enumerate(cast(list[dict[str, Any]], messages), 1):
            try:  # read as the fork will read it, so a bad one is explained in the editor
                Message.from_dict(message)
            except KeyError as exc:  # the only required key below a message: a call's tool
                raise ValueError(f"message {i}: a tool call has no {exc}") from None
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"message {i}: {exc}") from None
    return edit


def branch_pair(layout: Sequence[Branch], checkpoint_id: str) -> tuple[Branch, Branch] | None:
    """The two branches to compare from a highlighted checkpoint: the branch it is on and the one
    that branch forked from, else its branch and the first fork starting at it; None if neither."""

    def walk(branches: Sequence[Branch], parent: Branch | None) -> tuple[Branch, Branch] | None:
        for branch in branches:
            if any(c.id == checkpoint_id for c in branch.checkpoints):
                if parent is not None:
                    return parent, branch
                forks = branch.forks.get(checkpoint_id)
                return (branch, forks[0]) if forks else None
            found = walk([b for bs in branch.forks.values() for b in bs], branch)
            if found is not None:
                return found
        return None

    return walk(layout, None)


def branch_steps(store: CheckpointStore, branch: Branch) -> list[Step]:
    """Every step of ``branch`` as far as it went (from its newest checkpoint)."""
    from looplet_core.durable.checkpoints import load

    return list(load(store, branch.checkpoints[-1].id).state.steps)
