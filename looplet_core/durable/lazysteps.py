"""``LazyStepLog``: a restored run's steps, decoded from their checkpoints' text on first full read.

Why: resuming a long run needs its messages (the next prompt) and its last step (what the state
continues from), not the thousand steps before it; decoding those was half the time of a resume.
So a store's fast load hands over the steps as ``StepSource``s plus the last step, decoded: a
run store's (``chainfold``) as ``StepSegment``s (each a checkpoint's document, as text, and how
many of its ``steps.add`` entries survive the fold), the file store's (``logfold``) as one
source that folds them from its records' text.  Appending, ``len``, ``last`` and indexing the
last step or any step added since never decode; anything that reads an older step (iteration,
``errors``, ``by_tool``, an index or slice reaching before the last step) decodes them all once,
keeping the decoded last step's identity.

A damaged older step therefore surfaces on that first read, as the same ``CheckpointError`` a full
load would have raised, naming the checkpoint (docs/stores.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol, cast, overload

from looplet_core.errors import CheckpointError
from looplet_core.state import StepLog
from looplet_core.step import Step

__all__ = ["LazyStepLog", "StepSegment", "StepSource"]

DECODE_ERRORS = (KeyError, ValueError, TypeError, AttributeError, OverflowError)
"""What ``Step.from_dict`` raises on a damaged record (``checkpoints.load`` catches the same)."""


class StepSource(Protocol):
    """Steps not decoded yet: ``used`` of them, as ``records()`` gives them (decoding their
    text, raising ``CheckpointError`` naming where they are if it does not decode)."""

    @property
    def used(self) -> int: ...

    def records(self) -> list[dict[str, Any]]: ...


class StepSegment(NamedTuple):
    """The first ``used`` entries of ``steps.add`` in the checkpoint document ``doc`` (JSON text
    the store has checked); ``source`` names that checkpoint in errors."""

    doc: str
    used: int
    source: str

    def records(self) -> list[dict[str, Any]]:
        try:
            raw: object = json.loads(self.doc)
            entries: object = cast(dict[str, Any], raw)["steps"]["add"]
        except (ValueError, RecursionError, TypeError, KeyError) as exc:
            raise CheckpointError(f"{self.source}: steps.add does not decode: {exc}") from None
        if not isinstance(entries, list) or len(cast(list[Any], entries)) < self.used:
            raise CheckpointError(f"{self.source}: steps.add changed since the run was loaded")
        kept = cast(list[Any], entries)[: self.used]
        for entry in kept:
            if not isinstance(entry, dict):
                raise CheckpointError(f"{self.source}: an entry of steps.add is not an object")
        return cast(list[dict[str, Any]], kept)


class LazyStepLog(StepLog):
    """A ``StepLog`` whose first ``head`` steps are still ``segments`` of text (see the module
    docstring); ``decoded`` is the last restored step.  ``state`` names the loaded checkpoint in
    the error a damaged step raises."""

    __slots__ = ("_head", "_lock", "_segments", "_state_source")

    def __init__(self, segments: Sequence[StepSource], decoded: Step, state_source: str) -> None:
        super().__init__((decoded,))
        self._segments: tuple[StepSource, ...] = tuple(segments)
        self._head = sum(s.used for s in self._segments)
        self._state_source = state_source
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """How many steps are not decoded yet (0 once any older step has been read)."""
        return self._head

    def _decode(self) -> None:
        with self._lock:
            if not self._head:
                return
            try:
                older = [Step.from_dict(r) for seg in self._segments for r in seg.records()]
            except DECODE_ERRORS as exc:
                raise CheckpointError(
                    f"{self._state_source}: the saved state does not decode "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            self._steps[:0] = older
            self._segments, self._head = (), 0

    def _all(self) -> list[Step]:
        self._decode()
        return self._steps

    def append(self, step: Step) -> None:
        self._steps.append(step)

    @property
    def last(self) -> Step | None:
        return self._steps[-1]

    def errors(self) -> list[Step]:
        return [s for s in self._all() if s.tool_result.error is not None]

    def by_tool(self, name: str) -> list[Step]:
        return [s for s in self._all() if s.tool == name]

    def __len__(self) -> int:
        return self._head + len(self._steps)

    @overload
    def __getitem__(self, index: int) -> Step: ...
    @overload
    def __getitem__(self, index: slice) -> list[Step]: ...
    def __getitem__(self, index: int | slice) -> Step | list[Step]:
        head = self._head
        if isinstance(index, slice):
            picked = range(*index.indices(len(self)))
            if head and (not picked or min(picked) >= head):
                return [self._steps[i - head] for i in picked]
            return self._all()[index]
        at = index + len(self) if index < 0 else index
        if head and at >= head:
            return self._steps[at - head]  # past the end raises list's IndexError
        if at < 0:
            raise IndexError("StepLog index out of range")
        return self._all()[at]

    def __iter__(self) -> Iterator[Step]:
        return iter(self._all())

    def __repr__(self) -> str:
        return f"StepLog({len(self)} steps)"
