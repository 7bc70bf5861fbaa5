"""Run stores: one database holds whole runs, so a run outlives its process and its machine.

A ``RunStore`` is a ``CheckpointStore`` that also keeps, per run, what other processes need to
see and answer it: the run's row (agent, status, steps, age), its approvals (pending, then
decided exactly once), its breakpoints, its provenance events, and a lease so two workers never
run one run at once.  ``looplet_core.durable.connect.open_store(target)`` picks the
implementation:

===========================================  ==========================================
``runs.db``, ``x.sqlite``, ``sqlite:///p``   ``SQLiteRunStore`` (stdlib ``sqlite3``)
``postgresql://user@host:port/db``           ``PostgresRunStore`` (the ``postgres`` extra)
===========================================  ==========================================

``connect.open_checkpoints(target)`` also accepts a directory (the ``FileCheckpointStore``).
Both share one SQL implementation (``sqlstore``); ``docs/stores.md`` describes the schema and
its locks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from looplet_core.durable.checkpoints import Checkpoint, CheckpointStore

__all__ = [
    "ApprovalRecord",
    "RunInfo",
    "RunLease",
    "RunStatus",
    "RunStore",
    "redact_url",
]


class RunStatus:
    """The states ``RunInfo.status`` takes (plain strings, so a newer writer's are still shown)."""

    RUNNING = "running"
    WAITING = "waiting for approval"
    PAUSED = "paused at a breakpoint"
    PAUSED_APPROVAL = "paused for approval"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One row of ``looplet_core runs``: what a run is and where it stands."""

    run_id: str
    agent: str
    status: str
    steps: int
    checkpoints: int
    created_at: float
    updated_at: float
    owner: str = ""
    """Who holds the run's lease (``host:pid``), or empty when nobody runs it."""


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """An approval as stored: the request (``ApprovalRequest.to_dict()``) and, once answered,
    the decision (``{"action": "approve"|"deny"|"stop", "args", "message", "scope",
    "match"}``) with who made it.  A record is decided at most once."""

    run_id: str
    id: int
    request: dict[str, Any]
    status: str
    decision: dict[str, Any] | None
    decided_by: str
    created_at: float
    decided_at: float | None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def describe(self) -> str:
        req = self.request
        head = f"#{self.id} step {req.get('step')} {req.get('tool')}({_args(req.get('args'))})"
        if self.decision is None:
            return f"{head}: pending"
        return f"{head}: {self.decision.get('action')} by {self.decided_by or '?'}"


def _args(args: object) -> str:
    if not isinstance(args, dict):
        return ""
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())  # pyright: ignore[reportUnknownVariableType]
    return text if len(text) <= 80 else text[:79] + "…"


class RunLease(Protocol):
    """Held while one worker runs a run; ``release()`` (or leaving the ``with``) lets it go.
    A worker that dies releases it too (see ``docs/stores.md``)."""

    run_id: str
    owner: str

    def release(self) -> None: ...

    def __enter__(self) -> RunLease: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class RunStore(CheckpointStore, Protocol):
    """Checkpoints, approvals, breakpoints, events and leases of runs, in one database."""

    where: str
    """The store for messages: a path, or a URL without its password."""

    def history(self, checkpoint_id: str) -> list[Checkpoint]:
        """The checkpoints from the run's root to ``checkpoint_id``, in one query."""
        ...

    def run_info(self, run_id: str) -> RunInfo: ...

    def list_runs(self) -> list[RunInfo]:
        """Every run, least recently written first."""
        ...

    def set_run(
        self, run_id: str, *, agent: str | None = None, status: str | None = None
    ) -> None: ...

    def add_approval(self, run_id: str, request: dict[str, Any]) -> ApprovalRecord: ...

    def get_approval(self, run_id: str, approval_id: int) -> ApprovalRecord: ...

    def approvals(
        self, run_id: str | None = None, *, pending: bool = False
    ) -> list[ApprovalRecord]: ...

    def decide(
        self, run_id: str, approval_id: int, decision: dict[str, Any], *, by: str
    ) -> ApprovalRecord:
        """Record the answer; ``ApprovalError`` if another answer got there first."""
        ...

    def wait_for_decision(
        self, run_id: str, approval_id: int, *, timeout: float | None = None
    ) -> ApprovalRecord:
        """Block until the approval is decided (returned) or ``timeout`` passes (returned
        still pending)."""
        ...

    def set_breakpoints(self, run_id: str, breakpoints: Sequence[dict[str, Any]]) -> None: ...

    def breakpoints(self, run_id: str) -> list[dict[str, Any]]: ...

    def update_breakpoints(
        self,
        run_id: str,
        change: Callable[[list[dict[str, Any]]], Sequence[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """Replace the run's breakpoints with ``change(current)`` atomically (read and write in
        one write transaction: concurrent writers lose nothing); returns the new list."""
        ...

    def add_events(self, run_id: str, events: Sequence[dict[str, Any]]) -> None: ...

    def events(
        self, run_id: str, *, after: int = 0, kinds: Collection[str] | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        """The run's events after ``after``, in order; ``kinds`` keeps only those kinds."""
        ...

    def changes(self, run_id: str) -> tuple[int, int, int]:
        """A cheap fingerprint of the run (checkpoints, approvals, decisions): it changes when
        anything another process should show was written."""
        ...

    def wait_for_change(
        self, run_id: str, since: tuple[int, int, int], *, timeout: float
    ) -> tuple[int, int, int]: ...

    def check_writable(self) -> None:
        """Raise ``StoreError`` unless a write could be recorded right now."""
        ...

    def acquire(self, run_id: str, *, owner: str | None = None) -> RunLease:
        """Take the run's lease or raise ``StoreError`` naming who holds it."""
        ...

    def close(self) -> None: ...


def redact_url(url: str) -> str:
    """``url`` without its password (``postgresql://ada:***@host/db``): safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unparsable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
