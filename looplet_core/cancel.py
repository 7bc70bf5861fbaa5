"""A thread-safe cancel token shared by the caller, the loop and cooperative tools."""

from __future__ import annotations

import threading

__all__ = ["CancelToken"]


class CancelToken:
    """Set once to ask the run (and any tool that polls it) to stop cleanly."""

    __slots__ = ("_event", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` seconds; returns True early if cancelled meanwhile."""
        return self._event.wait(timeout)
