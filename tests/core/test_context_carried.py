"""Costs carried through a compaction (``compact._Carried``) are the costs of the list they go with.

``compact_prompt`` reads the history's message costs off the meter's tally, the chain carries
them to each stage, and ``Prune`` and ``Truncate`` hand on their output's, updated by what they
changed, instead of the meter pricing each list again.  Every carried figure is checked here
against a from-scratch pricing of its list, and whole runs of compactions against the same runs
with nothing carried (every list priced by the meter), over random histories: big and small
results, JSON-mode results, notes, summaries, calibrations that change, stale tallies.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from looplet_core import MockLLMBackend
from looplet_core.context.compact import (
    CompactContext,
    CompactionStage,
    Prune,
    Truncate,
    _Carried,  # pyright: ignore[reportPrivateUsage]
    compact_chain,
    default_compactor,
)
from looplet_core.context.hooks import compact_prompt
from looplet_core.context.prompt import Prompt
from looplet_core.context.summarize import Summarize
from looplet_core.context.tokens import ContextMeter
from looplet_core.messages import Conversation, Message, ToolCall

from .context_helpers import Chars4

SUMMARY = "## Goal\n- go on\n## Findings\n- none\n## Open questions\n- none\n## Decisions\n- go on"


def _chain(rng: random.Random) -> CompactionStage:
    kind = rng.randrange(5)
    if kind == 0:
        return default_compactor()
    if kind == 1:
        return compact_chain(Prune(keep_last=rng.randint(0, 3)), Truncate(rng.randint(1, 3)))
    if kind == 2:
        return Truncate(rng.randint(1, 2))  # a lone stage, not a chain
    if kind == 3:
        return compact_chain(Summarize(MockLLMBackend([SUMMARY] * 50), keep_turns=2), Truncate())
    return compact_chain(Prune(min_tokens=rng.choice((1, 40))), Prune(keep_last=0), Truncate())


def _turn(rng: random.Random, n: int) -> Iterator[Message]:
    calls = tuple(ToolCall("t", {"n": n, "i": i}, f"c{n}_{i}") for i in range(rng.randint(0, 2)))
    yield Message("assistant", "thinking " * rng.randint(0, 5), calls)
    for call in calls:
        yield Message("tool", "r" * rng.choice((5, 300, 2048)), tool_call_id=call.id, name="t")
    if rng.random() < 0.2:  # JSON tool mode writes results as user messages
        yield Message("user", f"Result of t (j{n}):\n" + "j" * rng.choice((10, 900)))
    if rng.random() < 0.1:
        yield Message("user", "a note")


def _run(seed: int, check: bool) -> list[Any]:
    """Reports and histories of a random run's compactions."""
    rng = random.Random(seed)
    meter = ContextMeter(Chars4(), window=4_000)
    conversation = Conversation([Message("system", "sys"), Message("user", "the task")])
    compactor = _chain(rng)
    seen: list[Any] = []
    for step in range(80):
        for message in _turn(rng, step):
            conversation.append(message)
        view = conversation.view()
        stats = meter.measure(view, (), conversation)
        if rng.random() < 0.15:  # the server reported a size: a new calibration
            meter.ratio = rng.choice((1.0, 0.6, 1.3, 2.2))
        if rng.random() < 0.1:  # appended after the last measure: the tally is behind
            conversation.append(Message("user", "late note"))
        if stats.total < 2_500 and rng.random() < 0.8:
            continue
        prompt = Prompt(view, [], step, conversation, stats, meter=meter)
        report = compact_prompt(prompt, compactor, rng.randint(500, 2_200), trigger="test")
        seen.append((step, report.to_dict(), [m.to_dict() for m in conversation]))
        if check:  # what it says it left is what a fresh count of the history says
            fresh = ContextMeter(Chars4())
            raw = sum(map(fresh.message_tokens, conversation))
            assert report.tokens_after == round(raw * meter.ratio)
    return seen


@pytest.fixture
def checked_carries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every carry is checked, when made, against a from-scratch pricing of its list."""
    made: list[int] = []
    real = _Carried.carry

    def carry(self: _Carried, messages: Sequence[Message], raw: list[int], total: int) -> None:
        fresh = ContextMeter(Chars4())
        assert raw == [fresh.message_tokens(m) for m in messages]
        assert total == sum(raw)
        made.append(len(messages))
        real(self, messages, raw, total)

    monkeypatch.setattr(_Carried, "carry", carry)
    return made


@pytest.mark.parametrize("seed", range(40))
def test_every_carried_cost_is_the_cost_of_its_list(seed: int, checked_carries: list[int]):
    _run(seed, check=True)
    assert checked_carries, "nothing was carried: the test checks nothing"


@pytest.mark.parametrize("seed", range(40))
def test_compactions_with_costs_carried_equal_those_priced_by_the_meter(
    seed: int, monkeypatch: pytest.MonkeyPatch
):
    carried = _run(seed, check=False)
    monkeypatch.setattr(_Carried, "carry", lambda self, messages, raw, total: None)
    assert carried == _run(seed, check=False)
    assert carried, "no compaction happened: the test compares nothing"


def test_the_carry_is_empty_after_a_compaction_and_after_a_chain_used_alone():
    meter = ContextMeter(Chars4())
    history = [Message("system", "s"), Message("user", "task")]
    for i in range(6):
        call = ToolCall("t", {}, f"c{i}")
        result = Message("tool", "x" * 400, tool_call_id=f"c{i}")
        history += [Message("assistant", "", (call,)), result]
    ctx = CompactContext(target=100, meter=meter)
    out = default_compactor().compact(history, ctx)
    assert out.messages != history and ctx.carried.messages is None
    conversation = Conversation(history)
    stats = meter.measure(conversation.view(), (), conversation)
    prompt = Prompt(conversation.view(), [], 1, conversation, stats, meter=meter)
    ctx_seen: list[CompactContext] = []
    chain = default_compactor()
    real = chain.compact

    def spy(messages: Sequence[Message], ctx: CompactContext) -> Any:
        ctx_seen.append(ctx)
        return real(messages, ctx)

    chain.compact = spy  # type: ignore[method-assign]
    compact_prompt(prompt, chain, 100, trigger="test")
    assert len(conversation) < len(history)
    assert ctx_seen and ctx_seen[0].carried.messages is None


def test_the_tally_gives_the_histories_costs_only_when_it_is_that_whole_history():
    meter = ContextMeter(Chars4())
    conversation = Conversation([Message("system", "s"), Message("user", "task" * 30)])
    assert meter.conversation_costs(conversation) is None  # never measured
    meter.measure(conversation.view(), (), conversation)
    expected = [meter.message_tokens(m) for m in conversation]
    assert meter.conversation_costs(conversation) == (expected, sum(expected))
    conversation.append(Message("assistant", "more"))
    assert meter.conversation_costs(conversation) is None  # appended since
    meter.measure(conversation.view(), (), conversation)
    assert meter.conversation_costs(conversation) is not None
    conversation.replace([*conversation][:2])
    assert meter.conversation_costs(conversation) is None  # rewritten since
    assert meter.conversation_costs(Conversation(list(conversation))) is None  # another one
