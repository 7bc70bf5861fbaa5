"""How fast the debugger feels: stepping latency, frame time under load, startup.

    python benchmarks/bench_tui.py            (or: make bench)

1. Keypress to updated screen, pressing ``n`` through a 1,000-step scripted run: the time from the
   key to the screen showing the new step (worker resumed, step recorded, controller notified,
   redraw done), split by where in the run it happens, so growth with run length would show.
2. UI frame time while the worker runs flat out (the same kind of run, never paused): the lag of
   a 60 Hz timer on the UI's event loop, and how often the screen redrew; and its steps/s against
   the bare loop's, in three interleaved rounds (debugger, bare, bare with what it turns on).
3. Startup of ``looplet-tui demo`` to its first screen (a fresh process, headless), against
   ``python -c "import textual.app"`` as the floor and ``python -c pass`` for the interpreter.

Prints a table; asserts nothing about time (machines differ).  Headless: the compositor renders
every frame as it would for a terminal, only the bytes are not written to one.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from looplet_core import BaseToolRegistry, DefaultState, LoopConfig, MockLLMBackend, ToolSpec  # noqa: E402
from looplet_tui.app import DebuggerApp  # noqa: E402
from looplet_tui.session import RunSession  # noqa: E402

STEPS = 1000
SIZE = (120, 36)


def session(steps: int) -> RunSession:
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            "count", "Count.", {"n": "int"}, lambda *, n: {"n": n, "next": n + 1}, read_only=True
        )
    )
    script: list[Any] = [{"tool": "count", "args": {"n": i}} for i in range(steps)]
    script.append({"tool": "done", "args": {"answer": "counted"}})
    return RunSession(
        llm=MockLLMBackend(script, report_usage=True),
        tools=tools,
        task="count",
        config=LoopConfig(max_steps=steps + 1),
        state=DefaultState(),
        title="bench",
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Frames:
    """Timestamps of what the app did, from hooks on two of its methods (benchmark-only)."""

    def __init__(self, app: DebuggerApp) -> None:
        self.redrawn = 0.0  # the app finished applying a controller update to its widgets
        self.frame = 0.0  # the compositor delivered a frame (headless: composed, not written)
        self.redraws = 0
        refresh, display = app._refresh, app._display

        def counting_refresh() -> None:
            refresh()
            self.redraws += 1
            self.redrawn = time.perf_counter()

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                self.frame = time.perf_counter()

        app._refresh = counting_refresh  # type: ignore[method-assign]
        app._display = timed_display  # type: ignore[method-assign]


async def stepping() -> tuple[dict[int, list[float]], float]:
    """Milliseconds from ``n`` to the first frame showing step k, bucketed by k, and the
    process's CPU milliseconds per press (UI and worker threads, collector included)."""
    app = DebuggerApp(session(STEPS), timings=False)
    frames = Frames(app)
    buckets: dict[int, list[float]] = {}
    async with app.run_test(size=SIZE) as pilot:
        ctl = app.controller
        while ctl.pause_point is None or ctl.unread:
            await asyncio.sleep(0.001)
        await pilot.pause()
        cpu = time.process_time()
        for k in range(1, STEPS + 1):
            started = time.perf_counter()
            app.simulate_key("n")
            while not (
                ctl.steps_done >= k
                and ctl.pause_point is not None
                and not ctl.unread
                and frames.redrawn > started
            ):
                await asyncio.sleep(0.0002)
            redrawn = frames.redrawn
            while frames.frame <= redrawn:
                await asyncio.sleep(0.0002)
            buckets.setdefault((k - 1) // 250, []).append((frames.frame - started) * 1e3)
        cpu_ms = (time.process_time() - cpu) * 1e3 / STEPS
        await pilot.press("q")
    return buckets, cpu_ms


FLAT_STEPS = STEPS * 20
"""The unpaused run: long enough (a few seconds) that its steps/s and the bare loop's are stable
figures, not a fraction of a second each."""


async def flat_out() -> tuple[list[float], int, float, int]:
    """(timer lags in ms, redraws, seconds the run took, steps) for an unpaused run."""
    app = DebuggerApp(session(FLAT_STEPS), start_paused=False, timings=False)
    frames = Frames(app)
    lags: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        period = 1 / 60
        started = time.perf_counter()
        expected = started + period
        while not app.controller.finished:
            await asyncio.sleep(max(0.0, expected - time.perf_counter()))
            now = time.perf_counter()
            lags.append((now - expected) * 1e3)
            expected = now + period
        took = time.perf_counter() - started
        steps = app.controller.steps_done
        await pilot.press("q")
    return lags, frames.redraws, took, steps


def startup(code: str, runs: int = 5) -> float:
    """Median wall seconds of a fresh ``python -c code``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


FIRST_SCREEN = """
from looplet_tui.__main__ import _parser
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import build_session
app = DebuggerApp(build_session(_parser().parse_args(["demo"])))
async def first_screen(pilot):
    ctl = app.controller
    while ctl.pause_point is None or ctl.unread:
        await pilot.pause(0.001)
    await pilot.pause()
    app.exit()
app.run(headless=True, auto_pilot=first_screen, size=(120, 36))
"""


def bare_loop_seconds(steps: int, *, as_debugged: bool) -> float:
    """The same run with no debugger; ``as_debugged`` turns on what the debugger turns on
    (``record_prompts``, ``stream``), so the difference left is the debugger's own."""
    from looplet_core import composable_loop

    s = session(steps)
    s.config.record_prompts = s.config.stream = as_debugged
    started = time.perf_counter()
    for _ in composable_loop(llm=s.llm, tools=s.tools, task=s.task, config=s.config, state=s.state):
        pass
    return time.perf_counter() - started


def main() -> int:
    print(f"looplet-tui benchmarks (Python {sys.version.split()[0]}, headless {SIZE[0]}x{SIZE[1]})")
    print()
    buckets, cpu_ms = asyncio.run(stepping())
    print(f"1. keypress `n` -> screen shows the next step, {STEPS}-step run (ms)")
    print(f"   {'steps':<12}{'median':>8}{'p95':>8}{'max':>8}")
    every: list[float] = []
    for bucket, values in sorted(buckets.items()):
        every += values
        label = f"{bucket * 250 + 1}-{bucket * 250 + len(values)}"
        print(
            f"   {label:<12}{statistics.median(values):>8.2f}{pct(values, 0.95):>8.2f}"
            f"{max(values):>8.2f}"
        )
    print(
        f"   {'all':<12}{statistics.median(every):>8.2f}{pct(every, 0.95):>8.2f}{max(every):>8.2f}"
    )
    print(f"   process CPU per press: {cpu_ms:.2f} ms (UI and worker threads, collector included)")
    print()
    # Three rounds, each the debugger's run then the two bare ones, and every figure the median
    # of its three: on a machine shared with other work the load moves within a minute, and a
    # ratio of runs taken minutes apart would measure that instead.  The lags are all rounds'.
    runs: list[tuple[list[float], int, float, int]] = []
    bares, records = [], []
    for _ in range(3):
        runs.append(asyncio.run(flat_out()))
        steps = runs[-1][3]
        bares.append(bare_loop_seconds(steps - 1, as_debugged=False))
        records.append(bare_loop_seconds(steps - 1, as_debugged=True))
    bare, recorded = statistics.median(bares), statistics.median(records)
    _, redraws, took, steps = sorted(runs, key=lambda run: run[2])[1]  # the median run
    lags = [lag for run in runs for lag in run[0]]
    print(f"2. worker flat out, {steps} steps unpaused: UI timer lag at 60 Hz (ms)")
    print(
        f"   median {statistics.median(lags):.2f}  p95 {pct(lags, 0.95):.2f}  "
        f"p99 {pct(lags, 0.99):.2f}  max {max(lags):.2f}  ({len(lags)} ticks)"
    )
    print(f"   {redraws} redraws in {took:.2f} s ({redraws / took:.0f}/s)")
    print(
        f"   steps/s: {steps / took:,.0f} under the debugger, {steps / recorded:,.0f} bare loop "
        f"with record_prompts+stream, {steps / bare:,.0f} bare loop without (medians of 3 rounds)"
    )
    print(
        f"   debugger as a share of the bare loop: {recorded / took:.0%} of the run with "
        f"record_prompts+stream, {bare / took:.0%} of the one without (target >= 50%)"
    )
    print()
    floor = startup("pass")
    textual_floor = startup("import textual.app")
    demo = startup(FIRST_SCREEN, runs=3)
    print("3. startup, fresh process, median wall time (s)")
    print(f"   {'python -c pass':<40}{floor:>8.3f}")
    floor_label = 'python -c "import textual.app"'
    print(f"   {floor_label:<40}{textual_floor:>8.3f}")
    print(f"   {'looplet-tui demo to first screen':<40}{demo:>8.3f}")
    print(f"   above the textual floor: {demo - textual_floor:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
