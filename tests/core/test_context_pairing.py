"""The incremental pairing check (``context/pairing.py``) gives exactly the from-scratch verdict.

Compaction trusts ``PairingMemo`` for the tool-call pairing guarantee, so every answer it gives is
compared here with an independent from-scratch check (the original loop, kept in this file) over
random histories: valid ones, broken ones, histories extended step by step, and rewrites of the
kinds stages make (contents swapped, a middle replaced, a tail kept, anything at random).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace

import pytest

from looplet_core.context.compact import cut_points
from looplet_core.context.pairing import PairingMemo, pairing_problem
from looplet_core.messages import Message, ToolCall


def reference_problem(messages: Sequence[Message]) -> str | None:
    """The pairing check as it was before the memo: one walk from scratch."""
    open_ids: list[str] = []
    for index, message in enumerate(messages):
        if message.role == "tool":
            call_id = message.tool_call_id
            if call_id not in open_ids:
                return f"message {index} is a tool result ({call_id}) without its call"
            open_ids.remove(call_id)
            continue
        if open_ids:
            return f"message {index} comes before the results of calls {open_ids}"
        if message.role == "assistant" and message.tool_calls:
            open_ids = [call.id for call in message.tool_calls]
    if open_ids:
        return f"calls {open_ids} have no results"
    return None


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"c{self.n}"


def _turn(rng: random.Random, ids: _Ids) -> list[Message]:
    """One valid turn: a reply calling 0-3 tools, their results, sometimes a note."""
    calls = tuple(ToolCall("t", {"n": i}, ids.next()) for i in range(rng.choice((0, 1, 1, 2, 3))))
    out = [Message("assistant", "reply", tool_calls=calls)]
    results = [Message("tool", "r" * rng.randint(0, 9), tool_call_id=c.id, name="t") for c in calls]
    rng.shuffle(results)
    out += results
    if rng.random() < 0.2:
        out.append(Message("user", "note"))
    return out


def _history(rng: random.Random, ids: _Ids, turns: int) -> list[Message]:
    return [Message("system", "sys"), Message("user", "task")] + [
        m for _ in range(turns) for m in _turn(rng, ids)
    ]


def _break(rng: random.Random, messages: list[Message], ids: _Ids) -> list[Message]:
    """The same list with one random edit that may (or may not) break its pairing."""
    out = list(messages)
    kind = rng.randrange(4)
    if kind == 0 and len(out) > 2:
        del out[rng.randrange(2, len(out))]
    elif kind == 1:
        stray = Message("tool", "stray", tool_call_id=ids.next())
        out.insert(rng.randrange(2, len(out) + 1), stray)
    elif kind == 2 and len(out) > 3:
        i, j = rng.sample(range(2, len(out)), 2)
        out[i], out[j] = out[j], out[i]
    else:
        out.append(Message("assistant", "", tool_calls=(ToolCall("t", {}, ids.next()),)))
    return out


def _rewrite(rng: random.Random, messages: list[Message], ids: _Ids) -> list[Message]:
    """A rewrite like a stage's: contents swapped, a span replaced, a tail kept, or random."""
    out = list(messages)
    kind = rng.randrange(5)
    if kind == 0:  # Prune: same shapes, new contents
        for i in rng.sample(range(len(out)), min(len(out), rng.randint(1, 5))):
            out[i] = replace(out[i], content="[cleared]")
    elif kind == 1:  # a swapped content that also changes the shape
        i = rng.randrange(len(out))
        out[i] = replace(out[i], tool_call_id=ids.next() if out[i].tool_call_id else None)
    elif kind == 2:  # Truncate / Summarize: head, new middle, an old tail from some index
        cut = rng.randint(2, len(out))
        middle = [Message("user", "[summary]")] * rng.randint(0, 2)
        out = [*out[:2], *middle, *out[cut:]]
    elif kind == 3:  # a span replaced by fresh turns
        i = rng.randint(2, len(out))
        j = rng.randint(i, len(out))
        out[i:j] = [m for _ in range(rng.randint(0, 2)) for m in _turn(rng, ids)]
    else:
        out = _break(rng, out, ids)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_memo_agrees_with_a_walk_from_scratch_through_a_run_of_extensions_and_rewrites(
    seed: int,
):
    rng = random.Random(seed)
    ids = _Ids()
    memo = PairingMemo()
    history = _history(rng, ids, rng.randint(0, 6))
    if rng.random() < 0.3:
        history = _break(rng, history, ids)
    for _ in range(30):
        if rng.random() < 0.5:  # the run goes on: new turns appended to the same objects
            history = history + [m for _ in range(rng.randint(0, 3)) for m in _turn(rng, ids)]
            if rng.random() < 0.1:
                history = _break(rng, history, ids)
            assert memo.problem(history) == reference_problem(history)
        else:  # a compaction: the rewrite is checked against the list it was made from
            after = _rewrite(rng, history, ids)
            assert memo.rewrite_problem(history, after) == reference_problem(after)
            if reference_problem(after) is None or rng.random() < 0.3:
                history = after
        start = rng.randint(0, len(history) + 1)
        points = memo.cut_points(history, start)
        if reference_problem(history) is None:
            assert points == cut_points(history, start)
        else:
            assert points is None


@pytest.mark.parametrize("seed", range(40))
def test_a_rewrite_of_a_list_the_memo_never_saw_is_judged_from_scratch(seed: int):
    rng = random.Random(1000 + seed)
    ids = _Ids()
    memo = PairingMemo()
    memo.problem(_history(rng, ids, 3))  # something else remembered
    before = _history(rng, ids, rng.randint(1, 8))
    if rng.random() < 0.4:
        before = _break(rng, before, ids)
    after = _rewrite(rng, before, ids)
    assert memo.rewrite_problem(before, after) == reference_problem(after)
    assert memo.problem(after) == reference_problem(after)


def test_pairing_problem_keeps_its_wording():
    call = ToolCall("t", {}, "a")
    reply = Message("assistant", "", tool_calls=(call,))
    result = Message("tool", "x", tool_call_id="a")
    for messages in (
        [reply, result],
        [reply],
        [result],
        [reply, Message("user", "u"), result],
        [Message("user", "task"), reply, result, result],
    ):
        assert pairing_problem(messages) == reference_problem(messages)


def test_a_replaced_message_of_another_shape_is_not_taken_on_trust():
    """The same-length shortcut holds only while every swapped message keeps its shape."""
    call = ToolCall("t", {}, "a")
    before = [Message("user", "task"), Message("assistant", "", (call,))]
    before.append(Message("tool", "x", tool_call_id="a"))
    memo = PairingMemo()
    assert memo.problem(before) is None
    after = [*before[:2], replace(before[2], tool_call_id="b")]
    assert memo.rewrite_problem(before, after) == "message 2 is a tool result (b) without its call"
    assert memo.cut_points(after) is None


@pytest.mark.parametrize("seed", range(10))
def test_a_message_priced_outside_the_conversation_costs_what_message_tokens_says(seed: int):
    """The meter estimates a marker's text once for every message carrying it: the count must be
    ``message_tokens``'s, whatever the message (calls, ids, long text), and a calibrated single
    cost must equal the list query's."""
    from looplet_core.context.tokens import ContextMeter

    rng = random.Random(seed)
    ids = _Ids()
    meter = ContextMeter()
    meter.ratio = rng.choice((1.0, 0.8, 1.37))
    messages = _history(rng, ids, 5)
    messages += [Message("tool", "[cleared] " * rng.randint(1, 200), tool_call_id=ids.next())]
    messages += [replace(m, content="[cleared]") for m in messages]  # same texts, new objects
    for message in messages:
        assert meter.scaled_cost(message) == meter.scaled_costs([message])[0]
        expected = meter.message_tokens(message)
        expected = expected if meter.ratio == 1.0 else round(expected * meter.ratio)
        assert meter.scaled_cost(message) == expected


# -- the index the walk keeps: where turns start, which results are not cleared yet -------------

_CLEARED = "[tool result cleared to save context"
_JSON = re.compile(r"Result of ([^\s(]+) \(([^)\n]*)\):\n")


def _uncleared(message: Message) -> bool:
    if message.role == "tool":
        return not message.content.startswith(_CLEARED)
    found = _JSON.match(message.content) if message.role == "user" else None
    return found is not None and not message.content[found.end() :].startswith(_CLEARED)


def reference_results(messages: Sequence[Message], start: int) -> list[int]:
    """Prune's scan as it was before the index: every result from ``start`` not yet cleared."""
    return [i for i in range(start, len(messages)) if _uncleared(messages[i])]


def _result_rewrite(rng: random.Random, messages: list[Message], ids: _Ids) -> list[Message]:
    """A rewrite that clears or restores results (tool messages and JSON-mode user messages),
    adds JSON-mode results and notes, or any of the pairing rewrites above."""
    out = list(messages)
    kind = rng.randrange(4)
    if kind == 0 and len(out) > 2:  # Prune: clear some results
        for i in rng.sample(range(2, len(out)), min(len(out) - 2, rng.randint(1, 4))):
            header = found.group(0) if (found := _JSON.match(out[i].content)) else ""
            out[i] = replace(out[i], content=f"{header}{_CLEARED}: t returned 9 characters]")
    elif kind == 1 and len(out) > 2:  # the opposite: a cleared text restored
        i = rng.randrange(2, len(out))
        out[i] = replace(out[i], content="Result of t (c9):\nrestored" * rng.randint(0, 1))
    elif kind == 2:  # JSON tool mode: results written as user messages
        body = rng.choice(("data", _CLEARED + "]", ""))
        out.insert(rng.randint(2, len(out)), Message("user", f"Result of t (c{ids.n}):\n{body}"))
    else:
        out = _rewrite(rng, out, ids)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_turns_and_uncleared_results_agree_with_a_scan_through_a_run_of_rewrites(seed: int):
    rng = random.Random(2000 + seed)
    ids = _Ids()
    memo = PairingMemo()
    history = _history(rng, ids, rng.randint(0, 6))
    for _ in range(30):
        if rng.random() < 0.4:
            history = history + [m for _ in range(rng.randint(0, 3)) for m in _turn(rng, ids)]
            if rng.random() < 0.3:
                history.append(Message("user", f"Result of t (c{ids.n}):\nx"))
            memo.problem(history)
        else:
            after = _result_rewrite(rng, history, ids)
            memo.rewrite_problem(history, after)
            if reference_problem(after) is None or rng.random() < 0.3:
                history = after
        start = rng.randint(0, len(history) + 1)
        found, results = memo.turns_and_cuts(history, start), memo.results(history, start)
        turns = None if found is None else found[0]
        if reference_problem(history) is None:
            assert turns == [
                i for i in range(start, len(history)) if history[i].role == "assistant"
            ]
            assert results == reference_results(history, start)
        else:
            assert turns is None and results is None


@pytest.mark.parametrize("seed", range(15))
def test_compaction_with_the_runs_memo_gives_what_a_fresh_memo_gives(seed: int):
    """Prune and Truncate read the index of a memo that has followed the whole run; a memo that
    sees each history for the first time walks it from scratch.  Their compactions must match."""
    from looplet_core.context.compact import CompactContext, default_compactor
    from looplet_core.context.tokens import ContextMeter

    rng = random.Random(3000 + seed)
    ids = _Ids()
    meter = ContextMeter()
    chain = default_compactor()
    history = _history(rng, ids, 2)
    for _ in range(25):
        new = [m for _ in range(rng.randint(1, 4)) for m in _turn(rng, ids)]
        history = history + [replace(m, content=m.content * 40) for m in new]
        target = max(1, meter.count(history) * rng.choice((3, 5, 9)) // 10)
        ran = chain.compact(history, CompactContext(target, meter, pairing=meter.pairing))
        fresh = chain.compact(history, CompactContext(target, meter))
        assert ran.messages == fresh.messages and ran.stages == fresh.stages
        history = ran.messages


def _equal_copy(message: Message) -> Message:
    """A different object equal to ``message`` (its calls and their arguments copied too)."""
    calls = tuple(ToolCall(c.tool, dict(c.args), c.id, c.parse_error) for c in message.tool_calls)
    return Message(
        message.role, message.content, calls, message.tool_call_id, message.name, message.reasoning
    )


def _some_copied(rng: random.Random, messages: list[Message]) -> list[Message]:
    """``messages`` with a random few (or all, or none) replaced by equal copies."""
    share = rng.choice((0.0, 0.1, 0.5, 1.0))
    return [_equal_copy(m) if rng.random() < share else m for m in messages]


@pytest.mark.parametrize("seed", range(40))
def test_lists_of_equal_copies_are_judged_and_indexed_as_from_scratch(seed: int):
    """The memo recognises the list it remembers by equality, not identity (``_starts_with``):
    lists whose messages are equal copies of the remembered ones, in part or whole, must still
    get exactly the from-scratch verdict, cut points, turns and uncleared results."""
    rng = random.Random(4000 + seed)
    ids = _Ids()
    memo = PairingMemo()
    history = _history(rng, ids, rng.randint(0, 6))
    for _ in range(30):
        if rng.random() < 0.4:
            history = history + [m for _ in range(rng.randint(0, 3)) for m in _turn(rng, ids)]
            if rng.random() < 0.15:
                history = _break(rng, history, ids)
            assert memo.problem(_some_copied(rng, history)) == reference_problem(history)
        else:
            after = _result_rewrite(rng, history, ids)
            verdict = memo.rewrite_problem(_some_copied(rng, history), _some_copied(rng, after))
            assert verdict == reference_problem(after)
            if reference_problem(after) is None or rng.random() < 0.3:
                history = after
        start = rng.randint(0, len(history) + 1)
        shown = _some_copied(rng, history)
        found, results = memo.turns_and_cuts(shown, start), memo.results(shown, start)
        if reference_problem(history) is None:
            assert found is not None
            turns = [i for i in range(start, len(history)) if history[i].role == "assistant"]
            assert found[0] == turns
            assert found[1] == cut_points(history, start)
            assert results == reference_results(history, start)
        else:
            assert found is None and results is None


@pytest.mark.parametrize("seed", range(30))
def test_long_histories_with_edits_at_block_edges_are_judged_as_from_scratch(seed: int):
    """``_differences`` and ``_common_tail`` compare 64 messages as one slice: a history long
    enough for several blocks, edited right at and beside their edges (content cleared, a shape
    changed, a span dropped), must still get the from-scratch verdict and index."""
    rng = random.Random(5000 + seed)
    ids = _Ids()
    memo = PairingMemo()
    history = _history(rng, ids, 80)
    memo.problem(history)
    for _ in range(12):
        if len(history) < 130:  # the run goes on: several blocks again
            history = history + [m for _ in range(40) for m in _turn(rng, ids)]
            memo.problem(history)
        after = list(history)
        edges = range(64, len(after), 64)
        at = min(len(after) - 1, rng.choice(edges) + rng.choice((-1, 0, 1)))
        kind = rng.randrange(3)
        if kind == 0:  # Prune-like: same shape, new content
            after[at] = replace(after[at], content=_CLEARED + "]")
        elif kind == 1:  # a shape change the check must see
            after[at] = replace(after[at], tool_call_id=None if after[at].tool_call_id else "x")
        else:  # Truncate-like: a head, a marker, and a tail from near an edge
            after = [*after[:2], Message("user", "[marker]"), *after[at:]]
        after = _some_copied(rng, after)
        assert memo.rewrite_problem(history, after) == reference_problem(after)
        if reference_problem(after) is None:
            history = after
            found = memo.turns_and_cuts(history, 2)
            assert found is not None and found[1] == cut_points(history, 2)
            assert memo.results(history, 2) == reference_results(history, 2)
