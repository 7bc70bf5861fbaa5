"""Folding a checkpoint chain straight from a run log's records, for ``FileCheckpointStore``.

Why: ``checkpoints.load`` decodes every document of the chain whole and builds every step, to
use from most documents only their parent link and two small arrays.  For a 1,000-step run
that was 1.6 MB of JSON parsed and 1,000 steps built: most of a resume's 55 ms.

What is still checked at resume: the log's scan has verified every record's length and CRC-32
(``runlog.LogIndex``), so a torn or corrupt record is found and named before anything here
runs.  A record's text is then what a writer framed, and ``Checkpoint.to_json`` always lays a
document out the same way: the small fields in a fixed order, then ``state``,
``pending_approval``, ``messages``, ``steps``, ``run``, ``fork``.  ``_read`` reads a record in
that layout: the small fields by one regular expression (their types as the decoder demands
them), ``state``, ``pending_approval`` and ``messages`` parsed by the JSON scanner, which also
says where each ends, then ``steps.keep``, and the fixed end ``]},"run":null,"fork":null}``.
Only ``steps.add`` in between is left as text.  The run's first checkpoint, the one loaded
and its parent (so the loaded one's ``steps.keep`` is checked against a known count), the one
holding the last step and any record in another layout (a fork's first checkpoint,
a document not written by looplet) are decoded whole by ``Checkpoint.from_json``.

What is deferred: the steps before the last are a ``StepSource`` that, on first read, decodes
those documents whole, as the full path does, in its order and with its checks (the step
counts behind each ``steps.keep`` among them), so a problem there raises the same
``CheckpointError`` the full path raises, naming the record.  Anything irregular in what is
read at resume (a damaged record, a broken or looping parent link, a ``keep`` out of range, a
message that is not an object, a record that decodes to another id) makes ``fold_log`` return
None or raise ``CheckpointError``, and ``load`` takes the full path, whose error reads as it
always has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from json.scanner import make_scanner
from typing import Any, NamedTuple, cast

from looplet_core.durable.chainfold import FoldedChain
from looplet_core.durable.checkpoints import apply_delta
from looplet_core.durable.format import FORMAT, FORMAT_VERSION, Checkpoint, parse_checkpoint_id
from looplet_core.durable.runlog import LogIndex
from looplet_core.errors import CheckpointError

__all__ = ["fold_log"]

_TEXT = r'"[^"\\\x00-\x1f]*"'  # a string without escapes (else: decoded whole)
_INT = r"-?(?:0|[1-9][0-9]*)"
_HEAD = re.compile(
    rf'\{{"format":{re.escape(json.dumps(FORMAT))},"version":{FORMAT_VERSION},'
    rf'"id":"(?P<id>[^"\\\x00-\x1f]*)","seq":{_INT},'
    rf'"parent":(?:null|"(?P<parent>[^"\\\x00-\x1f]*)"),"run_id":{_TEXT},"branch_id":{_TEXT},'
    rf'"step":{_INT},"reason":{_TEXT},"created_at":{_INT}(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?,'
    r'"state":(?=\{)'
)
_PENDING = ',"pending_approval":'
_MESSAGES = re.compile(rf',"messages":\{{"keep":(?P<keep>{_INT}),"add":(?=\[)')
_STEPS = re.compile(rf'\}},"steps":\{{"keep":(?P<keep>{_INT}),"add":\[')
_END = ']},"run":null,"fork":null}'
_SCAN: Callable[[str, int], tuple[object, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_SCAN_ERRORS = (StopIteration, ValueError, RecursionError)


class _Link(NamedTuple):
    """One checkpoint of the chain as the fold reads it.  ``steps_add`` and ``checkpoint`` are
    None where the record was read in its parts (``_read``), not decoded whole."""

    id: str
    source: str
    text: str
    parent: str | None
    messages_keep: int
    messages_add: list[Any]
    steps_keep: int
    steps_add: list[Any] | None
    checkpoint: Checkpoint | None


def fold_log(
    index: LogIndex, data: bytes, checkpoint_id: str, source: Callable[[int], str]
) -> FoldedChain | None:
    """The chain ending at ``checkpoint_id`` folded from the log ``data`` that ``index``
    describes, or None when anything is irregular; ``source(seq)`` names a record in errors.
    A damaged record raises the index's ``CheckpointError``."""
    run_id, _ = parse_checkpoint_id(checkpoint_id)
    chain: list[_Link] = []
    seen: set[str] = set()
    current: str | None = checkpoint_id
    while current is not None:
        other, seq = parse_checkpoint_id(current)
        if other != run_id or current in seen:
            return None
        seen.add(current)
        offset, length = index.locate(seq)
        try:
            text = data[offset : offset + length].decode("utf-8")
        except UnicodeDecodeError:
            return None
        link = None if len(chain) < 2 else _read(text, current, source(seq))
        if link is None or link.parent is None:  # the loaded one and its parent, the root,
            # a record in another layout
            link = _whole(text, current, source(seq))
            if link is None:
                return None
        chain.append(link)
        current = link.parent
    chain.reverse()
    messages = _fold_messages(chain)
    if messages is None:
        return None
    return _fold_steps(chain, messages)


def _read(text: str, cid: str, source: str) -> _Link | None:
    """A record in ``to_json``'s layout read in its parts, ``steps.add`` left as text; None
    for any other layout (the caller decodes it whole)."""
    head = _HEAD.match(text)
    if head is None or head["id"] != cid:
        return None
    try:
        state, pos = _SCAN(text, head.end())
        if not isinstance(state, dict) or not text.startswith(_PENDING, pos):
            return None
        pending, pos = _SCAN(text, pos + len(_PENDING))
        if pending is not None and not isinstance(pending, dict):
            return None
        messages = _MESSAGES.match(text, pos)
        if messages is None:
            return None
        added, pos = _SCAN(text, messages.end())
    except _SCAN_ERRORS:
        return None
    steps = _STEPS.match(text, pos)
    if steps is None or not text.endswith(_END) or len(text) - len(_END) < steps.end():
        return None
    return _Link(
        cid,
        source,
        text,
        head["parent"],
        int(messages["keep"]),
        cast(list[Any], added),
        int(steps["keep"]),
        None,
        None,
    )


def _whole(text: str, cid: str, source: str) -> _Link | None:
    """A record decoded whole; its ``CheckpointError`` propagates (``load`` takes the full
    path, which meets it again); None if it holds another checkpoint."""
    cp = Checkpoint.from_json(text, source)
    if cp.id != cid:
        return None
    return _Link(
        cid,
        source,
        text,
        cp.parent,
        cp.messages_keep,
        cp.messages_add,
        cp.steps_keep,
        cp.steps_add,
        cp,
    )


def _fold_messages(chain: Sequence[_Link]) -> list[dict[str, Any]] | None:
    items: list[Any] = []
    for link in chain:
        keep = link.messages_keep
        if not 0 <= keep <= len(items):
            return None
        del items[keep:]
        for entry in link.messages_add:
            if not isinstance(entry, dict):
                return None
            items.append(entry)
    return cast(list[dict[str, Any]], items)


def _fold_steps(chain: Sequence[_Link], messages: list[dict[str, Any]]) -> FoldedChain | None:
    """The fold of the steps on their ``keep`` counts: how many of each link's entries survive,
    counted from the end (the loaded checkpoint's are all there), and the last of them."""
    root, cp = chain[0].checkpoint, chain[-1].checkpoint
    assert root is not None and cp is not None  # both are decoded whole (``fold_log``)
    if any(link.steps_keep < 0 for link in chain):
        return None
    for parent, link in pairwise(chain):  # where the parent's count is known
        added = parent.steps_add
        if added is not None and link.steps_keep > parent.steps_keep + len(added):
            return None
    total = cp.steps_keep + len(cp.steps_add)
    limit = total
    last: dict[str, Any] | None = None
    for link in reversed(chain):
        used = limit - link.steps_keep
        if last is None and used > 0:
            entries = link.steps_add
            if entries is None:
                whole = _whole(link.text, link.id, link.source)
                entries = whole.steps_add if whole is not None else None
            if entries is None or len(entries) < used or not isinstance(entries[used - 1], dict):
                return None
            last = cast(dict[str, Any], entries[used - 1])
        limit = min(limit, link.steps_keep)
    segments = [_ChainSteps(tuple(chain), total - 1)] if total > 1 else []
    return FoldedChain(root, cp, messages, last, segments)


class _ChainSteps(NamedTuple):
    """The first ``used`` steps of the chain, folded by decoding its records whole on first
    read (``LazyStepLog``): the full path's reading of them, so its errors are raised."""

    chain: tuple[_Link, ...]
    used: int

    def records(self) -> list[dict[str, Any]]:
        decoded: list[Checkpoint] = []
        for link in reversed(self.chain):  # the loaded one first, as ``follow_parents`` reads
            cp = link.checkpoint or Checkpoint.from_json(link.text, link.source)
            if cp.id != link.id:
                raise CheckpointError(f"{link.source}: holds checkpoint {cp.id!r}, not {link.id!r}")
            if (cp.parent, cp.messages_keep, cp.steps_keep) != (
                link.parent,
                link.messages_keep,
                link.steps_keep,
            ) or json.dumps(cp.messages_add) != json.dumps(link.messages_add):
                raise CheckpointError(
                    f"{link.source}: reads differently whole than in its parts (a key written "
                    "twice?): resume from an earlier checkpoint, or restore the log from a backup"
                )
            decoded.append(cp)
        steps: list[dict[str, Any]] = []
        for cp in reversed(decoded):
            apply_delta(steps, cp.steps_keep, cp.steps_add, cp, "steps")
        return steps[: self.used]
