"""``PostgresRunStore``: a run store in PostgreSQL (psycopg 3, the ``postgres`` extra), for runs
spread over many machines.

psycopg is imported when a store is opened, never by ``import looplet_core``.  Credentials come
from the URL or libpq's usual ``PG*`` variables (``PGPASSWORD``, ``PGPASSFILE``...); the store
names itself by the URL without its password, so no message, log or trace carries it.

Each write is one transaction that first takes a transaction-level advisory lock on the run
(``pg_advisory_xact_lock``), so writers of one run queue up while other runs go on in parallel;
each write ends with ``pg_notify('looplet', run_id)``, which a waiting approval or an attached
debugger receives through ``LISTEN`` at once instead of polling.  A run's lease is a session-level
advisory lock held by the worker's connection: when the worker dies, its connection closes and
PostgreSQL releases the lock.

A connection that died while idle (an administrator's ``pg_terminate_backend``, a proxy's idle
timeout, a failover) is replaced where that is safe: when a write's ``BEGIN`` or a read's first
statement fails on it, nothing was done yet, so the store connects again and does it once more,
taking back the leases the old connection held (if another worker took one meanwhile, the call
raises ``StoreError`` saying so).  A connection lost inside a write, or a server that stays
down, makes the call raise ``StoreError``; the next call connects again, so a run stopped by it
can be resumed once the server is back.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from looplet_core.durable.dialect import Cursor
from looplet_core.durable.runstore import redact_url
from looplet_core.durable.sqlstore import SQLRunStore
from looplet_core.errors import StoreError

__all__ = ["PostgresRunStore"]

_MIGRATION_LOCK = 0x6C6F6F70  # "loop": one process creates the tables at a time
_SCHEMA = (
    f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})",
    "CREATE TABLE IF NOT EXISTS looplet_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS looplet_runs (run_id TEXT PRIMARY KEY, agent TEXT NOT NULL, "
    "status TEXT NOT NULL, steps BIGINT NOT NULL, checkpoints BIGINT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS looplet_checkpoints (run_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "id TEXT NOT NULL, parent TEXT, branch_id TEXT NOT NULL, reason TEXT NOT NULL, "
    "step BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL, doc TEXT NOT NULL, "
    "PRIMARY KEY (run_id, seq))",
    "CREATE TABLE IF NOT EXISTS looplet_approvals (run_id TEXT NOT NULL, id BIGINT NOT NULL, "
    "request TEXT NOT NULL, status TEXT NOT NULL, decision TEXT, decided_by TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, decided_at DOUBLE PRECISION, "
    "PRIMARY KEY (run_id, id))",
    "CREATE TABLE IF NOT EXISTS looplet_breakpoints (run_id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS looplet_events (run_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "doc TEXT NOT NULL, PRIMARY KEY (run_id, seq))",
    "CREATE TABLE IF NOT EXISTS looplet_leases (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
    "taken_at DOUBLE PRECISION NOT NULL)",
)
_CHANNEL = "looplet"


class _PostgresDialect:
    name = "postgres"
    schema: Sequence[str] = _SCHEMA
    # No fold query: PostgreSQL parses JSON more slowly than Python's json module does, so picking
    # the fold parts out of 1,000 documents on the server (json_to_record, one parse of each)
    # took longer than the full path's one query and json.loads of them (docs/stores.md).
    chain_sql: str | None = None

    def __init__(self, url: str, *, connect_timeout: float) -> None:
        self.url = url
        self.where = redact_url(url)
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._listener: Any = None
        self._leases: dict[str, str] = {}  # run_id -> owner, held by this connection's session
        self._conn = self._connect()

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                f"{self.where}: PostgreSQL stores need psycopg: pip install 'looplet-lab[postgres]'"
            ) from None
        try:
            return psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"{self.where}: cannot connect to PostgreSQL: {self._message(exc)}; check that the "
                "server is running and reachable and that the URL (or the PG* variables) names "
                "the right user, password and database"
            ) from None

    def _message(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split())
        try:
            from urllib.parse import urlsplit

            password = urlsplit(self.url).password
        except ValueError:
            password = None
        return text.replace(password, "***") if password else text

    @property
    def conn(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._conn = self._connect()
            self._retake_leases()
        return self._conn

    def _retake_leases(self) -> None:
        """A new session holds no advisory locks: take back the leases the lost one held, so
        no second worker can start a run this one is still running."""
        for run_id, owner in list(self._leases.items()):
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s))", ("looplet-lease:" + run_id,)
                )
                row = cur.fetchone()
            if not (row and row[0]):
                del self._leases[run_id]
                raise StoreError(
                    f"{self.where}: run {run_id!r} was taken over by another worker while this "
                    f"one ({owner}) had lost its connection; this worker must stop running it"
                )

    def _stale(self, exc: BaseException, conn: Any) -> bool:
        """Whether ``exc`` is an idle connection found dead (so nothing of the call was done)."""
        import psycopg

        return isinstance(exc, psycopg.OperationalError) and bool(conn.broken)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Generator[Cursor]:
        with ExitStack() as stack:
            conn = self.conn
            try:
                stack.enter_context(conn.transaction())  # BEGIN
            except Exception as exc:
                if not self._stale(exc, conn):
                    raise
                conn = self.conn  # nothing was sent but BEGIN: connect again, once
                stack.enter_context(conn.transaction())
            yield stack.enter_context(conn.cursor())

    @contextmanager
    def read(self) -> Generator[Cursor]:
        cur = _ReadCursor(self)
        try:
            yield cur
        finally:
            cur.close()

    def lock_run(self, cur: Cursor, run_id: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("looplet:" + run_id,))

    def notify(self, cur: Cursor, run_id: str) -> None:
        cur.execute("SELECT pg_notify(%s, %s)", (_CHANNEL, run_id))

    def wait(self, timeout: float) -> None:
        """Block until any run's write is notified, or ``timeout``; the caller looks again."""
        if timeout <= 0:
            return
        try:
            if self._listener is None or self._listener.closed or self._listener.broken:
                self._listener = self._connect()
                self._listener.execute(f"LISTEN {_CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except StoreError:
            time.sleep(timeout)  # the next read reports the lost server clearly
        except Exception:
            self._listener = None
            time.sleep(timeout)

    def try_lease(self, run_id: str, owner: str) -> str | None:
        with self.read() as cur:
            cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", ("looplet-lease:" + run_id,))
            row = cur.fetchone()
            if not (row and row[0]):
                cur.execute("SELECT owner FROM looplet_leases WHERE run_id = %s", (run_id,))
                held = cur.fetchone()
                return str(held[0]) if held else "another worker"
            cur.execute(
                "INSERT INTO looplet_leases (run_id, owner, taken_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, "
                "taken_at = excluded.taken_at",
                (run_id, owner, time.time()),
            )
        self._leases[run_id] = owner
        return None

    def release_lease(self, run_id: str, owner: str) -> None:
        self._leases.pop(run_id, None)
        with self.read() as cur:
            cur.execute(
                "DELETE FROM looplet_leases WHERE run_id = %s AND owner = %s", (run_id, owner)
            )
            cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", ("looplet-lease:" + run_id,))

    def failure(self, exc: BaseException, doing: str) -> StoreError | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(
                f"{self.where}: cannot {doing}: the connection to PostgreSQL failed "
                f"({self._message(exc)}); check that the server is running and reachable (the "
                "next call connects again)"
            )
        return StoreError(
            f"{self.where}: cannot {doing}: {type(exc).__name__}: {self._message(exc)}"
        )

    def probe(self) -> None:
        with self.read() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        for conn in (self._conn, self._listener):
            if conn is not None:
                conn.close()
        self._conn = self._listener = None


class _ReadCursor:
    """A cursor for statements outside a transaction that connects again if the first
    statement finds the connection dead: nothing ran, so running it again is safe."""

    def __init__(self, dialect: _PostgresDialect) -> None:
        self._dialect = dialect
        self._conn: Any = dialect.conn
        self._cur: Any = self._conn.cursor()
        self._used = False

    def execute(self, sql: Any, params: Any = None, /) -> Any:
        first, self._used = not self._used, True
        try:
            return self._cur.execute(sql, params)
        except Exception as exc:
            if not (first and self._dialect._stale(exc, self._conn)):  # pyright: ignore[reportPrivateUsage]
                raise
        self._cur.close()
        self._conn = self._dialect.conn
        self._cur = self._conn.cursor()
        return self._cur.execute(sql, params)

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())

    def close(self) -> None:
        self._cur.close()


class PostgresRunStore(SQLRunStore):
    """A run store in the PostgreSQL database ``url`` names (tables created on first use).

    ``connect_timeout`` bounds each connection attempt; ``poll`` is the longest a waiting reader
    sleeps between looks when no notification arrives.
    """

    def __init__(self, url: str, *, connect_timeout: float = 5.0, poll: float = 0.5) -> None:
        self.url = url
        dialect = _PostgresDialect(url, connect_timeout=connect_timeout)
        try:
            super().__init__(dialect, poll=poll)
        except BaseException:
            dialect.close()
            raise
