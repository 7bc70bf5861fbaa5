"""A long reply streaming into the debugger: the history taking deltas, the live view's frames.

    python benchmarks/bench_stream.py [--rounds 3] [--base /work/main]

A reply of 0.5, 1 and 5 MB arrives in 1 KB deltas (``llm_delta`` events into a ``RunHistory``,
as the worker thread sends them).  Two runs per size:

- deltas only: the time for the history to take every delta;
- with frames: the same, with the live Response view drawn every 50 deltas (every 50 KB), as
  the UI thread draws it at most ten times a second: ``response_renderable`` of the live row,
  laid out by Rich at the Response pane's width (what its ``Static`` does each frame), with the
  room the pane of a 120 x 36 screen gives it (``tail=``) where the code takes one.

Each tree (this one, and ``--base``, the code it is compared against) runs in its own process
(``PYTHONPATH`` pointing at the tree), the trees alternating round by round; the table has the
medians.  Prints a table; asserts nothing about time (machines differ).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES_MB = (0.5, 1.0, 5.0)
DELTA = 1024
FRAME_EVERY = 50
PANE = (70, 28)
"""The Response pane's content area on a 120 x 36 screen (columns, rows), about."""


def worker(mb: float, frames: bool) -> dict[str, float]:
    """One measurement in this process, with whichever tree ``PYTHONPATH`` put first."""
    from rich.console import Console

    from looplet_core import Event, EventKind, Step
    from looplet_tui.live.history import RunHistory
    from looplet_tui.live.runstate import Live
    from looplet_tui.text.render import response_renderable

    history = RunHistory(window=None, tool_schemas=[], clock=time.perf_counter, on_change=None)
    history.live = Live(Step(number=1))
    line = "".join(chr(ord("a") + i % 26) for i in range(79)) + "\n"
    delta = (line * (DELTA // len(line) + 1))[:DELTA]
    events = [
        Event(EventKind.LLM_DELTA, data={"call": 1, "kind": "text", "text": delta})
        for _ in range(int(mb * 1024 * 1024) // DELTA)
    ]
    width, height = PANE
    console = Console(width=width, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    options = console.options
    takes_tail = "tail" in inspect.signature(response_renderable).parameters
    kwargs: dict[str, Any] = {"tail": (width + 1) * height} if takes_tail else {}
    frame_times: list[float] = []
    history.on_event(Event(EventKind.LLM_START, data={}))
    start = time.perf_counter()
    for i, event in enumerate(events, 1):
        history.on_event(event)
        if frames and i % FRAME_EVERY == 0:
            t = time.perf_counter()
            live = history.live
            assert live is not None
            lines = console.render_lines(response_renderable(live, **kwargs), options)
            assert lines
            frame_times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    live = history.live
    assert live is not None and len(live.text) == len(events) * DELTA
    return {
        "total": total,
        "frames": len(frame_times),
        "frame_median": statistics.median(frame_times) if frame_times else 0.0,
        "frame_max": max(frame_times) if frame_times else 0.0,
    }


def measure(tree: Path, mb: float, frames: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", str(mb)]
    if frames:
        args.append("--frames")
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", type=Path, default=Path("/work/main"))
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--frames", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.frames)))
        return
    trees = {"base": args.base.resolve(), "this": ROOT}
    results: dict[tuple[str, float, bool], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for mb in SIZES_MB:
            for frames in (False, True):
                for name, tree in trees.items():
                    results.setdefault((name, mb, frames), []).append(measure(tree, mb, frames))
    print(f"{args.rounds} rounds, medians; base = {trees['base']}, this = {trees['this']}")
    print(f"{DELTA} B deltas; a frame every {FRAME_EVERY} deltas, {PANE[0]} x {PANE[1]} pane")
    head = f"{'reply':>7}  {'tree':<5} {'deltas only s':>14} {'with frames s':>14}"
    print(head + f" {'frames':>7} {'frame med ms':>13} {'frame max ms':>13}")
    for mb in SIZES_MB:
        for name in trees:
            bare = statistics.median(r["total"] for r in results[(name, mb, False)])
            framed = results[(name, mb, True)]
            print(
                f"{mb:>5.1f}MB  {name:<5} {bare:>14.3f}"
                f" {statistics.median(r['total'] for r in framed):>14.3f}"
                f" {int(framed[0]['frames']):>7}"
                f" {statistics.median(r['frame_median'] for r in framed) * 1000:>13.2f}"
                f" {statistics.median(r['frame_max'] for r in framed) * 1000:>13.2f}"
            )


if __name__ == "__main__":
    main()
