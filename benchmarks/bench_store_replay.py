"""How fast a run kept in a SQLite store opens for replay, beside the same run's trace.

    python benchmarks/bench_store_replay.py [--steps 1000] [--rounds 5]

One scripted run of ``--steps`` steps is written once with a ``ProvenanceSink`` and a SQLite run
store at the same time.  Then, interleaved round by round (so machine load hits both alike):
opening the replay session (``store_replay_session`` vs ``replay_session``), reading the last
model call's prompt, building the search corpus, and aligning the run with itself (``diff``).
Prints medians in milliseconds and the store/trace ratio; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from looplet_core import (  # noqa: E402
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    ToolSpec,
    TraceReader,
    composable_loop,
)
from looplet_core.durable.connect import open_store  # noqa: E402
from looplet_core.durable.store_approver import StoreEventLog  # noqa: E402
from looplet_tui.cli import open_recording, replay_session, store_replay_session  # noqa: E402
from looplet_tui.replay.search import TraceIndex  # noqa: E402
from looplet_tui.rundiff.align import compare_recordings  # noqa: E402


def record(where: Path, steps: int) -> tuple[str, Path]:
    db, trace = str(where / "runs.db"), where / "trace"
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec("count", "Count.", {"n": "int"}, lambda *, n: f"counted {n}", read_only=True)
    )
    script: list[Any] = [{"tool": "count", "args": {"n": i}} for i in range(steps - 1)]
    script.append({"tool": "done", "args": {"answer": "counted"}})
    store = open_store(db)
    llm = MockLLMBackend(script, report_usage=True)
    for _ in composable_loop(
        llm=llm,
        tools=tools,
        task="count",
        config=LoopConfig(max_steps=steps + 1, checkpoint=store, record_prompts=True),
        state=DefaultState(run_id="bench"),
        hooks=[ProvenanceSink(trace, llm=llm), StoreEventLog(store)],
    ):
        pass
    store.close()
    return db, trace


def ms(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        db, trace = record(Path(tmp), args.steps)
        print(
            f"recorded {args.steps} steps in {time.perf_counter() - began:.1f} s; "
            f"store {os.path.getsize(db) / 1e6:.1f} MB"
        )
        last = args.steps  # one model call per step: the last call's index
        cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            "open the replay session": (
                lambda: store_replay_session(db, "bench"),
                lambda: replay_session(trace),
            ),
            "open + last call's prompt": (
                lambda: list(open_recording(db).prompt_view(last)),
                lambda: list(TraceReader(trace).prompt_view(last)),
            ),
            "open + build the search corpus": (
                lambda: TraceIndex(open_recording(db)).build(),
                lambda: TraceIndex(TraceReader(trace)).build(),
            ),
            "open both + diff with itself": (
                lambda: compare_recordings(open_recording(db), open_recording(db)),
                lambda: compare_recordings(TraceReader(trace), TraceReader(trace)),
            ),
        }
        times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in cases}
        for _ in range(args.rounds):
            for name, (store_fn, trace_fn) in cases.items():
                times[name][0].append(ms(store_fn))
                times[name][1].append(ms(trace_fn))
    head = f"median ms ({args.rounds} rounds)"
    print(f"\n{head:<34}{'store':>10}{'trace':>10}{'ratio':>8}")
    for name, (in_store, in_trace) in times.items():
        a, b = statistics.median(in_store), statistics.median(in_trace)
        print(f"{name:<34}{a:>10.1f}{b:>10.1f}{a / b:>8.2f}")
    print(f"\nload: {os.getloadavg()[0]:.2f} (1-minute average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
