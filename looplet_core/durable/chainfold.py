"""Folding a checkpoint chain from parts a SQL query picked out, without decoding every document.

Why: ``checkpoints.load`` decodes each document of the chain whole, then keeps the messages and
steps that survive the fold.  For a 1,000-step run that is 1,000 documents parsed and checked to
use, from most of them, only two small arrays.  A run store instead asks its database for each
checkpoint's fold parts (``ChainRow``: the ``keep`` counts, ``messages.add`` as JSON text, the
number of steps added) beside the document's text.  ``fold`` then decodes the messages, the root
and the checkpoint loaded, and the last step, and leaves the other steps as text for
``LazyStepLog``.

This path only ever takes documents the full decoder would take: the query checks every field's
type as ``Checkpoint.from_json`` does, and anything irregular (a row that fails those checks, a
missing parent, a cycle, a ``keep`` beyond its parent, a non-object entry) makes ``fold`` return
None, so ``load`` runs the full path and reports the problem in its usual words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from looplet_core.durable.format import Checkpoint
from looplet_core.durable.lazysteps import LazyStepLog, StepSegment, StepSource
from looplet_core.errors import CheckpointError
from looplet_core.state import StepLog
from looplet_core.step import Step

__all__ = ["ChainRow", "FoldedChain", "fold"]

_INTEGER = re.compile(r"^-?[0-9]+$")


class ChainRow(NamedTuple):
    """One checkpoint as the chain query returns it (``Dialect.chain_sql`` lists the columns):
    a tuple, so a fetched row is one without conversion.  Both drivers give text as ``str``.

    ``ok`` says every field has the type the decoder requires and the document's id is the
    row's; ``doc`` is the whole document."""

    id: str
    ok: object
    parent: str | None
    messages_keep: object
    messages_add: str | None
    steps_keep: object
    steps_count: object
    doc: str


@dataclass(frozen=True, slots=True)
class FoldedChain:
    """What ``load`` needs from a chain: its root and target checkpoints, the messages at the
    target, its last step (decoded) and the steps before it (still text)."""

    root: Checkpoint
    checkpoint: Checkpoint
    messages: list[dict[str, Any]]
    last_step: dict[str, Any] | None
    segments: Sequence[StepSource]

    def steps(self) -> StepLog:
        """The step log; decoding the last step may raise what ``Step.from_dict`` raises."""
        if self.last_step is None:
            return StepLog()
        return LazyStepLog(self.segments, Step.from_dict(self.last_step), self.checkpoint.source)


def fold(
    rows: Sequence[Sequence[Any]],
    checkpoint_id: str,
    where: str,
    decode: Callable[[str, str], Checkpoint],
) -> FoldedChain | None:
    """The chain ending at ``checkpoint_id`` folded from ``rows`` (one run, ``seq`` order), or
    None when anything is irregular.  ``decode(doc, id)`` is the store's full decoder; its
    ``CheckpointError`` propagates (``load`` then takes the full path)."""
    by_id = {r[0]: r for r in rows}
    chain: list[ChainRow] = []
    seen: set[str] = set()
    current: str | None = checkpoint_id
    while current is not None:
        found = by_id.get(current)
        if found is None or current in seen:
            return None
        row = ChainRow._make(found)
        if not row.ok:
            return None
        seen.add(current)
        chain.append(row)
        current = row.parent
    chain.reverse()
    root = decode(chain[0].doc, chain[0].id)
    cp = root if len(chain) == 1 else decode(chain[-1].doc, chain[-1].id)
    messages = _fold_messages(chain)
    segments = _fold_steps(chain, where)
    if messages is None or segments is None:
        return None
    last: dict[str, Any] | None = None
    if segments:
        tail = segments.pop()
        if tail.source == cp.source:
            entries: list[Any] = cp.steps_add
        else:
            try:
                entries = StepSegment(tail.doc, tail.used, tail.source).records()
            except CheckpointError:
                return None
        if len(entries) < tail.used or not isinstance(entries[tail.used - 1], dict):
            return None
        last = cast(dict[str, Any], entries[tail.used - 1])
        if tail.used > 1:
            segments.append(tail._replace(used=tail.used - 1))
    return FoldedChain(root, cp, messages, last, segments)


def _fold_messages(chain: Sequence[ChainRow]) -> list[dict[str, Any]] | None:
    """The messages at the chain's end: one ``json.loads`` over every ``add`` array at once."""
    texts: list[str] = []
    for row in chain:
        if row.messages_add is None:
            return None
        texts.append(row.messages_add)
    try:
        adds = cast(list[object], json.loads("[" + ",".join(texts) + "]"))
    except (ValueError, RecursionError):
        return None
    items: list[Any] = []
    for row, add in zip(chain, adds, strict=True):
        keep = _count(row.messages_keep)
        if keep is None or keep > len(items) or not isinstance(add, list):
            return None
        del items[keep:]
        for entry in cast(list[object], add):
            if not isinstance(entry, dict):
                return None
            items.append(entry)
    return cast(list[dict[str, Any]], items)


def _fold_steps(chain: Sequence[ChainRow], where: str) -> list[StepSegment] | None:
    """The steps at the chain's end as segments: the fold done on counts, nothing decoded."""
    segments: list[StepSegment] = []
    total = 0
    for row in chain:
        keep, count = _count(row.steps_keep), _count(row.steps_count)
        if keep is None or count is None or keep > total:
            return None
        while total > keep:
            cut = total - keep
            tail = segments[-1]
            if tail.used <= cut:
                segments.pop()
                total -= tail.used
            else:
                segments[-1] = tail._replace(used=tail.used - cut)
                total = keep
        if count:
            segments.append(StepSegment(row.doc, count, f"{where}#{row.id}"))
            total += count
    return segments


def _count(value: object) -> int | None:
    """A non-negative count from a column (SQLite gives ints, PostgreSQL's ``->>`` text)."""
    if type(value) is int:  # not bool
        return value if value >= 0 else None
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value) if int(value) >= 0 else None
    return None
