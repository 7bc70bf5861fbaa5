"""What every part of the SQL run store shares: one connection's dialect, one lock, errors mapped.

``SQLRunStore`` is assembled from a few classes by subject (``sqlstore`` checkpoints, runs and
leases; ``sqlapprovals``; ``sqlsignals`` for breakpoints, events and following a run); each of
them talks to the database only through the three methods here, so a driver's failure becomes the
same ``StoreError`` wherever it happens and every write takes the run's lock the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any

from looplet_core.durable.dialect import Cursor, Dialect
from looplet_core.errors import ApprovalError, CheckpointError, StoreError

__all__ = ["SQLBase"]


class SQLBase:
    """One dialect (one connection), guarded by one re-entrant lock."""

    def __init__(self, dialect: Dialect, *, poll: float = 0.2) -> None:
        self.dialect = dialect
        self.where = dialect.where
        self.poll = poll
        self._lock = threading.RLock()

    def _guard(self, fn: Callable[[], Any], doing: str) -> Any:
        with self._lock:
            try:
                return fn()
            except (StoreError, ApprovalError, CheckpointError):
                raise
            except Exception as exc:
                mapped = self.dialect.failure(exc, doing)
                if mapped is None:
                    raise
                raise mapped from None

    @contextmanager
    def _write(self, run_id: str | None = None) -> Generator[Cursor]:
        with self.dialect.transaction() as cur:
            if run_id is not None:
                self.dialect.lock_run(cur, run_id)
            yield cur
            if run_id is not None:
                self.dialect.notify(cur, run_id)

    def _x(self, cur: Cursor, text: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(self.dialect.sql(text), tuple(params))
        return cur
