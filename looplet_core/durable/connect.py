"""Opening a store from what a user typed: a path, a ``sqlite:///`` URL, a ``postgresql://`` URL.

Kept apart from ``runstore`` (the protocol) so the SQLite and PostgreSQL modules, which import
the protocol, are imported from here only when a target names them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from looplet_core.durable.checkpoints import CheckpointStore
from looplet_core.durable.runstore import RunStore, redact_url
from looplet_core.errors import StoreError

__all__ = ["open_checkpoints", "open_store", "sqlite_path"]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def sqlite_path(target: str) -> Path | None:
    """The file a SQLite target names, or None if ``target`` is not one."""
    if target.startswith("sqlite:"):
        rest = target[len("sqlite:") :]
        if rest.startswith("///"):
            return Path(rest[3:])  # sqlite:///runs.db is relative, sqlite:////tmp/x.db absolute
        raise StoreError(
            f"{target!r}: a SQLite URL is sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    if _SCHEME.match(target):
        return None
    path = Path(target)
    if path.suffix.lower() in _SQLITE_SUFFIXES or path.is_file():
        return path
    return None


def open_store(target: str | os.PathLike[str], *, create: bool = True, **options: Any) -> RunStore:
    """The run store ``target`` names: a SQLite file or URL, or a ``postgresql://`` URL.

    ``options`` go to the store (``poll``, ``busy_timeout``, ``connect_timeout``).  A target that
    is none of these raises ``StoreError`` saying what is accepted.  ``create=False`` is for
    commands that only read or answer runs (``runs``, ``attach``, ``resume``): a SQLite file that
    does not exist is then a ``StoreError`` naming it, not a new empty database left behind by a
    typo.  (A PostgreSQL database is never created; its tables are, as on any first use.)
    """
    text = os.fspath(target)
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() in ("postgresql", "postgres"):
        from looplet_core.durable.postgres import PostgresRunStore

        return PostgresRunStore(text, **options)
    path = sqlite_path(text)
    if path is not None:
        from looplet_core.durable.sqlite import SQLiteRunStore

        if not create and not path.is_file():
            raise StoreError(
                f"{path}: no such run store (nothing was created); check the path, or start a "
                f"run there first with `python -m looplet_core run AGENT --store {path}`"
            )
        return SQLiteRunStore(path, **options)
    if scheme:
        raise StoreError(
            f"{redact_url(text)}: unknown store URL scheme {scheme.group(1)!r}; use a .db file, "
            "sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    if Path(text).is_dir():
        raise StoreError(
            f"{text}: is a directory of checkpoint files (FileCheckpointStore), which keeps no "
            "approvals or leases; give a .db file or a postgresql:// URL for a run store"
        )
    raise StoreError(
        f"{text}: not a store; use a file ending in .db (created if missing), sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DB"
    )


def open_checkpoints(target: str | os.PathLike[str], **options: Any) -> CheckpointStore:
    """Like ``open_store``, but a directory (existing, or a path with no ``.db`` suffix) is a
    ``FileCheckpointStore``."""
    text = os.fspath(target)
    if not _SCHEME.match(text) and sqlite_path(text) is None:
        from looplet_core.durable.stores import FileCheckpointStore

        return FileCheckpointStore(text)
    return open_store(text, **options)
