"""A real PostgreSQL server for the tests: Debian's ``postgresql`` binaries, ``initdb`` into a
temporary directory, listening on 127.0.0.1 on a free port, with a password (so the tests see
that it never leaks).  ``make postgres`` installs the package when it is missing.

    with PgServer() as pg:
        store = open_store(pg.url)

    python -m tests.pgserver        # start one, print its URL (with a *** password), stop it

As root, ``initdb`` and the server run as the ``postgres`` user (PostgreSQL refuses root).
When the binaries are missing or the server does not start, ``PgServer`` raises ``PgServerError``
saying why: the postgres tier fails, it never skips.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PgServer", "PgServerError", "find_bindir"]

INSTALL_HINT = "install Debian's server: `make postgres` (apt-get install -y postgresql)"


class PgServerError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest Debian version first)."""
    env = os.environ.get("LOOPLET_PG_BINDIR")
    candidates = [env] if env else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    for found in candidates:
        if found and (Path(found) / "initdb").is_file() and (Path(found) / "pg_ctl").is_file():
            return Path(found)
    raise PgServerError(f"no PostgreSQL server binaries (initdb, pg_ctl) found; {INSTALL_HINT}")


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One throwaway server.  ``url`` has the password; ``where`` is the URL without it."""

    user = "looplet"
    database = "looplet"

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self.bindir = find_bindir()
        self.password = secrets.token_hex(12)
        self.port = 0
        self.root: Path | None = None
        self._as: list[str] = []

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def where(self) -> str:
        return f"postgresql://{self.user}:***@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        try:
            done = subprocess.run(
                [*self._as, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgServerError(f"{args[0]} failed: {exc}") from None
        if done.returncode != 0:
            log = self._log_tail()
            raise PgServerError(
                f"{Path(args[0]).name} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
                + (f"\nserver log:\n{log}" if log else "")
            )

    def _log_tail(self) -> str:
        if self.root is None:
            return ""
        try:
            return (self.root / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self) -> PgServer:
        self.root = Path(tempfile.mkdtemp(prefix="looplet-pg-"))
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise PgServerError(
                    f"running as root and there is no 'postgres' user to run the server; "
                    f"{INSTALL_HINT}"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PgServerError("running as root, but runuser is missing to drop to postgres")
            self._as = [runuser, "-u", "postgres", "--"]
        data, pwfile = self.root / "data", self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            account = pwd.getpwnam("postgres")
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        os.chmod(pwfile, 0o600)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        for attempt in range(3):  # a free port can be taken between probing and binding
            self.port = _free_port()
            try:
                self._pg_ctl_start()
                break
            except PgServerError:
                if attempt == 2:
                    self.stop()
                    raise
        self._create_database()
        return self

    def _pg_ctl_start(self) -> None:
        assert self.root is not None
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=60"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def crash(self) -> None:
        """Stop the server at once (``-m immediate``: no clean shutdown), as a crash would."""
        assert self.root is not None
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-m",
            "immediate",
            "-w",
            "stop",
        )

    def restart(self) -> None:
        """Start the server again after ``crash``, on the same port with the same data."""
        self._pg_ctl_start()

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                admin = self.url.rsplit("/", 1)[0] + "/postgres"
                with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"CREATE DATABASE {self.database}")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def reset(self) -> None:
        """Drop every looplet table, so each test starts from an empty database."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "DROP TABLE IF EXISTS looplet_meta, looplet_runs, looplet_checkpoints, "
                "looplet_approvals, looplet_breakpoints, looplet_events, looplet_leases"
            )

    def stop(self) -> None:
        if self.root is None:
            return
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self._as,
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    try:
        with PgServer() as server:
            print(f"PostgreSQL {server.bindir.parent.name} up at {server.where}")
    except PgServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
