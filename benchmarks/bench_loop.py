"""Loop benchmarks: cold import, per-step loop overhead and peak memory, side by side with the
upstream ``looplet`` package from PyPI.

Run it with ``make bench`` or ``.venv/bin/python benchmarks/bench_loop.py``.  It prints one plain
text table on stdout; ``docs/benchmarks.md`` explains every figure.

The upstream column needs ``looplet==0.4.1`` in its own virtual environment.  When it is missing
the script creates one in the system's temporary directory (``python -m venv``, then
``pip install looplet==0.4.1``), named after the version so that every checkout and worktree on
the machine reuses it; when that fails the upstream column is left out with a note saying why.
``--upstream-python PATH`` uses an existing interpreter that already has it, ``--no-upstream``
skips it.

Every measurement runs in a fresh subprocess of ``loop_worker.py`` (this script's worker half), so
the two libraries never share an interpreter and every memory figure starts from a clean process.
The worker imports only the library it measures and the few standard modules it needs; this
parent half uses the standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UPSTREAM_VERSION = "0.4.1"
UPSTREAM_VENV = Path(tempfile.gettempdir()) / f"looplet-bench-upstream-{UPSTREAM_VERSION}"

STEP_COUNTS = (100, 1_000, 10_000)
MEMORY_STEPS = 10_000

# Targets from issues 2 and 16; printed next to the figures, never used to choose what is measured.
AGENT_NAMES = "composable_loop, BaseToolRegistry, ToolSpec, DefaultState, LoopConfig"
TARGET_IMPORT_RATIO = 3.0
TARGET_US_PER_STEP = 25.0
TARGET_FLATNESS = 1.5
TARGET_PEAK_MIB = 30.0
TARGET_UPSTREAM_RATIO = 300.0  # upstream's µs/step over looplet_core's, at the largest run


# ------------------------------------------------------------------------------------------------
# Parent half: sets things up, runs the workers, prints the table.
# ------------------------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    return env


def _run_worker(python: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [python, str(HERE / "loop_worker.py"), *args],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} under {python} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ensure_bench_venv(install_upstream: bool) -> tuple[str | None, bool, str]:
    """Return (python, has_upstream, note) for the clean benchmark venv.

    The venv holds pip, setuptools and (unless skipped) looplet==UPSTREAM_VERSION, nothing else:
    both libraries are measured with its interpreter, looplet_core imported from this checkout.
    """
    python = UPSTREAM_VENV / "bin" / "python"
    where = str(UPSTREAM_VENV)
    if not python.exists():
        print(f"setting up {where} ...", file=sys.stderr)
        proc = subprocess.run(
            [sys.executable, "-m", "venv", str(UPSTREAM_VENV)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return None, False, f"could not create {where}: {proc.stderr.strip()[-200:]}"
    if not install_upstream:
        return str(python), False, "upstream column skipped (--no-upstream)"
    check = [
        str(python),
        "-c",
        f"import importlib.metadata as m; assert m.version('looplet') == {UPSTREAM_VERSION!r}",
    ]
    if subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return str(python), True, f"reusing {where}"
    print(f"pip install looplet=={UPSTREAM_VERSION} into {where} ...", file=sys.stderr)
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"looplet=={UPSTREAM_VERSION}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return (
            str(python),
            False,
            (f"upstream column skipped: pip install looplet=={UPSTREAM_VERSION} failed: {tail[0]}"),
        )
    return str(python), True, f"installed into {where}"


def _time_command(python: str, code: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", code],
        cwd=ROOT,
        env=_clean_env(),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{python} -c {code!r} failed: {proc.stderr.decode().strip()}")
    return elapsed


def _bench_imports(cases: dict[str, tuple[str, str]], runs: int) -> dict[str, list[float]]:
    """Time ``python -c pass`` per interpreter and ``python -c "<import statement>"`` per case.

    ``cases`` maps a label to (python, import statement).  Runs are interleaved round by round, so
    a burst of load on the machine hits every figure alike.  Results: label -> seconds, plus
    "pass:<python>".
    """
    pythons = sorted({python for python, _ in cases.values()})
    commands = [(f"pass:{py}", py, "pass") for py in pythons]
    commands += [(label, py, statement) for label, (py, statement) in cases.items()]
    for _, python, code in commands:  # warm-up: compile .pyc files, fill the page cache
        _time_command(python, code)
    out: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for _ in range(runs):
        for label, python, code in commands:
            out[label].append(_time_command(python, code))
    return out


def _baseline_rss(python: str, runs: int = 5) -> int:
    # the process's own peak, as loop_worker.peak_rss_kib reads it (ru_maxrss would report the
    # parent's: a vfork-started child inherits it), without importing anything on Linux
    code = (
        "try:\n"
        "    print([l.split()[1] for l in open('/proc/self/status') if l[:6] == 'VmHWM:'][0])\n"
        "except (OSError, IndexError):\n"
        "    import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    values = []
    for _ in range(runs):
        proc = subprocess.run(
            [python, "-c", code],
            cwd=ROOT,
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        values.append(int(proc.stdout.strip()))
    return int(statistics.median(values))


def _loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _busy() -> bool:
    """True when the 1-minute load average exceeds the usable cores: other work is competing."""
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return os.getloadavg()[0] > (cores or 1)
    except OSError:
        return False


def _machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or "n/a"
    )
    return [
        f"date:    {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"machine: {cpu}, {os.cpu_count()} cores ({usable} usable), "
        f"{platform.system()} {platform.release()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}",
        f"repo:    git {commit}",
    ]


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--no-upstream", action="store_true", help="measure looplet_core only")
    p.add_argument("--upstream-python", help="an interpreter that already has looplet==0.4.1")
    p.add_argument("--import-runs", type=int, default=40, help="subprocess runs per import figure")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per loop figure (best kept)")
    p.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="stop repeating a loop figure after this many seconds (>= 1 run)",
    )
    p.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="skip the tracemalloc peak (it runs the 10,000-step run once more, slowly)",
    )
    p.add_argument("--json", type=Path, help="also write the raw measurements to this file")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)

    def log(msg: str) -> None:
        print(f"  ... {msg}", file=sys.stderr, flush=True)

    header = _machine()
    load_start = _loadavg()
    busy = _busy()
    notes: list[str] = []
    if args.upstream_python:
        clean, has_upstream, note = args.upstream_python, True, f"using {args.upstream_python}"
    else:
        clean, has_upstream, note = _ensure_bench_venv(install_upstream=not args.no_upstream)
    if clean is None:
        notes.append(f"{note}; looplet_core measured with {sys.executable} instead")
        clean = sys.executable
    elif not has_upstream:
        notes.append(note)
    pythons: dict[str, str] = {"core": clean}
    if has_upstream:
        try:
            info = _run_worker(clean, "version", "--impl", "upstream")
            pythons["upstream"] = clean
            header.append(f"looplet:      {info['version']} from PyPI ({note})")
        except RuntimeError as exc:
            notes.append(f"upstream column skipped: looplet does not import: {exc}")
    core_info = _run_worker(clean, "version", "--impl", "core")
    header.append(f"looplet_core: {core_info['version']} ({core_info['path']})")
    header.append(f"interpreter:  {clean} (every figure; see the notes)")
    impls = list(pythons)
    names = {"core": "looplet_core", "upstream": f"looplet {UPSTREAM_VERSION}"}
    raw: dict[str, Any] = {"header": header, "notes": notes}

    # 1. cold import
    log(f"cold import, {args.import_runs} interleaved runs per figure")
    modules = {"core": "looplet_core", "upstream": "looplet"}
    cases = {impl: (pythons[impl], f"import {modules[impl]}") for impl in impls}
    # looplet_core resolves its names lazily, so a bare import is cheap; what a program using the
    # loop pays is the import of the seed's first-agent names, measured for both libraries.
    for impl in impls:
        cases[f"{impl}-agent"] = (pythons[impl], f"from {modules[impl]} import {AGENT_NAMES}")
    dev = sys.executable != clean
    if dev:  # the project's own venv, with its editable install, as a developer runs it
        cases["core-dev"] = (sys.executable, "import looplet_core")
    imports = _bench_imports(cases, args.import_runs)
    raw["imports"] = imports

    # 2. loop overhead
    loop: dict[str, dict[int, list[float]]] = {impl: {} for impl in impls}
    loop_cpu: dict[str, dict[int, list[float]]] = {impl: {} for impl in impls}
    estimator = "n/a"
    for steps in STEP_COUNTS:
        for impl in impls:
            log(f"loop overhead, {names[impl]}, {steps:,} steps")
            res = _run_worker(
                pythons[impl],
                "loop",
                "--impl",
                impl,
                "--steps",
                str(steps),
                "--repeats",
                str(args.repeats),
                "--budget",
                str(args.budget),
            )
            loop[impl][steps] = res["times"]
            loop_cpu[impl][steps] = res["cpu"]
            if res.get("estimator"):
                estimator = res["estimator"]
    raw["loop"] = loop
    raw["loop_cpu"] = loop_cpu
    header.append(f"looplet_core token estimator: {estimator}")

    # 3. peak memory
    memory: dict[str, dict[str, Any]] = {}
    for impl in impls:
        log(f"peak memory, {names[impl]}, {MEMORY_STEPS:,} steps")
        mem = _run_worker(pythons[impl], "memory", "--impl", impl, "--steps", str(MEMORY_STEPS))
        mem["rss_baseline"] = _baseline_rss(pythons[impl])
        if not args.no_tracemalloc:
            log(f"tracemalloc peak, {names[impl]}, {MEMORY_STEPS:,} steps")
            mem |= _run_worker(
                pythons[impl],
                "memory",
                "--impl",
                impl,
                "--steps",
                str(MEMORY_STEPS),
                "--tracemalloc",
            )
        memory[impl] = mem
    raw["memory"] = memory
    header.append(f"load:    {load_start} at the start, {_loadavg()} at the end (1/5/15 min)")

    # -- table --------------------------------------------------------------------------------
    rows: list[list[str]] = [["figure", *(names[i] for i in impls), "target", "met"]]

    def ms(label: str) -> tuple[float, float]:
        return statistics.median(imports[label]), min(imports[label])

    def import_cell(label: str, python: str) -> str:
        (med, low), (base, _) = ms(label), ms(f"pass:{python}")
        return f"{med * 1000:.1f} ms = {med / base:.1f}x (min {low * 1000:.1f})"

    rows.append(
        [
            f"python -c pass, ms (median of {args.import_runs})",
            *(
                f"{ms('pass:' + pythons[i])[0] * 1000:.1f} ms "
                f"(min {ms('pass:' + pythons[i])[1] * 1000:.1f})"
                for i in impls
            ),
            "",
            "",
        ]
    )
    ratio = ms("core")[0] / ms(f"pass:{pythons['core']}")[0]
    rows.append(
        [
            "cold import, median = x python -c pass",
            *(import_cell(i, pythons[i]) for i in impls),
            f"<= {TARGET_IMPORT_RATIO:.0f}x",
            _verdict(ratio <= TARGET_IMPORT_RATIO),
        ]
    )
    rows.append(
        [
            "  first agent's names, = x python -c pass",
            *(import_cell(f"{i}-agent", pythons[i]) for i in impls),
            "(not a target)",
            "",
        ]
    )
    if dev:
        rows.append(
            [
                "  same, in the project .venv (editable)",
                import_cell("core-dev", sys.executable)
                + f", pass {ms('pass:' + sys.executable)[0] * 1000:.1f} ms",
                *([""] * (len(impls) - 1)),
                "",
                "",
            ]
        )
    per_step = {i: {n: min(loop[i][n]) / n * 1e6 for n in STEP_COUNTS} for i in impls}

    def cpu_of_best(impl: str, n: int) -> float:
        best = loop[impl][n].index(min(loop[impl][n]))
        return loop_cpu[impl][n][best] / n * 1e6

    for n in STEP_COUNTS:
        rows.append(
            [
                f"loop, {n:,} steps, us/step",
                *(
                    f"{per_step[i][n]:.1f} (cpu {cpu_of_best(i, n):.1f}; best of {len(loop[i][n])})"
                    for i in impls
                ),
                f"<= {TARGET_US_PER_STEP:.0f}",
                _verdict(per_step["core"][n] <= TARGET_US_PER_STEP),
            ]
        )
    first, last = STEP_COUNTS[0], STEP_COUNTS[-1]
    if "upstream" in per_step:
        times = per_step["upstream"][last] / per_step["core"][last]
        rows.append(
            [
                f"upstream / looplet_core, {last:,} steps",
                f"{times:,.0f}x faster per step",
                "",
                f">= {TARGET_UPSTREAM_RATIO:.0f}x",
                _verdict(times >= TARGET_UPSTREAM_RATIO),
            ]
        )
    else:
        rows.append(
            [
                f"upstream / looplet_core, {last:,} steps",
                "not measured (see the notes)",
                f">= {TARGET_UPSTREAM_RATIO:.0f}x",
                "",
            ]
        )
    flat = {i: per_step[i][last] / per_step[i][first] for i in impls}
    rows.append(
        [
            f"flatness: {last:,}-step / {first:,}-step figure",
            *(
                f"{flat[i]:.2f}x (cpu {cpu_of_best(i, last) / cpu_of_best(i, first):.2f}x)"
                for i in impls
            ),
            f"<= {TARGET_FLATNESS}x",
            _verdict(flat["core"] <= TARGET_FLATNESS),
        ]
    )
    rows.append(
        [
            "peak RSS of python -c pass",
            *(_mib(memory[i]["rss_baseline"]) for i in impls),
            "",
            "",
        ]
    )
    rows.append(
        ["RSS after import + setup", *(_mib(memory[i]["rss_after_import"]) for i in impls), "", ""]
    )
    rows.append(
        [
            f"peak RSS, {MEMORY_STEPS:,}-step run",
            *(_mib(memory[i]["rss_peak"]) for i in impls),
            f"<= {TARGET_PEAK_MIB:.0f} MiB",
            _verdict(memory["core"]["rss_peak"] / 1024 <= TARGET_PEAK_MIB),
        ]
    )
    rows.append(
        [
            "  of which above python -c pass",
            *(_mib(memory[i]["rss_peak"] - memory[i]["rss_baseline"]) for i in impls),
            "",
            "",
        ]
    )
    if not args.no_tracemalloc:
        rows.append(
            [
                f"tracemalloc peak, {MEMORY_STEPS:,}-step run",
                *(_mib(memory[i]["tracemalloc_peak"] / 1024) for i in impls),
                "",
                "",
            ]
        )

    print("looplet loop benchmarks (benchmarks/bench_loop.py)")
    print()
    for line in header:
        print(line)
    print()
    for line in _table(rows):
        print(line)
    print()
    how = [
        "how measured:",
        '- cold import: wall time of a fresh `python -c "import M"` subprocess, interpreter',
        f"  start-up included; median (min in parentheses) of {args.import_runs} runs, interleaved",
        "  with `python -c pass`; the ratio is that median over the same interpreter's `pass`",
        "  median.",
        "- loop: wall time of one whole scripted run (echo N-1 times, then done), from calling",
        "  composable_loop to its last step, divided by N: the best of the repeats shown",
        f"  ({args.repeats} asked, fewer once {args.budget:.0f} s ran out, at least one), after a "
        "10-step warm-up;",
        "  cpu is that same run's process CPU time / N (less sensitive to a busy machine).",
        "- memory: one fresh process per figure.  Peak RSS is the whole process's own peak,",
        "  interpreter included (VmHWM on Linux: ru_maxrss of a vfork-started child includes its",
        "  parent's); tracemalloc (a separate run) counts Python allocations made during the run,",
        "  after import and after the script list was built.",
        "- interpreter: the one named above, for both libraries; by default the clean venv",
        f"  {UPSTREAM_VENV} (pip, setuptools, looplet {UPSTREAM_VERSION} only), looplet_core",
        "  being imported from this checkout.",
    ]
    for line in how:
        print(line)
    if busy or _busy():
        notes.append(
            "the load average exceeded the core count during this run: other processes competed "
            "for the CPU, so times are inflated (import medians most); re-run on an idle machine"
        )
    for line in notes:
        print(textwrap.fill(f"note: {line}", width=96, subsequent_indent="  "))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
