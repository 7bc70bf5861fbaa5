"""Tool-call pairing of a history, checked incrementally across the compactions of one run.

Every compaction stage's output is checked so that no tool call loses its result (servers reject
such a conversation).  Checked from scratch, that is a Python walk of the whole history per stage
per compaction.  But a stage's output is mostly its input's own message objects (``Prune`` swaps a
few for copies with a marker as content; ``Truncate`` keeps the head and a tail), messages are
immutable, and the pairing of a list depends only on each message's role, ``tool_call_id`` and
call ids.  So ``PairingMemo`` remembers the last list it verified (its messages, by identity), its
verdict, and its *clean points*: the indices where no call is waiting for its result.  A new list
is then checked by walking only what differs from the remembered one; everything else is C-speed
identity comparison.  Whenever a shortcut does not apply, the full walk runs, so the verdict (and
its wording) is always the one ``pairing_problem`` gives from scratch; tests check exactly that over
random histories and rewrites.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from operator import is_

from looplet_core.messages import Message

__all__ = ["PairingMemo", "pairing_problem"]


def _walk(
    messages: Sequence[Message], start: int, stop: int, open_ids: list[str], clean: list[int]
) -> tuple[str | None, list[str]]:
    """Check ``messages[start:stop]`` from the state ``open_ids`` (the calls still waiting for
    results); append to ``clean`` each index reached with no call waiting.  Returns the first
    problem (or None) and the state at ``stop``.  The one loop both the full check and the
    incremental one use, so the two cannot disagree."""
    for index in range(start, stop):
        message = messages[index]
        role = message.role
        if role == "tool":
            call_id = message.tool_call_id
            if call_id not in open_ids:
                return f"message {index} is a tool result ({call_id}) without its call", open_ids
            open_ids.remove(call_id)
            continue
        if open_ids:
            return f"message {index} comes before the results of calls {open_ids}", open_ids
        clean.append(index)
        if role == "assistant" and message.tool_calls:
            open_ids = [call.id for call in message.tool_calls]
    return None, open_ids


def _verdict(problem: str | None, open_ids: list[str]) -> str | None:
    if problem is None and open_ids:
        return f"calls {open_ids} have no results"
    return problem


def pairing_problem(messages: Sequence[Message]) -> str | None:
    """Why a server would reject this tool-call pairing, or None if it is valid."""
    problem, open_ids = _walk(messages, 0, len(messages), [], [])
    return _verdict(problem, open_ids)


def _same_shape(a: Message, b: Message) -> bool:
    """Whether ``a`` and ``b`` play the same part in the pairing (content aside)."""
    if a.role != b.role or a.tool_call_id != b.tool_call_id:
        return False
    if a.tool_calls is b.tool_calls:
        return True
    return [c.id for c in a.tool_calls] == [c.id for c in b.tool_calls]


def _differences(a: Sequence[Message], b: Sequence[Message]) -> list[int]:
    """Indices where two lists of the same length hold different objects (found at C speed)."""
    same = list(map(is_, a, b))
    out: list[int] = []
    index = -1
    try:
        while True:
            index = same.index(False, index + 1)
            out.append(index)
    except ValueError:
        return out


def _common_prefix(a: Sequence[Message], b: Sequence[Message]) -> int:
    same = list(map(is_, a, b))
    try:
        return same.index(False)
    except ValueError:
        return len(same)


class PairingMemo:
    """The pairing verdict and clean points of the last list verified; see the module docstring.

    One memo serves one run (the meter holds it): it is not shared between threads."""

    __slots__ = ("_clean", "_messages", "_open", "_problem")

    def __init__(self) -> None:
        self._messages: tuple[Message, ...] = ()
        self._clean: list[int] = []  # ascending indices (< len) reached with no call waiting
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
        self._learn(messages)
        if _verdict(self._problem, self._open) is not None:
            return None
        # In a valid list no tool result follows a clean point, and its end is clean.
        clean = self._clean
        if len(messages) < start:
            return []
        return [*clean[bisect_left(clean, start) :], len(messages)]

    def rewrite_problem(self, before: Sequence[Message], after: Sequence[Message]) -> str | None:
        """``pairing_problem(after)``, where ``after`` is a rewrite of ``before``; ``after``
        becomes the list remembered."""
        self._learn(before)
        if len(after) == len(before):
            changed = _differences(before, after)
            if all(_same_shape(before[i], after[i]) for i in changed):
                # Same shapes at every index: the same walk, the same verdict and clean points.
                self._messages = tuple(after)
                return _verdict(self._problem, self._open)
        elif _verdict(self._problem, self._open) is None and self._splice(before, after):
            return None
        self._learn(after, fresh=True)
        return _verdict(self._problem, self._open)

    def _splice(self, before: Sequence[Message], after: Sequence[Message]) -> bool:
        """For a valid ``before``: whether ``after`` is valid because it is ``before``'s own
        messages up to some point, then a new middle, then ``before``'s own tail from a clean
        point on, with the middle walked from a clean point to a clean point.  Remembers
        ``after`` when so."""
        clean, shift = self._clean, len(after) - len(before)
        prefix = _common_prefix(before, after)
        suffix = _common_prefix(after[::-1], before[::-1])
        # Resume at the last clean point inside the shared prefix (0 is always one)...
        resume = clean[bisect_right(clean, prefix) - 1] if clean and clean[0] == 0 else 0
        # ...and rejoin ``before`` at its first clean point inside the shared tail.
        rejoin_at = bisect_left(clean, len(before) - min(suffix, len(after) - resume))
        rejoin = clean[rejoin_at] if rejoin_at < len(clean) else len(before)
        stop = rejoin + shift
        if stop < resume:
            return False
        middle: list[int] = []
        problem, open_ids = _walk(after, resume, stop, [], middle)
        if problem is not None or open_ids:
            return False
        head = clean[: bisect_left(clean, resume)]
        tail = [index + shift for index in clean[rejoin_at:]] if shift else clean[rejoin_at:]
        self._messages = tuple(after)
        self._clean = [*head, *middle, *tail]
        self._problem, self._open = None, []
        return True

    def _learn(self, messages: Sequence[Message], *, fresh: bool = False) -> None:
        """Make ``messages`` the list remembered, walking only what extends the current one."""
        known = self._messages
        if not fresh and len(messages) >= len(known) and all(map(is_, known, messages)):
            if len(messages) == len(known):
                return
            start = len(known)
            if self._problem is None:
                self._problem, self._open = _walk(
                    messages, start, len(messages), list(self._open), self._clean
                )
            self._messages = tuple(messages)
            return
        clean: list[int] = []
        self._problem, self._open = _walk(messages, 0, len(messages), [], clean)
        self._clean = clean
        self._messages = tuple(messages)
