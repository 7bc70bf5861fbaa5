"""Breakpoints, events and "has anything changed" for a run, over SQL.

These are what a debugger attached from another process reads and writes while the run goes on:
breakpoints it sets (changed in one transaction, so concurrent writers lose nothing), the run's
events, and a cheap change counter it polls (or is woken for by ``NOTIFY`` on PostgreSQL).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

from looplet_core.durable.dialect import Cursor, row_object, row_text
from looplet_core.durable.sqlbase import SQLBase
from looplet_core.errors import CheckpointError

__all__ = ["SQLSignals"]


class SQLSignals(SQLBase):
    """Breakpoints, events and change following of ``RunStore`` over SQL."""

    def set_breakpoints(self, run_id: str, breakpoints: Sequence[dict[str, Any]]) -> None:
        text = json.dumps(list(breakpoints), ensure_ascii=False, default=repr)

        def write() -> None:
            with self._write(run_id) as cur:
                self._x(
                    cur,
                    "INSERT INTO looplet_breakpoints (run_id, doc) VALUES (?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET doc = excluded.doc",
                    [run_id, text],
                )

        self._guard(write, "save breakpoints")

    def breakpoints(self, run_id: str) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            with self.dialect.read() as cur:
                return self._breakpoints(cur, run_id)

        return cast(list[dict[str, Any]], self._guard(read, "read breakpoints"))

    def update_breakpoints(
        self,
        run_id: str,
        change: Callable[[list[dict[str, Any]]], Sequence[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """Read, change and write the run's breakpoints in one write transaction, so two
        writers (the run pausing, two debuggers adding) never drop each other's entries.
        ``change`` gets the current list and returns the new one; the new one is returned."""

        def write() -> list[dict[str, Any]]:
            with self._write(run_id) as cur:
                new = list(change(self._breakpoints(cur, run_id)))
                self._x(
                    cur,
                    "INSERT INTO looplet_breakpoints (run_id, doc) VALUES (?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET doc = excluded.doc",
                    [run_id, json.dumps(new, ensure_ascii=False, default=repr)],
                )
            return new

        return cast(list[dict[str, Any]], self._guard(write, "save breakpoints"))

    def _breakpoints(self, cur: Cursor, run_id: str) -> list[dict[str, Any]]:
        row = self._x(
            cur, "SELECT doc FROM looplet_breakpoints WHERE run_id = ?", [run_id]
        ).fetchone()
        if row is None:
            return []
        try:
            value: object = json.loads(row_text(row[0]))
        except ValueError as exc:
            raise CheckpointError(f"{self.where}: breakpoints of {run_id!r}: {exc}") from None
        if not isinstance(value, list):
            raise CheckpointError(f"{self.where}: breakpoints of {run_id!r} are not a list")
        items = cast(list[object], value)
        return [cast(dict[str, Any], b) for b in items if isinstance(b, dict)]

    def add_events(self, run_id: str, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return

        def write() -> None:
            with self._write(run_id) as cur:
                row = self._x(
                    cur, "SELECT MAX(seq) FROM looplet_events WHERE run_id = ?", [run_id]
                ).fetchone()
                seq = int(row[0] or 0)
                for event in events:
                    seq += 1
                    self._x(
                        cur,
                        "INSERT INTO looplet_events (run_id, seq, doc) VALUES (?, ?, ?)",
                        [run_id, seq, json.dumps(event, ensure_ascii=False, default=repr)],
                    )

        self._guard(write, "save events")

    def events(
        self, run_id: str, *, after: int = 0, kinds: Collection[str] | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        # ``kinds`` is matched on the document's first key, which ``add_events`` writes as
        # ``{"kind": ...`` (``Event.to_dict``): a replay that wants compactions then never reads
        # the prompts that ``llm_start`` events carry.  Other documents are checked after reading.
        kind_sql, kind_args = "", list[str]()
        if kinds is not None:
            likes = ["doc LIKE ?"] * len(kinds) + ["doc NOT LIKE ?"]
            kind_sql = f" AND ({' OR '.join(likes)})"
            kind_args = [_kind_prefix(k) + "%" for k in sorted(kinds)] + ['{"kind": %']

        def read() -> list[tuple[int, dict[str, Any]]]:
            with self.dialect.read() as cur:
                rows = self._x(
                    cur,
                    "SELECT seq, doc FROM looplet_events WHERE run_id = ? AND seq > ?"
                    f"{kind_sql} ORDER BY seq",
                    [run_id, after, *kind_args],
                ).fetchall()
            where = f"{self.where}: events of {run_id!r}"
            found = [(int(r[0]), row_object(r[1], where)) for r in rows]
            if kinds is None:
                return found
            return [(seq, doc) for seq, doc in found if doc.get("kind") in kinds]

        return cast(list[tuple[int, dict[str, Any]]], self._guard(read, "read events"))

    # -- following a run -----------------------------------------------------------------

    def changes(self, run_id: str) -> tuple[int, int, int]:
        def read() -> tuple[int, int, int]:
            with self.dialect.read() as cur:
                row = self._x(
                    cur,
                    "SELECT (SELECT COALESCE(MAX(seq), 0) FROM looplet_checkpoints "
                    "WHERE run_id = ?), (SELECT COUNT(*) FROM looplet_approvals WHERE run_id = ?),"
                    " (SELECT COUNT(*) FROM looplet_approvals WHERE run_id = ? "
                    "AND status = 'decided')",
                    [run_id, run_id, run_id],
                ).fetchone()
            return int(row[0]), int(row[1]), int(row[2])

        return cast(tuple[int, int, int], self._guard(read, "read a run"))

    def wait_for_change(
        self, run_id: str, since: tuple[int, int, int], *, timeout: float
    ) -> tuple[int, int, int]:
        deadline = time.monotonic() + timeout
        while True:
            now = self.changes(run_id)
            left = min(self.poll, deadline - time.monotonic())
            if now != since or left <= 0:
                return now
            self.dialect.wait(left)


def _kind_prefix(kind: str) -> str:
    """How an event document of ``kind`` begins, as ``add_events`` writes it."""
    return '{"kind": ' + json.dumps(kind, ensure_ascii=False)
