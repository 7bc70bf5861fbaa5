"""Checkpoint benchmark: what saving every step costs, how the bytes grow, how fast resume is.

Run it with ``.venv/bin/python benchmarks/bench_checkpoint.py`` (``--dir PATH`` to put the files
on a particular disk; the default is a temporary directory).  It prints plain-text tables:

* **on / off ratio** (issue 16): the 1,000-step run with ``FileCheckpointStore(durable=False)``
  over the same run without checkpoints, interleaved, median of repeats (``--ratio-only``: just
  this line; ``--dir /dev/shm`` for tmpfs);
* **overhead per step** of a 1,000-step scripted run (one ``echo`` call per step) with no
  checkpointing, with ``MemoryCheckpointStore``, and with ``FileCheckpointStore`` without and with
  fsync (``durable=False`` / the default ``durable=True``), in its default log layout and in the
  per-file layout (``layout="files"``), best of several repeats;
* **bytes per checkpoint record** (of the log) at the start, middle and end of runs of 100,
  1,000 and 10,000 steps, and the total divided by the steps: constant bytes per step means the
  total grows linearly;
* **resume** of the 1,000-step run from its file store: ``resume()`` (reading the 1,000
  checkpoints and rebuilding the state) and the time to the first resumed step, median of repeats,
  as wall time and as this process's CPU time (which a busy machine inflates less).

Issue 4's targets are printed beside the figures; nothing here is an assert in the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
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
    MemoryCheckpointStore,
    Message,
    MockLLMBackend,
    ToolSpec,
    composable_loop,
    resume,
)
from looplet_core.durable.runlog import LOG_NAME, MAGIC  # noqa: E402

STEPS = 1_000
SIZE_RUNS = (100, 1_000, 10_000)
TARGET_RESUME_MS = 100.0


def echo_reply(messages: Sequence[Message], tools: object) -> dict[str, Any]:
    """Always one more echo; the call id follows from the conversation, as a resumed run needs."""
    return {"tool": "echo", "args": {"x": "hi"}, "id": f"call_{len(messages)}"}


def tools() -> BaseToolRegistry:
    registry = BaseToolRegistry()
    registry.register(ToolSpec("echo", "Echo x.", {"x": "str"}, lambda *, x: {"echo": x}))
    return registry


def run(steps: int, store: CheckpointStore | None, run_id: str = "bench") -> float:
    """Seconds for ``steps`` steps (the budget ends the run), checkpointing into ``store``."""
    llm = MockLLMBackend([echo_reply] * (steps + 1))
    config = LoopConfig(max_steps=steps, checkpoint=store)
    started = time.perf_counter()
    for _ in composable_loop(
        llm=llm, tools=tools(), task="echo", config=config, state=DefaultState(run_id=run_id)
    ):
        pass
    return time.perf_counter() - started


def best(repeats: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeats))


def overhead_table(base: Path, repeats: int) -> None:
    counter = iter(range(1_000_000))

    def fresh_dir() -> Path:
        return base / f"overhead-{next(counter)}"

    rows: list[tuple[str, float]] = [
        ("none", best(repeats, lambda: run(STEPS, None))),
        ("MemoryCheckpointStore", best(repeats, lambda: run(STEPS, MemoryCheckpointStore()))),
        (
            "FileCheckpointStore(durable=False)",
            best(repeats, lambda: run(STEPS, FileCheckpointStore(fresh_dir(), durable=False))),
        ),
        (
            'FileCheckpointStore(layout="files")',
            best(
                repeats,
                lambda: run(STEPS, FileCheckpointStore(fresh_dir(), durable=False, layout="files")),
            ),
        ),
        (
            "FileCheckpointStore (fsync)",
            best(max(1, repeats // 2), lambda: run(STEPS, FileCheckpointStore(fresh_dir()))),
        ),
        (
            'FileCheckpointStore (fsync, "files")',
            best(
                max(1, repeats // 2),
                lambda: run(STEPS, FileCheckpointStore(fresh_dir(), layout="files")),
            ),
        ),
    ]
    plain = rows[0][1]
    print(f"Checkpoint every step of a {STEPS:,}-step scripted run (best of {repeats})")
    print(f"{'store':<36} {'µs/step':>10} {'overhead µs/step':>17}")
    for name, seconds in rows:
        per_step = seconds / STEPS * 1e6
        extra = (seconds - plain) / STEPS * 1e6
        print(f"{name:<36} {per_step:>10.1f} {extra:>17.1f}")
    print()


def ratio_table(base: Path, repeats: int) -> None:
    """Issue 16's figure: a run with ``FileCheckpointStore(durable=False)`` over the same run
    without checkpoints, interleaved run by run, median of ``repeats`` (wall and CPU); the
    per-file layout (``layout="files"``, how runs were written before the log) in the same
    rounds, for comparison."""
    counter = iter(range(1_000_000))
    run(20, None)
    run(20, FileCheckpointStore(base / "ratio-warm", durable=False))
    kinds: dict[str, list[tuple[float, float]]] = {"none": [], "log": [], "files": []}
    for _ in range(repeats):
        for kind, into in kinds.items():
            target = None
            if kind != "none":
                where = base / f"ratio-{next(counter)}"
                target = FileCheckpointStore(where, durable=False, layout=kind)  # type: ignore[arg-type]
            cpu = time.process_time()
            wall = run(STEPS, target)
            into.append((wall, time.process_time() - cpu))
    plain_wall = statistics.median(w for w, _ in kinds["none"])
    plain_cpu = statistics.median(c for _, c in kinds["none"])
    for kind, label in (("log", "the default log"), ("files", 'layout="files"')):
        stored = kinds[kind]
        wall = statistics.median(w for w, _ in stored)
        cpu = statistics.median(c for _, c in stored)
        print(
            f"FileCheckpointStore(durable=False) on / off ({label}), {STEPS:,} steps, "
            f"interleaved, median of {repeats}: {wall / plain_wall:.2f}x wall, "
            f"{cpu / plain_cpu:.2f}x CPU (target <= 3x on tmpfs); plain "
            f"{plain_wall / STEPS * 1e6:.1f} µs/step, checkpointed {wall / STEPS * 1e6:.1f} µs/step"
        )
    print()


def size_table(base: Path) -> None:
    print("Bytes per checkpoint record (FileCheckpointStore's log): constant = linear total")
    print(f"{'steps':>7} {'first 100':>10} {'middle 100':>11} {'last 100':>9} {'total/step':>11}")
    for steps in SIZE_RUNS:
        directory = base / f"size-{steps}"
        run(steps, FileCheckpointStore(directory, durable=False))
        log = directory / "bench" / LOG_NAME
        records = log.read_bytes()[len(MAGIC) :].split(b"\n")[:-1]
        sizes = [len(r) + 1 for r in records[:steps]]  # the step checkpoints, not the end
        mid = len(sizes) // 2

        def avg(chunk: list[int]) -> float:
            return sum(chunk) / len(chunk)

        total = log.stat().st_size
        print(
            f"{steps:>7,} {avg(sizes[:100]):>10.0f} {avg(sizes[mid - 50 : mid + 50]):>11.0f} "
            f"{avg(sizes[-100:]):>9.0f} {total / steps:>11.0f}"
        )
    print()


def resume_table(base: Path, repeats: int) -> None:
    directory = base / "resume"
    store = FileCheckpointStore(directory, durable=False)
    llm = MockLLMBackend([echo_reply] * (STEPS + 1))
    loop = composable_loop(
        llm=llm,
        tools=tools(),
        task="echo",
        config=LoopConfig(max_steps=STEPS + 10, checkpoint=store),
        state=DefaultState(run_id="bench"),
    )
    for step in loop:
        if step.number == STEPS:
            break
    loop.close()
    ready: list[tuple[float, float]] = []
    first: list[tuple[float, float]] = []
    for i in range(repeats):
        reader = FileCheckpointStore(directory, durable=False)  # no cache from the writer
        wall, cpu = time.perf_counter(), time.process_time()
        resumed = resume(reader, "bench", llm=MockLLMBackend([echo_reply]), tools=tools())
        ready.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
        step = next(resumed)
        first.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
        assert step.number == STEPS + 1 + i, step.number  # each repeat saved one more step
        resumed.close()
    print(f"Resume of a {STEPS:,}-step run from FileCheckpointStore (median of {repeats})")
    print(f"{'':<28} {'wall ms':>8} {'CPU ms':>8}")
    for label, times in (("resume() ready", ready), ("to the first resumed step", first)):
        wall_ms = statistics.median(t[0] for t in times)
        cpu_ms = statistics.median(t[1] for t in times)
        print(f"{label:<28} {wall_ms:>8.1f} {cpu_ms:>8.1f}")
    print(f"{'target':<28} {TARGET_RESUME_MS:>8.1f}")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary dir)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ratio-only", action="store_true", help="only the on/off ratio")
    args = parser.parse_args(argv)
    if args.dir:  # a --dir that does not exist yet is made, not a traceback
        os.makedirs(args.dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"files under {base}; {os.cpu_count()} CPUs, load average {load:.2f}\n")
        ratio_table(base, max(5, args.repeats))
        if args.ratio_only:
            return 0
        overhead_table(base, args.repeats)
        size_table(base)
        resume_table(base, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
