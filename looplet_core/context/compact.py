"""Compaction: make the conversation the model is sent smaller, keeping it valid.

A *stage* is any object with a ``name`` and ``compact(messages, ctx) -> Compacted``.  Three ship:

* ``Prune(keep_last=3)`` clears the text of old tool results, oldest first, leaving a marker that
  says what was there; the newest ``keep_last`` results are never touched.
* ``Summarize(llm=None, keep_turns=2)`` makes one model call that replaces everything between the
  task and the last ``keep_turns`` turns with a structured summary; if the call fails it changes
  nothing and says why, so a chain falls through to its next stage.
* ``Truncate(keep_turns=1)`` drops the oldest turns, leaving a marker.

``compact_chain(*stages)`` runs stages in order until the prompt fits under the target.  Every
stage's output is checked before it is used: the system prompt and the task (the first user
message) must be unchanged and every tool call must still have its result (and every result its
call), since OpenAI-compatible servers reject a conversation that breaks either.  A rewrite that
fails the check is discarded and recorded, never sent.

``Summarize`` lives in ``summarize.py``; the hooks that apply stages to a run, in
``context_hooks.py``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from looplet_core.context.pairing import PairingMemo, pairing_problem
from looplet_core.context.results import PRUNED_PREFIX, result_parts, uncleared_result
from looplet_core.context.tokens import ContextMeter
from looplet_core.errors import ConfigError
from looplet_core.messages import Message

__all__ = [
    "SUMMARY_PREFIX",
    "CompactChain",
    "CompactContext",
    "Compacted",
    "CompactionStage",
    "Prune",
    "Truncate",
    "compact_chain",
    "cut_points",
    "default_compactor",
    "head_length",
    "pairing_problem",
    "rewrite_problem",
    "turn_starts",
]


class _Carried:
    """The uncalibrated cost of each message of one list, carried from whoever made the list to
    whoever prices it next, within one compaction: ``compact_prompt`` reads the history's off
    the meter's tally, a chain carries them to each stage, and ``Prune`` and ``Truncate`` hand
    on their output's, updated by what they changed.  Without this the same list was priced
    (an identity check of every message against the meter's tally or memo) three or four
    times a compaction.

    Keyed on the list object itself (kept alive here, so its id cannot be reused): it is only
    ever set for a list its setter has just made or was just given, and the chain empties it
    when it ends unless the caller holds it (``held``), so a list handed to user code is never
    answered from here afterwards.  Stages must not change the list they are given (it is a
    ``Sequence`` to them), which the chain already relies on."""

    __slots__ = ("held", "messages", "raw", "total")

    def __init__(self) -> None:
        self.messages: Sequence[Message] | None = None
        self.raw: list[int] = []
        self.total = 0
        self.held = False  # the caller empties it (``compact_prompt``), not the chain

    def carry(self, messages: Sequence[Message], raw: list[int], total: int) -> None:
        self.messages, self.raw, self.total = messages, raw, total

    def clear(self) -> None:
        self.messages, self.raw, self.total = None, [], 0


@dataclass(frozen=True, slots=True)
class CompactContext:
    """What a stage may use: the token ``target`` for the whole prompt, the run's ``meter`` (so
    counts match ``Step.context``), the run's model ``llm`` and the ``window``.  ``pairing``
    remembers the tool-call pairing of the lists checked (``pairing.py``); the hooks pass the
    run's own, kept between compactions."""

    target: int
    meter: ContextMeter
    llm: Any = None
    window: int | None = None
    pairing: PairingMemo = field(default_factory=PairingMemo)
    carried: _Carried = field(default_factory=_Carried, init=False, repr=False, compare=False)

    def costs(self, messages: Sequence[Message]) -> list[int]:
        """Calibrated tokens of each message, reusing the meter's counts where it has them."""
        return self.meter.scaled_costs(messages)

    def cost(self, message: Message) -> int:
        """Calibrated tokens of one message (a marker a stage is about to write)."""
        return self.meter.scaled_cost(message)

    def count(self, messages: Sequence[Message]) -> int:
        """Calibrated tokens of the whole prompt these messages would make."""
        meter = self.meter
        return meter.overhead + meter.scale(sum(meter.message_costs(messages)))

    def _raw(self, messages: Sequence[Message]) -> tuple[list[int], int]:
        """Uncalibrated tokens of each message and their sum: carried (``_Carried``) when
        ``messages`` is the list carried, else from the meter."""
        carried = self.carried
        if messages is carried.messages:
            return carried.raw, carried.total
        raw = self.meter.message_costs(messages)
        return raw, sum(raw)

    def _tokens(self, raw_total: int) -> int:
        """``count`` of a list whose uncalibrated message tokens sum to ``raw_total``."""
        meter = self.meter
        return meter.overhead + meter.scale(raw_total)


@dataclass(frozen=True, slots=True)
class Compacted:
    """A stage's result: the new message list and, in words, what it removed or why not.

    ``stages`` is filled by chains: one JSON-safe record per stage that ran."""

    messages: list[Message]
    detail: str
    stages: tuple[dict[str, Any], ...] = ()


@runtime_checkable
class CompactionStage(Protocol):
    """A compaction strategy.  Return the input list itself to say "nothing to do"."""

    @property
    def name(self) -> str: ...

    def compact(self, messages: Sequence[Message], ctx: CompactContext) -> Compacted: ...


# -- the shape of a conversation ----------------------------------------------------------------


def head_length(messages: Sequence[Message]) -> int:
    """Messages that compaction must keep: leading system messages and the task (the first user
    message).  Everything after them may be rewritten."""
    for index, message in enumerate(messages):
        if message.role == "user":
            return index + 1
        if message.role != "system":
            return index
    return len(messages)


def cut_points(messages: Sequence[Message], start: int = 0) -> list[int]:
    """Indices ``i >= start`` where ``messages[:i]`` has every tool call answered: cutting the
    list there (dropping or summarising one side) cannot separate a call from its result."""
    points: list[int] = []
    open_ids: set[str] = set()
    for index, message in enumerate(messages):
        if index >= start and not open_ids and message.role != "tool":
            points.append(index)
        if message.role == "assistant":
            open_ids = {call.id for call in message.tool_calls}
        elif message.role == "tool":
            open_ids.discard(message.tool_call_id or "")
    if len(messages) >= start and not open_ids:
        points.append(len(messages))
    return points


def turn_starts(messages: Sequence[Message], start: int) -> list[int]:
    """Indices ``>= start`` of assistant messages: a turn is a reply and what answers it."""
    return [i for i in range(start, len(messages)) if messages[i].role == "assistant"]


def rewrite_problem(
    before: Sequence[Message], after: Sequence[Message], memo: PairingMemo | None = None
) -> str | None:
    """Why ``after`` is not an acceptable compaction of ``before``, or None if it is.  With a
    ``memo`` the pairing is checked incrementally (same verdict, and ``after`` is remembered)."""
    head = head_length(before)
    if len(after) < head or any(a != b for a, b in zip(before[:head], after[:head], strict=False)):
        return "it changed the system prompt or the task"
    return pairing_problem(after) if memo is None else memo.rewrite_problem(before, after)


# -- stages -------------------------------------------------------------------------------------

TRUNCATED_PREFIX = "[earlier conversation removed to fit the context window"
SUMMARY_PREFIX = "[summary of earlier work, written to save context"
_TRUNCATED_COUNT = re.compile(r"(\d+) messages? removed")


class Prune:
    """Clear the text of old tool results, oldest first, until the prompt fits.

    The newest ``keep_last`` results are never cleared, nor results costing fewer than
    ``min_tokens`` (clearing them would save less than the marker costs).  Each cleared result
    keeps its message (so its call stays answered) with a marker naming the tool and the size of
    what was removed, so the model knows it can call the tool again.  Results are ``tool``
    messages, or in JSON tool mode the "Result of <tool> (<id>):" user messages the loop writes.
    """

    name = "prune"

    def __init__(self, keep_last: int = 3, *, min_tokens: int = 40) -> None:
        if keep_last < 0:
            raise ConfigError(f"Prune keep_last must not be negative, got {keep_last}")
        self.keep_last = keep_last
        self.min_tokens = min_tokens

    def compact(self, messages: Sequence[Message], ctx: CompactContext) -> Compacted:
        head = head_length(messages)
        results = ctx.pairing.results(messages, head)
        if results is None:  # not a valid pairing, so the memo keeps no index: scan
            results = [i for i in range(head, len(messages)) if uncleared_result(messages[i])]
        candidates = results[: max(0, len(results) - self.keep_last)]
        meter = ctx.meter
        raw, raw_total = ctx._raw(messages)  # pyright: ignore[reportPrivateUsage]
        ratio = meter.ratio
        costs = raw if ratio == 1.0 else [round(tokens * ratio) for tokens in raw]
        total = meter.overhead + (raw_total if ratio == 1.0 else sum(costs))
        out = list(messages)
        out_raw: list[int] = []
        cleared: list[str] = []
        for index in candidates:
            if total <= ctx.target:
                break
            parts = result_parts(messages[index])
            if parts is None or costs[index] < self.min_tokens:
                continue
            header, body, tool, call_id = parts
            marker = (
                f"{header}{PRUNED_PREFIX}: {tool} returned {len(body):,} characters here; "
                "call it again if you need them]"
            )
            new = _with_content(out[index], marker)
            new_raw = meter.message_cost(new)
            total -= costs[index] - (new_raw if ratio == 1.0 else round(new_raw * ratio))
            out[index] = new
            if not out_raw:
                out_raw = raw[:]
            raw_total += new_raw - out_raw[index]
            out_raw[index] = new_raw
            cleared.append(call_id or str(index))
        if not cleared:
            return Compacted(
                list(messages),
                f"no old tool result large enough to clear (the last {self.keep_last} are kept)",
            )
        ctx.carried.carry(out, out_raw, raw_total)
        return Compacted(out, f"cleared {len(cleared)} old tool result(s): {', '.join(cleared)}")


def _with_content(message: Message, content: str) -> Message:
    """``dataclasses.replace(message, content=content)``, built directly: ``replace`` inspects
    the fields on every call and costs several times more, once per result ``Prune`` clears.
    (tests/core/test_context_compact.py checks that it carries every field of ``Message``.)"""
    return Message(
        message.role,
        content,
        message.tool_calls,
        message.tool_call_id,
        message.name,
        message.reasoning,
    )


class Truncate:
    """Drop the oldest turns (a reply and the results and notes that answer it) until the prompt
    fits, always keeping the system prompt, the task and the newest ``keep_turns`` turns.

    A marker after the task tells the model that earlier work was removed; repeated truncations
    update that one marker instead of stacking new ones.  Summaries that ``Summarize`` left
    after the task are kept too: they are small and hold what the dropped turns taught.  When
    even the kept turns do not fit, the result is as small as the rules allow and the caller
    sees it is still over target.
    """

    name = "truncate"

    def __init__(self, keep_turns: int = 1) -> None:
        if keep_turns < 1:
            raise ConfigError(f"Truncate keep_turns must be at least 1, got {keep_turns}")
        self.keep_turns = keep_turns

    def compact(self, messages: Sequence[Message], ctx: CompactContext) -> Compacted:
        head = start = head_length(messages)
        pinned: list[int] = []  # summaries, kept; an old marker is replaced by a new one
        dropped_before = 0
        while start < len(messages) and messages[start].content.startswith(
            (SUMMARY_PREFIX, TRUNCATED_PREFIX)
        ):
            found = _TRUNCATED_COUNT.search(messages[start].content)
            if messages[start].content.startswith(TRUNCATED_PREFIX):
                dropped_before += int(found.group(1)) if found else 0
            else:
                pinned.append(start)
            start += 1
        found = ctx.pairing.turns_and_cuts(messages, start)
        if found is None:  # not a valid pairing: the memo keeps no index
            found = turn_starts(messages, start), cut_points(messages, start)
        turns, points = found
        if len(turns) <= self.keep_turns:
            return Compacted(
                list(messages),
                f"only {len(turns)} turn(s) after the task; the last {self.keep_turns} are kept",
            )
        latest_cut = turns[-self.keep_turns]
        points = points[bisect_right(points, start) : bisect_right(points, latest_cut)]
        meter = ctx.meter
        raw, raw_total = ctx._raw(messages)  # pyright: ignore[reportPrivateUsage]
        ratio = meter.ratio
        costs = raw if ratio == 1.0 else [round(tokens * ratio) for tokens in raw]
        kept = meter.overhead + sum(costs[:head]) + sum(costs[i] for i in pinned)
        chosen = latest_cut
        # What the messages from a cut on cost is the whole minus what lies before the cut,
        # summed as the cuts go by: the cut chosen is usually a few turns in, so this looks at
        # those few turns, not the whole history.  A cut whose kept messages alone are over
        # target cannot fit with a marker either, and those cuts come first (what is kept never
        # grows): they are passed without pricing a marker (each marker's text is new to the
        # estimator).
        target = ctx.target
        whole = raw_total if ratio == 1.0 else sum(costs)
        before, at = sum(costs[:start]), start
        for cut in points:
            before += sum(costs[at:cut])
            at = cut
            rest = whole - before  # tokens of messages[cut:]
            if kept + rest > target:
                continue
            marker = self._marker(dropped_before + cut - start)
            if kept + ctx.cost(marker) + rest <= target:
                chosen = cut
                break
        marker = self._marker(dropped_before + chosen - start)
        out = [*messages[:head], *(messages[i] for i in pinned), marker, *messages[chosen:]]
        marker_raw = meter.message_cost(marker)
        out_raw = [*raw[:head], *(raw[i] for i in pinned), marker_raw, *raw[chosen:]]
        raw_total -= sum(raw[head:chosen]) - sum(raw[i] for i in pinned) - marker_raw
        ctx.carried.carry(out, out_raw, raw_total)
        return Compacted(out, f"removed the oldest {chosen - start} message(s) after the task")

    @staticmethod
    @lru_cache(maxsize=256)
    def _marker(count: int) -> Message:
        # Cached: the marker a cut was priced with is the one sent, so the meter prices it once.
        return Message(
            "user",
            f"{TRUNCATED_PREFIX}: {count} messages removed so far. The task "
            "above still stands; continue from the most recent messages below.]",
        )


class CompactChain:
    """Stages run in order until the prompt fits under the target; see the module docstring."""

    def __init__(self, *stages: CompactionStage) -> None:
        if not stages:
            raise ConfigError("compact_chain needs at least one stage")
        self.stages = stages
        self.name = "+".join(stage.name for stage in stages)

    def compact(self, messages: Sequence[Message], ctx: CompactContext) -> Compacted:
        carried = ctx.carried
        raw, raw_total = ctx._raw(messages)  # pyright: ignore[reportPrivateUsage]
        current = list(messages)
        tokens = ctx._tokens(raw_total)  # pyright: ignore[reportPrivateUsage]
        records: list[dict[str, Any]] = []
        for stage in self.stages:
            if tokens <= ctx.target:
                break
            carried.carry(current, raw, raw_total)  # what the stage is given, priced
            out = stage.compact(current, ctx)
            record: dict[str, Any] = {
                "stage": stage.name,
                "detail": out.detail,
                "tokens_before": tokens,
                "messages_before": len(current),
            }
            problem = (
                None
                if out.messages is current
                else rewrite_problem(current, out.messages, ctx.pairing)
            )
            if problem is not None:
                record.update(rejected=problem, tokens_after=tokens, messages_after=len(current))
            else:
                after = tokens
                if out.messages is not current:
                    out_raw, out_total = ctx._raw(out.messages)  # pyright: ignore[reportPrivateUsage]
                    after = ctx._tokens(out_total)  # pyright: ignore[reportPrivateUsage]
                    if out.messages != current:
                        current, tokens, raw, raw_total = out.messages, after, out_raw, out_total
                record.update(tokens_after=after, messages_after=len(out.messages))
            records.append(record)
        if carried.held:  # the caller prices the result next, then empties it
            carried.carry(current, raw, raw_total)
        else:
            carried.clear()
        detail = "; ".join(f"{r['stage']}: {r.get('rejected') or r['detail']}" for r in records)
        return Compacted(current, detail or "already under target", tuple(records))


def compact_chain(*stages: CompactionStage) -> CompactChain:
    """``compact_chain(Prune(), Summarize(), Truncate())``: try the gentlest stage first."""
    return CompactChain(*stages)


def default_compactor() -> CompactChain:
    """Prune then Truncate: no model call, so compaction costs nothing and cannot fail."""
    return CompactChain(Prune(), Truncate())
