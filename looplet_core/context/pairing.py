"""Tool-call pairing of a history, checked incrementally across the compactions of one run.

Every compaction stage's output is checked so that no tool call loses its result (servers reject
such a conversation).  Checked from scratch, that is a Python walk of the whole history per stage
per compaction.  But a stage's output is mostly its input's own message objects (``Prune`` swaps a
few for copies with a marker as content; ``Truncate`` keeps the head and a tail), messages are
immutable, and the pairing of a list depends only on each message's role, ``tool_call_id`` and
call ids.  So ``PairingMemo`` remembers the last list it verified (a copy), its verdict, and its
*clean points*: the indices where no call is waiting for its result.  A new list is then checked
by walking only what differs from the remembered one; everything else is C-speed comparison
(list equality, which passes over the very same objects without a call; equal messages pair
alike).  The same walk also notes where turns start (assistant messages) and which
tool results are not yet cleared, so ``Truncate`` and ``Prune`` read those instead of scanning the
whole history at every compaction.  Whenever a shortcut does not apply, the full walk runs, so
the verdict (and its wording) is always the one ``pairing_problem`` gives from scratch; tests check
exactly that, and the index against a scan, over random histories and rewrites.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import count
from operator import is_
from typing import cast

from looplet_core.context.align import common_prefix
from looplet_core.context.results import PRUNED_PREFIX, uncleared_result
from looplet_core.messages import Message

__all__ = ["PairingMemo", "pairing_problem"]


class _Index:
    """Ascending indices found by a walk: ``clean`` points (no call waiting), ``turns``
    (assistant messages, where turns start) and uncleared ``results`` (``results.py``)."""

    __slots__ = ("clean", "results", "turns")

    def __init__(self) -> None:
        self.clean: list[int] = []
        self.turns: list[int] = []
        self.results: list[int] = []


def _walk(
    messages: Sequence[Message], start: int, stop: int, open_ids: list[str], index: _Index
) -> tuple[str | None, list[str]]:
    """Check ``messages[start:stop]`` from the state ``open_ids`` (the calls still waiting for
    results), appending to ``index`` what it finds.  Returns the first problem (or None) and the
    state at ``stop``; the index is complete only when there is no problem.  The one loop both
    the full check and the incremental one use, so the two cannot disagree."""
    clean, turns, results = index.clean, index.turns, index.results
    for at in range(start, stop):
        message = messages[at]
        role = message.role
        if role == "tool":
            call_id = message.tool_call_id
            if call_id not in open_ids:
                return f"message {at} is a tool result ({call_id}) without its call", open_ids
            open_ids.remove(call_id)
            if not message.content.startswith(PRUNED_PREFIX):
                results.append(at)
            continue
        if open_ids:
            return f"message {at} comes before the results of calls {open_ids}", open_ids
        clean.append(at)
        if role == "assistant":
            turns.append(at)
            if message.tool_calls:
                open_ids = [call.id for call in message.tool_calls]
        elif role == "user" and uncleared_result(message):
            results.append(at)
    return None, open_ids


def _verdict(problem: str | None, open_ids: list[str]) -> str | None:
    if problem is None and open_ids:
        return f"calls {open_ids} have no results"
    return problem


def pairing_problem(messages: Sequence[Message]) -> str | None:
    """Why a server would reject this tool-call pairing, or None if it is valid."""
    problem, open_ids = _walk(messages, 0, len(messages), [], _Index())
    return _verdict(problem, open_ids)


def _same_shape(a: Message, b: Message) -> bool:
    """Whether ``a`` and ``b`` play the same part in the pairing (content aside)."""
    if a.role != b.role or a.tool_call_id != b.tool_call_id:
        return False
    if a.tool_calls is b.tool_calls:
        return True
    return [c.id for c in a.tool_calls] == [c.id for c in b.tool_calls]


_BLOCK = 64  # messages compared as one slice before looking at them one by one


def _differences(a: Sequence[Message], b: Sequence[Message]) -> list[int]:
    """Indices where two lists of the same length hold messages that are not equal (equal
    messages pair alike, ``_starts_with``).  Compared a block at a time by list equality, at C
    speed; only a block that differs is looked at message by message."""
    a, b = _as_list(a), _as_list(b)
    out: list[int] = []
    try:
        for low in range(0, len(a), _BLOCK):
            high = low + _BLOCK
            if a[low:high] != b[low:high]:
                # (``is not`` first: ``!=`` alone would compare the fields of every message)
                pairs = zip(count(low), a[low:high], b[low:high])
                out += [i for i, x, y in pairs if x is not y and x != y]
    except Exception:  # arguments whose equality cannot be decided: compare objects
        return [i for i, same in enumerate(map(is_, a, b)) if not same]
    return out


def _common_tail(a: Sequence[Message], b: Sequence[Message], limit: int) -> int:
    """How many trailing messages of ``a`` and ``b`` are equal, at most ``limit`` (no more than
    the shorter's length); compared a block at a time from the end, like ``_differences``."""
    a, b = _as_list(a), _as_list(b)
    end_a, end_b, same = len(a), len(b), 0
    try:
        while same < limit:
            size = min(_BLOCK, limit - same)
            if a[end_a - same - size : end_a - same] == b[end_b - same - size : end_b - same]:
                same += size
                continue
            pairs = zip(
                count(),
                reversed(a[end_a - same - size : end_a - same]),
                reversed(b[end_b - same - size : end_b - same]),
            )
            return same + next(k for k, x, y in pairs if x is not y and x != y)
    except Exception:  # arguments whose equality cannot be decided: compare objects
        return common_prefix(reversed(a), reversed(b), limit)
    return same


def _as_list(messages: Sequence[Message]) -> list[Message]:
    return cast("list[Message]", messages) if type(messages) is list else list(messages)


class PairingMemo:
    """The pairing verdict and index (``_Index``) of the last list verified; see the module
    docstring.  One memo serves one run (the meter holds it): it is not shared between threads."""

    __slots__ = ("_index", "_messages", "_open", "_problem")

    def __init__(self) -> None:
        self._messages: list[Message] = []  # a copy: callers may change their lists
        self._index = _Index()  # of indices < len; complete only when there is no problem
        self._problem: str | None = None  # the first problem inside the list, if any
        self._open: list[str] = []  # calls waiting at the end of the list

    def problem(self, messages: Sequence[Message]) -> str | None:
        """``pairing_problem(messages)``; walks only what was appended since the list verified
        last when ``messages`` extends it (the history, compaction after compaction)."""
        self._learn(messages)
        return _verdict(self._problem, self._open)

    def cut_points(self, messages: Sequence[Message], start: int = 0) -> list[int] | None:
        """``compact.cut_points(messages, start)`` from the clean points, when ``messages`` is
        a valid pairing; None when it is not (the caller then computes them itself)."""
        found = self.turns_and_cuts(messages, start)
        return None if found is None else found[1]

    def turns_and_cuts(
        self, messages: Sequence[Message], start: int = 0
    ) -> tuple[list[int], list[int]] | None:
        """``compact.turn_starts(messages, start)`` (indices of assistant messages) and
        ``cut_points(messages, start)``, for one check of ``messages`` (what ``Truncate``
        needs), when it is a valid pairing; None when it is not."""
        index = self._valid(messages)
        if index is None:
            return None
        turns = index.turns[bisect_left(index.turns, start) :]
        if len(messages) < start:
            return turns, []
        # In a valid list no tool result follows a clean point, and its end is clean.
        return turns, [*index.clean[bisect_left(index.clean, start) :], len(messages)]

    def results(self, messages: Sequence[Message], start: int = 0) -> list[int] | None:
        """Indices ``>= start`` of the tool results ``Prune`` has not cleared (``results.py``),
        when ``messages`` is a valid pairing; None when it is not."""
        index = self._valid(messages)
        return None if index is None else index.results[bisect_left(index.results, start) :]

    def rewrite_problem(self, before: Sequence[Message], after: Sequence[Message]) -> str | None:
        """``pairing_problem(after)``, where ``after`` is a rewrite of ``before``; ``after``
        becomes the list remembered."""
        self._learn(before)
        if len(after) == len(before):
            changed = _differences(before, after)
            if all(_same_shape(before[i], after[i]) for i in changed):
                # Same shapes at every index: the same walk, verdict, clean points and turns;
                # only whether a changed message is an uncleared result may differ.
                self._messages = list(after)
                results = self._index.results
                for i in changed:
                    at = bisect_left(results, i)
                    was = at < len(results) and results[at] == i
                    now = uncleared_result(after[i])
                    if was and not now:
                        del results[at]
                    elif now and not was:
                        results.insert(at, i)
                return _verdict(self._problem, self._open)
        elif _verdict(self._problem, self._open) is None and self._splice(before, after):
            return None
        self._learn(after, fresh=True)
        return _verdict(self._problem, self._open)

    def _valid(self, messages: Sequence[Message]) -> _Index | None:
        """The index of ``messages`` if its pairing is valid (so the walk went to its end)."""
        self._learn(messages)
        return self._index if _verdict(self._problem, self._open) is None else None

    def _splice(self, before: Sequence[Message], after: Sequence[Message]) -> bool:
        """For a valid ``before``: whether ``after`` is valid because it is ``before``'s own
        messages up to some point, then a new middle, then ``before``'s own tail from a clean
        point on, with the middle walked from a clean point to a clean point.  Remembers
        ``after`` when so."""
        old, shift = self._index, len(after) - len(before)
        clean = old.clean
        shorter = min(len(before), len(after))
        prefix = common_prefix(before, after, shorter)
        suffix = _common_tail(after, before, shorter)
        # Resume at the last clean point inside the shared prefix (0 is always one)...
        resume = clean[bisect_right(clean, prefix) - 1] if clean and clean[0] == 0 else 0
        # ...and rejoin ``before`` at its first clean point inside the shared tail.
        rejoin_at = bisect_left(clean, len(before) - min(suffix, len(after) - resume))
        rejoin = clean[rejoin_at] if rejoin_at < len(clean) else len(before)
        stop = rejoin + shift
        if stop < resume:
            return False
        new = _Index()
        problem, open_ids = _walk(after, resume, stop, [], new)
        if problem is not None or open_ids:
            return False
        # Before ``resume`` and from ``rejoin`` on, ``after`` holds ``before``'s own messages.
        for name in _Index.__slots__:
            found: list[int] = getattr(old, name)
            head = found[: bisect_left(found, resume)]
            tail = found[bisect_left(found, rejoin) :]
            setattr(new, name, [*head, *getattr(new, name), *_shifted(tail, shift)])
        self._messages = list(after)
        self._index = new
        self._problem, self._open = None, []
        return True

    def _learn(self, messages: Sequence[Message], *, fresh: bool = False) -> None:
        """Make ``messages`` the list remembered, walking only what extends the current one."""
        known = self._messages
        if not fresh and len(messages) >= len(known) and _starts_with(messages, known):
            if len(messages) == len(known):
                return
            start = len(known)
            if self._problem is None:
                self._problem, self._open = _walk(
                    messages, start, len(messages), list(self._open), self._index
                )
            self._messages = list(messages)
            return
        self._index = _Index()
        self._problem, self._open = _walk(messages, 0, len(messages), [], self._index)
        self._messages = list(messages)


def _starts_with(messages: Sequence[Message], known: list[Message]) -> bool:
    """Whether ``messages`` begins with messages equal to ``known``'s, one by one.

    Equal, not the same objects: the walk reads only fields that ``Message`` equality compares
    (role, content, call ids), so equal lists pair alike and index alike.  List equality takes
    a message that is the same object as equal without calling anything, so this runs at C
    speed, several times faster than an identity check mapped over the lists; only messages
    that are different objects cost a comparison of their fields."""
    items = _as_list(messages)
    try:
        return (items if len(items) == len(known) else items[: len(known)]) == known
    except Exception:  # arguments whose equality cannot be decided: compare objects
        return all(map(is_, known, items))


def _shifted(indices: list[int], shift: int) -> list[int]:
    """``indices`` each moved by ``shift`` (a truncation moves the whole kept tail)."""
    return list(map(shift.__add__, indices)) if shift else indices
