"""Breakpoints kept in a run's store: which calls an entry stops, and the ``StoreBreakpoints``
hook pausing a run until the store lets it go (once, or for one more call), keeping what other
writers add meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from looplet_core import ToolCall
from looplet_core.durable.breakpoint_entries import is_standing, stops
from looplet_core.durable.connect import open_store
from looplet_core.durable.runstore import RunStatus, RunStore
from looplet_core.durable.store_approver import StoreBreakpoints
from looplet_core.runs.headless import continue_run, pause_run


def test_an_entry_stops_calls_by_tool_glob_and_argument_regex():
    rm = {"path": "/tmp/x", "force": True}
    assert stops({"tool": "delete*"}, "delete_rows", {})
    assert not stops({"tool": "delete*"}, "count", {})
    assert stops({"args": '"force": true'}, "anything", rm)
    assert not stops({"args": '"force": false'}, "anything", rm)
    assert stops({"tool": "rm", "args": "/tmp/"}, "rm", rm)
    assert not stops({"tool": "rm", "args": "/etc/"}, "rm", rm)
    assert not stops({"tool": "rm", "enabled": False}, "rm", rm)
    assert stops({"pause": True}, "count", {})
    assert not stops({"paused_at": 3}, "count", {}) and not stops({"release": 3}, "count", {})
    assert stops({"tool": "rm", "args": "(unclosed"}, "rm", rm)  # unreadable: errs on stopping
    assert not stops({"tool": "rm", "args": "(unclosed"}, "ls", rm)
    assert is_standing({"tool": "x", "key": "k"}) and not is_standing(
        {"paused_at": 2, "tool": None}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(tmp_path / "runs.db")
    yield opened
    opened.close()


def _paused(store: RunStore) -> None:
    deadline = time.monotonic() + 10
    while store.run_info("r1").status != RunStatus.PAUSED:
        assert time.monotonic() < deadline, "the run never paused"
        time.sleep(0.02)


def _call(hook: StoreBreakpoints, tool: str, step: int) -> threading.Thread:
    thread = threading.Thread(target=hook.pre_dispatch, args=(None, None, ToolCall(tool), step))
    thread.start()
    return thread


def test_a_stepping_release_pauses_again_before_the_next_call_and_keeps_new_entries(
    store: RunStore,
):
    store.set_run("r1", status=RunStatus.RUNNING)
    hook = StoreBreakpoints(store, "r1", poll=0.02)
    pause_run(store, "r1", tool="delete")
    first = _call(hook, "delete", 1)
    _paused(store)
    store.update_breakpoints("r1", lambda es: [*es, {"tool": "write", "key": "other"}])
    assert continue_run(store, "r1", step=True) == 1
    first.join(10)
    assert not first.is_alive()
    assert store.breakpoints("r1") == [
        {"tool": "delete"},
        {"tool": "write", "key": "other"},  # written while the run was paused: kept
        {"pause": True},  # n: pause before the next call, whatever it is
    ]
    second = _call(hook, "count", 2)
    _paused(store)
    assert {"paused_at": 2} in store.breakpoints("r1")
    assert continue_run(store, "r1") == 2  # c: just go on
    second.join(10)
    assert not second.is_alive() and store.run_info("r1").status == RunStatus.RUNNING
    assert store.breakpoints("r1") == [{"tool": "delete"}, {"tool": "write", "key": "other"}]
    hook.pre_dispatch(None, None, ToolCall("count"), 3)  # nothing stops count now: no wait
