"""Following a run another process runs: read its steps from the store, answer its approvals.

``follow(ctl, session, notify)`` runs on the debugger's worker thread in place of a loop.  It
looks at the run whenever the store says something changed (``wait_for_change``: NOTIFY on
PostgreSQL, a poll on SQLite), puts new steps on the controller's timeline, and turns each
pending approval into the same approval card a live run shows.  ``p`` asks the run to pause
before its next call; a run paused at a breakpoint (set here, or with ``runs pause``) shows
paused here until ``c`` lets it go on, or ``n`` / ``s`` let it make one call and pause again
before the next.  The breakpoints shown are the store's (``StoreBreakpointSet``), read again on
every look.  The decision made there is
written back with ``store.decide``; if another debugger (or ``runs approve``) answered first, the
card goes away and ``notify`` says who answered.  The run's own process acts on whichever answer
the store holds.  Nothing here imports Textual.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from looplet_core import ApprovalRequest, LoopletError, Step, StepStatus, ToolCall, Usage
from looplet_core.errors import StoreError
from looplet_tui.live.controller import DebugController
from looplet_tui.live.store_breakpoints import StoreBreakpointSet
from looplet_tui.session import AttachSession

if TYPE_CHECKING:
    from looplet_core.durable.runstore import ApprovalRecord, RunStore

__all__ = ["debugger_name", "decision_of", "follow"]

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
    # Imported here, not at the top: the debugger imports this module for replays too.
    from looplet_core.durable.checkpoints import load
    from looplet_core.durable.runstore import RunStatus
    from looplet_core.runs.headless import pause_run

    store, run_id = session.store, session.run_id
    usage = _UsageView()
    ctl.watch(usage)
    shown: str | None = None
    asked: set[int] = set()
    waiting: set[int] = set()  # step numbers shown as placeholders while awaiting approval
    since: tuple[int, int, int] | None = None
    asked_pause = False
    while not ctl.cancel_token.cancelled:
        _pull(ctl)
        if ctl.pause_requested and not asked_pause:  # p: pause the run before its next call
            pause_run(store, run_id)
            asked_pause = True
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
        if store.run_info(run_id).status == RunStatus.PAUSED:  # its steps so far are shown
            if _hold(ctl, store, run_id):
                asked_pause = False
                since = None
            elif since is None:  # between a release and the run going on: look again soon
                since = store.changes(run_id)
        if since is not None:  # until it differs from what was just shown (or a timeout)
            store.wait_for_change(run_id, since, timeout=session.poll)


def _pull(ctl: DebugController) -> None:
    """Show the breakpoints the store holds now (others may have changed them)."""
    if isinstance(ctl.breakpoints, StoreBreakpointSet) and ctl.breakpoints.pull():
        ctl.changed()


def _paused_at(store: RunStore, run_id: str) -> int | None:
    """The step the run is paused before, or None while no pause stands (none asked, or its
    release is written and the run has not read it yet)."""
    entries = store.breakpoints(run_id)
    at = [e["paused_at"] for e in entries if isinstance(e.get("paused_at"), int)]
    if not at or any(e.get("release") == at[-1] for e in entries):
        return None
    return at[-1]


def _hold(ctl: DebugController, store: RunStore, run_id: str) -> bool:
    """The run paused at a breakpoint where it runs: show it paused until ``c`` lets it go
    (``n`` or ``s``: for one call, then it pauses again before the next).  Returns False, at
    once, when the store shows no standing pause (the run is between a release and going on)."""
    step = _paused_at(store, run_id)
    if step is None:
        return False
    last = [0.0]

    def settled() -> bool:  # went on elsewhere (runs continue), maybe already paused again
        if time.monotonic() - last[0] < 0.25:
            return False
        last[0] = time.monotonic()
        _pull(ctl)
        return _paused_at(store, run_id) != step

    if ctl.hold(step, "paused where it runs (breakpoint)", settled=settled):
        from looplet_core.runs.headless import continue_run

        with suppress(StoreError):  # continued elsewhere in the meantime: nothing to do
            continue_run(store, run_id, step=ctl.step_requested)
    return True


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
        _pull(ctl)
        current = store.get_approval(record.run_id, record.id)
        if current.pending:
            return False
        elsewhere.append(current)
        return True

    ctl.request_approval(step, settled=settled)
    if request.decided:
        try:
            store.decide(record.run_id, record.id, decision_of(request), by=debugger_name())
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


def debugger_name() -> str:
    """Who this debugger is, in the store (`looplet-tui@host`): approvals and breakpoints."""
    return f"looplet-tui@{socket.gethostname()}"
