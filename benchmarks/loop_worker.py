"""The worker half of ``bench_loop.py``: one measurement in a fresh interpreter, one JSON line out.

Kept in its own file so that a worker imports only the standard library it needs and the library
it measures: when it was the ``--worker`` mode of ``bench_loop.py`` it also imported what the
parent half needs (argparse, statistics, subprocess, tempfile, platform, datetime), about 5 MiB
that every peak-memory figure counted as the run's.

``python benchmarks/loop_worker.py KIND --impl core|upstream [--steps N] [--repeats N]
[--budget S] [--tracemalloc]``, KIND being ``loop``, ``memory`` or ``version``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# os.path, not pathlib: looplet_core no longer imports pathlib (0.7 MiB with urllib), nor does this
ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
TASK = "Call echo with x='hi' until told otherwise, then call done."


def peak_rss_kib() -> int:
    """This process's own peak resident size, in KiB.

    On Linux, ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` is no good there, because a
    process started with ``vfork`` (as ``subprocess`` does) inherits its parent's peak, so every
    worker started by a 20 MiB parent read at least 20 MiB (``python -c pass`` read 15.8 MiB
    against its own 8.7).  Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss


def _core_runner(steps: int) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    """Return (make_run, run) for looplet_core: a scripted echo-then-done run of ``steps`` steps."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from looplet_core import (
        BaseToolRegistry,
        LoopConfig,
        MockLLMBackend,
        StepStatus,
        ToolSpec,
        composable_loop,
    )

    tools = BaseToolRegistry()
    tools.register(
        ToolSpec("echo", "Echo x back.", parameters={"x": "str"}, execute=lambda *, x: x)
    )
    tools.register(
        ToolSpec("done", "Finish.", parameters={"answer": "str"}, execute=lambda *, answer: answer)
    )
    # One reply entry repeated, as upstream's script below repeats one string: the scripted model
    # still makes a new ToolCall, id and args dict for every reply (as a server's reply is parsed
    # into new ones), so the run keeps what it kept before; what goes is 20,000 dicts of input
    # (about 4 MiB of the peak) that a real model never holds in memory.
    reply = {"tool": "echo", "args": {"x": "hi"}}
    script: list[Any] = [reply] * (steps - 1)
    script.append({"tool": "done", "args": {"answer": "ok"}})

    def make() -> Any:
        # The scripted model stands in for a server, which keeps no log of what it was sent (nor
        # does upstream's mock, which keeps the last prompt only): its log of every request
        # (about 130 bytes a step, 1.3 MiB of a 10,000-step peak) is not the loop's memory.
        try:
            return MockLLMBackend(script, record_requests=False)
        except TypeError:  # an older checkout, whose mock always keeps its log
            return MockLLMBackend(script)

    def run(llm: Any) -> int:
        count = 0
        last = None
        for step in composable_loop(
            llm=llm, tools=tools, task=TASK, config=LoopConfig(max_steps=steps)
        ):
            count += 1
            last = step
        if last is None or last.status is not StepStatus.DONE or last.tool_result.error:
            raise RuntimeError(f"looplet_core run did not end with done: {last!r}")
        return count

    return make, run


def _upstream_runner(steps: int) -> tuple[Callable[[], Any], Callable[[Any], int]]:
    """The closest upstream equivalent: its scripted MockLLMBackend, the same two tools."""
    # upstream lives only in the benchmark venv, not in the project's .venv
    from looplet import (  # pyright: ignore[reportMissingImports]
        BaseToolRegistry,
        LoopConfig,
        ToolSpec,
        composable_loop,
    )
    from looplet.testing import MockLLMBackend  # pyright: ignore[reportMissingImports]

    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            name="echo", description="Echo x back.", parameters={"x": "str"}, execute=lambda *, x: x
        )
    )
    tools.register(
        ToolSpec(
            name="done",
            description="Finish.",
            parameters={"answer": "str"},
            execute=lambda *, answer: answer,
        )
    )
    # Upstream's mock takes JSON text; with native tool calling on (its default) it turns each
    # reply into a tool_use block, which is what its real backends return.
    script = ['{"tool": "echo", "args": {"x": "hi"}}'] * (steps - 1)
    script.append('{"tool": "done", "args": {"answer": "ok"}}')

    def make() -> Any:
        return MockLLMBackend(responses=script, cycle=False)

    def run(llm: Any) -> int:
        count = 0
        last = None
        for step in composable_loop(
            llm=llm, tools=tools, task={"description": TASK}, config=LoopConfig(max_steps=steps)
        ):
            count += 1
            last = step
        if last is None or last.tool_call.tool != "done" or last.tool_result.error:
            raise RuntimeError(f"upstream run did not end with done: {last!r}")
        return count

    return make, run


RUNNERS = {"core": _core_runner, "upstream": _upstream_runner}


def _worker_loop(impl: str, steps: int, repeats: int, budget: float) -> dict[str, Any]:
    """Best of ``repeats`` timed runs (fewer if ``budget`` seconds run out; always at least one)."""
    make, run = RUNNERS[impl](steps)
    warm_make, warm_run = RUNNERS[impl](10)
    warm_run(warm_make())  # first-call costs (lazy imports, caches) are not per-step overhead
    times: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats:
        llm = make()  # building the scripted backend is input, not loop work
        c0, t0 = time.process_time(), time.perf_counter()
        count = run(llm)
        elapsed, cpu_elapsed = time.perf_counter() - t0, time.process_time() - c0
        if count != steps:
            raise RuntimeError(f"{impl}: expected {steps} steps, got {count}")
        times.append(elapsed)
        cpu.append(cpu_elapsed)
        if time.perf_counter() - started > budget:
            break
    return {"times": times, "cpu": cpu, "estimator": _estimator_name(impl)}


def _estimator_name(impl: str) -> str | None:
    """Which token estimator looplet_core's context meter used (it prices every prompt)."""
    if impl != "core":
        return None
    try:
        from looplet_core.context.tokens import default_estimator
    except ImportError:  # an older checkout without the meter
        return None
    return default_estimator().name


def _worker_memory(impl: str, steps: int, use_tracemalloc: bool) -> dict[str, Any]:
    import gc

    at_start = peak_rss_kib()
    make, run = RUNNERS[impl](steps)
    gc.collect()
    after_import = peak_rss_kib()
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
        run(make())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"tracemalloc_peak": peak}
    run(make())
    return {"rss_start": at_start, "rss_after_import": after_import, "rss_peak": peak_rss_kib()}


def _worker(args: WorkerArgs) -> None:
    if args.worker == "loop":
        out = _worker_loop(args.impl, args.steps, args.repeats, args.budget)
    elif args.worker == "memory":
        out = _worker_memory(args.impl, args.steps, args.tracemalloc)
    elif args.worker == "version":
        import importlib.metadata as md

        if args.impl == "upstream":
            import looplet  # pyright: ignore[reportMissingImports]

            out = {"version": md.version("looplet"), "path": str(looplet.__file__)}
        else:
            sys.path.insert(0, ROOT)
            import looplet_core

            out = {"version": looplet_core.__version__, "path": str(looplet_core.__file__)}
    else:  # pragma: no cover - argparse restricts the choices
        raise SystemExit(f"unknown worker {args.worker}")
    print(json.dumps(out))


@dataclass
class WorkerArgs:
    worker: str
    impl: str = "core"
    steps: int = 100
    repeats: int = 10
    budget: float = 30.0
    tracemalloc: bool = False


def parse(argv: Sequence[str]) -> WorkerArgs:
    """The worker's few options, read without argparse (it alone is 1.6 MiB of the process)."""
    if not argv or argv[0] not in ("loop", "memory", "version"):
        raise SystemExit(f"loop_worker: the first argument is loop, memory or version: {argv!r}")
    args = WorkerArgs(argv[0])
    rest = list(argv[1:])
    while rest:
        option = rest.pop(0)
        if option == "--tracemalloc":
            args.tracemalloc = True
            continue
        if option not in ("--impl", "--steps", "--repeats", "--budget") or not rest:
            raise SystemExit(f"loop_worker: unknown option or missing value: {option}")
        value = rest.pop(0)
        if option == "--impl":
            if value not in RUNNERS:
                raise SystemExit(f"loop_worker: --impl is core or upstream, got {value!r}")
            args.impl = value
        elif option == "--budget":
            args.budget = float(value)
        else:
            setattr(args, option[2:], int(value))
    return args


if __name__ == "__main__":
    _worker(parse(sys.argv[1:]))
