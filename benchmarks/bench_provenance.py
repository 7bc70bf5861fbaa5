"""Provenance benchmark: what writing a trace costs per step, and how fast a big trace opens.

Run it with ``.venv/bin/python benchmarks/bench_provenance.py`` (``--dir PATH`` to write on a
particular disk; the default is a temporary directory).  It prints two plain-text tables:

* **on / off ratio** (issue 16): the run with the sink over the run alone, interleaved, median
  of repeats (``--ratio-only``: just this line; ``--dir /dev/shm`` for tmpfs);
* **overhead per step** of a 1,000-step scripted run (one ``add`` call per model reply, so every
  step is also a model call): the loop alone, with ``ProvenanceSink`` as it comes (streams only),
  with readable prompt files ``prompt_files="full"`` and ``"new"``; per step over the whole run
  and over its first and last 100 steps, so growth with run length shows;
* the time this disk takes to create and write a small file, since readable prompt files
  create two per step in this run;
* **opening a 10,000-step trace and reading step 5,000**: a cold ``TraceReader(...)`` (manifest
  plus the event-log index) and then ``reader.step(5000)``, median of repeats, beside the
  200 ms target of issue 5; plus the trace's size on disk.

Best of several repeats for the run, median for the open; never an assert in the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from looplet_core import (  # noqa: E402 - the path above makes the checkout importable
    BaseToolRegistry,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    ToolSpec,
    TraceReader,
    composable_loop,
)


def tools() -> BaseToolRegistry:
    return BaseToolRegistry(
        [ToolSpec("add", "Add two integers.", {"a": "int", "b": "int"}, lambda *, a, b: a + b)]
    )


def script(steps: int) -> list[Any]:
    calls: list[Any] = [{"tool": "add", "args": {"a": i, "b": 1}} for i in range(steps - 1)]
    return [*calls, {"tool": "done", "args": {"answer": "finished"}}]


def timed_run(steps: int, sink: ProvenanceSink | None) -> list[float]:
    """Seconds each step took to arrive, in order."""
    hooks = [sink] if sink is not None else []
    loop = composable_loop(
        llm=MockLLMBackend(script(steps)),
        tools=tools(),
        task="Add numbers.",
        config=LoopConfig(max_steps=steps),
        hooks=hooks,
    )
    times: list[float] = []
    last = time.perf_counter()
    for _ in loop:
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def file_create_us(base: Path, count: int = 500, name: str = "probe") -> float:
    """Microseconds to create and write one 1 KB file here: the floor under the sink's cost."""
    folder = base / name
    folder.mkdir()
    payload = "x" * 1024
    started = time.perf_counter()
    for i in range(count):
        (folder / f"{i:06d}.json").write_text(payload, encoding="utf-8")
    return 1e6 * (time.perf_counter() - started) / count


def overhead(base: Path, steps: int, repeats: int) -> None:
    variants: list[tuple[str, dict[str, Any] | None]] = [
        ("loop alone", None),
        ("+ ProvenanceSink() (streams only)", {"prompt_files": "none"}),
        ('+ ProvenanceSink(prompt_files="full")', {"prompt_files": "full"}),
        ('+ ProvenanceSink(prompt_files="new")', {"prompt_files": "new"}),
    ]
    print(f"\nOverhead per step, {steps:,}-step scripted run (best of {repeats})")
    print(f"{'variant':<40}{'ms/step':>9}{'first 100':>11}{'last 100':>10}{'trace':>10}")
    for name, options in variants:
        best: list[float] | None = None
        size = 0
        for attempt in range(repeats):
            sink = None
            if options is not None:
                target = base / f"run-{options['prompt_files']}-{attempt}"
                sink = ProvenanceSink(target, **options)
            times = timed_run(steps, sink)
            if sink is not None:
                size = dir_size(sink.path)
            if best is None or sum(times) < sum(best):
                best = times
        assert best is not None
        mean = 1000 * sum(best) / len(best)
        first = 1000 * sum(best[:100]) / 100
        last = 1000 * sum(best[-100:]) / 100
        shown = f"{size / 1e6:.1f} MB" if size else "-"
        print(f"{name:<40}{mean:>9.3f}{first:>11.3f}{last:>10.3f}{shown:>10}")
    print(
        f"(this disk creates and writes a 1 KB file in {file_create_us(base):.0f} us; readable "
        "prompt files create two per step here: prompt and response)"
    )


def ratio(base: Path, steps: int, repeats: int) -> None:
    """Issue 16's figure: the run with ``ProvenanceSink`` (its defaults) over the run alone,
    interleaved run by run, median of ``repeats``."""
    timed_run(20, None)
    timed_run(20, ProvenanceSink(base / "ratio-warm"))
    plain: list[float] = []
    traced: list[float] = []
    for attempt in range(repeats):
        plain.append(sum(timed_run(steps, None)))
        traced.append(sum(timed_run(steps, ProvenanceSink(base / f"ratio-{attempt}"))))
    off, on = statistics.median(plain), statistics.median(traced)
    print(
        f"\nProvenanceSink on / off, {steps:,} steps, interleaved, median of {repeats}: "
        f"{on / off:.2f}x (target <= 3x on tmpfs); plain {off / steps * 1e6:.1f} µs/step, "
        f"traced {on / steps * 1e6:.1f} µs/step; this disk creates and writes a 1 KB file in "
        f"{file_create_us(base, name='probe-ratio'):.0f} µs (the default sink creates none a step)"
    )


def open_big(base: Path, steps: int, repeats: int) -> None:
    target = base / "big"
    started = time.perf_counter()
    timed_run(steps, ProvenanceSink(target, prompt_files="new"))
    wrote = time.perf_counter() - started
    opens: list[float] = []
    reads: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        reader = TraceReader(target)
        t1 = time.perf_counter()
        step = reader.step(steps // 2)
        t2 = time.perf_counter()
        assert step.number == steps // 2 and len(reader) == steps
        opens.append(t1 - t0)
        reads.append(t2 - t1)
    total = [o + r for o, r in zip(opens, reads, strict=True)]
    print(
        f"\nOpening a {steps:,}-step trace ({dir_size(target) / 1e6:.1f} MB, written in "
        f"{wrote:.1f} s) and reading step {steps // 2:,} (median of {repeats})"
    )
    print(f"{'what':<34}{'ms':>9}")
    print(f"{'TraceReader(path)':<34}{1000 * statistics.median(opens):>9.1f}")
    print(f"{f'reader.step({steps // 2})':<34}{1000 * statistics.median(reads):>9.2f}")
    print(f"{'open + read (target <= 200 ms)':<34}{1000 * statistics.median(total):>9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to write the traces")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ratio-only", action="store_true", help="only the on/off ratio")
    args = parser.parse_args()
    parser_load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"{os.cpu_count()} CPUs, load average " + " / ".join(f"{x:.2f}" for x in parser_load))
    if args.dir:  # a --dir that does not exist yet is made, not a traceback
        os.makedirs(args.dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"traces under {tmp}")
        ratio(Path(tmp), args.steps, max(5, args.repeats))
        if args.ratio_only:
            return 0
        overhead(Path(tmp), args.steps, args.repeats)
        open_big(Path(tmp), args.big, max(5, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
