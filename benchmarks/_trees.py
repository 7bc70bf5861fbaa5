"""What the two-checkout benchmarks share: run one feature's on/off ratio in each tree in turn.

``bench_checkpoint_trees.py`` and ``bench_provenance_trees.py`` differ only in the code a round
runs inside the measured tree (what "on" means) and in their column names; the rounds, the check
that a round imported the tree it claims to measure, the callgrind counts and the table live
here.  Each round is a fresh interpreter with that tree first on the path, so the two trees never
share an import, and rounds alternate between the trees so that a change in the machine's load
falls on both.  Never an assert: everything printed is what was measured.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Feature:
    """One feature measured on and off.

    ``round_code`` runs in the measured tree with argv ``tree steps repeats base`` and prints, on
    its last line, a JSON object with ``plain`` and ``on`` (seconds, medians of the round) and
    then the path of the ``looplet_core`` it imported.  ``callgrind_code`` runs one run of
    ``argv[2]`` steps, with the feature on when ``argv[3] == "1"``, files under ``argv[4]``.
    ``extra`` adds a column from a round's result (its header, then how to format one).
    """

    column: str
    noun: str
    round_code: str
    callgrind_code: str
    default_rounds: int = 2
    extra: tuple[str, Callable[[dict[str, float], int], str]] | None = None


def run_round(
    tree: Path, feature: Feature, steps: int, repeats: int, base: str
) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", feature.round_code, str(tree), str(steps), str(repeats), base],
        cwd=tree,  # "-c" puts the working directory first on the path: it must be the tree
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result, _, imported = out.strip().splitlines()[-1].rpartition(" ")
    if not imported.startswith(str(tree)):
        raise RuntimeError(f"{tree}: the round imported looplet_core from {imported}")
    return json.loads(result)


def instructions(tree: Path, feature: Feature, steps: int, on: bool, base: str) -> int:
    with tempfile.TemporaryDirectory() as out:
        log = Path(out) / "cg.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={log}",
                sys.executable,
                "-c",
                feature.callgrind_code,
                str(tree),
                str(steps),
                "1" if on else "0",
                base,
            ],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main(feature: Feature, doc: str) -> int:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (e.g. main)")
    parser.add_argument("--dir", default=None, help=f"where {feature.noun} go (e.g. /dev/shm)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per round, median")
    parser.add_argument("--rounds", type=int, default=feature.default_rounds)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--no-wall", action="store_true", help="only the callgrind counts")
    args = parser.parse_args()
    base = args.dir or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    trees = {"base": args.base.resolve(), "this": HERE}
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load {load}; {feature.noun} under {base}; {args.steps:,} steps")
    print(f"base = {trees['base']}, this = {trees['this']}")
    if not args.no_wall:
        wall_rounds(feature, trees, args.steps, args.repeats, args.rounds, base)
    if args.callgrind:
        for name, tree in trees.items():
            added = []
            for on in (False, True):
                long = instructions(tree, feature, 600, on, base)
                short = instructions(tree, feature, 100, on, base)
                added.append((long - short) / 500)
            plain, on_ = added
            print(
                f"callgrind {name}: plain {plain:,.0f} instr/step, {feature.column} {on_:,.0f} "
                f"(+{on_ - plain:,.0f}), ratio {on_ / plain:.2f}x"
            )
    return 0


def wall_rounds(
    feature: Feature, trees: dict[str, Path], steps: int, repeats: int, rounds: int, base: str
) -> None:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    extra_head = f"{feature.extra[0]:>9}" if feature.extra else ""
    on_head = f"{feature.column} µs"
    print(f"{'round':<7}{'tree':<6}{'plain µs':>10}{on_head:>11}{'ratio':>8}{extra_head}")
    for round_no in range(1, rounds + 1):
        for name, tree in trees.items():
            r = run_round(tree, feature, steps, repeats, base)
            results[name].append(r)
            plain, on = r["plain"] / steps * 1e6, r["on"] / steps * 1e6
            extra = f"{feature.extra[1](r, steps):>9}" if feature.extra else ""
            print(f"{round_no:<7}{name:<6}{plain:>10.1f}{on:>11.1f}{on / plain:>8.2f}{extra}")
    for name in trees:
        ratios = [r["on"] / r["plain"] for r in results[name]]
        print(f"median ratio {name}: {statistics.median(ratios):.2f}x")
