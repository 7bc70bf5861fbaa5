"""Parallel tool calls benchmark: one reply with four calls of a 200 ms tool.

Run it with ``.venv/bin/python benchmarks/bench_parallel.py`` (``--repeats N``, default 5;
``--delay S``, default 0.2).  A scripted model asks for four ``fetch`` calls in one reply, then
``done``; ``fetch`` sleeps ``--delay`` seconds (standing in for a network call) and is read-only,
so it may overlap.  The run is timed, wall clock, from the first step asked for to the last one
received, with ``LoopConfig(parallel_tools=1)`` (one by one, as before) and ``parallel_tools=4``,
in the sync loop (``fetch`` a plain function) and the async loop (``fetch`` an ``async def``).
The table gives the median of the repeats and the speed-up.

Issue 13's target: four calls of a 200 ms tool take about 200 ms, not 800.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
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
    async_composable_loop,
    composable_loop,
)

CALLS = 4


def script() -> list[Any]:
    return [
        [{"tool": "fetch", "args": {"url": f"https://example.test/{i}"}} for i in range(CALLS)],
        {"tool": "done", "args": {"answer": "fetched"}},
    ]


def sync_tools(delay: float) -> BaseToolRegistry:
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    def fetch(url: str) -> str:
        """Fetch a page."""
        time.sleep(delay)
        return url

    return tools


def async_tools(delay: float) -> BaseToolRegistry:
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    async def fetch(url: str) -> str:
        """Fetch a page."""
        await asyncio.sleep(delay)
        return url

    return tools


def time_sync(workers: int, delay: float) -> float:
    began = time.perf_counter()
    steps = list(
        composable_loop(
            llm=MockLLMBackend(script()),
            tools=sync_tools(delay),
            task="fetch four pages",
            config=LoopConfig(parallel_tools=workers),
        )
    )
    elapsed = time.perf_counter() - began
    assert len(steps) == CALLS + 1 and all(s.ok for s in steps), [s.pretty() for s in steps]
    return elapsed


def time_async(workers: int, delay: float) -> float:
    async def main() -> float:
        began = time.perf_counter()
        steps = [
            s
            async for s in async_composable_loop(
                llm=MockLLMBackend(script()),
                tools=async_tools(delay),
                task="fetch four pages",
                config=LoopConfig(parallel_tools=workers),
            )
        ]
        elapsed = time.perf_counter() - began
        assert len(steps) == CALLS + 1 and all(s.ok for s in steps)
        return elapsed

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"# bench_parallel: {CALLS} calls of a {args.delay * 1000:.0f} ms tool in one reply, "
        f"median of {args.repeats}; {os.cpu_count()} cores, load "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"{'loop':<6} {'parallel_tools=1':>17} {'parallel_tools=4':>17} {'speed-up':>9}")
    for name, timer in (("sync", time_sync), ("async", time_async)):
        one = statistics.median(timer(1, args.delay) for _ in range(args.repeats))
        four = statistics.median(timer(CALLS, args.delay) for _ in range(args.repeats))
        print(f"{name:<6} {one * 1000:>14.0f} ms {four * 1000:>14.0f} ms {one / four:>8.2f}x")


if __name__ == "__main__":
    main()
