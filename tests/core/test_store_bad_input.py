"""A store that cannot be used says what and what to do, and never prints a password."""

from __future__ import annotations

import io
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from looplet_core import FileCheckpointStore, Step
from looplet_core.cli import main as core_main
from looplet_core.durable.checkpoints import Checkpoint
from looplet_core.durable.connect import open_checkpoints, open_store
from looplet_core.durable.runstore import redact_url
from looplet_core.durable.sqlite import SQLiteRunStore
from looplet_core.errors import CheckpointError, StoreError
from looplet_core.runs.headless import run_in_store
from tests.core.durable_helpers import backend, counting_plan, durable_tools
from tests.pgserver import PgServer


def bare(n: int) -> Checkpoint:
    return Checkpoint("r1", "main", n, {}, 0, [], 0, [])


def test_a_file_that_is_not_a_database_is_named_and_not_overwritten(tmp_path: Path):
    path = tmp_path / "runs.db"
    junk = b"this is not sqlite at all\n" * 200
    path.write_bytes(junk)
    with pytest.raises(StoreError, match=r"runs\.db: .*not a SQLite database, or it is corrupt"):
        open_store(path)
    assert path.read_bytes() == junk


def test_a_database_locked_past_the_timeout_is_reported_as_locked(tmp_path: Path):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=r"locked by another process for over 0\.2s"):
            store.put(bare(1))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.put(bare(1)).seq == 1  # nothing half-written: the first save is still number 1
    store.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("mysql://u:pw@host/db", r"unknown store URL scheme 'mysql'"),
        ("sqlite:/runs.db", r"a SQLite URL is sqlite:///relative"),
        ("runs.txt", r"not a store; use a file ending in \.db"),
    ],
)
def test_a_target_that_names_no_store_says_what_is_accepted(target: str, message: str):
    with pytest.raises(StoreError, match=message) as caught:
        open_store(target)
    assert "pw" not in str(caught.value)


def test_a_directory_is_a_file_store_for_checkpoints_only(tmp_path: Path):
    with pytest.raises(StoreError, match="directory of checkpoint files"):
        open_store(tmp_path)
    assert isinstance(open_checkpoints(tmp_path / "cp"), FileCheckpointStore)
    assert isinstance(open_checkpoints(f"sqlite:///{tmp_path}/x.db"), SQLiteRunStore)


def test_a_postgres_that_is_down_is_named_without_its_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    url = f"postgresql://ada:hunter2secret@127.0.0.1:{port}/runs"
    with pytest.raises(StoreError) as caught:
        open_store(url, connect_timeout=2)
    text = str(caught.value)
    assert "hunter2secret" not in text
    assert f"postgresql://ada:***@127.0.0.1:{port}/runs: cannot connect to PostgreSQL" in text
    assert "check that the server is running" in text


def test_a_wrong_password_is_refused_clearly_and_not_echoed(pg_server: PgServer):
    url = pg_server.url.replace(pg_server.password, "wrong-password-123")
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as caught:
        open_store(url)
    assert "wrong-password-123" not in str(caught.value)
    assert pg_server.password not in str(caught.value)


def test_the_server_going_away_mid_run_is_a_store_error_and_the_store_recovers():
    server = PgServer().start()
    try:
        store = open_store(server.url)
        store.put(bare(1))
        server.crash()
        with pytest.raises(StoreError, match=r"connection to PostgreSQL failed|cannot connect"):
            store.put(bare(2))
        server.restart()
        assert store.put(bare(2)).seq == 2  # reconnects; nothing of the first save was lost
        assert [store.get(c).step for c in store.list("r1")] == [1, 2]
        store.close()
    finally:
        server.stop()


def test_a_run_whose_store_goes_away_runs_no_tool_it_cannot_record_and_resumes_later():
    server = PgServer().start()
    calls: list[tuple[str, dict[str, Any]]] = []
    agent = {"llm": backend(counting_plan(4)), "tools": durable_tools(calls), "task": "count"}
    try:
        store = open_store(server.url)

        def on_step(step: Step) -> None:
            if step.number == 2:  # the database goes away between step 2 and step 3
                server.crash()

        result = run_in_store(agent, store, run_id="r1", on_step=on_step)  # no exception
        assert result is not None and result.stop_reason.value == "hook_error"
        error = result.steps[-1].tool_result.error or ""
        assert "not running count (step 3)" in error
        assert re.search(r"cannot connect to PostgreSQL|connection to PostgreSQL failed", error)
        assert [args["i"] for _, args in calls] == [0, 1]  # step 3's tool never ran
        server.restart()
        again = {**agent, "llm": backend(counting_plan(4))}
        result = run_in_store(again, store, run_id="r1")
        assert result is not None and result.stop_reason.value == "done"
        assert [args["i"] for tool, args in calls if tool == "count"] == [0, 1, 2, 3]
        store.close()
    finally:
        server.stop()


def test_redact_url_hides_only_the_password():
    assert redact_url("postgresql://ada:pw@db:5432/x?sslmode=require") == (
        "postgresql://ada:***@db:5432/x?sslmode=require"
    )
    assert redact_url("postgresql://db/x") == "postgresql://db/x"


def test_a_missing_checkpoint_in_a_store_names_it(tmp_path: Path):
    store = open_store(tmp_path / "runs.db")
    with pytest.raises(CheckpointError, match=r"runs\.db: no checkpoint r1-000007"):
        store.get("r1-000007")
    store.close()


def test_credentials_may_come_from_the_pg_variables(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
):
    pg_server.reset()
    monkeypatch.setenv("PGUSER", pg_server.user)
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    store = open_store(f"postgresql://127.0.0.1:{pg_server.port}/{pg_server.database}")
    assert store.put(bare(1)).seq == 1
    assert pg_server.password not in repr(store) and pg_server.password not in store.where
    store.close()


def test_reading_commands_never_create_a_store_for_a_path_that_does_not_exist(tmp_path: Path):
    typo = tmp_path / "tpyo.db"
    with pytest.raises(StoreError, match=r"tpyo\.db: no such run store \(nothing was created\)"):
        open_store(typo, create=False)
    with pytest.raises(StoreError, match=r"no such run store"):
        open_store(f"sqlite:///{typo}", create=False)
    out, err = io.StringIO(), io.StringIO()
    for argv in (
        ["runs", "--store", str(typo)],
        ["runs", "show", "r1", "--store", str(typo)],
        ["runs", "approve", "r1", "--store", str(typo)],
    ):
        assert core_main(argv, out, err) == 2
    assert err.getvalue().count("no such run store (nothing was created)") == 3
    assert "python -m looplet_core run AGENT --store" in err.getvalue()
    assert list(tmp_path.iterdir()) == []
    open_store(typo).close()  # the writing path (`run`) still creates it
    assert typo.is_file()
    assert open_store(typo, create=False).list_runs() == []
