"""Checkpoints: the store protocol, and rebuilding a run from its chain of small documents.

Why deltas: a run's messages and steps only grow (compaction is the one rewrite), so storing the
whole list in every checkpoint would make a run's bytes grow with the square of its length (as
upstream's did).  Each checkpoint instead stores what changed since its *parent*: ``messages``
and ``steps`` are ``{"keep": n, "add": [...]}``, meaning "the parent's first ``n`` entries, then
these".  A normal step keeps everything and adds a few entries; a compaction or a fork keeps a
shorter prefix (that is the rewrite record).  The full list at a checkpoint is the fold of the
deltas from its root, so total bytes are linear in the run and any checkpoint, on any branch,
can be rebuilt.  ``load`` does the fold; ``checkpoint_format`` defines one document and
``checkpoint_stores`` keeps them.

Reading a checkpoint is ``json.loads`` and plain constructors: nothing in a file is executed.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from looplet_core.durable.format import (
    FORMAT,
    FORMAT_VERSION,
    FROM_LAST_STEP,
    Checkpoint,
    checkpoint_id,
    parse_checkpoint_id,
    state_document,
)
from looplet_core.durable.lazysteps import DECODE_ERRORS
from looplet_core.errors import CheckpointError
from looplet_core.messages import Conversation, Message
from looplet_core.state import DefaultState, StepLog
from looplet_core.step import Step

if TYPE_CHECKING:
    from looplet_core.durable.chainfold import FoldedChain

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointNode",
    "CheckpointStore",
    "Snapshot",
    "apply_delta",
    "checkpoint_id",
    "checkpoint_tree",
    "follow_parents",
    "history",
    "latest_checkpoint",
    "load",
    "parse_checkpoint_id",
    "state_document",
]


@runtime_checkable
class CheckpointStore(Protocol):
    """Where checkpoints live.  Four methods, so a database store is a small class.

    ``put`` assigns ``seq`` (monotonic per run) and ``id`` and returns the saved checkpoint; it
    must be atomic (a reader sees the whole document or none of it).  ``get`` raises
    ``CheckpointError`` naming the location and the problem.  ``list`` gives a run's ids in ``seq``
    order; ``runs`` gives run ids, least recently written first.
    """

    def put(self, checkpoint: Checkpoint) -> Checkpoint: ...

    def get(self, checkpoint_id: str) -> Checkpoint: ...

    def list(self, run_id: str) -> list[str]: ...

    def runs(self) -> list[str]: ...


def latest_checkpoint(
    store: CheckpointStore, run_id: str | None = None, *, branch: str | None = None
) -> str:
    """The newest checkpoint id of ``run_id`` (default: the most recently written run), optionally
    of one ``branch``."""
    if run_id is None:
        runs = store.runs()
        if not runs:
            raise CheckpointError(f"{_where(store)}: no checkpoints yet")
        run_id = runs[-1]
    ids = store.list(run_id)
    if not ids:
        raise CheckpointError(f"{_where(store)}: no checkpoints for run {run_id!r}")
    if branch is None:
        return ids[-1]
    for cid in reversed(ids):
        if store.get(cid).branch_id == branch:
            return cid
    raise CheckpointError(f"{_where(store)}: run {run_id!r} has no branch {branch!r}")


def history(store: CheckpointStore, checkpoint_id: str) -> list[Checkpoint]:
    """The checkpoints from the run's root to ``checkpoint_id``, following parent links.

    A store with its own ``history`` answers at once: the SQL run stores in one query, the file
    store's log in one read."""
    if isinstance(store, _HistoryStore):
        return store.history(checkpoint_id)
    return follow_parents(store.get, checkpoint_id)


def follow_parents(get: Callable[[str], Checkpoint], checkpoint_id: str) -> list[Checkpoint]:
    """``history`` by reading one checkpoint at a time with ``get`` (root first)."""
    chain: list[Checkpoint] = []
    seen: set[str] = set()
    current: str | None = checkpoint_id
    while current is not None:
        if current in seen:
            raise CheckpointError(f"{chain[-1].source}: parent links form a cycle at {current}")
        seen.add(current)
        cp = get(current)
        if chain and cp.run_id != chain[-1].run_id:
            raise CheckpointError(f"{chain[-1].source}: parent {current} belongs to another run")
        chain.append(cp)
        current = cp.parent
    chain.reverse()
    return chain


@runtime_checkable
class _HistoryStore(Protocol):
    def history(self, checkpoint_id: str) -> list[Checkpoint]: ...


@dataclass(slots=True)
class CheckpointNode:
    checkpoint: Checkpoint
    children: list[CheckpointNode] = field(default_factory=list["CheckpointNode"])


def checkpoint_tree(store: CheckpointStore, run_id: str) -> list[CheckpointNode]:
    """A run's checkpoints as a tree (roots first, children in ``seq`` order): every branch."""
    nodes = {cid: CheckpointNode(store.get(cid)) for cid in store.list(run_id)}
    roots: list[CheckpointNode] = []
    for node in nodes.values():
        parent = nodes.get(node.checkpoint.parent or "")
        (parent.children if parent is not None else roots).append(node)
    return roots


@dataclass(slots=True)
class Snapshot:
    """A checkpoint rebuilt: the state to continue from, plus what the run was started with."""

    checkpoint: Checkpoint
    state: DefaultState
    task: Any
    config: dict[str, Any]
    tools: dict[str, str]
    root: Checkpoint


def load(store: CheckpointStore, checkpoint_id: str) -> Snapshot:
    """Rebuild the state at ``checkpoint_id`` by folding the deltas from its root.

    Messages and steps are decoded once, for the final list only, so this is one JSON parse per
    checkpoint in the chain plus one constructor per message and step.  A store that can fold
    the chain from parts of its documents (the SQL run stores: ``chainfold``) is asked first; its
    steps before the last then stay text until first read (``LazyStepLog``), and anything it finds
    irregular sends the load down the full path, so errors read the same.  The collector is paused
    meanwhile: decoding builds many small containers that are all kept, so its passes over the
    growing heap would find nothing to free and only add time (a third, for long runs).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _load(store, checkpoint_id)
    finally:
        if paused:
            gc.enable()


def _load(store: CheckpointStore, checkpoint_id: str) -> Snapshot:
    if isinstance(store, _FoldingStore):
        try:
            folded = store.fold(checkpoint_id)
            if folded is not None:
                _check_header(folded.root)
                return _snapshot(
                    folded.root, folded.checkpoint, folded.messages, folded.last_step, folded.steps
                )
        except CheckpointError:
            pass  # the full path below meets the same problem and names it in its usual words
    chain = history(store, checkpoint_id)
    _check_header(chain[0])
    messages: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for link in chain:
        apply_delta(messages, link.messages_keep, link.messages_add, link, "messages")
        apply_delta(steps, link.steps_keep, link.steps_add, link, "steps")
    return _snapshot(
        chain[0],
        chain[-1],
        messages,
        steps[-1] if steps else None,
        lambda: StepLog([Step.from_dict(s) for s in steps]),
    )


@runtime_checkable
class _FoldingStore(Protocol):
    """A store that folds a chain itself (the SQL run stores, see ``chainfold``); None means
    "take the full path"."""

    def fold(self, checkpoint_id: str) -> FoldedChain | None: ...


def _check_header(root: Checkpoint) -> None:
    if root.run is None:
        raise CheckpointError(f"{root.source}: the run's first checkpoint has no 'run' header")


def _snapshot(
    root: Checkpoint,
    cp: Checkpoint,
    messages: list[dict[str, Any]],
    last_step: dict[str, Any] | None,
    steps: Callable[[], StepLog],
) -> Snapshot:
    """The state at ``cp`` from its folded messages and steps (``steps`` builds the log)."""
    state_doc = dict(cp.state)
    state_doc["pending_approval"] = cp.pending_approval
    if state_doc.pop(FROM_LAST_STEP, False) and last_step is not None:
        state_doc["current_call"] = last_step.get("llm_call")
        state_doc["current_context"] = last_step.get("context")
    try:
        state = DefaultState.from_dict(state_doc)
        decoded = [Message.from_dict(m) for m in messages]
        state.conversation = Conversation(decoded)
        state.steps = steps()
    except DECODE_ERRORS as exc:
        raise CheckpointError(
            f"{cp.source}: the saved state does not decode ({type(exc).__name__}: {exc})"
        ) from None
    state.checkpoint_id = cp.id
    if state.result is not None:
        state.result.steps = list(state.steps)
    header = root.run or {}
    config: object = header.get("config") or {}
    tools: object = header.get("tools") or {}
    if not isinstance(config, dict) or not isinstance(tools, dict):
        raise CheckpointError(f"{root.source}: the run header's config and tools must be objects")
    return Snapshot(
        checkpoint=cp,
        state=state,
        task=header.get("task"),
        config={str(k): v for k, v in cast(dict[Any, Any], config).items()},
        tools={str(k): str(v) for k, v in cast(dict[Any, Any], tools).items()},
        root=root,
    )


def apply_delta(
    items: list[dict[str, Any]],
    keep: int,
    add: Sequence[Any],
    link: Checkpoint,
    what: str,
) -> None:
    """``items`` (the parent's ``what``) after ``link``'s delta: its first ``keep``, then
    ``add``; a ``CheckpointError`` naming ``link`` for a ``keep`` beyond them or an entry that is
    not an object."""
    if not 0 <= keep <= len(items):
        raise CheckpointError(
            f"{link.source}: {what}.keep is {keep} but its parent has {len(items)} {what}"
        )
    del items[keep:]
    for entry in add:
        if not isinstance(entry, dict):
            raise CheckpointError(f"{link.source}: an entry of {what}.add is not an object")
        items.append(cast(dict[str, Any], entry))


def _where(store: CheckpointStore) -> str:
    return str(getattr(store, "directory", None) or type(store).__name__)
