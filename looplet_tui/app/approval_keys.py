"""The approval keys (a, A, d, D, e) as actions of the debugger app.

A mixin so the app's module stays about layout and redrawing; every decision goes through the
controller, which wakes the loop's thread waiting on it.  A refused decision (edited arguments
that do not fit the tool's schema) leaves the call waiting and says why on the card.
"""

from __future__ import annotations

from collections.abc import Callable

from looplet_core import ApprovalError
from looplet_tui.app.base import DebuggerBase
from looplet_tui.screens.deny_message import DenyMessageScreen
from looplet_tui.screens.edit_args import EditArgsScreen
from looplet_tui.widgets.approval_card import ApprovalCard

__all__ = ["ApprovalActions"]


class ApprovalActions(DebuggerBase):
    """Actions deciding the first waiting approval, through the app's controller."""

    def _decide(self, decide: Callable[[], None]) -> None:
        card = self.main.query_one(ApprovalCard)
        try:
            decide()
        except (ApprovalError, LookupError) as exc:
            card.problem = str(exc)
            return
        card.problem = ""

    def action_approve(self) -> None:
        self._decide(self.controller.approve)

    def action_approve_always(self) -> None:
        self._decide(lambda: self.controller.approve(always=True))

    def action_deny(self) -> None:
        self._decide(self.controller.deny)

    def action_deny_with_message(self) -> None:
        waiting = list(self.controller.approvals)
        if not waiting:
            return
        request = waiting[0]

        def done(message: str | None) -> None:
            if message is not None:
                self._decide(lambda: self.controller.deny(request, message))

        self.push_screen(DenyMessageScreen(request), done)

    def action_edit_args(self) -> None:
        waiting = list(self.controller.approvals)
        if not waiting:
            return
        request = waiting[0]

        def done(args: dict[str, object] | None) -> None:
            if args is not None:
                self._decide(lambda: self.controller.approve(request, args=args))

        self.push_screen(EditArgsScreen(request), done)
