"""The checkpoint document: one JSON object per save, with ids, a parent link and deltas.

``Checkpoint.to_json`` / ``Checkpoint.from_json`` are the only encoder and decoder: JSON in, plain
constructors out, every field checked, every problem a ``CheckpointError`` naming the file.
``docs/checkpoints.md`` describes each field; ``looplet_core.durable.checkpoints`` rebuilds
runs from them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
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


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(  # noqa: PLR0917 - the generated signature, written out for speed
        self,
        run_id: str,
        branch_id: str,
        step: int,
        state: dict[str, Any],
        messages_keep: int,
        messages_add: list[dict[str, Any]],
        steps_keep: int,
        steps_add: list[dict[str, Any]],
        parent: str | None = None,
        pending_approval: dict[str, Any] | None = None,
        reason: str = "step",
        created_at: float = 0.0,
        run: dict[str, Any] | None = None,
        fork: dict[str, Any] | None = None,
        seq: int = 0,
        id: str = "",
        source: str = "",
        encoded: EncodedParts | None = None,
    ) -> None:
        # The slots' own setters: a frozen dataclass's generated __init__ goes through
        # object.__setattr__ by name for each of its 18 fields, twice per save (the
        # checkpointer's and the store's ``saved_as``).
        _set_run_id(self, run_id)
        _set_branch_id(self, branch_id)
        _set_step(self, step)
        _set_state(self, state)
        _set_messages_keep(self, messages_keep)
        _set_messages_add(self, messages_add)
        _set_steps_keep(self, steps_keep)
        _set_steps_add(self, steps_add)
        _set_parent(self, parent)
        _set_pending_approval(self, pending_approval)
        _set_reason(self, reason)
        _set_created_at(self, created_at)
        _set_run(self, run)
        _set_fork(self, fork)
        _set_seq(self, seq)
        _set_id(self, id)
        _set_source(self, source)
        _set_encoded(self, encoded)

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
        except (RecursionError, ValueError):  # nested past the limit, or circular: clip
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
        the same order, the small fields written here as the encoder writes them (tested
        byte for byte against ``_ENCODER`` over random checkpoints)."""
        state, pending, messages, steps, run = texts
        encode = _small
        head = self._head_text()
        if head is None:  # a field of an unusual type (a str subclass, an inf time): encode
            head = _ENCODER.encode(self._head())[:-1]
        return (
            f'{head},"state":{state},"pending_approval":{pending},'
            f'"messages":{{"keep":{encode(self.messages_keep)},"add":{messages}}},'
            f'"steps":{{"keep":{encode(self.steps_keep)},"add":{steps}}},'
            f'"run":{run},"fork":{encode(self.fork)}}}'
        )

    def _head_text(self) -> str | None:
        """``_ENCODER.encode(self._head())`` without its closing brace, written by hand (half
        the cost of building the dict and encoding it); None unless every field is of its
        plain type, with a finite ``created_at``."""
        id_, parent, run_id, branch_id, reason = (
            self.id,
            self.parent,
            self.run_id,
            self.branch_id,
            self.reason,
        )
        seq, step, created = self.seq, self.step, self.created_at
        if (
            type(seq) is not int
            or type(step) is not int
            or type(created) is not float
            or not math.isfinite(created)
            or type(id_) is not str
            or type(run_id) is not str
            or type(branch_id) is not str
            or type(reason) is not str
        ):
            return None
        if parent is None:
            parent_text = "null"
        elif type(parent) is str:
            parent_text = encode_basestring(parent)
        else:
            return None
        return (
            f'{{"format":"{FORMAT}","version":{FORMAT_VERSION},"id":{encode_basestring(id_)},'
            f'"seq":{int.__repr__(seq)},"parent":{parent_text},'
            f'"run_id":{encode_basestring(run_id)},"branch_id":{encode_basestring(branch_id)},'
            f'"step":{int.__repr__(step)},"reason":{encode_basestring(reason)},'
            f'"created_at":{float.__repr__(created)}'
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

# ``_ENCODER``'s C encoder itself, built once: ``JSONEncoder.encode`` builds one per call, a
# fixed cost of about half a small field's encoding, and a save encodes several.  It keeps no
# circular-reference markers (they would be shared between threads): a cycle recurses until
# RecursionError, which ``encode_parts`` reports as None, so the checkpointer clips the data
# (``jsonsafe.clip_depth`` cuts cycles) exactly as it does for ``_ENCODER``'s ValueError.
# Same output as ``_ENCODER`` (tested).
_C_ENCODE: Callable[[Any, int], list[str]] | None = (
    None
    if c_make_encoder is None
    else cast(
        Callable[[Any, int], list[str]],
        c_make_encoder(None, _json_default, encode_basestring, None, ":", ",", False, False, True),
    )
)


def _small(value: Any) -> str:
    """``_ENCODER.encode(value)`` without the encoder's per-call set-up: None and int written
    here (``to_json`` splices several such fields per checkpoint), the rest by ``_C_ENCODE``.
    Circular data raises RecursionError (``_ENCODER``: ValueError)."""
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


(
    _set_run_id,
    _set_branch_id,
    _set_step,
    _set_state,
    _set_messages_keep,
    _set_messages_add,
    _set_steps_keep,
    _set_steps_add,
    _set_parent,
    _set_pending_approval,
    _set_reason,
    _set_created_at,
    _set_run,
    _set_fork,
    _set_seq,
    _set_id,
    _set_source,
    _set_encoded,
) = (
    Checkpoint.__dict__[name].__set__
    for name in (
        "run_id",
        "branch_id",
        "step",
        "state",
        "messages_keep",
        "messages_add",
        "steps_keep",
        "steps_add",
        "parent",
        "pending_approval",
        "reason",
        "created_at",
        "run",
        "fork",
        "seq",
        "id",
        "source",
        "encoded",
    )
)

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
