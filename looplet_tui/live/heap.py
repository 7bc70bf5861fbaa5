"""Keep Python's collector off a run's settled history while the run goes on unattended.

A long run keeps about ten objects a step alive (the step, its messages, call and result), next
to Textual's own objects.  Every full (generation 2) collection walks all of them while holding
the GIL: about 200 ms at 20,000 steps, during which the screen cannot draw and the run cannot
step, and a run going flat out allocates enough to start one every few thousand steps.

What survived a full collection is, at that instant, not garbage.  So while a run goes on
unattended, ``SettledHeap`` freezes (``gc.freeze``) what survived each full collection, right
when it ends: the next full collection walks only what was allocated since.  The cost is that
a reference cycle among frozen objects that becomes garbage later is not freed while frozen, so
the heap is let go (``gc.unfreeze``) as soon as the run stops (a breakpoint, a pause, an
approval, the end) or the debugger closes; the next full collection frees those cycles.

A process that froze objects of its own before the debugger held the heap (a server freezing
after start-up) keeps them, and what the debugger froze, frozen: unfreezing would undo its
choice.  Holders are counted across the process, so two debuggers in one process (tests) share
one freezer and only the last release lets go.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

__all__ = ["SettledHeap"]

_lock = threading.Lock()
_holders = 0
_frozen_before = False
"""Whether the process had frozen objects of its own when the first holder took the heap."""


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    """A ``gc.callbacks`` entry: after a full collection, what is left is live; freeze it."""
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


class SettledHeap:
    """One holder of the process's freezer: ``hold`` while a run goes on, ``release`` when it
    stops.  Both are idempotent and cheap (no collection, no walk of the heap)."""

    def __init__(self) -> None:
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> None:
        """Freeze what survives each full collection from now on (until ``release``)."""
        global _holders, _frozen_before
        with _lock:
            if self._held:
                return
            self._held = True
            _holders += 1
            if _holders == 1:
                _frozen_before = gc.get_freeze_count() > 0
                gc.callbacks.append(_after_collection)

    def release(self) -> None:
        """Stop freezing; the last holder hands what was frozen back to the collector."""
        global _holders
        with _lock:
            if not self._held:
                return
            self._held = False
            _holders -= 1
            if _holders == 0:
                gc.callbacks.remove(_after_collection)
                if not _frozen_before:
                    gc.unfreeze()
