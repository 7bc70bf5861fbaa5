"""Every checkpoint store, built the same way, so one test body runs against each of them.

``STORES`` parametrises a ``store`` fixture; ``RUN_STORES`` are the ones with approvals, leases
and events (the SQL stores).  PostgreSQL is the real server of the ``pg_server`` fixture, its
tables dropped before each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from looplet_core import FileCheckpointStore, MemoryCheckpointStore
from looplet_core.durable.checkpoints import CheckpointStore
from looplet_core.durable.connect import open_store
from looplet_core.durable.runstore import RunStore

STORES = ["memory", "file", "file-per-checkpoint", "sqlite", "postgres"]
RUN_STORES = ["sqlite", "postgres"]


def store_target(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The ``--store`` value of a fresh, empty SQL store of ``kind``."""
    if kind == "sqlite":
        return str(tmp_path / "runs.db")
    if kind == "postgres":
        server = request.getfixturevalue("pg_server")
        server.reset()
        return str(server.url)
    raise ValueError(kind)


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> CheckpointStore:
    if kind == "memory":
        return MemoryCheckpointStore()
    if kind == "file":  # the default layout: one append-only log per run
        return FileCheckpointStore(tmp_path / "cp", durable=False)
    if kind == "file-per-checkpoint":  # the layout of runs written before the log
        return FileCheckpointStore(tmp_path / "cp", durable=False, layout="files")
    return make_run_store(kind, tmp_path, request)


def make_run_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> RunStore:
    store = open_store(store_target(kind, tmp_path, request))
    request.addfinalizer(store.close)
    return store
