"""Saving a run while it runs: ``CheckpointHook`` (or ``LoopConfig(checkpoint=store)``).

The hook plugs into the engine's step listeners, which see every step after it is complete (the
tool's result is in the conversation) and *before* it is handed to the caller.  So when your loop
body sees step N, step N is already on disk: a crash can only lose the step in flight, which the
resumed run re-runs (see docs/checkpoints.md).  A step that pauses for approval is saved with its
pending request; the run's end is saved with its result, so a finished run is never re-run.

Per save the work is constant: the new messages and steps since the last save, a small state
dict, one JSON encode and one store write.  The history is never re-scanned (a compaction, which
rewrote it anyway, costs one prefix comparison).

Secrets are redacted before anything is stored, as in traces: the model client's API key, values
of secret-named environment variables, and key-shaped text (``provenance.redact``).  A run
resumed from a checkpoint so sees ``[redacted]`` where a tool once printed a key.  Clean data
costs one scan of the delta's JSON text per save, and that text is the one written: the store's
``to_json`` splices it into the document rather than encoding the delta a second time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, cast

from looplet_core.durable.checkpoints import Checkpoint, CheckpointStore, state_document
from looplet_core.durable.format import EncodedParts, encode_parts
from looplet_core.errors import CheckpointError, ConfigError, StoreError
from looplet_core.events import EventKind
from looplet_core.jsonsafe import clip_depth, jsonable
from looplet_core.messages import Conversation, Message, MessageView
from looplet_core.provenance.redact import Redactor
from looplet_core.records import StopReason
from looplet_core.state import LoopConfig
from looplet_core.step import LoopResult, Step, StepStatus

if TYPE_CHECKING:
    from looplet_core.engine import Engine
    from looplet_core.tools.registry import BaseToolRegistry

__all__ = [
    "CheckpointHook",
    "config_to_dict",
    "install_checkpointing",
    "step_record",
    "tool_fingerprints",
]

_NOT_SAVED = frozenset({"approver", "checkpoint"})
_SCAN_ENCODER = json.JSONEncoder(ensure_ascii=False, default=repr)  # the text secrets are sought in


class CheckpointHook:
    """Save the run to ``store`` every ``every`` steps, whenever a call waits for approval, and
    when the run ends.  Pass it in ``hooks=[...]`` (or set ``LoopConfig(checkpoint=store)``, which
    is ``CheckpointHook(store)``).  One instance may serve many runs, one at a time."""

    name = "checkpoint"

    def __init__(
        self, store: CheckpointStore, *, every: int = 1, redact: Redactor | None = None
    ) -> None:
        if every < 1:
            raise ConfigError(f"CheckpointHook(every=...) must be at least 1, got {every}")
        if not isinstance(cast(object, store), CheckpointStore):
            raise ConfigError(
                f"checkpoint store must have put/get/list/runs (MemoryCheckpointStore, "
                f"FileCheckpointStore), got {type(store).__name__}"
            )
        self.store = store
        self.every = every
        self.redactor = redact
        """Applied to everything saved (default ``Redactor()``), plus the run's client key."""
        self._redact: Redactor | None = None
        self._engine: Engine | None = None
        self._conversation = Conversation()
        self._view: MessageView = self._conversation.view()
        self._revision = 0
        self._messages = 0
        self._steps = 0
        self._unsaved = 0
        self._last_key: tuple[str, int, int, int] | None = None
        self.store_error: StoreError | None = None
        """The store's error if a save failed (the run then stopped with ``hook_error``)."""

    def attach(self, engine: Engine) -> None:
        """Start tracking ``engine``'s run, continuing from ``state.checkpoint_id`` if it is in
        this store (a resumed or forked run), else starting a new chain with a run header."""
        self._engine = engine
        self._redact = (self.redactor or Redactor()).for_client(engine.llm)
        st = engine.state
        parent = st.checkpoint_id
        self._messages = self._steps = 0
        self._last_key = None
        if parent is not None and parent in self.store.list(st.run_id):
            cp = self.store.get(parent)
            self._messages, self._steps = cp.message_count, cp.step_count
            self._last_key = (cp.reason, cp.step, cp.message_count, cp.step_count)
        else:
            st.checkpoint_id = None
        self._track(st.conversation)
        self._unsaved = 0
        engine.listeners.append(self._on_step)
        engine.finish_listeners.append(self._on_finish)

    def _track(self, conversation: Conversation) -> None:
        self._conversation = conversation
        self._view = conversation.view()
        self._revision = conversation.revision

    def _on_step(self, step: Step) -> None:
        try:
            if step.status is StepStatus.AWAITING_APPROVAL:
                self.save("approval")
                return
            self._unsaved += 1
            if self._unsaved >= self.every:
                self.save("step")
        except StoreError as exc:
            self._lost_store(exc, f"step {step.number}")

    def _on_finish(self, result: LoopResult) -> None:
        if result.stop_reason is not StopReason.AWAITING_APPROVAL:
            try:
                self.save("end")
            except StoreError as exc:
                self._lost_store(exc, "the run's end")

    def _lost_store(self, exc: StoreError, what: str) -> None:
        """The run store went away (a database down, a file locked or deleted): stop closed.

        Nothing is lost: the last saved checkpoint is intact and the next save is a delta from
        it, so what this save held goes with the next one.  The run ends with ``hook_error`` (a
        resumable end) before its next call or model request, so no further tool runs
        unrecorded; ``store_error`` keeps the error.  The caller's loop gets no exception: a
        store outage is a closed stop, like any failing hook.
        """
        self.store_error = exc
        if self._engine is not None:
            self._engine.fail_soon(self.name, f"save of {what}", exc)

    def save(self, reason: str) -> Checkpoint | None:
        """Write a checkpoint now (``None`` if nothing changed since the last one)."""
        engine = self._engine
        if engine is None:
            raise CheckpointError("CheckpointHook.save() called before the hook joined a run")
        st = engine.state
        conv = st.conversation
        if conv is self._conversation and conv.revision == self._revision:
            keep = self._messages
        else:  # compaction (or a new Conversation): keep the unchanged prefix, store the rest
            keep = _common_prefix(self._view, conv.view(), self._messages)
        key = (reason, st.step_number, len(conv), len(st.steps))
        if key == self._last_key:
            return None
        state, pending = state_document(st)
        messages = [conv[i].to_dict() for i in range(keep, len(conv))]
        steps = [step_record(st.steps[i]) for i in range(self._steps, len(st.steps))]
        header = None if st.checkpoint_id else self._header(engine)
        (state, pending, messages, steps, header), encoded = self._clean(
            [state, pending, messages, steps, header]
        )
        checkpoint = Checkpoint(
            run_id=st.run_id,
            branch_id=st.branch_id,
            step=st.step_number,
            state=state,
            messages_keep=keep,
            messages_add=messages,
            steps_keep=self._steps,
            steps_add=steps,
            parent=st.checkpoint_id,
            pending_approval=pending,
            reason=reason,
            created_at=time.time(),
            run=header,
            encoded=encoded,
        )
        saved = self.store.put(checkpoint)
        st.checkpoint_id = saved.id
        self._messages, self._steps = len(conv), len(st.steps)
        self._track(conv)
        self._unsaved = 0
        self._last_key = key
        engine.emit(EventKind.CHECKPOINT, checkpoint_id=saved.id, reason=reason)
        return saved

    def _clean(self, parts: list[Any]) -> tuple[list[Any], EncodedParts | None]:
        """``parts`` with secrets redacted (the same objects when there is nothing to redact),
        and their JSON text as the checkpoint is written when that is what was scanned."""
        redactor = self._redact
        if redactor is None:
            return parts, None
        encoded = encode_parts(parts)
        if encoded is not None:
            # The parts' texts joined: a secret is inside one part's text, never across two.
            if not redactor.found_in(",".join(encoded.texts)):
                return parts, encoded
        else:  # a tool's data nested past json's limit (or circular)
            try:
                text = _SCAN_ENCODER.encode(parts)
            except (RecursionError, ValueError):
                parts = cast(list[Any], clip_depth(parts))
                text = json.dumps(parts, ensure_ascii=False, default=repr)
            if not redactor.found_in(text):
                return parts, None
        try:
            return cast(list[Any], redactor.value(parts)), None
        except RecursionError:
            return cast(list[Any], redactor.value(clip_depth(parts))), None

    @staticmethod
    def _header(engine: Engine) -> dict[str, Any]:
        return {
            "task": jsonable(engine.task),
            "config": config_to_dict(engine.config),
            "tools": tool_fingerprints(engine.tools),
        }


def step_record(step: Step) -> dict[str, Any]:
    """A step as stored: without ``prompt``, which repeats the conversation (and would make the
    total quadratic); the checkpoint's messages are that conversation."""
    return step.to_dict(prompt=False)


def _common_prefix(old: Sequence[Message], new: Sequence[Message], limit: int) -> int:
    n = min(len(old), len(new), limit)
    i = 0
    while i < n and (old[i] is new[i] or old[i] == new[i]):
        i += 1
    return i


def config_to_dict(config: LoopConfig) -> dict[str, Any]:
    """The JSON-safe settings of a ``LoopConfig``, so a resumed run keeps its budget and rules.
    Callables (``approver``) and the store are not saved: pass them again when resuming."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in _NOT_SAVED:
            continue
        if value is None or isinstance(value, str | int | float | bool):
            out[f.name] = value
        elif f.name == "workspace":
            out[f.name] = str(value)
    return out


def tool_fingerprints(tools: BaseToolRegistry) -> dict[str, str]:
    """``{tool name: hash of its schema}``: a resumed run must see the tools it started with."""
    return {
        str(schema["name"]): hashlib.sha256(
            json.dumps(schema, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        for schema in tools.schemas()
    }


def install_checkpointing(engine: Engine, hooks: Sequence[object]) -> None:
    """Attach the run's checkpointer: ``LoopConfig.checkpoint`` and/or a ``CheckpointHook`` in
    ``hooks``.  One per run: two would each claim ``state.checkpoint_id``."""
    found = [h for h in hooks if isinstance(h, CheckpointHook)]
    configured: object = engine.config.checkpoint
    if configured is not None:
        hook = configured if isinstance(configured, CheckpointHook) else None
        if hook is None:
            if not isinstance(configured, CheckpointStore):
                raise ConfigError(
                    "LoopConfig(checkpoint=...) takes a checkpoint store (MemoryCheckpointStore, "
                    f"FileCheckpointStore) or a CheckpointHook, got {type(configured).__name__}"
                )
            hook = CheckpointHook(configured)
        if not any(h is hook or h.store is hook.store for h in found):
            found.append(hook)
    if len(found) > 1:
        raise ConfigError("a run takes one checkpointer: LoopConfig.checkpoint or a CheckpointHook")
    if found:
        found[0].attach(engine)
