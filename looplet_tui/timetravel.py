"""The checkpoint browser's plain-Python side: a run's checkpoints laid out as branches, and the
state at one of them.

``looplet_core.checkpoint_tree`` links every checkpoint to its parent, so a 50-step run is a chain
50 deep.  Drawn as it is, the tree would indent off the screen; ``branches`` instead keeps each
branch flat (its checkpoints one under another) and nests only a *fork* under the checkpoint it
was forked from.  ``describe_state`` summarises a rebuilt ``Snapshot`` for the pane beside the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from looplet_core import Checkpoint, CheckpointStore, checkpoint_tree
from looplet_core.checkpoints import CheckpointNode, Snapshot

__all__ = ["Branch", "branches", "checkpoint_label", "describe_state", "run_branches"]


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
    if cp.pending_approval:
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
