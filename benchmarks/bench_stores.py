"""Run store benchmark: step cost with each store, resume of a 1,000-step run, attach latency.

Run it with ``.venv/bin/python benchmarks/bench_stores.py`` (``--no-postgres`` to leave out the
PostgreSQL rows; otherwise a real server is started with ``tests/pgserver.py``, fsync on).  It
prints plain-text tables:

* **step cost**: µs per step of a 1,000-step scripted run checkpointing every step into the
  file store (fsync), SQLite (``synchronous=FULL`` and ``NORMAL``) and PostgreSQL, best of repeats;
* **resume**: for the 1,000-step run in each store, the one SQL query that fetches its
  checkpoint chain (SQLite: the fold query picking out each document's fold parts; PostgreSQL:
  ``chain_rows``, the whole documents), ``load`` (that query and rebuilding the state) and
  ``resume()`` ready to go, median of repeats, wall and CPU ms, and the resume's wall time over
  issue 14's target of 30 ms;
* **attach latency**: how long after one connection commits a checkpoint another connection
  blocked in ``wait_for_change`` sees it (SQLite polls every 0.1 s; PostgreSQL is woken by
  NOTIFY), median of 20.

Nothing here is an assert in the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from looplet_core import (  # noqa: E402 - the path above makes the checkout importable
    BaseToolRegistry,
    CheckpointStore,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    Message,
    MockLLMBackend,
    ToolSpec,
    composable_loop,
    resume,
)
from looplet_core.durable.checkpoints import Checkpoint, latest_checkpoint, load  # noqa: E402
from looplet_core.durable.connect import open_store  # noqa: E402
from looplet_core.durable.postgres import PostgresRunStore  # noqa: E402
from looplet_core.durable.sqlite import SQLiteRunStore  # noqa: E402
from looplet_core.durable.sqlstore import SQLRunStore  # noqa: E402

STEPS = 1_000
TARGET_RESUME_MS = 30.0


def echo_reply(messages: Sequence[Message], tools: object) -> dict[str, Any]:
    return {"tool": "echo", "args": {"x": "hi"}, "id": f"call_{len(messages)}"}


def tools() -> BaseToolRegistry:
    registry = BaseToolRegistry()
    registry.register(ToolSpec("echo", "Echo x.", {"x": "str"}, lambda *, x: {"echo": x}))
    return registry


def run(steps: int, store: CheckpointStore, run_id: str) -> float:
    llm = MockLLMBackend([echo_reply] * (steps + 1))
    config = LoopConfig(max_steps=steps + 10, checkpoint=store)
    loop = composable_loop(
        llm=llm, tools=tools(), task="echo", config=config, state=DefaultState(run_id=run_id)
    )
    started = time.perf_counter()
    for step in loop:
        if step.number == steps:
            break
    elapsed = time.perf_counter() - started
    loop.close()
    return elapsed


def step_table(stores: dict[str, Callable[[], CheckpointStore]], repeats: int) -> None:
    print(f"Checkpoint every step of a {STEPS:,}-step scripted run (best of {repeats})")
    print(f"{'store':<34} {'µs/step':>10}")
    for name, make in stores.items():
        times = []
        for i in range(repeats):
            store = make()
            times.append(run(STEPS, store, f"step-{i}"))
            close = getattr(store, "close", None)
            if close is not None:
                close()
        print(f"{name:<34} {min(times) / STEPS * 1e6:>10.1f}")
    print()


def resume_table(stores: dict[str, Callable[[], CheckpointStore]], repeats: int) -> None:
    print(f"Resume of a {STEPS:,}-step run (median of {repeats}; wall / CPU ms)")
    print(f"{'store':<34} {'query':>13} {'load':>13} {'resume ready':>13} {'/ target':>10}")
    for name, make in stores.items():
        writer = make()
        run(STEPS, writer, "resume")
        rows: dict[str, list[tuple[float, float]]] = {"query": [], "load": [], "resume": []}
        for _ in range(repeats):
            reader = make()  # a fresh process's view: no cache from the writer
            newest = latest_checkpoint(reader, "resume")
            if isinstance(reader, SQLRunStore):
                seq = int(newest.rsplit("-", 1)[1])
                rows["query"].append(_timed(lambda r=reader, q=seq: _chain_query(r, q)))
            rows["load"].append(_timed(lambda r=reader, n=newest: load(r, n)))
            rows["resume"].append(
                _timed(
                    lambda r=reader: resume(
                        r, "resume", llm=MockLLMBackend([echo_reply]), tools=tools()
                    )
                )
            )
            close = getattr(reader, "close", None)
            if close is not None:
                close()
        cells = [_cell(rows[k]) for k in ("query", "load", "resume")]
        ratio = statistics.median(t[0] for t in rows["resume"]) / TARGET_RESUME_MS
        print(f"{name:<34} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} {ratio:>9.2f}x")
        close = getattr(writer, "close", None)
        if close is not None:
            close()
    print(f"{'target (resume ready)':<34} {'':>13} {'':>13} {TARGET_RESUME_MS:>13.1f}")
    print()


def _chain_query(store: SQLRunStore, seq: int) -> object:
    """The one query ``load`` runs: the dialect's fold query where it has one, else
    ``chain_rows`` (whole documents)."""
    query = store.dialect.chain_sql
    if query is None:
        return store.chain_rows("resume", seq)
    with store.dialect.read() as cur:
        return cur.execute(store.dialect.sql(query), ("resume", seq)).fetchall()


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _cell(times: list[tuple[float, float]]) -> str:
    if not times:
        return "-"
    wall = statistics.median(t[0] for t in times)
    return f"{wall:.1f} / {statistics.median(t[1] for t in times):.1f}"


def attach_table(stores: dict[str, Callable[[], SQLRunStore]], rounds: int = 20) -> None:
    print(f"Attach latency: a write seen by another connection waiting on it (median of {rounds})")
    print(f"{'store':<34} {'ms':>8}")
    for name, make in stores.items():
        writer, watcher = make(), make()
        seen: list[float] = []
        for i in range(rounds):
            since = watcher.changes("attach")
            got: list[float] = []

            def wait(
                w: SQLRunStore = watcher, s: tuple[int, int, int] = since, out: list[float] = got
            ) -> None:
                w.wait_for_change("attach", s, timeout=5)
                out.append(time.perf_counter())

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.05 + (i % 7) * 0.013)  # land the write at varied points of a poll
            cp = Checkpoint("attach", "main", i, {}, 0, [], 0, [])
            writer.put(cp)
            written = time.perf_counter()
            thread.join()
            seen.append((got[0] - written) * 1000)
        print(f"{name:<34} {statistics.median(seen):>8.1f}")
        writer.close()
        watcher.close()
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary dir)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true", help="leave out PostgreSQL")
    args = parser.parse_args(argv)
    server: Any = None
    if not args.no_postgres:
        from tests.pgserver import PgServer

        server = PgServer(fsync=True).start()
    try:
        if args.dir:  # a --dir that does not exist yet is made, not a traceback
            os.makedirs(args.dir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            base = Path(tmp)
            counter = iter(range(1_000_000))
            load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            print(f"files under {base}; {os.cpu_count()} CPUs, load average {load_avg:.1f}\n")

            def fresh(suffix: str) -> Path:
                return base / f"s{next(counter)}{suffix}"

            files = base / "files"
            sqlite_file, sqlite_fast = base / "full.db", base / "normal.db"
            stores: dict[str, Callable[[], CheckpointStore]] = {
                "FileCheckpointStore (fsync)": lambda: FileCheckpointStore(files),
                "SQLite (synchronous=FULL)": lambda: SQLiteRunStore(sqlite_file),
                "SQLite (synchronous=NORMAL)": lambda: SQLiteRunStore(sqlite_fast, durable=False),
            }
            sql: dict[str, Callable[[], SQLRunStore]] = {
                "SQLite (poll 0.1 s)": lambda: SQLiteRunStore(fresh(".db")),
            }
            if server is not None:
                url = server.url
                stores["PostgreSQL 127.0.0.1 (fsync on)"] = lambda: PostgresRunStore(url)
                sql["PostgreSQL (LISTEN/NOTIFY)"] = lambda: PostgresRunStore(url)
            step_table(stores, args.repeats)
            resume_table(stores, args.repeats)
            shared = fresh(".db")
            sql["SQLite (poll 0.1 s)"] = lambda: SQLiteRunStore(shared)
            attach_table(sql)
            assert open_store(shared).where  # the URL form opens the same file
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
