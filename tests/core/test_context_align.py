"""A rewrite lined up with the list it replaced (``context/align.py``), and the meter's recount
after a compaction, which updates its tally by that alignment instead of walking the history.

Both are compared with independent from-scratch computations over random histories and random
rewrites: the kinds compaction makes (contents swapped, head + marker + tail, a span replaced) and
arbitrary ones (shuffles, the same object twice, an unrelated list).
"""

from __future__ import annotations

import operator
import random
from collections import Counter

import pytest

from looplet_core.context.align import align
from looplet_core.context.tokens import ROLES, ContextMeter
from looplet_core.messages import Conversation, Message, ToolCall

from .context_helpers import Chars4

_ROLES = ("user", "assistant", "tool", "system")


def _message(rng: random.Random) -> Message:
    role = rng.choice(_ROLES)
    text = "w" * rng.randint(0, 40)
    if role == "tool":
        return Message("tool", text, tool_call_id=f"c{rng.randrange(99)}", name="t")
    if role == "assistant" and rng.random() < 0.5:
        return Message("assistant", text, tool_calls=(ToolCall("t", {"n": 1}, "c1"),))
    return Message(role, text)


def _rewrite(rng: random.Random, messages: list[Message]) -> list[Message]:
    out = list(messages)
    kind = rng.randrange(7)
    if kind == 0 and out:  # Prune: some messages swapped for new ones, same length
        for i in rng.sample(range(len(out)), rng.randint(1, min(5, len(out)))):
            out[i] = Message(out[i].role, "[cleared]", tool_call_id=out[i].tool_call_id)
    elif kind == 1:  # Truncate: head, a marker, a tail
        cut = rng.randint(min(2, len(out)), len(out))
        out = [*out[:2], Message("user", "[removed]"), *out[cut:]]
    elif kind == 2:  # a span replaced by new messages, longer or shorter
        i = rng.randint(0, len(out))
        j = rng.randint(i, len(out))
        out[i:j] = [_message(rng) for _ in range(rng.randint(0, 4))]
    elif kind == 3:
        rng.shuffle(out)
    elif kind == 4 and out:  # the same object twice
        out.insert(rng.randint(0, len(out)), rng.choice(out))
    elif kind == 5:
        out = [_message(rng) for _ in range(rng.randint(0, 8))]
    else:  # Prune then Truncate, as the default chain does in one compaction
        for i in rng.sample(range(len(out)), min(3, len(out))):
            out[i] = Message(out[i].role, "[cleared]")
        out = [*out[:2], *out[rng.randint(min(2, len(out)), len(out)) :]]
    return out


@pytest.mark.parametrize("seed", range(60))
def test_an_alignment_describes_the_rewrite_exactly(seed: int):
    rng = random.Random(seed)
    old = [_message(rng) for _ in range(rng.randint(0, 30))]
    new = _rewrite(rng, old)
    found = align(old, new)
    # Rebuilt from the description alone, the new list is the new list, object for object.
    cut_old, cut_new = len(old) - found.tail, len(new) - found.tail
    assert found.prefix + found.tail == min(len(old), len(new))
    assert all(old[i] is new[i] for i in range(found.prefix))
    assert min(cut_old, cut_new) == found.prefix
    shift = cut_old - cut_new
    for i in range(cut_new, len(new)):
        assert (old[i + shift] is not new[i]) == (i in found.changed)
    assert found.changed == sorted(found.changed)


def _from_scratch(messages: list[Message]) -> tuple[list[int], dict[str, int]]:
    meter = ContextMeter(Chars4())
    counts = [meter.message_tokens(m) for m in messages]
    totals = Counter[str]()
    for message, tokens in zip(messages, counts, strict=True):
        totals[message.role] += tokens
    return counts, {role: totals[role] for role in ROLES if role != "tools"}


@pytest.mark.parametrize("seed", range(60))
def test_the_meter_after_each_rewrite_holds_the_counts_a_recount_from_scratch_gives(seed: int):
    rng = random.Random(500 + seed)
    conversation = Conversation([Message("system", "sys"), Message("user", "task")])
    meter = ContextMeter(Chars4())
    for _ in range(25):
        if rng.random() < 0.5:
            conversation.extend([_message(rng) for _ in range(rng.randint(0, 5))])
        else:
            if rng.random() < 0.5:  # compaction asks for costs first, which builds the id map
                meter.message_costs(list(conversation)[::-1])
            conversation.replace(_rewrite(rng, list(conversation)))
        stats = meter.measure(conversation.view(), [], conversation)
        counts, by_role = _from_scratch(list(conversation))
        assert meter._counts == counts
        assert {r: t for r, t in stats.by_role.items() if r != "tools"} == by_role
        assert meter._totals == {**by_role, "tools": 0}
        # The id map names exactly the messages counted, each with its own count.
        if meter._ids is not None:
            assert meter._ids == {id(m): c for m, c in zip(conversation, counts, strict=True)}
        # The costs of a list made from the history (as a stage plans with), lined up with the
        # tally or not, and a single message's cost, held or not, are counts from scratch.
        planned = _rewrite(rng, list(conversation))
        assert meter.message_costs(planned) == _from_scratch(planned)[0]
        assert meter.message_costs(planned) == _from_scratch(planned)[0]  # the memo's answer
        for message in [*rng.sample(list(conversation), min(3, len(conversation))), _message(rng)]:
            assert meter.scaled_cost(message) == ContextMeter(Chars4()).message_tokens(message)
        assert len(meter._messages) == len(conversation)
        assert all(map(operator.is_, meter._messages, conversation))
