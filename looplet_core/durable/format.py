"""The checkpoint document: one JSON object per save, with ids, a parent link and deltas.

``Checkpoint.to_json`` / ``Checkpoint.from_json`` are the only encoder and decoder: JSON in, plain
constructors out, every field checked, every problem a ``CheckpointError`` naming the file.
``docs/checkpoints.md`` describes each field; ``looplet_core.durable.checkpoints`` rebuilds
runs from them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import is_
from typing import Any, cast

from looplet_core.errors import CheckpointError
from looplet_core.jsonsafe import clip_depth
from looplet_core.state import DefaultState

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "FROM_LAST_STEP",
    "Checkpoint",
    "EncodedParts",
    "checkpoint_id",
    "encode_parts",
    "parse_checkpoint_id",
    "state_document",
]

FORMAT = "looplet.checkpoint"
FORMAT_VERSION = 1
_RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def checkpoint_id(run_id: str, seq: int) -> str:
    """``<run_id>-<seq>``: unique in a store, and sorts by ``seq`` within a run."""
    if not _RUN_ID.match(run_id):
        raise CheckpointError(
            f"run id {run_id!r} cannot be checkpointed: use 1-100 letters, digits, '_', '.' or '-'"
            " (it names a directory)"
        )
    return f"{run_id}-{seq:06d}"


def parse_checkpoint_id(value: str) -> tuple[str, int]:
    run_id, sep, seq = value.rpartition("-")
    if not sep or not seq.isdigit() or not _RUN_ID.match(run_id):
        raise CheckpointError(f"{value!r} is not a checkpoint id (expected '<run_id>-<number>')")
    return run_id, int(seq)


@dataclass(frozen=True, slots=True)
class EncodedParts:
    """The JSON text of a checkpoint's five variable fields (``state``, ``pending_approval``,
    ``messages_add``, ``steps_add``, ``run``), as ``to_json`` writes them.

    The checkpointer encodes these once, to scan them for secrets; ``to_json`` then splices the
    same text into the document instead of encoding it again.  ``objects`` are the values the
    text was made from: a field that is no longer that very object (``dataclasses.replace`` with
    a new value) is encoded afresh, so the text never stands for another value.  Like every
    field of a ``Checkpoint``, the values are not to be changed in place once it is built.
    """

    objects: tuple[Any, Any, Any, Any, Any]
    texts: tuple[str, str, str, str, str]


def encode_parts(parts: Sequence[Any]) -> EncodedParts | None:
    """``EncodedParts`` of ``[state, pending_approval, messages_add, steps_add, run]``; None when
    a part cannot be encoded as is (nested past json's limit, circular): ``to_json`` copes."""
    state, pending, messages, steps, run = parts
    encode = _small
    try:
        texts = (encode(state), encode(pending), encode(messages), encode(steps), encode(run))
    except (RecursionError, ValueError):
        return None
    return EncodedParts((state, pending, messages, steps, run), texts)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One saved point of a run.  ``step`` counts completed steps; a checkpoint made while a call
    waits for approval has the request in ``pending_approval`` (its step is ``step + 1``).

    ``reason`` is why it was written: ``step``, ``approval``, ``end`` or ``fork``.  ``run``
    (task, config, tool fingerprints) is set on a run's first checkpoint only; ``fork``
    (``from``, ``edit``, ``step``) on the first checkpoint of a branch.  ``id`` and ``seq`` are
    assigned by the store; ``source`` says where the document was read from or written to (for
    error messages).  ``encoded`` is the text of the large fields when it was made already
    (``EncodedParts``): it changes nothing but the time ``to_json`` takes.
    """

    run_id: str
    branch_id: str
    step: int
    state: dict[str, Any]
    messages_keep: int
    messages_add: list[dict[str, Any]]
    steps_keep: int
    steps_add: list[dict[str, Any]]
    parent: str | None = None
    pending_approval: dict[str, Any] | None = None
    reason: str = "step"
    created_at: float = 0.0
    run: dict[str, Any] | None = None
    fork: dict[str, Any] | None = None
    seq: int = 0
    id: str = ""
    source: str = field(default="", compare=False)
    encoded: EncodedParts | None = field(default=None, compare=False, repr=False)

    @property
    def message_count(self) -> int:
        return self.messages_keep + len(self.messages_add)

    @property
    def step_count(self) -> int:
        return self.steps_keep + len(self.steps_add)

    def saved_as(self, seq: int, checkpoint_id: str, source: str) -> Checkpoint:
        """This checkpoint as a store saved it: ``dataclasses.replace(self, seq=..., id=...,
        source=...)`` written out, since it runs once per step and ``replace`` costs about
        twice as much (it looks every field up by name)."""
        return Checkpoint(
            self.run_id,
            self.branch_id,
            self.step,
            self.state,
            self.messages_keep,
            self.messages_add,
            self.steps_keep,
            self.steps_add,
            self.parent,
            self.pending_approval,
            self.reason,
            self.created_at,
            self.run,
            self.fork,
            seq,
            checkpoint_id,
            source,
            self.encoded,
        )

    def describe(self) -> str:
        """One line for listings: ``#7 main step 6 (approval)``."""
        edit = f", fork of {self.fork.get('from')}: {self.fork.get('edit')}" if self.fork else ""
        return f"#{self.seq} {self.branch_id} step {self.step} ({self.reason}{edit})"

    def to_json(self) -> str:
        encoded = self.encoded
        if encoded is not None and all(
            map(
                is_,
                encoded.objects,
                (self.state, self.pending_approval, self.messages_add, self.steps_add, self.run),
            )
        ):
            return self._splice(encoded.texts)
        doc = {
            **self._head(),
            "state": self.state,
            "pending_approval": self.pending_approval,
            "messages": {"keep": self.messages_keep, "add": self.messages_add},
            "steps": {"keep": self.steps_keep, "add": self.steps_add},
            "run": self.run,
            "fork": self.fork,
        }
        try:
            return _ENCODER.encode(doc)  # built once: json.dumps builds an encoder per call
        except RecursionError:  # a tool's data nested past the limit: keep its top levels
            doc = clip_depth(doc)
        try:
            return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_json_default)
        except (ValueError, RecursionError) as exc:  # circular
            raise CheckpointError(
                f"run {self.run_id}: the state after step {self.step} cannot be saved as JSON: "
                f"{exc}"
            ) from None

    def _head(self) -> dict[str, Any]:
        """The small fields every checkpoint document starts with, in their written order."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "id": self.id,
            "seq": self.seq,
            "parent": self.parent,
            "run_id": self.run_id,
            "branch_id": self.branch_id,
            "step": self.step,
            "reason": self.reason,
            "created_at": self.created_at,
        }

    def _splice(self, texts: tuple[str, str, str, str, str]) -> str:
        """What ``to_json`` writes, from the large fields' text made already: the same keys in
        the same order, the small fields encoded here by the same encoder."""
        state, pending, messages, steps, run = texts
        encode = _small
        head = _ENCODER.encode(self._head())
        return (
            f'{head[:-1]},"state":{state},"pending_approval":{pending},'
            f'"messages":{{"keep":{encode(self.messages_keep)},"add":{messages}}},'
            f'"steps":{{"keep":{encode(self.steps_keep)},"add":{steps}}},'
            f'"run":{run},"fork":{encode(self.fork)}}}'
        )

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> Checkpoint:
        """Parse and check a document; every problem is a ``CheckpointError`` naming ``source``."""
        try:
            raw: object = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting past the limit
            raise CheckpointError(
                f"{source}: not valid JSON (truncated or corrupt?): {exc}"
            ) from None
        if not isinstance(raw, dict) or cast(dict[str, Any], raw).get("format") != FORMAT:
            raise CheckpointError(f"{source}: not a looplet checkpoint (no format {FORMAT!r})")
        doc = cast(dict[str, Any], raw)
        version = doc.get("version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise CheckpointError(
                f"{source}: checkpoint format version {version!r} is not supported; this looplet "
                f"reads version {FORMAT_VERSION}"
                + (" (the file was written by a newer looplet: upgrade)" if newer else "")
            )
        messages = _field(doc, "messages", dict, source)
        steps = _field(doc, "steps", dict, source)
        return cls(
            run_id=_field(doc, "run_id", str, source),
            branch_id=_field(doc, "branch_id", str, source),
            step=_field(doc, "step", int, source),
            state=_field(doc, "state", dict, source),
            messages_keep=_field(messages, "keep", int, source, "messages.keep"),
            messages_add=_field(messages, "add", list, source, "messages.add"),
            steps_keep=_field(steps, "keep", int, source, "steps.keep"),
            steps_add=_field(steps, "add", list, source, "steps.add"),
            parent=_field(doc, "parent", str, source, optional=True),
            pending_approval=_field(doc, "pending_approval", dict, source, optional=True),
            reason=_field(doc, "reason", str, source),
            created_at=float(_field(doc, "created_at", (int, float), source)),
            run=_field(doc, "run", dict, source, optional=True),
            fork=_field(doc, "fork", dict, source, optional=True),
            seq=_field(doc, "seq", int, source),
            id=_field(doc, "id", str, source),
            source=source,
        )


def _field(
    doc: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    source: str,
    label: str = "",
    *,
    optional: bool = False,
) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        expected = kind.__name__ if isinstance(kind, type) else "number"
        raise CheckpointError(
            f"{source}: field {label or key!r} should be {expected}, got {type(value).__name__}"
        )
    return value


def _json_default(value: Any) -> Any:
    """What JSON cannot hold is stored as lists (sets) or dicts (dataclasses), else its repr."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return list(cast(Iterable[Any], value))
    return repr(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _small(value: Any) -> str:
    """``_ENCODER.encode(value)``, without the encoder's set-up for the usual None and int
    (``to_json`` splices several such fields per checkpoint)."""
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


FROM_LAST_STEP = "current_is_last_step"


def state_document(state: DefaultState) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The saved form of ``state`` (without conversation and steps) and its pending approval.

    The reply being worked through (``current_call``, ``current_context``) is almost always the
    last step's own ``llm_call`` and ``context``: then it is not repeated, and
    ``current_is_last_step`` says so.  That keeps every checkpoint a fifth smaller.

    A finished run's result is saved without its steps (the checkpoint's steps are those, and
    ``load`` puts them back), so its ``to_dict`` is taken of a copy without them: otherwise the
    end checkpoint would encode every step of the run only to throw the text away.
    """
    result = state.result
    if result is not None and result.steps:
        state = dataclasses.replace(state, result=dataclasses.replace(result, steps=[]))
    doc = state.to_dict()
    pending = doc.pop("pending_approval")
    last = state.steps.last
    if (
        last is not None
        and state.current_call is not None
        and (last.llm_call is state.current_call or last.llm_call == state.current_call)
        and (last.context is state.current_context or last.context == state.current_context)
    ):
        del doc["current_call"], doc["current_context"]
        doc[FROM_LAST_STEP] = True
    return doc, pending
