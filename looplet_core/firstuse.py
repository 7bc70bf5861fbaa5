"""Fields made on first use: ``Step.decisions``, ``LLMCall.tool_calls`` and ``failures`` (lists),
``ContextStats.by_role`` (a dict).

Why: a run keeps every step it made, and each empty ``decisions`` list, each copied
``tool_calls`` list and each empty ``failures`` list was an object the cyclic garbage collector
walked on every collection (3 of the 13 objects a plain step kept) and about 180 bytes a step.
Most of them are never read.

So the slot holds ``None`` (nothing yet) or a tuple (an immutable source, such as the model's
calls, which the step's assistant message holds too), and the list the field's type promises is
made the first time the field is read, then kept: reading, appending, comparing, printing,
copying and saving behave as if the list had always been there.  ``stored`` reads the slot
without making the list, for writers (``to_dict``) that only iterate it.

``ContextStats.by_role`` works the same way with a dict (``PackedOnFirstUse``): every step keeps
the context meter's stats, whose five counts in a fixed key order fit one int (``records.py``
packs them).  The dict is made and kept when the field is first read, which for most steps of a
long run is never; writers read the int (``stored``).

Threads: making the value holds one lock (the first read only; later reads take none), so a
debugger's thread reading a step's decisions for the first time while the run's thread appends
to them (after an approval, say) cannot end with two lists and one append lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "NOT_YET",
    "ListOnFirstUse",
    "PackedOnFirstUse",
    "first_use",
    "lists_on_first_use",
    "packed_on_first_use",
]

T = TypeVar("T")
C = TypeVar("C", bound=type)

_MAKING = threading.Lock()

NOT_YET: Any = None
"""Passed for a first-use list field: the list is made when the field is first read."""


class _OnFirstUse:
    """A data descriptor over a slot, whose reads go through ``__get__`` (the subclass's)."""

    __slots__ = ("_get", "_set", "name")

    def __init__(self, slot: Any, name: str) -> None:
        self._get = slot.__get__
        self._set = slot.__set__
        self.name = name

    def __set__(self, obj: object, value: object) -> None:
        self._set(obj, value)


class ListOnFirstUse(_OnFirstUse, Generic[T]):
    """Reads return a list, made from ``None`` or a tuple once."""

    __slots__ = ()

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self._get(obj)
        if value is not None and type(value) is not tuple:
            return value
        with _MAKING:
            value = self._get(obj)  # again: another thread may have made it meanwhile
            if value is None:
                value = []
            elif type(value) is tuple:
                value = list(cast(tuple[T, ...], value))
            else:
                return value
            self._set(obj, value)
        return value

    def stored(self, obj: object) -> tuple[T, ...] | list[T]:
        """What the slot holds, as something to iterate, without making the list."""
        value = self._get(obj)
        return () if value is None else value


class PackedOnFirstUse(_OnFirstUse):
    """Reads return the value ``unpack`` makes, once, from the int the slot holds.

    Whatever else the slot holds (a value given as it is) is returned as it is.
    """

    __slots__ = ("unpack",)

    def __init__(self, slot: Any, name: str, unpack: Callable[[int], object]) -> None:
        super().__init__(slot, name)
        self.unpack = unpack

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self._get(obj)
        if type(value) is not int:
            return value
        with _MAKING:
            value = self._get(obj)  # again: another thread may have made it meanwhile
            if type(value) is int:
                value = self.unpack(value)
                self._set(obj, value)
        return value

    def stored(self, obj: object) -> object:
        """What the slot holds, the int or the value, without making the value."""
        return self._get(obj)


def lists_on_first_use(cls: C, *names: str) -> C:
    """Put a ``ListOnFirstUse`` over each named slot of the slotted dataclass ``cls``."""
    for name in names:
        setattr(cls, name, ListOnFirstUse[Any](_plain_slot(cls, name), name))
    return cls


def packed_on_first_use(cls: C, name: str, unpack: Callable[[int], object]) -> C:
    """Put a ``PackedOnFirstUse`` with ``unpack`` over the named slot of the slotted dataclass."""
    setattr(cls, name, PackedOnFirstUse(_plain_slot(cls, name), name, unpack))
    return cls


def _plain_slot(cls: type, name: str) -> Any:
    slot = cls.__dict__[name]
    if type(slot).__name__ != "member_descriptor":  # a second call, or not a slot
        raise TypeError(f"{cls.__name__}.{name} is not a plain slot")
    return slot


def first_use(cls: type, name: str) -> ListOnFirstUse[Any]:
    """The descriptor of ``cls.name`` (for its ``stored`` reader)."""
    return cast(ListOnFirstUse[Any], cls.__dict__[name])
