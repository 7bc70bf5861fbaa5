"""How a rewritten message list lines up with the list it replaced, found at C speed.

A compaction keeps most of a history's message objects: ``Prune`` swaps a few for copies with a
marker, ``Truncate`` keeps the head and a tail.  Whoever keeps a figure per message (the token
meter keeps a count per message and totals by role) can then update just what changed instead of
walking the whole history in Python, once it knows what changed.  Finding that out is identity
comparison (``operator.is_`` mapped over both lists, which runs in C); only the differences cost
Python.  The description is exact for any two lists, related or not: unrelated lists simply
differ everywhere, and the caller does as much work as a recount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, count
from operator import is_, is_not

from looplet_core.messages import Message

__all__ = ["Alignment", "align", "common_prefix"]


@dataclass(frozen=True, slots=True)
class Alignment:
    """``new`` described against ``old``.

    ``new[:prefix]`` are ``old[:prefix]`` (the same objects).  The last ``tail`` messages of
    each list sit against each other and are the same objects except at ``changed`` (ascending
    indices into ``new``; ``new[i]`` sits against ``old[i + len(old) - len(new)]``).  What lies
    between, ``old[prefix:len(old) - tail]`` and ``new[prefix:len(new) - tail]``, was dropped
    and added whole (one of the two is empty)."""

    prefix: int
    tail: int
    changed: list[int]


def common_prefix(a: Iterable[Message], b: Iterable[Message], shorter: int) -> int:
    """How many leading messages ``a`` and ``b`` share (the same objects), ``shorter`` being
    the length of the shorter; map and compress stop at the first difference, at C speed."""
    return next(compress(count(), map(is_not, a, b)), shorter)


def align(old: Sequence[Message], new: Sequence[Message]) -> Alignment:
    """Line ``new`` up with ``old``; see ``Alignment``."""
    shorter = min(len(old), len(new))
    prefix = common_prefix(old, new, shorter)
    tail = shorter - prefix
    if not tail:
        return Alignment(prefix, 0, [])
    base = len(new) - tail
    same = list(map(is_, new[base:], old[len(old) - tail :]))
    changed: list[int] = []
    index = -1
    try:
        while True:
            index = same.index(False, index + 1)
            changed.append(base + index)
    except ValueError:  # no difference left
        return Alignment(prefix, tail, changed)
