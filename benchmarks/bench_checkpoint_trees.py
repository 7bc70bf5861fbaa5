"""Two checkouts' checkpoint cost side by side: ``FileCheckpointStore`` on / off, interleaved.

``.venv/bin/python benchmarks/bench_checkpoint_trees.py --base /work/main --dir /dev/shm`` runs
``bench_checkpoint.py``'s 1,000-step scripted run without checkpoints and with
``FileCheckpointStore(durable=False)`` (its default log layout) in each tree in turn, round
after round, each round in a fresh interpreter with that tree first on the path, and prints per
round and the median of rounds: plain µs/step, checkpointed µs/step and their ratio.  With
``--callgrind`` it also counts the instructions checkpointing adds to a step in each tree
(valgrind, a 600-step run minus a 100-step run, / 500), a figure the machine's load cannot move
(it leaves out the time spent in the kernel, which the wall ratio holds).  Never an assert: it
prints what it measured.
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

# Runs in the measured tree: prints {"plain": s, "stored": s} (medians of one round).
ROUND = """
import json, os, statistics, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from bench_checkpoint import run
import looplet_core
from looplet_core import FileCheckpointStore
steps, repeats, base = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with tempfile.TemporaryDirectory(dir=base) as tmp:
    run(20, None); run(20, FileCheckpointStore(os.path.join(tmp, "warm"), durable=False))
    plain, stored = [], []
    for i in range(repeats):
        plain.append(run(steps, None))
        stored.append(run(steps, FileCheckpointStore(os.path.join(tmp, f"r{i}"), durable=False)))
result = {"plain": statistics.median(plain), "stored": statistics.median(stored)}
print(json.dumps(result), looplet_core.__file__)
"""

# Runs under callgrind: one run of argv[2] steps, checkpointed when argv[3] == "1".
CALLGRIND = """
import os, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from bench_checkpoint import run
from looplet_core import FileCheckpointStore
with tempfile.TemporaryDirectory(dir=sys.argv[4]) as tmp:
    store = FileCheckpointStore(os.path.join(tmp, "c"), durable=False)
    run(int(sys.argv[2]), store if sys.argv[3] == "1" else None)
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


def instructions(tree: Path, steps: int, stored: bool, base: str) -> int:
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
                "1" if stored else "0",
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (e.g. main)")
    parser.add_argument("--dir", default=None, help="where checkpoints go (e.g. /dev/shm)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per round, median")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--no-wall", action="store_true", help="only the callgrind counts")
    args = parser.parse_args()
    base = args.dir or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    trees = {"base": args.base.resolve(), "this": HERE}
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load {load}; checkpoints under {base}; {args.steps:,} steps")
    print(f"base = {trees['base']}, this = {trees['this']}")
    if not args.no_wall:
        results: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
        print(f"{'round':<7}{'tree':<6}{'plain µs':>10}{'stored µs':>11}{'ratio':>8}")
        for round_no in range(1, args.rounds + 1):
            for name, tree in trees.items():
                r = run_round(tree, args.steps, args.repeats, base)
                results[name].append(r)
                plain, stored = r["plain"] / args.steps * 1e6, r["stored"] / args.steps * 1e6
                print(f"{round_no:<7}{name:<6}{plain:>10.1f}{stored:>11.1f}{stored / plain:>8.2f}")
        for name in trees:
            ratios = [r["stored"] / r["plain"] for r in results[name]]
            print(f"median ratio {name}: {statistics.median(ratios):.2f}x")
    if args.callgrind:
        for name, tree in trees.items():
            added = []
            for stored in (False, True):
                long = instructions(tree, 600, stored, base)
                short = instructions(tree, 100, stored, base)
                added.append((long - short) / 500)
            plain, stored = added
            print(
                f"callgrind {name}: plain {plain:,.0f} instr/step, checkpointed {stored:,.0f} "
                f"(+{stored - plain:,.0f}), ratio {stored / plain:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
