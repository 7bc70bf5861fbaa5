"""The SQL behind both run stores; ``sqlite`` and ``postgres`` supply only a ``Dialect``.

Tables (``docs/stores.md`` has the full schema)::

    looplet_meta         key, value                 schema_version lives here
    looplet_runs         run_id, agent, status, steps, checkpoints, created_at, updated_at
    looplet_checkpoints  run_id, seq, id, parent, reason, step, created_at, doc (the JSON)
    looplet_approvals    run_id, id, request, status, decision, decided_by, created/decided_at
    looplet_breakpoints  run_id, doc
    looplet_events       run_id, seq, doc
    looplet_leases       run_id, owner, expires_at

This module holds the schema, checkpoints, runs and leases; ``sqlapprovals`` and
``sqlsignals`` the rest, ``sqlbase`` what they share.  Every write is one transaction.  Numbers
(checkpoint ``seq``, approval ``id``, event ``seq``) are ``max + 1`` taken under the dialect's
write lock (``BEGIN IMMEDIATE`` in SQLite, a transaction advisory lock on the run in
PostgreSQL), so many processes writing one run never lose or interleave anything; the primary
keys would refuse a duplicate anyway.  A checkpoint's document is the same JSON the file store
writes, checked by the same decoder on the way out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any, cast

from looplet_core.durable.chainfold import FoldedChain, fold
from looplet_core.durable.checkpoints import Checkpoint, checkpoint_id, parse_checkpoint_id
from looplet_core.durable.dialect import Dialect, default_owner, row_text
from looplet_core.durable.runstore import RunInfo, RunLease, RunStatus
from looplet_core.durable.sqlapprovals import SQLApprovals
from looplet_core.durable.sqlsignals import SQLSignals
from looplet_core.errors import CheckpointError, StoreError

__all__ = ["SCHEMA_VERSION", "SQLRunStore"]

SCHEMA_VERSION = 1
_FAILED_STOPS = frozenset({"llm_error", "parse_error", "hook_error", "context_exhausted"})


class _Lease:
    def __init__(self, store: SQLRunStore, run_id: str, owner: str) -> None:
        self.store, self.run_id, self.owner = store, run_id, owner
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            # A store that went away has dropped the lease with the connection (PostgreSQL);
            # the error that matters is the one that ended the run, not this one.
            with suppress(StoreError):
                self.store._guard(  # pyright: ignore[reportPrivateUsage]
                    lambda: self.store.dialect.release_lease(self.run_id, self.owner),
                    "release a lease",
                )

    def __enter__(self) -> RunLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLease({self.run_id!r}, owner={self.owner!r})"


class SQLRunStore(SQLApprovals, SQLSignals):
    """A ``RunStore`` over any ``Dialect``.  Thread-safe (one connection, one lock).

    Checkpoints, runs and leases are here; approvals and the attached-debugger signals
    (breakpoints, events, changes) come from ``SQLApprovals`` and ``SQLSignals``."""

    def __init__(self, dialect: Dialect, *, poll: float = 0.2) -> None:
        super().__init__(dialect, poll=poll)
        self._guard(self._migrate, "create its tables")

    def _migrate(self) -> None:
        with self.dialect.transaction() as cur:
            for statement in self.dialect.schema:
                cur.execute(statement)
            row = self._x(
                cur, "SELECT value FROM looplet_meta WHERE key = ?", ["schema"]
            ).fetchone()
            if row is None:
                self._x(
                    cur,
                    "INSERT INTO looplet_meta (key, value) VALUES (?, ?)",
                    ["schema", str(SCHEMA_VERSION)],
                )
                return
            found = str(row[0])
        if found != str(SCHEMA_VERSION):
            newer = found.isdigit() and int(found) > SCHEMA_VERSION
            raise StoreError(
                f"{self.where}: store schema version {found} is not supported; this looplet "
                f"uses version {SCHEMA_VERSION}"
                + (
                    " (a newer looplet wrote it: upgrade looplet to use this store)"
                    if newer
                    else " (migrate the store or use a new one)"
                )
            )

    # -- checkpoints ---------------------------------------------------------------------

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        checkpoint_id(checkpoint.run_id, 0)  # refuses unsafe run ids, as the file store does
        return cast(Checkpoint, self._guard(lambda: self._put(checkpoint), "save a checkpoint"))

    def _put(self, cp: Checkpoint) -> Checkpoint:
        run_id = cp.run_id
        with self._write(run_id) as cur:
            row = self._x(
                cur, "SELECT MAX(seq) FROM looplet_checkpoints WHERE run_id = ?", [run_id]
            ).fetchone()
            seq = int(row[0] or 0) + 1
            cid = checkpoint_id(run_id, seq)
            saved = replace(cp, seq=seq, id=cid, source=f"{self.where}#{cid}")
            doc = saved.to_json()
            self._x(
                cur,
                "INSERT INTO looplet_checkpoints "
                "(run_id, seq, id, parent, branch_id, reason, step, created_at, doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, seq, cid, cp.parent, cp.branch_id, cp.reason, cp.step, cp.created_at, doc],
            )
            now = time.time()
            status = _status_of(cp)
            agent = str((cp.run or {}).get("agent") or "") if cp.run else ""
            self._x(
                cur,
                "INSERT INTO looplet_runs "
                "(run_id, agent, status, steps, checkpoints, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, "
                "steps = excluded.steps, checkpoints = excluded.checkpoints, "
                "updated_at = excluded.updated_at",
                [run_id, agent, status, cp.step, seq, now, now],
            )
        return saved

    def get(self, checkpoint_id: str) -> Checkpoint:
        run_id, seq = parse_checkpoint_id(checkpoint_id)

        def read() -> Checkpoint:
            with self.dialect.read() as cur:
                row = self._x(
                    cur,
                    "SELECT doc FROM looplet_checkpoints WHERE run_id = ? AND seq = ?",
                    [run_id, seq],
                ).fetchone()
            if row is None:
                raise CheckpointError(f"{self.where}: no checkpoint {checkpoint_id}")
            return self._decode(row[0], checkpoint_id)

        return cast(Checkpoint, self._guard(read, "read a checkpoint"))

    def _decode(self, doc: object, cid: str) -> Checkpoint:
        source = f"{self.where}#{cid}"
        cp = Checkpoint.from_json(row_text(doc), source)
        if cp.id != cid:
            raise CheckpointError(f"{source}: the row holds checkpoint {cp.id!r}, not {cid!r}")
        return cp

    def chain_rows(self, run_id: str, seq: int) -> list[tuple[Any, ...]]:
        """``(id, parent, doc)`` of the run's checkpoints up to ``seq``: the one query behind
        ``history`` (a fork's chain shares its run, so the parents are among them)."""

        def read() -> list[tuple[Any, ...]]:
            with self.dialect.read() as cur:
                return self._x(
                    cur,
                    "SELECT id, parent, doc FROM looplet_checkpoints "
                    "WHERE run_id = ? AND seq <= ? ORDER BY seq",
                    [run_id, seq],
                ).fetchall()

        return cast(list[tuple[Any, ...]], self._guard(read, "read a run's history"))

    def fold(self, checkpoint_id: str) -> FoldedChain | None:
        """The chain to ``checkpoint_id`` folded from one query that picks out each document's
        fold parts (``Dialect.chain_sql``); None sends ``load`` down the full path (no such query,
        an irregular row, or a document the database could not parse)."""
        query = self.dialect.chain_sql
        if query is None:
            return None
        run_id, seq = parse_checkpoint_id(checkpoint_id)

        def read() -> list[tuple[Any, ...]]:
            with self.dialect.read() as cur:
                return self._x(cur, query, [run_id, seq]).fetchall()

        try:
            rows = cast(list[tuple[Any, ...]], self._guard(read, "read a run's history"))
        except StoreError:
            return None  # the full path reads again and reports what is wrong
        return fold(rows, checkpoint_id, self.where, self._decode)

    def history(self, checkpoint_id: str) -> list[Checkpoint]:
        run_id, seq = parse_checkpoint_id(checkpoint_id)
        rows = self.chain_rows(run_id, seq)
        by_id = {str(r[0]): r for r in rows}
        chain: list[Checkpoint] = []
        current: str | None = checkpoint_id
        seen: set[str] = set()
        while current is not None:
            row = by_id.get(current)
            if row is None:
                where = chain[-1].source if chain else self.where
                raise CheckpointError(f"{where}: no checkpoint {current} in run {run_id!r}")
            if current in seen:
                raise CheckpointError(f"{self.where}: parent links form a cycle at {current}")
            seen.add(current)
            cp = self._decode(row[2], current)
            chain.append(cp)
            current = cp.parent
        chain.reverse()
        return chain

    def list(self, run_id: str) -> list[str]:
        def read() -> list[str]:
            with self.dialect.read() as cur:
                rows = self._x(
                    cur,
                    "SELECT id FROM looplet_checkpoints WHERE run_id = ? ORDER BY seq",
                    [run_id],
                ).fetchall()
            return [str(r[0]) for r in rows]

        return cast(list[str], self._guard(read, "list checkpoints"))

    def runs(self) -> list[str]:
        return [info.run_id for info in self.list_runs() if info.checkpoints]

    # -- runs ----------------------------------------------------------------------------

    _RUN_COLUMNS = (
        "r.run_id, r.agent, r.status, r.steps, r.checkpoints, r.created_at, r.updated_at, "
        "(SELECT COUNT(*) FROM looplet_approvals a WHERE a.run_id = r.run_id "
        "AND a.status = 'pending'), "
        "(SELECT l.owner FROM looplet_leases l WHERE l.run_id = r.run_id)"
    )

    @staticmethod
    def _info(row: Sequence[Any]) -> RunInfo:
        status = str(row[2])
        if int(row[7] or 0) and status not in (RunStatus.FINISHED, RunStatus.FAILED):
            status = RunStatus.WAITING
        return RunInfo(
            run_id=str(row[0]),
            agent=str(row[1] or ""),
            status=status,
            steps=int(row[3] or 0),
            checkpoints=int(row[4] or 0),
            created_at=float(row[5] or 0.0),
            updated_at=float(row[6] or 0.0),
            owner=str(row[8] or ""),
        )

    def list_runs(self) -> list[RunInfo]:
        def read() -> list[RunInfo]:
            with self.dialect.read() as cur:
                rows = self._x(
                    cur,
                    f"SELECT {self._RUN_COLUMNS} FROM looplet_runs r "
                    "ORDER BY r.updated_at, r.run_id",
                ).fetchall()
            return [self._info(r) for r in rows]

        return cast(list[RunInfo], self._guard(read, "list runs"))

    def run_info(self, run_id: str) -> RunInfo:
        def read() -> RunInfo:
            with self.dialect.read() as cur:
                row = self._x(
                    cur,
                    f"SELECT {self._RUN_COLUMNS} FROM looplet_runs r WHERE r.run_id = ?",
                    [run_id],
                ).fetchone()
            if row is None:
                raise StoreError(
                    f"{self.where}: no run {run_id!r} (list the runs with "
                    "`python -m looplet_core runs --store ...`)"
                )
            return self._info(row)

        return cast(RunInfo, self._guard(read, "read a run"))

    def set_run(self, run_id: str, *, agent: str | None = None, status: str | None = None) -> None:
        def write() -> None:
            now = time.time()
            with self._write(run_id) as cur:
                self._x(
                    cur,
                    "INSERT INTO looplet_runs "
                    "(run_id, agent, status, steps, checkpoints, created_at, updated_at) "
                    "VALUES (?, ?, ?, 0, 0, ?, ?) ON CONFLICT (run_id) DO NOTHING",
                    [run_id, agent or "", status or RunStatus.RUNNING, now, now],
                )
                if agent is not None:
                    self._x(
                        cur, "UPDATE looplet_runs SET agent = ? WHERE run_id = ?", [agent, run_id]
                    )
                if status is not None:
                    self._x(
                        cur,
                        "UPDATE looplet_runs SET status = ?, updated_at = ? WHERE run_id = ?",
                        [status, now, run_id],
                    )

        self._guard(write, "update a run")

    def check_writable(self) -> None:
        """Raise ``StoreError`` unless the store could record a write right now (a cheap probe:
        ``BEGIN IMMEDIATE; ROLLBACK`` on SQLite, ``SELECT 1`` on PostgreSQL)."""
        self._guard(self.dialect.probe, "record the next step")

    # -- leases --------------------------------------------------------------------------

    def acquire(self, run_id: str, *, owner: str | None = None) -> RunLease:
        me = owner or default_owner()
        holder = cast(
            "str | None", self._guard(lambda: self.dialect.try_lease(run_id, me), "take a lease")
        )
        if holder is not None:
            raise StoreError(
                f"{self.where}: run {run_id!r} is being run by {holder}; wait for it to finish "
                "(or stop that worker) before running it here"
            )
        return _Lease(self, run_id, me)

    def close(self) -> None:
        with self._lock:
            self.dialect.close()

    def __enter__(self) -> SQLRunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r})"


def _status_of(cp: Checkpoint) -> str:
    if cp.reason == "end":
        result = cp.state.get("result")
        stop = cast(dict[str, Any], result).get("stop_reason") if isinstance(result, dict) else None
        return RunStatus.FAILED if stop in _FAILED_STOPS else RunStatus.FINISHED
    if cp.reason == "approval":
        return RunStatus.PAUSED_APPROVAL
    return RunStatus.RUNNING
