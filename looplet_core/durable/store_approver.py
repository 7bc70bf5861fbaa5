"""A headless run answered from elsewhere: ``StoreApprover`` and ``StoreEventLog``.

``StoreApprover(store, run_id)`` is an ``Approver`` (``LoopConfig(approver=...)``): when a call
needs approval it writes the request to the store as a pending approval, then waits for another
process (``python -m looplet_core runs approve``, an attached ``looplet-tui``) to decide it, and
applies that decision to the request, so the run's own process carries on from the answer.
With ``timeout`` it stops waiting after that many seconds and leaves the request undecided: the
run pauses with ``awaiting_approval`` (its checkpoint holds the request) and can be resumed later
with the decision the store by then holds.

``StoreBreakpoints(store, run_id)`` pauses the run before a call when the store says so (a
breakpoint set from elsewhere) until the store lets it go.  ``StoreGuard(store)`` is a hook that
stops the run (an error step, resumable) before a tool runs when the store could not record it.
``StoreEventLog(store)`` is a hook that appends the run's lifecycle events (no streaming deltas)
to the store, redacted like traces, so an attached debugger can show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from looplet_core.approvals.requests import ApprovalRequest
from looplet_core.durable.breakpoint_entries import stops, without_pauses
from looplet_core.durable.runstore import ApprovalRecord, RunStatus, RunStore
from looplet_core.errors import ApprovalError, StoreError
from looplet_core.events import Event, EventKind
from looplet_core.messages import ToolCall
from looplet_core.provenance.redact import Redactor

__all__ = [
    "StoreApprover",
    "StoreBreakpoints",
    "StoreEventLog",
    "StoreGuard",
    "apply_stored_decision",
]


class StoreApprover:
    """Put each approval to whoever watches ``store``, and wait for their answer."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        timeout: float | None = None,
        on_wait: Callable[[ApprovalRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.timeout = timeout
        self.on_wait = on_wait
        """Called with the pending record before waiting (say where to answer it)."""
        self.last: ApprovalRecord | None = None
        """The record of the latest request (its ``id`` is what ``runs approve`` takes)."""

    def __call__(self, request: ApprovalRequest) -> None:
        doc = request.to_dict()
        record = self._earlier(doc) or self.store.add_approval(self.run_id, doc)
        self.last = record
        if record.pending and self.on_wait is not None:
            self.on_wait(record)
        record = self.store.wait_for_decision(self.run_id, record.id, timeout=self.timeout)
        self.last = record
        if not record.pending:
            apply_stored_decision(request, record)

    def _earlier(self, doc: dict[str, Any]) -> ApprovalRecord | None:
        """The record already made for this very call (a run paused on it, now resumed): its
        answer, given while the run was not waiting, is the one to act on."""
        for record in reversed(self.store.approvals(self.run_id)):
            req = record.request
            if (req.get("step"), req.get("call_id"), req.get("tool"), req.get("args")) == (
                doc["step"],
                doc["call_id"],
                doc["tool"],
                doc["args"],
            ):
                return record
        return None


def apply_stored_decision(request: ApprovalRequest, record: ApprovalRecord) -> None:
    """Decide ``request`` as ``record`` says.  Edited arguments that do not fit the tool's schema
    deny the call with the reason (the decider cannot be asked again)."""
    decision = record.decision or {}
    action = decision.get("action")
    by = record.decided_by or "store"
    message = str(decision.get("message") or "")
    scope = str(decision.get("scope") or "once")
    match = cast("dict[str, str] | None", decision.get("match"))
    if action == "approve":
        args = cast("dict[str, Any] | None", decision.get("args"))
        try:
            request.approve(args, by=by, scope=scope, match=match)
        except ApprovalError as exc:
            request.deny(f"{by} approved with arguments that do not fit: {exc}", by=by)
    elif action == "deny":
        request.deny(message, by=by, scope=scope, match=match)
    else:
        request.stop(message, by=by)


class StoreGuard:
    """Stop the run before a tool runs if the store could not record it (the database went
    away, a file stays locked or was deleted): a side effect no checkpoint would ever show is
    the one thing a durable run must not have.

    The guard raises, so the run ends the way a failing hook ends it (docs/hooks.md): an error
    step naming the store's problem, then stop reason ``hook_error``, which is resumable.  (A
    ``Stop`` would be final: had the store come back in time to save the run's end, the run
    would read as finished.)  The refused call never ran; resume the run once the store is
    back and it goes on from its last saved step.
    """

    name = "store_guard"

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def pre_dispatch(self, state: object, log: object, tc: ToolCall, step: int) -> None:
        try:
            self.store.check_writable()
        except StoreError as exc:
            raise StoreError(
                f"not running {tc.tool} (step {step}): the run store could not record it: {exc}; "
                "the run stopped before it with every earlier step saved: resume it once the "
                "store is back"
            ) from None


class StoreBreakpoints:
    """Pause the run before a tool runs when its store says so, until the store lets it go.

    The run's breakpoints in the store are the entries ``breakpoint_entries`` describes: a
    standing ``{"tool": "delete*"}`` (optionally with an ``"args"`` regex) pauses before matching
    calls, ``{"pause": true}`` before the next call (``runs pause``, ``p`` in an attached
    debugger), and ``{"release": N}`` lets the run paused at step ``N`` go on (``runs continue``,
    ``c``; with ``"step": true``, ``n``: it pauses again before its next call).  While paused the
    run's status is ``paused at a breakpoint`` and ``{"paused_at": N}`` says where; a release
    consumes the pause entries.  Every change is one ``update_breakpoints`` transaction, so
    entries other processes add meanwhile are kept.
    """

    name = "store_breakpoints"

    def __init__(self, store: RunStore, run_id: str, *, poll: float = 0.25) -> None:
        self.store = store
        self.run_id = run_id
        self.poll = poll

    def pre_dispatch(self, state: object, log: object, tc: ToolCall, step: int) -> None:
        entries = self.store.breakpoints(self.run_id)
        if not any(stops(entry, tc.tool, tc.args) for entry in entries):
            return
        self.store.update_breakpoints(self.run_id, lambda es: [*es, {"paused_at": step}])
        self.store.set_run(self.run_id, status=RunStatus.PAUSED)
        while not any(e.get("release") == step for e in entries):
            since = self.store.changes(self.run_id)
            self.store.wait_for_change(self.run_id, since, timeout=self.poll)
            entries = self.store.breakpoints(self.run_id)
        self.store.update_breakpoints(self.run_id, lambda es: _released(es, step))
        self.store.set_run(self.run_id, status=RunStatus.RUNNING)


def _released(entries: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    """The entries once the pause at ``step`` is over; a stepping release pauses again."""
    again = any(e.get("release") == step and e.get("step") for e in entries)
    return [*without_pauses(entries), *([{"pause": True}] if again else [])]


_SKIPPED = frozenset({EventKind.LLM_DELTA, EventKind.TOOL_PROGRESS})


class StoreEventLog:
    """Append a run's events (all but streaming deltas and progress) to ``store``."""

    name = "store_events"

    def __init__(self, store: RunStore, *, redact: Redactor | None = None) -> None:
        self.store = store
        self.redactor = redact or Redactor()
        self.lost = 0
        """Events not saved because the store was unreachable at the time."""

    def on_event(self, event: Event) -> None:
        if event.kind in _SKIPPED:
            return
        if event.kind is EventKind.LLM_START and "prompt" in event.data:
            # The prompt is the whole conversation so far: kept on every call it made a store
            # grow with the square of the run (104 MB for 1,000 steps).  The checkpoints hold
            # the conversation, and the event keeps its message count.
            event = replace(event, data={k: v for k, v in event.data.items() if k != "prompt"})
        doc = cast(dict[str, Any], self.redactor.value(event.to_dict()))
        try:
            self.store.add_events(event.run_id, [doc])
        except StoreError:  # the checkpoints are the record; StoreGuard stops the run
            self.lost += 1
