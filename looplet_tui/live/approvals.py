"""``Approvals``: a step waiting for a person's yes or no, and the answer.

The thread that iterates the loop calls ``request_approval`` when a step waits for approval; it
blocks there, the request shown in ``approvals``, until the UI approves or denies it (any
thread) or the run is cancelled, which leaves it undecided for a resume to decide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from looplet_core import ApprovalRequest, Step
from looplet_tui.live.runstate import RunState
from looplet_tui.live.stop_edits import StopEdits

__all__ = ["Approvals"]


class Approvals(StopEdits):
    """Approve and deny (any thread); ``request_approval`` (the loop's thread) waits for them."""

    def approve(
        self,
        request: ApprovalRequest | None = None,
        *,
        args: dict[str, Any] | None = None,
        always: bool = False,
    ) -> None:
        """Approve ``request`` (default: the first waiting), optionally with edited ``args``.

        Invalid ``args`` raise ``ApprovalError`` and leave the request waiting, so the editor can
        show the problem and let the user fix it.
        """
        target = self._waiting(request)
        target.approve(args, by="debugger", scope="always" if always else "once")
        self._decided()

    def deny(
        self, request: ApprovalRequest | None = None, message: str = "", *, always: bool = False
    ) -> None:
        """Deny ``request`` (default: the first waiting); ``message`` is what the model is told."""
        target = self._waiting(request)
        target.deny(message, by="debugger", scope="always" if always else "once")
        self._decided()

    def _waiting(self, request: ApprovalRequest | None) -> ApprovalRequest:
        with self._lock:
            if request is None:
                if not self.approvals:
                    raise LookupError("no approval is waiting")
                return self.approvals[0]
            return request

    def _decided(self) -> None:
        with self._lock:
            self._cond.notify_all()

    def request_approval(self, step: Step, *, settled: Callable[[], bool] | None = None) -> None:
        """Block the loop's thread until the UI decides ``step.approval`` or the run is cancelled.

        A cancel leaves the request undecided: the loop then ends with ``awaiting_approval`` and
        the request stays in the run's state (and checkpoint), so a resume can still decide it.
        ``settled`` (an attached run) is asked every poll whether someone else answered it; then
        the card goes away undecided here.
        """
        request = step.approval
        if request is None or request.decided:
            return
        self.record(step)
        with self._lock:
            self.approvals.append(request)
            self.run_state = RunState.AWAITING_APPROVAL
            self.live = None
        self._changed()
        with self._lock:
            self._wait_for(lambda: request.decided, settled)
            self.approvals.remove(request)
            if not self.approvals:
                self.run_state = RunState.RUNNING
            self._bump(step.number)
        self._changed()
