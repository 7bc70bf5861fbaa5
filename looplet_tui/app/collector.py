"""Run Python's young-object collections less often while the debugger is on screen.

Textual allocates thousands of container objects for every frame (segments, strips, styles,
messages).  At CPython's default generation-0 threshold of 700 that is about nine young
collections for each step drawn.  Every tenth collection of generation 1 can then start a full
collection.  A full collection walks the whole heap (the run's history and all of Textual's
objects) while it holds the GIL: 100-400 ms at 1,000 steps.  Pressing ``n`` through a
1,000-step run set one off about every 18 steps: 55 full collections, 10-12 s of the run's
24-28 s of CPU time, and a p95 of 110 ms from key to screen.

With a generation-0 threshold of 20,000 the same session ran 1 full collection, and 1.4-1.8 s
of collector time in all.  The cost is that up to 20,000 young objects can wait for their
collection, so a reference cycle that became garbage is freed a little later (a few MB at
most).  ``docs/debugger.md`` ("Garbage collection") has the figures and the settings that were
tried and not kept.

Only the first threshold is raised, and never lowered: a process that set a higher one keeps it.
Holders are counted across the process, as in ``live.heap``, so two debuggers in one process
(tests) share one setting.  When the last one closes, the old threshold comes back, unless
someone changed it in the meantime: then their value is kept.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["YOUNG_THRESHOLD", "CollectorPace"]

YOUNG_THRESHOLD = 20_000
"""Allocations of container objects between two young (generation 0) collections while held."""

_lock = threading.Lock()
_holders = 0
_before: tuple[int, ...] = ()
"""The process's thresholds when the first holder raised them."""
_set: tuple[int, ...] = ()
"""What the first holder set them to, to tell whether someone changed them since."""


class CollectorPace:
    """One holder of the raised threshold: ``hold`` while the app runs, ``release`` when it
    closes.  Both are idempotent and cheap (no collection)."""

    def __init__(self) -> None:
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> None:
        """Raise the young threshold to ``YOUNG_THRESHOLD`` (if it is lower) until ``release``."""
        global _holders, _before, _set
        with _lock:
            if self._held:
                return
            self._held = True
            _holders += 1
            if _holders == 1:
                _before = gc.get_threshold()
                young, *older = _before
                gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
                _set = gc.get_threshold()

    def release(self) -> None:
        """Let go; the last holder puts back the thresholds it found, if they are still its own."""
        global _holders
        with _lock:
            if not self._held:
                return
            self._held = False
            _holders -= 1
            if _holders == 0 and gc.get_threshold() == _set:
                gc.set_threshold(*_before)
