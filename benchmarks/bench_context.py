"""Context accounting benchmark: what token metering and the context hooks add to every step.

Run it with ``.venv/bin/python benchmarks/bench_context.py``.  It prints one plain-text table: the
wall time per step of a scripted run (echo N-1 times, then done) at 100, 1,000 and 10,000 steps,

* ``plain``: the loop with its context meter replaced by a stub that prices nothing, the baseline;
* ``metered``: the loop as shipped, pricing every prompt by role (``Step.context``);
* ``+pressure``: the same plus ``ContextPressureHook`` (the configuration issue 3 sets a target
  for), with a window large enough that no compaction happens, so the figure is its cost alone;
* ``+pressure+compact``: also ``ThresholdCompactHook``, likewise never triggered;
* and a second table, **compaction on vs off** (issue 16): 1,000 steps whose tool returns 2 KB,
  with ``ThresholdCompactHook`` + ``ContextPressureHook`` and a 32k window (a compaction every
  dozen steps or so) against the same run with no hook and a window nothing fills; interleaved,
  median of the repeats, wall and CPU time, and the ratio it is judged by (``--compaction-only``
  for just this table);

each with the ratio to ``plain`` at the same length and, per row, how the cost per step at 10,000
steps compares with 100 (flat means about 1.0).  The estimator is the fast heuristic, so the
figures do not depend on whether tiktoken's encodings can be loaded here; ``--tiktoken`` adds a row
with tiktoken when they can.  Best of several repeats; never used as an assert in tests.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from looplet_core import (  # noqa: E402 - the path above makes the checkout importable
    BaseToolRegistry,
    ConfigError,
    ContextPressureHook,
    ContextStats,
    HeuristicEstimator,
    LoopConfig,
    MockLLMBackend,
    StepStatus,
    ThresholdCompactHook,
    TiktokenEstimator,
    TokenEstimator,
    ToolSpec,
    composable_loop,
)
from looplet_core.engine import core as engine_module  # noqa: E402  (where Engine builds its meter)

STEP_COUNTS = (100, 1_000, 10_000)
TASK = "Call echo with x='hi' until told otherwise, then call done."
TARGET_RATIO = 1.5  # issue 3: +pressure within 1.5x of plain and flat in run length


class _StubMeter:
    """Prices nothing: the baseline loop without context accounting."""

    _stats = ContextStats()

    @classmethod
    def for_run(cls, config: LoopConfig, llm: object = None) -> _StubMeter:
        return cls()

    def measure(self, *args: object) -> ContextStats:
        return self._stats

    def observe(self, input_tokens: int) -> None:
        return None


@contextmanager
def _stubbed_meter() -> Iterator[None]:
    real = engine_module.ContextMeter
    engine_module.ContextMeter = _StubMeter  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        engine_module.ContextMeter = real


def _tools() -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(ToolSpec("echo", "Echo x back.", {"x": "str"}, lambda *, x: x))
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
    return tools


def _run(steps: int, estimator: TokenEstimator, hooks: Sequence[object]) -> float:
    """Seconds for one whole run of ``steps`` steps (building the script is not counted)."""
    script: list[Any] = [{"tool": "echo", "args": {"x": "hi"}}] * (steps - 1)
    script.append({"tool": "done", "args": {"answer": "ok"}})
    llm = MockLLMBackend(script)
    config = LoopConfig(max_steps=steps, context_window=10**9, token_estimator=estimator)
    tools = _tools()
    gc.collect()
    started = time.perf_counter()
    last = None
    for step in composable_loop(llm=llm, tools=tools, task=TASK, config=config, hooks=hooks):
        last = step
    elapsed = time.perf_counter() - started
    if last is None or last.status is not StepStatus.DONE:
        raise RuntimeError(f"the run did not end with done: {last!r}")
    return elapsed


def _best_us_per_step(
    rows: Sequence[tuple[str, Callable[[int], float]]], repeats: int
) -> dict[str, list[float]]:
    """Best time per step of every row at every length.  Repeats are interleaved (each round
    runs every row at every length) so a burst of load on the machine hits all rows alike."""
    for _, run in rows:
        run(10)  # first-call costs (lazy imports, caches) are not per-step overhead
    best = {name: [float("inf")] * len(STEP_COUNTS) for name, _ in rows}
    for _ in range(repeats):
        for i, steps in enumerate(STEP_COUNTS):
            for name, run in rows:
                best[name][i] = min(best[name][i], run(steps) / steps * 1e6)
    return best


def _pressure() -> list[object]:
    return [ContextPressureHook()]


def _both() -> list[object]:
    return [ThresholdCompactHook(), ContextPressureHook()]


BIG_RESULT = "x" * 2048  # issue 16: compaction measured with 2 KB tool results
COMPACT_WINDOW = 32_000
COMPACT_STEPS = 1_000
COMPACT_TARGET = 2.0  # issue 16: compaction on within 2x of the same run with it off


def _big_tools() -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(ToolSpec("echo", "Echo x back, padded.", {"x": "str"}, lambda *, x: BIG_RESULT))
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
    return tools


def _compaction_run(steps: int, compact: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, compactions) of one run with 2 KB results: with the default compaction
    hooks and a 32k window, or with no hook and a window nothing fills (``compact=False``)."""
    script: list[Any] = [{"tool": "echo", "args": {"x": "hi"}}] * (steps - 1)
    script.append({"tool": "done", "args": {"answer": "ok"}})
    window = COMPACT_WINDOW if compact else 10**9
    config = LoopConfig(
        max_steps=steps, context_window=window, token_estimator=HeuristicEstimator()
    )
    threshold = ThresholdCompactHook()
    hooks = [threshold, ContextPressureHook()] if compact else []
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in composable_loop(
        llm=MockLLMBackend(script), tools=_big_tools(), task=TASK, config=config, hooks=hooks
    ):
        pass
    return time.perf_counter() - wall, time.process_time() - cpu, len(threshold.reports)


def compaction_table(repeats: int) -> None:
    """Compaction on vs off, interleaved, median of ``repeats`` runs each (wall and CPU)."""
    _compaction_run(20, True)
    _compaction_run(20, False)
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    compactions = 0
    for _ in range(repeats):
        wall, cpu, _n = _compaction_run(COMPACT_STEPS, False)
        off.append((wall, cpu))
        wall, cpu, compactions = _compaction_run(COMPACT_STEPS, True)
        on.append((wall, cpu))
    print()
    print(
        f"Compaction, {COMPACT_STEPS:,} steps with 2 KB tool results (median of {repeats}, "
        "interleaved)"
    )
    print(f"{'run':<40} {'µs/step':>9} {'CPU µs/step':>12}")
    medians: list[tuple[float, float]] = []
    for name, runs in (("compaction off (no hook, huge window)", off), ("compaction on", on)):
        wall = statistics.median(r[0] for r in runs) / COMPACT_STEPS * 1e6
        cpu = statistics.median(r[1] for r in runs) / COMPACT_STEPS * 1e6
        medians.append((wall, cpu))
        print(f"{name:<40} {wall:>9.1f} {cpu:>12.1f}")
    (off_wall, off_cpu), (on_wall, on_cpu) = medians
    print(
        f"compaction on / off: {on_wall / off_wall:.2f}x wall, {on_cpu / off_cpu:.2f}x CPU "
        f"(target <= {COMPACT_TARGET}x); {compactions} compactions per run "
        f"(ThresholdCompactHook + ContextPressureHook, {COMPACT_WINDOW:,}-token window)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiktoken", action="store_true", help="add a row using tiktoken")
    parser.add_argument(
        "--compaction-only", action="store_true", help="only the compaction on/off table"
    )
    args = parser.parse_args(argv)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    if args.compaction_only:
        compaction_table(args.repeats)
        return
    heuristic = HeuristicEstimator()

    def plain(steps: int) -> float:
        with _stubbed_meter():
            return _run(steps, heuristic, ())

    rows: list[tuple[str, Callable[[int], float]]] = [
        ("plain", plain),
        ("metered", lambda steps: _run(steps, heuristic, ())),
        ("+pressure", lambda steps: _run(steps, heuristic, _pressure())),
        ("+pressure+compact", lambda steps: _run(steps, heuristic, _both())),
    ]
    if args.tiktoken:
        try:
            exact = TiktokenEstimator()
            rows.append(("tiktoken+pressure", lambda steps: _run(steps, exact, _pressure())))
        except ConfigError as exc:
            print(f"(no tiktoken row: {exc})")

    results = _best_us_per_step(rows, args.repeats)
    base = results["plain"]
    header = f"{'loop':<18}" + "".join(f"{n:>10,} steps  ratio" for n in STEP_COUNTS) + "  flat"
    python = sys.version.split()[0]
    print(f"Context accounting, µs per step (best of {args.repeats}); python {python}")
    print(header)
    print("-" * len(header))
    for name, figures in results.items():
        cells = "".join(f"{us:>16.1f} {us / b:>6.2f}" for us, b in zip(figures, base, strict=True))
        print(f"{name:<18}{cells}  {figures[-1] / figures[0]:>4.2f}")
    print(
        f"target: +pressure within {TARGET_RATIO}x of plain at every length; flat ~1.0 "
        "(µs per step at 10,000 steps / at 100)"
    )
    compaction_table(args.repeats)


if __name__ == "__main__":
    main()
