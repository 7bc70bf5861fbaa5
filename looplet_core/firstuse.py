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

``ContextStats.by_role`` works the same way with a dict: every step keeps the context meter's
stats, and a five-key dict is 184 bytes where the tuple of its five counts, in a fixed key
order, is 80.  The dict is made (and kept) when the field is first read, which for most steps
of a long run is never: writers copy it from the tuple (``DictOnFirstUse.copy``).

Threads: making the list holds one lock (the first read only; later reads take none), so a
debugger's thread reading a step's decisions for the first time while the run's thread appends
to them (after an approval, say) cannot end with two lists and one append lost.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "NOT_YET",
    "DictOnFirstUse",
    "ListOnFirstUse",
    "dict_on_first_use",
    "first_use",
    "lists_on_first_use",
]

T = TypeVar("T")
C = TypeVar("C", bound=type)

_MAKING = threading.Lock()

NOT_YET: Any = None
"""Passed for a first-use list field: the list is made when the field is first read."""


class _OnFirstUse:
    """A data descriptor over a slot that holds ``None``, a tuple, or the made value.

    A read of ``None`` or a tuple makes the value (``_make``) once, under the lock, and stores
    it in the slot; every later read returns what the slot holds.
    """

    __slots__ = ("_get", "_set", "name")

    def __init__(self, slot: Any, name: str) -> None:
        self._get = slot.__get__
        self._set = slot.__set__
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self._get(obj)
        if value is not None and type(value) is not tuple:
            return value
        with _MAKING:
            value = self._get(obj)  # again: another thread may have made it meanwhile
            if value is not None and type(value) is not tuple:
                return value
            value = self._make(cast("tuple[Any, ...] | None", value))
            self._set(obj, value)
        return value

    def __set__(self, obj: object, value: object) -> None:
        self._set(obj, value)

    def _make(self, value: tuple[Any, ...] | None) -> object:
        raise NotImplementedError


class ListOnFirstUse(_OnFirstUse, Generic[T]):
    """Reads return a list, made from ``None`` or a tuple once."""

    __slots__ = ()

    def _make(self, value: tuple[Any, ...] | None) -> list[T]:
        return [] if value is None else list(cast(tuple[T, ...], value))

    def stored(self, obj: object) -> tuple[T, ...] | list[T]:
        """What the slot holds, as something to iterate, without making the list."""
        value = self._get(obj)
        return () if value is None else value


class DictOnFirstUse(_OnFirstUse):
    """Reads return a dict, made once from ``None`` (empty) or a tuple of the values of
    ``keys``, in that order."""

    __slots__ = ("keys",)

    def __init__(self, slot: Any, name: str, keys: tuple[str, ...]) -> None:
        super().__init__(slot, name)
        self.keys = keys

    def _make(self, value: tuple[Any, ...] | None) -> dict[str, Any]:
        return {} if value is None else dict(zip(self.keys, value, strict=True))

    def copy(self, obj: object) -> dict[str, Any]:
        """A new dict equal to the field's, without making (and keeping) the field's own."""
        value = self._get(obj)
        if value is None or type(value) is tuple:
            return self._make(cast("tuple[Any, ...] | None", value))
        return dict(cast("dict[str, Any]", value))


def lists_on_first_use(cls: C, *names: str) -> C:
    """Put a ``ListOnFirstUse`` over each named slot of the slotted dataclass ``cls``."""
    for name in names:
        setattr(cls, name, ListOnFirstUse[Any](_plain_slot(cls, name), name))
    return cls


def dict_on_first_use(cls: C, name: str, keys: tuple[str, ...]) -> C:
    """Put a ``DictOnFirstUse`` with ``keys`` over the named slot of the slotted dataclass."""
    setattr(cls, name, DictOnFirstUse(_plain_slot(cls, name), name, keys))
    return cls


def _plain_slot(cls: type, name: str) -> Any:
    slot = cls.__dict__[name]
    if type(slot).__name__ != "member_descriptor":  # a second call, or not a slot
        raise TypeError(f"{cls.__name__}.{name} is not a plain slot")
    return slot


def first_use(cls: type, name: str) -> ListOnFirstUse[Any]:
    """The descriptor of ``cls.name`` (for its ``stored`` reader)."""
    return cast(ListOnFirstUse[Any], cls.__dict__[name])
