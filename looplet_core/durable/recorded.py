"""``StoredRun``: a run kept in a checkpoint store, read back the way replay and diff read a trace.

A trace directory (``provenance.reader.TraceReader``) keeps every model call's prompt; a run store
keeps the run's checkpoints instead, each the messages and steps added since its parent (see
``durable.checkpoints``).  That is enough to replay the run: the steps are the fold of the chain's
step deltas, and the prompt of model call ``c`` is the conversation at the first checkpoint that
holds a step of ``c``, up to the reply of ``c`` itself (the assistant message the call appended).
A compaction before the call is in that conversation too, since it rewrote the conversation the
call was sent.  What a ``pre_prompt`` hook sent only for one call and never kept (an injected note)
is not in any checkpoint, so it cannot be shown; ``docs/stores.md`` says so.

Opening reads the chain in one query (``history``) and parses each checkpoint document, which is
small (a delta); steps are decoded from their saved form only when asked for, and a prompt is
folded from the chain only when it is shown, so a 1,000-step run opens in one pass over its rows.
Damaged rows raise ``CheckpointError`` naming the row.  Nothing stored is executed: it is JSON,
turned into plain dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast, overload

from looplet_core.durable.checkpoints import Checkpoint, CheckpointStore, history
from looplet_core.durable.checkpoints import latest_checkpoint as _latest
from looplet_core.errors import CheckpointError, StoreError
from looplet_core.messages import Message, optional
from looplet_core.provenance.reader import StepEntry, TraceReader
from looplet_core.records import LLMCall, StopReason, Usage
from looplet_core.step import LoopResult, Step

__all__ = ["StoredRun", "open_recorded", "read_stored_run", "split_run_spec"]

_BAD_DATA = (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError)


class StoredRun:
    """Run ``run_id`` of ``store``, along the chain that ends at ``checkpoint_id`` (default: the
    run's newest checkpoint, or the newest of ``branch``)."""

    def __init__(
        self,
        store: CheckpointStore,
        run_id: str,
        *,
        checkpoint_id: str | None = None,
        branch: str | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.where = str(getattr(store, "where", None) or type(store).__name__)
        tip = checkpoint_id or _latest(store, run_id, branch=branch)
        self.chain: list[Checkpoint] = history(store, tip)
        root = self.chain[0]
        if root.run is None:
            raise CheckpointError(f"{root.source}: the run's first checkpoint has no 'run' header")
        self.header: dict[str, Any] = root.run
        self._steps: list[dict[str, Any]] = []
        self._added_at: list[int] = []
        """For each step, the position in ``chain`` of the checkpoint that added it."""
        for position, link in enumerate(self.chain):
            keep = link.steps_keep
            if not 0 <= keep <= len(self._steps):
                raise CheckpointError(
                    f"{link.source}: steps.keep is {keep} but its parent has {len(self._steps)}"
                )
            del self._steps[keep:], self._added_at[keep:]
            for doc in cast(list[object], link.steps_add):  # JSON: checked, not trusted
                if not isinstance(doc, dict):
                    raise CheckpointError(f"{link.source}: an entry of steps.add is not an object")
                self._steps.append(cast(dict[str, Any], doc))
                self._added_at.append(position)
        self._entries = [self._entry(i) for i in range(len(self._steps))]
        self._by_number = {e.number: i for i, e in enumerate(self._entries)}
        self._calls = self._index_calls()
        self.tip = self.chain[-1]

    # -- what a trace's manifest says -------------------------------------------------------------

    @property
    def path_label(self) -> str:
        """How this run is named on screen: ``runs.db#r1``."""
        return f"{self.where}#{self.run_id}"

    @property
    def task(self) -> Any:
        return self.header.get("task")

    @property
    def config(self) -> dict[str, Any]:
        config: object = self.header.get("config") or {}
        return cast(dict[str, Any], config) if isinstance(config, dict) else {}

    @property
    def model(self) -> str | None:
        """The model that answered the run's last call (checkpoints keep no run-wide model)."""
        for _, (_, call) in sorted(self._calls.items(), reverse=True):
            if call.get("model"):
                return str(call["model"])
        return None

    @property
    def _result(self) -> dict[str, Any] | None:
        result: object = self.tip.state.get("result")
        return cast(dict[str, Any], result) if isinstance(result, dict) else None

    @property
    def stop_reason(self) -> StopReason | None:
        result = self._result
        try:
            return StopReason(result["stop_reason"]) if result else None
        except (KeyError, ValueError) as exc:
            raise CheckpointError(
                f"{self.tip.source}: the run's result is invalid ({exc})"
            ) from None

    @property
    def final_answer(self) -> Any:
        result = self._result
        return result.get("final_answer") if result else None

    @property
    def message(self) -> str:
        result = self._result
        return str(result.get("message") or "") if result else ""

    @property
    def usage(self) -> Usage:
        try:
            return Usage.from_dict(cast(dict[str, Any], self.tip.state.get("usage") or {}))
        except _BAD_DATA as exc:
            raise CheckpointError(f"{self.tip.source}: the run's usage is invalid ({exc})") from exc

    def loop_result(self) -> LoopResult | None:
        """How the run ended, without its steps (None while it has not)."""
        reason = self.stop_reason
        if reason is None:
            return None
        return LoopResult(
            reason,
            usage=self.usage,
            final_answer=self.final_answer,
            message=self.message,
            run_id=self.run_id,
        )

    # -- steps ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[StepEntry]:
        """The steps as a trace's index lists them (no step is decoded)."""
        return list(self._entries)

    def step(self, number: int) -> Step:
        """Step ``number`` (1-based), decoded from the checkpoint that saved it."""
        position = self._by_number.get(number)
        if position is None:
            raise IndexError(f"{self.path_label}: the run has no step {number}")
        try:
            return Step.from_dict(self._steps[position])
        except _BAD_DATA as exc:
            raise CheckpointError(
                f"{self._source_of(position)}: step {number} does not decode "
                f"({type(exc).__name__}: {exc})"
            ) from None

    def steps(self) -> Iterator[Step]:
        for entry in self._entries:
            yield self.step(entry.number)

    # -- model calls ------------------------------------------------------------------------------

    @property
    def call_indexes(self) -> list[int]:
        """Every model call the run's checkpoints know of, in order."""
        return sorted(self._calls)

    def llm_call(self, index: int) -> LLMCall:
        position, doc = self._call(index)
        try:
            return LLMCall.from_dict(doc)
        except _BAD_DATA as exc:
            raise CheckpointError(
                f"{self.chain[position].source}: model call {index} does not decode ({exc})"
            ) from None

    def llm_calls(self) -> list[LLMCall]:
        return [self.llm_call(index) for index in self.call_indexes]

    def prompt(self, index: int) -> list[Message]:
        """The messages model call ``index`` was sent, as the checkpoints kept them."""
        position, doc = self._call(index)
        messages = self._messages_at(position)
        end = _reply_position(messages, doc)
        link = self.chain[position]
        try:
            return [Message.from_dict(m) for m in messages[:end]]
        except _BAD_DATA as exc:
            raise CheckpointError(
                f"{link.source}: the prompt of call {index} does not decode ({exc})"
            ) from None

    def prompt_view(self, index: int) -> Sequence[Message]:
        """Call ``index``'s prompt, each message decoded only when it is read (for viewers)."""
        position, doc = self._call(index)
        messages = self._messages_at(position)
        return _LazyMessages(messages[: _reply_position(messages, doc)], self.chain[position])

    def prompts_added(self) -> Iterator[tuple[int, LLMCall | None, list[Message] | None]]:
        """``(index, call, messages new in its prompt)`` for every call, in order, in one pass.

        What search indexes, as a trace's ``messages.jsonl`` records it: a prompt that extends
        the previous one adds its new messages; a prompt that does not (compaction rewrote the
        history) is new as a whole.  A part that does not decode is None.
        """
        messages: list[dict[str, Any]] = []
        seen: list[dict[str, Any]] = []  # the previous prompt, to tell what is new
        position = 0
        for index in self.call_indexes:
            at, doc = self._calls[index]
            while position <= at:
                _fold_messages(messages, self.chain[position])
                position += 1
            prompt = messages[: _reply_position(messages, doc)]
            same = 0
            while same < min(len(seen), len(prompt)) and seen[same] is prompt[same]:
                same += 1
            if same < len(seen):  # not an extension of the previous prompt: new as a whole
                same = 0
            seen = prompt
            try:
                call: LLMCall | None = LLMCall.from_dict(doc)
            except _BAD_DATA:
                call = None
            try:
                added: list[Message] | None = [Message.from_dict(m) for m in prompt[same:]]
            except _BAD_DATA:
                added = None
            yield index, call, added

    # -- events -----------------------------------------------------------------------------------

    def events(self, kinds: set[str] | None = None) -> Iterator[dict[str, Any]]:
        """The run's stored events (``StoreEventLog``), flat as a trace's log lines are."""
        reader = getattr(self.store, "events", None)
        if reader is None:  # a checkpoint store keeps no events
            return
        rows = cast(list[tuple[int, dict[str, Any]]], reader(self.run_id, kinds=kinds))
        for seq, doc in rows:
            kind = doc.get("kind")
            if kinds is not None and kind not in kinds:
                continue
            data: object = doc.get("data") or {}
            if not isinstance(data, dict):
                raise CheckpointError(f"{self.where}: event {seq} of {self.run_id!r} has no data")
            yield {
                **cast(dict[str, Any], data),
                "kind": kind,
                "seq": seq,
                "time": doc.get("time"),
                "step": doc.get("step"),
            }

    # -- internals --------------------------------------------------------------------------------

    def _entry(self, position: int) -> StepEntry:
        doc = self._steps[position]
        try:
            call: object = doc.get("llm_call")
            result: object = doc.get("tool_result") or {}
            tool_call: object = doc.get("tool_call")
            return StepEntry(
                number=int(doc["number"]),
                status=str(doc.get("status") or "ok"),
                tool=optional(
                    cast(dict[str, Any], tool_call).get("tool") if tool_call else None, str, "tool"
                ),
                error_kind=optional(
                    cast(dict[str, Any], result).get("error_kind"), str, "error_kind"
                ),
                llm_call=int(cast(dict[str, Any], call)["index"]) if call else None,
                elapsed_ms=float(doc.get("elapsed_ms") or 0.0),
                file="",
            )
        except _BAD_DATA as exc:
            raise CheckpointError(
                f"{self._source_of(position)}: a saved step is invalid ({type(exc).__name__}: "
                f"{exc})"
            ) from None

    def _index_calls(self) -> dict[int, tuple[int, dict[str, Any]]]:
        """Each model call's record and the chain position of the first checkpoint that holds
        its reply: the first step made from it, or (a reply no step came from, a final answer in
        text) the checkpoint whose state holds it as the current call."""
        calls: dict[int, tuple[int, dict[str, Any]]] = {}
        for entry, doc, position in zip(self._entries, self._steps, self._added_at, strict=True):
            call: object = doc.get("llm_call")
            if entry.llm_call is not None and isinstance(call, dict):
                calls.setdefault(entry.llm_call, (position, cast(dict[str, Any], call)))
        for position, link in enumerate(self.chain):
            current: object = link.state.get("current_call")
            if isinstance(current, dict):
                try:
                    index = int(cast(dict[str, Any], current)["index"])
                except _BAD_DATA as exc:
                    raise CheckpointError(
                        f"{link.source}: the current call is invalid ({exc})"
                    ) from None
                calls.setdefault(index, (position, cast(dict[str, Any], current)))
        return calls

    def _call(self, index: int) -> tuple[int, dict[str, Any]]:
        found = self._calls.get(index)
        if found is None:
            raise IndexError(f"{self.path_label}: the run has no model call {index}")
        return found

    def _messages_at(self, position: int) -> list[dict[str, Any]]:
        """The conversation (as saved dicts) at checkpoint ``position``: the fold of the
        chain's message deltas, list operations on the parsed rows only."""
        messages: list[dict[str, Any]] = []
        for link in self.chain[: position + 1]:
            _fold_messages(messages, link)
        return messages

    def _source_of(self, step_position: int) -> str:
        return self.chain[self._added_at[step_position]].source

    def __repr__(self) -> str:
        return f"StoredRun({self.path_label!r}, {len(self)} steps)"


def split_run_spec(spec: str) -> tuple[str, str | None]:
    """``STORE#RUN`` as ``(STORE, RUN)``; anything else (a trace directory, even one whose name
    has a ``#``) as ``(spec, None)``."""
    store, mark, run_id = spec.rpartition("#")
    if not mark or not store or Path(spec).exists():
        return spec, None
    if not run_id:
        raise StoreError(f"{spec}: name the run after the '#': STORE#RUN_ID")
    return store, run_id


def read_stored_run(
    target: str, run_id: str | None = None, *, event_kinds: frozenset[str] = frozenset()
) -> tuple[StoredRun, list[dict[str, Any]]]:
    """Run ``run_id`` of the store ``target`` names (the store's only run when None), read and
    checked now, with its stored events of ``event_kinds``.  The store is opened without
    creating anything and closed again before this returns: everything a replay or a diff
    reads is in memory by then.  Every problem is a ``CheckpointError`` (``StoreError``)."""
    from looplet_core.durable.connect import open_store

    store = open_store(target, create=False)
    try:
        chosen = run_id or _only_run(store)
        store.run_info(chosen)  # a run the store does not have: its own one-line error
        if not store.list(chosen):
            raise StoreError(f"{store.where}: run {chosen!r} has no checkpoints yet")
        recorded = StoredRun(store, chosen)
        events = list(recorded.events(set(event_kinds))) if event_kinds else []
        return recorded, events
    finally:
        store.close()


def _only_run(store: CheckpointStore) -> str:
    where = str(getattr(store, "where", None) or type(store).__name__)
    runs = store.runs()
    if not runs:
        raise StoreError(f"{where}: no runs yet")
    if len(runs) > 1:
        shown = ", ".join(runs[:10]) + (f" and {len(runs) - 10} more" if len(runs) > 10 else "")
        raise StoreError(
            f"{where} holds {len(runs)} runs ({shown}): choose one with --run ID (or STORE#ID)"
        )
    return runs[0]


def open_recorded(spec: str) -> TraceReader | StoredRun:
    """A recorded run named on a command line: a trace directory, or ``STORE#RUN`` (``STORE``
    alone when it holds one run), read now."""
    from looplet_core.durable.connect import sqlite_path

    target, run_id = split_run_spec(spec)
    if run_id is not None or "://" in target or sqlite_path(target) is not None:
        return read_stored_run(target, run_id)[0]
    if not Path(spec).exists():
        raise StoreError(
            f"{spec}: no such trace directory or run store (a run in a store is STORE#RUN)"
        )
    return TraceReader(spec)


def _fold_messages(messages: list[dict[str, Any]], link: Checkpoint) -> None:
    """Apply ``link``'s message delta to ``messages`` (the conversation at its parent)."""
    keep = link.messages_keep
    if not 0 <= keep <= len(messages):
        raise CheckpointError(
            f"{link.source}: messages.keep is {keep} but its parent has {len(messages)}"
        )
    del messages[keep:]
    for doc in cast(list[object], link.messages_add):
        if not isinstance(doc, dict):
            raise CheckpointError(f"{link.source}: an entry of messages.add is not an object")
        messages.append(cast(dict[str, Any], doc))


def _reply_position(messages: Sequence[dict[str, Any]], call: dict[str, Any]) -> int:
    """Where the reply of ``call`` sits in ``messages``: what comes before it is its prompt.

    The call says how many messages it was sent; the reply is normally right there.  When it is
    not (a hook sent the model more or fewer messages than the conversation keeps), the nearest
    assistant message with the reply's text and calls is taken, else the recorded count."""
    sent = call.get("prompt_messages")
    count = sent if isinstance(sent, int) and 0 <= sent <= len(messages) else len(messages)
    order = sorted(range(len(messages)), key=lambda i: abs(i - count))
    for i in order:
        if _is_reply(messages[i], call):
            return i
    return count


def _is_reply(message: dict[str, Any], call: dict[str, Any]) -> bool:
    if message.get("role") != "assistant" or message.get("content") != call.get("text"):
        return False
    asked = cast(list[dict[str, Any]], call.get("tool_calls") or [])
    got = cast(list[dict[str, Any]], message.get("tool_calls") or [])
    return [c.get("id") for c in asked] == [c.get("id") for c in got] or not got


class _LazyMessages(Sequence[Message]):
    """Saved messages decoded as they are read (a long prompt is shown a screenful at a time)."""

    def __init__(self, docs: list[dict[str, Any]], link: Checkpoint) -> None:
        self._docs = docs
        self._link = link
        self._decoded: dict[int, Message] = {}

    def __len__(self) -> int:
        return len(self._docs)

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._docs)))]
        if index < 0:
            index += len(self._docs)
        message = self._decoded.get(index)
        if message is None:
            try:
                message = Message.from_dict(self._docs[index])
            except _BAD_DATA as exc:
                raise CheckpointError(
                    f"{self._link.source}: message {index} of the prompt does not decode ({exc})"
                ) from None
            self._decoded[index] = message
        return message
