"""``SQLiteRunStore``: a run store in one SQLite file (stdlib ``sqlite3``), the embedded default.

The file is in WAL mode, so readers (a debugger attached to the run) never block the writer and
the writer never blocks them.  Each write is one ``BEGIN IMMEDIATE`` transaction: it takes the
file's write lock up front, so two processes never interleave inside one write, and a second
writer waits (up to ``busy_timeout`` seconds) instead of failing.  ``synchronous=FULL`` (the
default, ``durable=True``) makes each committed write survive a power cut; ``durable=False``
(``NORMAL``) still survives a crash of the process.

A file deleted, moved or replaced while a store has it open is caught at the next write (one
``stat`` compared with the file opened): SQLite would go on writing to the unlinked file and
lose it all at close.  The store copies what it still sees to ``NAME.rescued-...db`` beside it,
refuses further use, and its error says where the copy is and how to resume from it.

A run's lease is a row naming ``host:pid``; a lease whose process is gone on this host is taken
over, so a worker that dies releases it.  (A SQLite file belongs on one machine's disk: for runs
over many machines use PostgreSQL.)
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Generator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from looplet_core.durable.dialect import Cursor
from looplet_core.durable.sqlstore import SQLRunStore
from looplet_core.errors import StoreError

__all__ = ["SQLiteRunStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS looplet_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS looplet_runs (run_id TEXT PRIMARY KEY, agent TEXT NOT NULL, "
    "status TEXT NOT NULL, steps INTEGER NOT NULL, checkpoints INTEGER NOT NULL, "
    "created_at REAL NOT NULL, updated_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS looplet_checkpoints (run_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "id TEXT NOT NULL, parent TEXT, branch_id TEXT NOT NULL, reason TEXT NOT NULL, "
    "step INTEGER NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL, "
    "PRIMARY KEY (run_id, seq))",
    "CREATE TABLE IF NOT EXISTS looplet_approvals (run_id TEXT NOT NULL, id INTEGER NOT NULL, "
    "request TEXT NOT NULL, status TEXT NOT NULL, decision TEXT, decided_by TEXT NOT NULL, "
    "created_at REAL NOT NULL, decided_at REAL, PRIMARY KEY (run_id, id))",
    "CREATE TABLE IF NOT EXISTS looplet_breakpoints (run_id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS looplet_events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "doc TEXT NOT NULL, PRIMARY KEY (run_id, seq))",
    "CREATE TABLE IF NOT EXISTS looplet_leases (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
    "host TEXT NOT NULL, pid INTEGER NOT NULL, taken_at REAL NOT NULL)",
)


def _has(path: str, *types: str) -> str:
    kinds = ", ".join(f"'{t}'" for t in types)
    return f"json_type(doc, '$.{path}') IN ({kinds})"


def _maybe(path: str, kind: str) -> str:
    return f"COALESCE(json_type(doc, '$.{path}'), 'null') IN ('{kind}', 'null')"


# What Checkpoint.from_json checks, as SQL.  json_valid is strict RFC 8259 JSON in every SQLite
# version (the other json functions accept JSON5 from 3.42 on, and would read NaN as null).
_OK = " AND ".join(
    [
        "json_valid(doc)",
        "json_extract(doc, '$.format') = 'looplet.checkpoint'",
        _has("version", "integer"),
        "json_extract(doc, '$.version') = 1",
        "json_extract(doc, '$.id') = id",
        _has("id", "text"),
        _has("seq", "integer"),
        _has("run_id", "text"),
        _has("branch_id", "text"),
        _has("step", "integer"),
        _has("reason", "text"),
        _has("created_at", "integer", "real"),
        _has("state", "object"),
        _has("messages.keep", "integer"),
        _has("messages.add", "array"),
        _has("steps.keep", "integer"),
        _has("steps.add", "array"),
        _maybe("parent", "text"),
        _maybe("pending_approval", "object"),
        _maybe("run", "object"),
        _maybe("fork", "object"),
    ]
)
_CHAIN_SQL = (
    f"SELECT id, {_OK}, json_extract(doc, '$.parent'), json_extract(doc, '$.messages.keep'), "
    "json_extract(doc, '$.messages.add'), json_extract(doc, '$.steps.keep'), "
    "json_array_length(doc, '$.steps.add'), doc "
    "FROM looplet_checkpoints WHERE run_id = ? AND seq <= ? ORDER BY seq"
)


class _SQLiteDialect:
    name = "sqlite"
    schema: Sequence[str] = _SCHEMA
    chain_sql: str | None = _CHAIN_SQL

    def __init__(self, path: Path, *, busy_timeout: float, durable: bool) -> None:
        self.path = path
        self.where = str(path)
        self.busy_timeout = busy_timeout
        self._abs = os.path.abspath(path)  # a tool that changes directory moves no store
        self._lost: str | None = None  # why the file can no longer be used
        try:
            if path.parent != Path():
                path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"{path}: cannot open the SQLite store ({exc}); check that the directory exists "
                "and is writable"
            ) from None
        try:
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self.conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        except sqlite3.Error as exc:
            self.conn.close()
            raise self.failure(exc, "open it") or StoreError(str(exc)) from None
        if mode is None or str(mode[0]).lower() != "wal":
            self.conn.close()
            raise StoreError(
                f"{path}: SQLite would not switch to WAL mode (got {mode}); put the store on a "
                "local disk"
            )
        self._file = _identity(self._abs)

    def sql(self, text: str) -> str:
        return text

    @contextmanager
    def transaction(self) -> Generator[Cursor]:
        self._check_file()
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            cur.close()

    @contextmanager
    def read(self) -> Generator[Cursor]:
        """A cursor closed after use: an unfinished statement would hold its read snapshot
        open, and the reader would stop seeing other processes' writes."""
        if self._lost is not None:
            raise StoreError(self._lost)
        cur = self.conn.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def lock_run(self, cur: Cursor, run_id: str) -> None:
        """``BEGIN IMMEDIATE`` already holds the file's single write lock."""

    def notify(self, cur: Cursor, run_id: str) -> None:
        """SQLite has no notifications; readers poll."""

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, timeout))

    def try_lease(self, run_id: str, owner: str) -> str | None:
        host, _, pid_text = owner.rpartition(":")
        pid = int(pid_text) if pid_text.isdigit() else os.getpid()
        with self.transaction() as cur:
            row = cur.execute(
                "SELECT owner, host, pid FROM looplet_leases WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is not None and row[0] != owner and not _gone(str(row[1]), int(row[2]), host):
                return str(row[0])
            cur.execute(
                "INSERT INTO looplet_leases (run_id, owner, host, pid, taken_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner,"
                " host = excluded.host, pid = excluded.pid, taken_at = excluded.taken_at",
                (run_id, owner, host, pid, time.time()),
            )
        return None

    def release_lease(self, run_id: str, owner: str) -> None:
        with self.transaction() as cur:
            cur.execute(
                "DELETE FROM looplet_leases WHERE run_id = ? AND owner = ?", (run_id, owner)
            )

    def failure(self, exc: BaseException, doing: str) -> StoreError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"{self.path}: cannot {doing}: the database stayed locked by another process for "
                f"over {self.busy_timeout:g}s; find the process holding it (a long transaction, "
                "a crashed tool with the file open) or raise busy_timeout"
            )
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in text:
            return StoreError(f"{self.path}: cannot {doing}: the file is read-only ({text})")
        if isinstance(exc, sqlite3.OperationalError) and "disk" in text:
            return StoreError(f"{self.path}: cannot {doing}: {text}; free disk space")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return StoreError(
                f"{self.path}: cannot {doing}: not a SQLite database, or it is corrupt ({text}); "
                "restore it from a backup or point --store at another file"
            )
        return StoreError(f"{self.path}: cannot {doing}: {type(exc).__name__}: {text}")

    def _check_file(self) -> None:
        """Refuse to write once the file at ``path`` is not the one opened (deleted, moved, or
        replaced): SQLite would go on writing to the old file, and every write would be lost
        with it when this process closes it.  One ``stat`` per write."""
        if self._lost is not None:
            raise StoreError(self._lost)
        now = _identity(self._abs)
        if now == self._file:
            return
        what = "deleted or moved" if now is None else "replaced by another file"
        saved = self._rescue()
        self._let_go()
        self._lost = (
            f"{self.path}: the database file was {what} while this store had it open, so "
            f"nothing more is written to it (it would be lost); {saved}"
        )
        raise StoreError(self._lost)

    def _rescue(self) -> str:
        """Copy what the open connection still sees (the whole store, up to the last write)
        next to the old path, and say where; the old file is gone once this process closes it."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        copy = self.path.with_name(f"{self.path.stem}.rescued-{stamp}-{os.getpid()}.db")
        try:
            self.conn.execute("VACUUM INTO ?", (str(copy),))
        except sqlite3.Error as exc:
            return (
                f"a copy of what it held could not be saved ({exc}): restore {self.path} from a "
                "backup"
            )
        return (
            f"everything it held is saved in {copy}: stop the other processes using this store, "
            f"move that file to {self.path} (or pass it as --store), and resume the run"
        )

    def _let_go(self) -> None:
        """Close the connection to the old file, emptying its WAL first: the WAL is found by
        name, and a new database at the same path would read this one's pages from it."""
        with suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def probe(self) -> None:
        self._check_file()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


def _identity(path: str) -> tuple[int, int] | None:
    """Which file ``path`` names now (device, inode), or None if there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _gone(host: str, pid: int, my_host: str) -> bool:
    """Whether a lease holder on this host has exited (other hosts' holders are trusted)."""
    if host != my_host or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


class SQLiteRunStore(SQLRunStore):
    """A run store in the SQLite file ``path`` (created with its tables on first use).

    ``busy_timeout`` is how long a write waits for another process's write; ``poll`` how often
    a waiting reader (an approval, an attached debugger) looks again.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 10.0,
        poll: float = 0.1,
        durable: bool = True,
    ) -> None:
        self.path = Path(path)
        dialect = _SQLiteDialect(self.path, busy_timeout=busy_timeout, durable=durable)
        try:
            super().__init__(dialect, poll=poll)
        except BaseException:
            dialect.close()
            raise
