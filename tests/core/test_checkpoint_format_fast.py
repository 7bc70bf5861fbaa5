"""The checkpoint document's fast paths write exactly what the plain encoder writes.

``format.py`` encodes a save's fields with one reused C encoder (``_small``), writes the
document's head by hand (``_head_text``) and builds ``Checkpoint`` with its slots' setters.  Each
is checked here against the slow path it replaces, byte for byte over random checkpoints, and a
circular value still ends where it did: the checkpointer clips it, ``to_json`` never crashes.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from looplet_core import DefaultState, LoopConfig, MemoryCheckpointStore, composable_loop
from looplet_core.durable import format as fmt
from looplet_core.durable.format import Checkpoint, encode_parts
from tests.core.durable_helpers import backend, durable_tools
from tests.core.fuzz_helpers import JSON_VALUES


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Name(str):
    """A str subclass: the hand-written head must not take it for a plain str."""


ODD_LEAVES = st.sampled_from(
    [
        math.inf,
        -math.inf,
        math.nan,
        -0.0,
        1e300,
        2**80,
        True,
        "\ud800 lone surrogate",
        'quote " backslash \\ tab \t nul \x00 \u2028',
        "ünïcödé 🙂",
        {1, 2},
        frozenset({"a"}),
        Point(1, 2.5),
        (1, "tuple"),
        {1: "int key", 2.5: "float key", None: "none key", False: "bool key"},
        object,
    ]
)
VALUES = st.recursive(
    JSON_VALUES | ODD_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
TEXT = st.text(max_size=12) | st.sampled_from(["main", "bench", Name("sub"), 'q"\\\n'])
TIMES = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1796666047.6900682])
INTS = st.integers(min_value=0, max_value=2**40) | st.sampled_from([True, 0])


def encoded_by_encoder(value: Any) -> str | None:
    try:
        return fmt._ENCODER.encode(value)
    except (ValueError, RecursionError):
        return None


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_the_reused_encoder_writes_what_the_json_encoder_writes(value):
    expected = encoded_by_encoder(value)
    try:
        got = fmt._small(value)
    except (ValueError, RecursionError):
        got = None
    assert got == expected


CHECKPOINTS = st.builds(
    Checkpoint,
    run_id=TEXT,
    branch_id=TEXT,
    step=INTS,
    state=st.dictionaries(st.text(max_size=5), VALUES, max_size=3),
    messages_keep=INTS,
    messages_add=st.lists(st.dictionaries(st.text(max_size=5), VALUES, max_size=3), max_size=2),
    steps_keep=INTS,
    steps_add=st.lists(st.dictionaries(st.text(max_size=5), VALUES, max_size=3), max_size=2),
    parent=st.none() | TEXT,
    pending_approval=st.none() | st.dictionaries(st.text(max_size=5), VALUES, max_size=2),
    reason=TEXT,
    created_at=TIMES,
    run=st.none() | st.dictionaries(st.text(max_size=5), VALUES, max_size=2),
    fork=st.none() | st.dictionaries(st.text(max_size=5), VALUES, max_size=2),
    seq=INTS,
    id=TEXT,
)


@settings(max_examples=300, deadline=None)
@given(CHECKPOINTS)
def test_a_spliced_document_is_byte_identical_to_the_encoded_one(cp: Checkpoint):
    parts = [cp.state, cp.pending_approval, cp.messages_add, cp.steps_add, cp.run]
    encoded = encode_parts(parts)
    plain = cp.to_json()  # no texts made already: the whole document through _ENCODER
    assert dataclasses.replace(cp, encoded=encoded).to_json() == plain
    if encoded is not None:  # and the head written by hand is the encoder's head
        head = cp._head_text()
        if head is not None:
            assert head + "}" == fmt._ENCODER.encode(cp._head())


def test_the_written_out_init_sets_every_field_with_the_fields_defaults():
    params = inspect.signature(Checkpoint.__init__).parameters
    fields = dataclasses.fields(Checkpoint)
    assert [f.name for f in fields] == list(params)[1:]
    for f in fields:
        default = f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty
        assert params[f.name].default == default, f.name
    values = {f.name: object() for f in fields}
    cp = Checkpoint(**values)  # type: ignore[arg-type]
    assert all(getattr(cp, name) is value for name, value in values.items())
    positional = Checkpoint(*values.values())  # type: ignore[arg-type]
    assert all(getattr(positional, name) is value for name, value in values.items())


def circular() -> list[Any]:
    cycle: list[Any] = ["x"]
    cycle.append(cycle)
    return cycle


def test_circular_data_is_clipped_not_a_crash():
    cycle = circular()
    assert encode_parts([{"a": cycle}, None, [], [], None]) is None
    cp = Checkpoint("r", "main", 1, {"a": cycle}, 0, [], 0, [])
    doc = json.loads(cp.to_json())  # was a ValueError out of to_json
    assert "cycle" in json.dumps(doc["state"])


def test_a_run_with_circular_state_data_saves_it_clipped_and_resumes_it():
    state = DefaultState()
    state.data["loop"] = circular()
    store = MemoryCheckpointStore()
    steps = list(
        composable_loop(
            llm=backend([{"tool": "count", "args": {"i": 0}}]),
            tools=durable_tools(),
            task="count",
            config=LoopConfig(max_steps=3, checkpoint=store),
            state=state,
        )
    )
    assert steps and state.checkpoint_id is not None
    saved = store.get(state.checkpoint_id)
    text = json.dumps(saved.state["data"]["loop"])
    assert '"x"' in text and "cycle" in text
    assert Checkpoint.from_json(saved.to_json(), "here").state == saved.state
