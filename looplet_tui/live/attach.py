"""Following a run another process runs: read its steps from the store, answer its approvals.

``follow(ctl, session, notify)`` runs on the debugger's worker thread in place of a loop.  It
looks at the run whenever the store says something changed (``wait_for_change``: NOTIFY on
PostgreSQL, a poll on SQLite), puts new steps on the controller's timeline, and turns each
pending approval into the same approval card a live run shows.  The decision made there is
written back with ``store.decide``; if another debugger (or ``runs approve``) answered first, the
card goes away and ``notify`` says who answered.  The run's own process acts on whichever answer
the store holds.  Nothing here imports Textual.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from looplet_core import ApprovalRequest, LoopletError, Step, StepStatus, ToolCall, Usage
from looplet_core.durable.checkpoints import load
from looplet_core.durable.runstore import ApprovalRecord, RunStore
from looplet_tui.live.controller import DebugController
from looplet_tui.session import AttachSession

__all__ = ["decision_of", "follow"]

Notify = Callable[[str, str], None]
"""``notify(text, severity)``: a message for the person at the debugger."""


class _UsageView:
    """What ``ctl.watch`` reads usage from: the newest checkpoint's, replaced as they come."""

    def __init__(self) -> None:
        self.usage = Usage()


def decision_of(request: ApprovalRequest) -> dict[str, Any]:
    """The stored form of the decision made on ``request`` in this debugger."""
    assert request.decision is not None
    doc: dict[str, Any] = {"action": request.decision.value}
    if request.edited_args is not None:
        doc["args"] = request.edited_args
    if request.message:
        doc["message"] = request.message
    if request.scope != "once":
        doc["scope"] = request.scope
    if request.match is not None:
        doc["match"] = request.match
    return doc


def follow(ctl: DebugController, session: AttachSession, notify: Notify) -> None:
    store, run_id = session.store, session.run_id
    usage = _UsageView()
    ctl.watch(usage)
    shown: str | None = None
    asked: set[int] = set()
    waiting: set[int] = set()  # step numbers shown as placeholders while awaiting approval
    since: tuple[int, int, int] | None = None
    while not ctl.cancel_token.cancelled:
        now = store.changes(run_id)
        if now != since:
            since = now
            ids = store.list(run_id)
            if ids and ids[-1] != shown:
                shown = ids[-1]
                snapshot = load(store, shown)
                usage.usage = snapshot.state.usage
                for step in snapshot.state.steps:
                    if step.number in waiting:
                        waiting.discard(step.number)
                        ctl.update(step)
                    elif ctl.step(step.number) is None:
                        ctl.record(step)
                if snapshot.checkpoint.reason == "end":
                    ctl.finish(snapshot.state.result)
                    return
            for record in store.approvals(run_id, pending=True):
                if record.id in asked:
                    continue
                asked.add(record.id)
                number = _ask(ctl, store, record, notify)
                if number is not None:
                    waiting.add(number)
                since = None  # look again at once: the run moves on after an answer
                break
        if since is not None:  # until it differs from what was just shown (or a timeout)
            store.wait_for_change(run_id, since, timeout=session.poll)


def _ask(
    ctl: DebugController, store: RunStore, record: ApprovalRecord, notify: Notify
) -> int | None:
    """Show ``record`` as an approval card until it is answered here or elsewhere."""
    try:
        request = ApprovalRequest.from_dict(record.request)
    except (KeyError, ValueError, TypeError) as exc:
        notify(f"approval #{record.id} cannot be shown: {exc}", "error")
        return None
    request.decision = None
    tc = ToolCall(request.tool, dict(request.args), request.call_id)
    step = Step(
        number=request.step,
        tool_call=tc,
        status=StepStatus.AWAITING_APPROVAL,
        run_id=record.run_id,
        approval=request,
    )
    elsewhere: list[ApprovalRecord] = []
    last = [0.0]

    def settled() -> bool:
        if time.monotonic() - last[0] < 0.2:
            return False
        last[0] = time.monotonic()
        current = store.get_approval(record.run_id, record.id)
        if current.pending:
            return False
        elsewhere.append(current)
        return True

    ctl.request_approval(step, settled=settled)
    if request.decided:
        try:
            store.decide(record.run_id, record.id, decision_of(request), by=_me())
        except LoopletError as exc:
            notify(f"not sent: {exc}", "warning")
    elif elsewhere:
        answer = elsewhere[0]
        action = (answer.decision or {}).get("action")
        notify(
            f"answered elsewhere: {action} by {answer.decided_by or '?'} (step {request.step})",
            "information",
        )
    return step.number


def _me() -> str:
    return f"looplet-tui@{socket.gethostname()}"
