"""Two checkouts' trace cost side by side: ``ProvenanceSink()`` on / off, interleaved, same run.

``.venv/bin/python benchmarks/bench_provenance_trees.py --base /work/main --dir /dev/shm`` runs
the ``bench_provenance.py`` ratio (1,000-step scripted run, the sink's defaults) in each tree in
turn, round after round, each in a fresh interpreter with that tree first on the path, and prints
per round and the median of rounds: plain µs/step, traced µs/step, the ratio, and the bytes the
trace wrote per 1,000 steps.  With ``--callgrind`` it also counts the instructions a traced step
adds over a plain one in each tree (valgrind, a 600-step run minus a 100-step run, / 500), a
figure the machine's load cannot move.  Never an assert: it prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

# Runs in the measured tree: prints {"plain": s, "traced": s, "bytes": n} for one round.
ROUND = """
import json, os, statistics, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from bench_provenance import timed_run
import looplet_core
from looplet_core import ProvenanceSink
looplet_file = looplet_core.__file__
steps, repeats, base = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with tempfile.TemporaryDirectory(dir=base) as tmp:
    timed_run(20, None); timed_run(20, ProvenanceSink(os.path.join(tmp, "warm")))
    plain, traced = [], []
    for i in range(repeats):
        plain.append(sum(timed_run(steps, None)))
        traced.append(sum(timed_run(steps, ProvenanceSink(os.path.join(tmp, f"r{i}")))))
    top = os.path.join(tmp, "r0")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(top) for f in fs)
result = {"plain": statistics.median(plain), "traced": statistics.median(traced), "bytes": size}
print(json.dumps(result), looplet_file)
"""

# Runs under callgrind: one run of argv[2] steps, traced when argv[3] == "1".
CALLGRIND = """
import os, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from bench_provenance import timed_run
from looplet_core import ProvenanceSink
with tempfile.TemporaryDirectory(dir=sys.argv[4]) as tmp:
    sink = ProvenanceSink(os.path.join(tmp, "t")) if sys.argv[3] == "1" else None
    timed_run(int(sys.argv[2]), sink)
"""


def run_round(tree: Path, steps: int, repeats: int, base: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", ROUND, str(tree), str(steps), str(repeats), base],
        cwd=tree,  # "-c" puts the working directory first on the path: it must be the tree
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result, _, imported = out.strip().splitlines()[-1].rpartition(" ")
    if not imported.startswith(str(tree)):
        raise RuntimeError(f"{tree}: the round imported looplet_core from {imported}")
    return json.loads(result)


def instructions(tree: Path, steps: int, traced: bool, base: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as out:
        log = Path(out) / "cg.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={log}",
                sys.executable,
                "-c",
                CALLGRIND,
                str(tree),
                str(steps),
                "1" if traced else "0",
                base,
            ],
            cwd=tree,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (e.g. main)")
    parser.add_argument("--dir", default=None, help="where traces are written (e.g. /dev/shm)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per round, median")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    base = args.dir or tempfile.gettempdir()
    trees = {"base": args.base.resolve(), "this": HERE}
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load {load}; traces under {base}; {args.steps:,} steps")
    print(f"base = {trees['base']}, this = {trees['this']}")
    results: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    print(f"{'round':<7}{'tree':<6}{'plain µs':>10}{'traced µs':>11}{'ratio':>8}{'KB/1k':>9}")
    for round_no in range(1, args.rounds + 1):
        for name, tree in trees.items():
            r = run_round(tree, args.steps, args.repeats, base)
            results[name].append(r)
            plain, traced = r["plain"] / args.steps * 1e6, r["traced"] / args.steps * 1e6
            kb = r["bytes"] / 1024 * 1000 / args.steps
            print(
                f"{round_no:<7}{name:<6}{plain:>10.1f}{traced:>11.1f}"
                f"{traced / plain:>8.2f}{kb:>9.0f}"
            )
    for name in trees:
        ratios = [r["traced"] / r["plain"] for r in results[name]]
        print(f"median ratio {name}: {statistics.median(ratios):.2f}x")
    if args.callgrind:
        for name, tree in trees.items():
            added = []
            for traced in (False, True):
                long = instructions(tree, 600, traced, base)
                short = instructions(tree, 100, traced, base)
                added.append((long - short) / 500)
            plain, traced = added
            print(
                f"callgrind {name}: plain {plain:,.0f} instr/step, traced {traced:,.0f} "
                f"(+{traced - plain:,.0f}), ratio {traced / plain:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
