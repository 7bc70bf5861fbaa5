"""How long a tool call or result takes to draw for reading, at sizes that could stall the UI.

    python benchmarks/bench_readable.py

Each row builds the renderable (``looplet_tui.text.toolview``) and lays it out to lines at the
detail pane's width, as the pane does before anything shows: the cost the UI thread pays when you
select the step or press ``f``/``r``.  Cases: a 1 MB file write (about 25,000 lines of Python),
folded (the default) and unfolded; an edit of a 10,000-line file with a change every 100 lines,
of 5,000 lines with 50 changes, of two unrelated 10,000-line texts, and of a 1 MB one-line
(minified) file; a shell result with 1 MB of output; a 1 MB one-line argument; the same write's
raw JSON (``r``).

Then the same inside the debugger (headless, 120x36): a live run whose model writes the 1 MB
file, timed from a key (``3`` the Tool call tab, ``f``, ``r``) to the screen having drawn it.

Prints tables (median and worst of 5 runs); asserts nothing about time (machines differ).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console, RenderableType  # noqa: E402

from looplet_core import BaseToolRegistry, DefaultState, LoopConfig, MockLLMBackend  # noqa: E402
from looplet_tui.app import DebuggerApp  # noqa: E402
from looplet_tui.session import RunSession  # noqa: E402
from looplet_tui.text.render import json_text  # noqa: E402
from looplet_tui.text.toolview import (  # noqa: E402
    _cached_diff,  # pyright: ignore[reportPrivateUsage]
    call_renderable,
    result_value_renderable,
)
from looplet_tui.widgets.timeline import StepTimeline  # noqa: E402

WIDTH = 64
"""The detail pane's width at 120x36 (the right side, less padding and scrollbar)."""
RUNS = 5


def python_file(size: int) -> str:
    lines: list[str] = []
    total = 0
    n = 0
    while total < size:
        line = f"def function_{n}(x):\n    return x * {n} + len('{n:08d}')  # line {n}\n"
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines)[:size]


def lay_out(renderable: RenderableType) -> int:
    console = Console(width=WIDTH, color_system="truecolor", file=open("/dev/null", "w"))  # noqa: SIM115
    return len(console.render_lines(renderable, console.options, pad=False))


def timed(make: Callable[[], RenderableType]) -> tuple[float, float, int]:
    times: list[float] = []
    lines = 0
    for _ in range(RUNS):
        _cached_diff.cache_clear()  # each run diffs afresh, as a first look at the step does
        start = time.perf_counter()
        lines = lay_out(make())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), lines


def main() -> None:
    code = python_file(1_000_000)
    old = "\n".join(f"line {n}: {'x' * 40}" for n in range(10_000))
    new = "\n".join(
        f"line {n}: {'y' * 40}" if n % 100 == 0 else f"line {n}: {'x' * 40}" for n in range(10_000)
    )
    old5 = "\n".join(old.split("\n")[:5000])
    new5 = "\n".join(new.split("\n")[:5000]) + "\nend"
    unrelated = "\n".join(f"other {n}: {'z' * 40}" for n in range(10_000))
    output = "\n".join(f"{n:>6} PASSED tests/test_{n}.py::test_case" for n in range(25_000))
    result = json.dumps({"exit_code": 0, "output": output[:1_000_000]})
    one_line = "q" * 1_000_000
    write = {"path": "big.py", "content": code}
    cases: list[tuple[str, Callable[[], RenderableType]]] = [
        ("write 1 MB .py, folded", lambda: call_renderable("write", write)),
        ("write 1 MB .py, unfolded (f)", lambda: call_renderable("write", write, fold=None)),
        ("write 1 MB .py, raw JSON (r)", lambda: json_text(write)),
        (
            "edit 10k lines, 100 changes, folded",
            lambda: call_renderable("edit", {"path": "a.txt", "old": old, "new": new}),
        ),
        (
            "edit 10k lines, 100 changes, unfolded",
            lambda: call_renderable("edit", {"path": "a.txt", "old": old, "new": new}, fold=None),
        ),
        (
            "edit 5k lines, 50 changes, unfolded",
            lambda: call_renderable("edit", {"path": "a.txt", "old": old5, "new": new5}, fold=None),
        ),
        (
            "edit 10k lines, unrelated texts, unfolded",
            lambda: call_renderable(
                "edit", {"path": "a.txt", "old": old, "new": unrelated}, fold=None
            ),
        ),
        (
            "edit of a 1 MB one-line file, unfolded",
            lambda: call_renderable(
                "edit", {"path": "a.min.js", "old": one_line, "new": one_line + "!"}, fold=None
            ),
        ),
        ("bash result, 1 MB output, folded", lambda: result_value_renderable("bash", result)),
        (
            "bash result, 1 MB output, unfolded",
            lambda: result_value_renderable("bash", result, fold=None),
        ),
        ("1 MB one-line argument, folded", lambda: call_renderable("put", {"blob": one_line})),
    ]
    print(f"width {WIDTH}, {RUNS} runs each; build + lay out to lines")
    print(f"{'case':<44} {'median ms':>10} {'worst ms':>10} {'lines':>8}")
    for name, make in cases:
        median, worst, lines = timed(make)
        print(f"{name:<44} {median:>10.1f} {worst:>10.1f} {lines:>8,}")


def write_app(content: str) -> DebuggerApp:
    tools = BaseToolRegistry()

    @tools.tool
    def write(path: str, content: str) -> dict[str, int]:
        """Pretend to write a file."""
        return {"bytes": len(content)}

    script = [
        {"tool": "write", "args": {"path": "big.py", "content": content}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    session = RunSession(
        llm=MockLLMBackend(script),
        tools=tools,
        task="write",
        config=LoopConfig(max_steps=3),
        state=DefaultState(),
        title="bench",
    )
    return DebuggerApp(session, start_paused=False, timings=False)


async def in_app(content: str) -> dict[str, list[float]]:
    """Key to drawn screen, in the debugger, for the Tool call tab of a 1 MB write."""
    app = write_app(content)
    times: dict[str, list[float]] = {"3 (Tool call tab)": [], "f (unfold)": [], "f (fold)": []}
    times["r (raw JSON)"], times["r (readable)"] = [], []
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.controller.finished:
            await pilot.pause(0.05)
        await pilot.press("g")
        timeline = app.query_one(StepTimeline)
        while getattr(timeline.selected, "number", None) != 1:
            await pilot.pause(0.01)
        for _ in range(RUNS):
            for key, name in (
                ("1", ""),
                ("3", "3 (Tool call tab)"),
                ("f", "f (unfold)"),
                ("f", "f (fold)"),
                ("r", "r (raw JSON)"),
                ("r", "r (readable)"),
            ):
                start = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()  # the frame after the key's work
                if name:
                    times[name].append((time.perf_counter() - start) * 1000)
    return times


if __name__ == "__main__":
    main()
    print()
    print("in the debugger, 120x36: key to drawn screen, a write's Tool call tab")
    print(f"{'key':<30} {'1 KB median':>12} {'1 MB median':>12} {'1 MB worst':>11}")
    small = asyncio.run(in_app(python_file(1_000)))
    big = asyncio.run(in_app(python_file(1_000_000)))
    for name, values in big.items():
        print(
            f"{name:<30} {statistics.median(small[name]):>12.1f} "
            f"{statistics.median(values):>12.1f} {max(values):>11.1f}"
        )
