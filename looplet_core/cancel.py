"""A thread-safe cancel token shared by the caller, the loop and cooperative tools."""

from __future__ import annotations

import threading
import time

__all__ = ["CancelToken"]

_POLL_PARENT_S = 0.05  # how often a child token's wait() looks at its parent


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

    def child(self) -> CancelToken:
        """A token cancelled with this one, that can also be cancelled alone.

        A sub-agent's run gets one: cancelling the parent run stops the child, while a child
        that cancels itself stops only itself (the parent sees a failed tool call and goes on).
        """
        return _ChildToken(self)


class _ChildToken(CancelToken):
    __slots__ = ("_parent",)

    def __init__(self, parent: CancelToken) -> None:
        super().__init__()
        self._parent = parent

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self._parent.cancelled:
            self.reason = self.reason or self._parent.reason
            return True
        return False

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.cancelled:
            left = _POLL_PARENT_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            if self._event.wait(min(left, _POLL_PARENT_S)):
                return True
        return True
