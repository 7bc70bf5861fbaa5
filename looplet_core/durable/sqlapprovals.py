"""Approval requests and their decisions, as rows of ``looplet_approvals``.

A request gets the next number of its run under the run's write lock; a decision is written only
while the request is still pending (``UPDATE ... WHERE status = 'pending'``), so of two processes
answering at once exactly one wins and the other is told who answered first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, cast

from looplet_core.durable.dialect import Cursor, row_object
from looplet_core.durable.runstore import ApprovalRecord
from looplet_core.durable.sqlbase import SQLBase
from looplet_core.errors import ApprovalError, StoreError

__all__ = ["SQLApprovals"]


class SQLApprovals(SQLBase):
    """The approval half of ``RunStore`` over SQL."""

    _APPROVAL_COLUMNS = "run_id, id, request, status, decision, decided_by, created_at, decided_at"

    def _approval(self, row: Sequence[Any]) -> ApprovalRecord:
        where = f"{self.where}: approval {row[1]} of run {row[0]!r}"
        request = row_object(row[2], where)
        decision = None if row[4] is None else row_object(row[4], where)
        return ApprovalRecord(
            run_id=str(row[0]),
            id=int(row[1]),
            request=request,
            status=str(row[3]),
            decision=decision,
            decided_by=str(row[5] or ""),
            created_at=float(row[6] or 0.0),
            decided_at=None if row[7] is None else float(row[7]),
        )

    def _one(self, cur: Cursor, run_id: str, approval_id: int) -> ApprovalRecord:
        row = self._x(
            cur,
            f"SELECT {self._APPROVAL_COLUMNS} FROM looplet_approvals WHERE run_id = ? AND id = ?",
            [run_id, approval_id],
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.where}: run {run_id!r} has no approval {approval_id}")
        return self._approval(row)

    def add_approval(self, run_id: str, request: dict[str, Any]) -> ApprovalRecord:
        def write() -> ApprovalRecord:
            now = time.time()
            text = json.dumps(request, ensure_ascii=False, default=repr)
            with self._write(run_id) as cur:
                row = self._x(
                    cur, "SELECT MAX(id) FROM looplet_approvals WHERE run_id = ?", [run_id]
                ).fetchone()
                number = int(row[0] or 0) + 1
                self._x(
                    cur,
                    f"INSERT INTO looplet_approvals ({self._APPROVAL_COLUMNS}) "
                    "VALUES (?, ?, ?, 'pending', NULL, '', ?, NULL)",
                    [run_id, number, text, now],
                )
                self._x(
                    cur,
                    "UPDATE looplet_runs SET updated_at = ? WHERE run_id = ?",
                    [now, run_id],
                )
            return ApprovalRecord(run_id, number, dict(request), "pending", None, "", now, None)

        return cast(ApprovalRecord, self._guard(write, "save an approval request"))

    def get_approval(self, run_id: str, approval_id: int) -> ApprovalRecord:
        def read() -> ApprovalRecord:
            with self.dialect.read() as cur:
                return self._one(cur, run_id, approval_id)

        return cast(ApprovalRecord, self._guard(read, "read an approval"))

    def approvals(
        self, run_id: str | None = None, *, pending: bool = False
    ) -> list[ApprovalRecord]:
        def read() -> list[ApprovalRecord]:
            where: list[str] = []
            params: list[Any] = []
            if run_id is not None:
                where.append("run_id = ?")
                params.append(run_id)
            if pending:
                where.append("status = 'pending'")
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            with self.dialect.read() as cur:
                rows = self._x(
                    cur,
                    f"SELECT {self._APPROVAL_COLUMNS} FROM looplet_approvals{clause} "
                    "ORDER BY created_at, run_id, id",
                    params,
                ).fetchall()
            return [self._approval(r) for r in rows]

        return cast(list[ApprovalRecord], self._guard(read, "list approvals"))

    def decide(
        self, run_id: str, approval_id: int, decision: dict[str, Any], *, by: str
    ) -> ApprovalRecord:
        action = decision.get("action")
        if action not in ("approve", "deny", "stop"):
            raise ApprovalError(
                f"a decision's action must be approve, deny or stop, got {action!r}"
            )

        def write() -> ApprovalRecord:
            now = time.time()
            text = json.dumps(decision, ensure_ascii=False, default=repr)
            with self._write(run_id) as cur:
                changed = self._x(
                    cur,
                    "UPDATE looplet_approvals SET status = 'decided', decision = ?, "
                    "decided_by = ?, decided_at = ? "
                    "WHERE run_id = ? AND id = ? AND status = 'pending'",
                    [text, by, now, run_id, approval_id],
                ).rowcount
                record = self._one(cur, run_id, approval_id)
            if changed != 1:
                raise ApprovalError(
                    f"approval {approval_id} of run {run_id!r} was already answered: "
                    f"{(record.decision or {}).get('action')} by {record.decided_by or '?'}"
                )
            return record

        return cast(ApprovalRecord, self._guard(write, "save a decision"))

    def wait_for_decision(
        self, run_id: str, approval_id: int, *, timeout: float | None = None
    ) -> ApprovalRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.get_approval(run_id, approval_id)
            if not record.pending:
                return record
            left = self.poll if deadline is None else min(self.poll, deadline - time.monotonic())
            if left <= 0:
                return record
            self.dialect.wait(left)
