"""The invariants the speed-ups of checkpoints, traces and compaction rely on (issue 16).

Each test names what an optimisation assumes, so that a later change breaking the assumption
fails here instead of silently changing what a run writes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    LoopConfig,
    MemoryCheckpointStore,
    ToolSpec,
    composable_loop,
)
from looplet_core.durable.checkpoints import Checkpoint
from tests.core.durable_helpers import backend

SECRET = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2


class RecordingStore(MemoryCheckpointStore):
    """A memory store that keeps each checkpoint as the checkpointer handed it over."""

    def __init__(self) -> None:
        super().__init__()
        self.given: list[Checkpoint] = []

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        self.given.append(checkpoint)
        return super().put(checkpoint)


def _tools() -> BaseToolRegistry:
    payloads: dict[str, Any] = {
        "text": {"text": 'h\u00e9llo \u2603 \U0001d11e \ud800 "quoted" back\\slash\n'},
        "nested": {"a": [1, 2.5, None, True, {"b": {"c": [[]]}}], "é": "x"},
        "secret": f"the key is {SECRET}",
    }
    return BaseToolRegistry(
        [
            ToolSpec("get", "Return a payload.", {"kind": "str"}, lambda *, kind: payloads[kind]),
            ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer),
        ]
    )


def _run(plan: list[Any]) -> RecordingStore:
    store = RecordingStore()
    config = LoopConfig(max_steps=len(plan) + 2, checkpoint=store)
    for _ in composable_loop(llm=backend(plan), tools=_tools(), task="t \u00e9", config=config):
        pass
    return store


def _plain(cp: Checkpoint) -> str:
    return dataclasses.replace(cp, encoded=None).to_json()


def test_a_checkpoint_written_from_the_scanned_text_is_the_document_encoded_afresh():
    # The checkpointer scans the delta's JSON text for secrets and hands that text to the store,
    # which splices it into the document: the bytes must be those of a fresh encoding, for the
    # run header, unicode, a lone surrogate, escapes, nested data and the run's end alike.
    plan = [
        {"tool": "get", "args": {"kind": "text"}},
        {"tool": "get", "args": {"kind": "nested"}},
        {"tool": "done", "args": {"answer": "fin \u2603"}},
    ]
    store = _run(plan)
    assert len(store.given) >= 4
    for cp in store.given:
        assert cp.encoded is not None, cp.describe()
        stored = dataclasses.replace(cp, seq=7, id=f"{cp.run_id}-000007", source="x")
        assert stored.to_json() == _plain(stored)
    assert store.given[0].run is not None  # the header went through the spliced path too


def test_text_made_for_other_values_is_not_used():
    # dataclasses.replace keeps ``encoded``: a field given a new value must be encoded afresh.
    cp = _run([{"tool": "get", "args": {"kind": "text"}}]).given[0]
    assert cp.encoded is not None
    changed = dataclasses.replace(
        cp,
        state={"other": 1},
        messages_add=[{"role": "user", "content": "new"}],
        steps_add=[],
        run=None,
        pending_approval={"p": 1},
    )
    doc = json.loads(changed.to_json())
    assert doc["state"] == {"other": 1}
    assert doc["messages"]["add"] == [{"role": "user", "content": "new"}]
    assert doc["steps"]["add"] == [] and doc["run"] is None
    assert doc["pending_approval"] == {"p": 1}
    assert changed.to_json() == _plain(changed)


def test_a_delta_with_a_secret_is_written_from_its_redacted_values_not_the_scanned_text():
    store = _run([{"tool": "get", "args": {"kind": "secret"}}])
    texts = [store._docs[cid] for cid in store.list(store.given[0].run_id)]
    assert any("[redacted]" in text for text in texts)
    assert not any(SECRET in text for text in texts)
    flagged = [cp for cp in store.given if "[redacted]" in cp.to_json()]
    assert flagged and all(cp.encoded is None for cp in flagged)


def test_the_short_cut_for_small_fields_writes_what_the_encoder_writes():
    # to_json splices None and ints without the encoder's set-up: bools (an int subclass), huge
    # and negative ints, floats and strings must come out exactly as the encoder writes them.
    from looplet_core.durable.format import _ENCODER, _small

    for value in (None, 0, -7, 10**30, True, False, 1.5, float("inf"), "x\u00e9", [1], {"a": 1}):
        assert _small(value) == _ENCODER.encode(value), value


# -- the meter's memo of the last list priced -----------------------------------------------------


def test_the_meter_answers_a_list_priced_again_from_its_memo_only_for_the_very_same_messages():
    from looplet_core import ContextMeter, Message

    from .context_helpers import Chars4

    meter = ContextMeter(Chars4())
    first = [Message("user", "a" * 40), Message("assistant", "b" * 80)]
    expected = [meter.message_tokens(m) for m in first]
    costs = meter.message_costs(first)
    assert costs == expected
    costs[0] = -1  # the caller's list is its own: the memo is not changed through it
    assert meter.message_costs(list(first)) == expected
    # Same length, one message replaced by an equal-looking but longer one: priced afresh.
    second = [first[0], Message("assistant", "b" * 400)]
    assert meter.message_costs(second) == [expected[0], meter.message_tokens(second[1])]
    assert meter.message_costs(first) == expected


# -- trace files written through a bare descriptor ------------------------------------------------


def test_a_trace_file_holds_what_text_mode_wrote(tmp_path):
    # write_text replaced open(path, "w", encoding="utf-8", errors="backslashreplace"): the bytes,
    # an existing file's truncation and a lone surrogate's escape must be as before.
    from looplet_core.provenance.format import write_text

    text = "line \u00e9 \u2603 \U0001d11e\nlone \ud800 end\n" * 50
    ours, theirs = tmp_path / "ours.txt", tmp_path / "theirs.txt"
    ours.write_text("x" * 10_000)  # longer than the new text: must be cut, not overwritten
    write_text(str(ours), text)
    with open(theirs, "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(text)
    assert ours.read_bytes() == theirs.read_bytes()
