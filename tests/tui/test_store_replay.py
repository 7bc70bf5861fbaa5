"""Replay, search and run diff of runs kept in a run store, checked against the run's own trace.

The demo agent runs once with a ``ProvenanceSink`` *and* a run store (checkpoints plus
``StoreEventLog``), so the trace is the reference: replaying the run from the store must show the
same steps, the same prompt for every model call (the demo compacts its history once, so one
prompt is a rewrite), the same compaction marker and the same end.  SQLite and a real PostgreSQL
server (``tests/pgserver.py``) both serve as the store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from looplet_core import (
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    TraceReader,
    composable_loop,
)
from looplet_core.durable.checkpointer import CheckpointHook
from looplet_core.durable.connect import open_store
from looplet_core.durable.recorded import StoredRun
from looplet_core.durable.store_approver import StoreEventLog
from looplet_tui.__main__ import main
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import (
    SessionError,
    open_recording,
    replay_session,
    replay_target,
    store_replay_session,
)
from looplet_tui.demo import make_agent
from looplet_tui.live.runstate import Marker, RunState
from looplet_tui.replay.search import TraceIndex
from looplet_tui.rundiff.align import compare_recordings
from looplet_tui.screens.run_diff import RunDiffApp, RunDiffScreen
from looplet_tui.session import ReplaySession
from tests.core.store_kinds import RUN_STORES, store_target
from tests.tui.helpers import make_tools
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, settled, until
from tests.tui.test_run_diff import RUN_A, RUN_B, text_of


def record(target: str, trace: Path | None, run_id: str) -> None:
    """The demo, approving everything, into the store ``target`` (and a trace, if given)."""
    store = open_store(target)
    agent = make_agent(delay=0)
    hooks: list[object] = [*agent["hooks"], StoreEventLog(store)]
    if trace is not None:
        hooks.append(ProvenanceSink(trace, llm=agent["llm"]))
    agent["hooks"] = hooks
    agent["config"].record_prompts = True
    agent["config"].checkpoint = store
    agent["state"] = DefaultState(run_id=run_id)
    try:
        for step in composable_loop(**agent):
            if step.approval is not None and not step.approval.decided:
                step.approval.approve()
    finally:
        store.close()


def record_sparse(target: str, trace: Path, run_id: str, every: int) -> None:
    """The demo with a checkpoint every ``every`` steps only (``CheckpointHook(every=...)``)."""
    store = open_store(target)
    agent = make_agent(delay=0)
    sink = ProvenanceSink(trace, llm=agent["llm"])
    agent["hooks"] = [*agent["hooks"], sink, CheckpointHook(store, every=every)]
    agent["config"].record_prompts = True
    agent["state"] = DefaultState(run_id=run_id)
    try:
        for step in composable_loop(**agent):
            if step.approval is not None and not step.approval.decided:
                step.approval.approve()
    finally:
        store.close()


def record_script(target: str, trace: Path | None, run_id: str, script: list[Any]) -> None:
    """A scripted greeting run (``test_run_diff``'s) into the store, and a trace if given."""
    store = open_store(target)
    llm = MockLLMBackend(script)
    hooks: list[object] = [ProvenanceSink(trace, llm=llm)] if trace is not None else []
    try:
        for _ in composable_loop(
            llm=llm,
            tools=make_tools(),
            task="greet people",
            config=LoopConfig(checkpoint=store),
            state=DefaultState(run_id=run_id),
            hooks=hooks,
        ):
            pass
    finally:
        store.close()


@pytest.fixture(params=RUN_STORES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_target(str(request.param), tmp_path, request)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[str, Path]:
    """A SQLite store holding run ``demo1``, and the trace of the same run."""
    db, trace = str(tmp_path / "runs.db"), tmp_path / "trace"
    record(db, trace, "demo1")
    return db, trace


def indexed(entries: list[Any]) -> list[tuple[Any, ...]]:
    """What a step index says of each step (a trace's log rounds ``elapsed_ms``)."""
    return [(e.number, e.status, e.tool, e.error_kind, e.llm_call) for e in entries]


def notices(app: DebuggerApp) -> list[str]:
    return [n.message for n in app._notifications]  # pyright: ignore[reportPrivateUsage]


def app_for(session: object) -> DebuggerApp:
    assert isinstance(session, ReplaySession)
    return DebuggerApp(session, clock=lambda: FIXED_CLOCK, timings=False)


# -- the same run, from the store and from its trace ---------------------------------------------


def test_a_stored_run_replays_the_steps_prompts_and_end_of_its_trace(
    target: str, tmp_path: Path
) -> None:
    record(target, tmp_path / "trace", "demo1")
    from_trace = replay_session(tmp_path / "trace")
    from_store = store_replay_session(target, "demo1")
    assert len(from_store.steps) == len(from_trace.steps) == 10
    assert list(from_store.steps) == list(from_trace.steps)
    assert from_trace.load_prompt is not None and from_store.load_prompt is not None
    calls = sorted({s.llm_call.index for s in from_trace.steps if s.llm_call is not None})
    assert len(calls) >= 8
    for index in calls:
        assert list(from_store.load_prompt(index)) == list(from_trace.load_prompt(index)), index
    trace = TraceReader(tmp_path / "trace")
    stored = from_store.reader
    assert isinstance(stored, StoredRun)
    assert [stored.prompt(i) for i in calls] == [trace.prompt(i) for i in calls]
    assert [e.kind for e in from_store.events] == [e.kind for e in from_trace.events]
    assert [e.step for e in from_store.events] == [e.step for e in from_trace.events]
    assert from_store.result == from_trace.result
    assert indexed(stored.entries) == indexed(trace.entries)
    assert "#demo1" in from_store.title and "Clean customers.csv" in from_store.title


def test_a_run_checkpointed_every_third_step_still_has_every_prompt(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    record_sparse(db, tmp_path / "trace", "sparse", every=3)
    from_trace, from_store = replay_session(tmp_path / "trace"), store_replay_session(db, None)
    assert list(from_store.steps) == list(from_trace.steps)
    assert from_trace.load_prompt is not None and from_store.load_prompt is not None
    for step in from_trace.steps:
        if step.llm_call is not None:
            index = step.llm_call.index
            assert list(from_store.load_prompt(index)) == list(from_trace.load_prompt(index))
    assert from_store.result == from_trace.result


def test_one_run_needs_no_run_id_and_a_url_names_the_store_too(
    sqlite_db: tuple[str, Path],
) -> None:
    db, _ = sqlite_db
    for spec in (db, f"sqlite:///{db}", f"{db}#demo1"):
        session = replay_target(spec)
        assert isinstance(session, ReplaySession) and len(session.steps) == 10, spec
    session = replay_target(db, run_id="demo1")
    assert isinstance(session, ReplaySession) and isinstance(session.reader, StoredRun)


async def test_the_replay_of_a_stored_run_plays_to_its_end_with_prompts_and_compaction(
    target: str, tmp_path: Path
) -> None:
    record(target, None, "demo1")
    app = app_for(replay_target(target, run_id="demo1"))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        text = screen_text(app)
        assert "REPLAY" in text and "#1 load_csv(path='customers.csv')" in text
        await pilot.press("1")  # the prompt tab: folded from the checkpoints when shown
        await pilot.pause()
        assert "SYSTEM" in screen_text(app)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end of the recording")
        await pilot.pause()
        assert app.controller.run_state is RunState.DONE
        assert app.controller.steps_done == 10
        assert any(isinstance(e, Marker) and "compacted" in e.text for e in app.controller.entries)
        assert "Dropped 2 duplicate rows" in screen_text(app)


# -- search ----------------------------------------------------------------------------------------


def test_search_of_a_stored_run_finds_what_search_of_its_trace_finds(
    sqlite_db: tuple[str, Path],
) -> None:
    db, trace = sqlite_db
    stored = open_recording(f"{db}#demo1")
    assert isinstance(stored, StoredRun)
    in_store, in_trace = TraceIndex(stored), TraceIndex(TraceReader(trace))
    for query in ("duplicate", "customers.csv", "filled 2 missing", "You are", "zebra crossing"):
        assert in_store.search(query) == in_trace.search(query), query
    assert {hit.where for hit in in_store.search("duplicate")} >= {"prompt", "result"}
    assert in_store.problems == []


async def test_search_in_a_stored_run_replay_jumps_to_the_match(
    sqlite_db: tuple[str, Path],
) -> None:
    db, _ = sqlite_db
    app = app_for(replay_target(db))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("slash", *"duplicate", "enter")
        await until(pilot, lambda: app.hits, "the search")
        steps = [hit.step for hit in app.hits]
        assert len(steps) >= 2 and steps == sorted(steps)
        await until(pilot, lambda: any("for 'duplicate'" in n for n in notices(app)), "the count")
        assert app.player is not None and app.player.position >= steps[0]


async def test_re_running_a_stored_run_points_to_resume(sqlite_db: tuple[str, Path]) -> None:
    db, _ = sqlite_db
    app = app_for(replay_target(db))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        session = app.session
        assert isinstance(session, ReplaySession)
        app._rerun(session, 1, "recorded", "recorded")  # pyright: ignore[reportPrivateUsage]
        await pilot.pause()
        assert any("looplet-tui resume" in n and "--run demo1" in n for n in notices(app))


# -- run diff --------------------------------------------------------------------------------------


def test_two_runs_of_one_store_diff_at_the_step_where_they_part(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    record_script(db, tmp_path / "trace-a", "a", RUN_A)
    record_script(db, None, "b", RUN_B)
    comparison = compare_recordings(open_recording(f"{db}#a"), open_recording(f"{db}#b"))
    assert [pair.agree for pair in comparison.pairs] == [True, True, False, False, False]
    first = comparison.first
    assert first is not None and first.divergence is not None
    assert (first.number, first.divergence.field) == (3, "args")
    assert comparison.label_a.endswith("runs.db#a") and comparison.label_b.endswith("runs.db#b")
    # the same run from the store and from its trace: no divergence at all
    same = compare_recordings(open_recording(f"{db}#a"), open_recording(str(tmp_path / "trace-a")))
    assert same.first is None and same.summary() == "no divergence: 4 steps agree"
    # a trace against another stored run parts where the two stored runs did
    mixed = compare_recordings(open_recording(str(tmp_path / "trace-a")), open_recording(f"{db}#b"))
    assert mixed.first is not None and (mixed.first.number, mixed.differing) == (3, [2, 3, 4])


async def test_diff_of_a_stored_run_and_a_trace_opens_the_side_by_side_screen(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "runs.db")
    record_script(db, None, "b", RUN_B)
    record_script(str(tmp_path / "other.db"), tmp_path / "trace-a", "a", RUN_A)
    comparison = compare_recordings(open_recording(str(tmp_path / "trace-a")), open_recording(db))
    app = RunDiffApp(comparison)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunDiffScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 5 and table.cursor_row == 2  # the first divergence, selected
        pair = text_of(screen.query_one("#diff-pair-body", Static))
        assert "step 3: args differs first" in pair and "B: " in pair
    assert comparison.label_b.endswith("runs.db#b")  # the pane's header shows it, cut to fit


# -- bad input: one line, exit 2, nothing created --------------------------------------------------


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("looplet-tui: ") and err.count("\n") == 1, err
    return err


def test_a_store_that_does_not_exist_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "gone.db"
    for args in (
        ["replay", str(gone)],
        ["replay", f"sqlite:///{gone}", "--run", "r1"],
        ["diff", f"{gone}#a", f"{gone}#b"],
    ):
        assert "no such run store (nothing was created)" in one_line_error(capsys, *args)
    assert list(tmp_path.iterdir()) == []


def test_wrong_urls_and_run_ids_each_say_what_to_fix(
    sqlite_db: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, trace = sqlite_db
    assert "unknown store URL scheme 'mysql'" in one_line_error(capsys, "replay", "mysql://x/db")
    assert "no run 'nope'" in one_line_error(capsys, "replay", db, "--run", "nope")
    assert "no run 'nope'" in one_line_error(capsys, "diff", f"{db}#nope", str(trace))
    assert "names run 'demo1' but --run says 'x'" in one_line_error(
        capsys, "replay", f"{db}#demo1", "--run", "x"
    )
    assert "drop --run" in one_line_error(capsys, "replay", str(trace), "--run", "demo1")
    assert "--agent is for re-running" in one_line_error(capsys, "replay", db, "--agent", "x.py")
    assert "no such trace directory or run store" in one_line_error(
        capsys, "diff", str(trace), "nowhere"
    )


def test_several_runs_without_a_run_id_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "runs.db")
    record_script(db, None, "first", RUN_A)
    record_script(db, None, "second", RUN_B)
    err = one_line_error(capsys, "replay", db)
    assert "holds 2 runs (first, second): choose one with --run ID" in err
    err = one_line_error(capsys, "diff", db, f"{db}#first")
    assert "holds 2 runs" in err


def test_a_damaged_row_is_one_line_naming_it(
    sqlite_db: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = sqlite_db
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE looplet_checkpoints SET doc = '{\"format\": ' WHERE seq = 3")
    err = one_line_error(capsys, "replay", db)
    assert "demo1-000003" in err and "not valid JSON" in err
    with pytest.raises(SessionError, match="demo1-000003"):
        open_recording(f"{db}#demo1")


def test_a_damaged_step_stops_the_replay_there_saying_why(sqlite_db: tuple[str, Path]) -> None:
    db, _ = sqlite_db
    with sqlite3.connect(db) as conn:
        (doc,) = conn.execute("SELECT doc FROM looplet_checkpoints WHERE seq = 2").fetchone()
        broken = doc.replace('"status":"ok"', '"status":"exploded"', 1)
        assert broken != doc
        conn.execute("UPDATE looplet_checkpoints SET doc = ? WHERE seq = 2", [broken])
    session = replay_target(db)
    assert isinstance(session, ReplaySession)
    with pytest.raises(Exception, match="does not decode"):
        list(session.steps)


def test_the_core_diff_command_takes_stored_runs_too(tmp_path: Path) -> None:
    import io

    from looplet_core.cli import main as core_main

    db = str(tmp_path / "runs.db")
    record_script(db, tmp_path / "trace-a", "a", RUN_A)
    record_script(db, None, "b", RUN_B)

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        return core_main(["diff", *args], out, err), out.getvalue(), err.getvalue()

    code, out, _ = run(f"{db}#a", f"{db}#b")
    assert code == 1 and "first divergence: step 3" in out and "runs.db#b" in out
    code, out, _ = run(f"{db}#a", str(tmp_path / "trace-a"))
    assert code == 0 and "no divergence: 4 steps agree" in out
    code, _, err = run(db, f"{db}#a")
    assert code == 2 and "holds 2 runs (a, b)" in err
    code, _, err = run(f"{tmp_path / 'gone.db'}#a", f"{db}#a")
    assert code == 2 and "nothing was created" in err and not (tmp_path / "gone.db").exists()
