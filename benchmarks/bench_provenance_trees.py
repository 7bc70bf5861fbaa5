"""Two checkouts' trace cost side by side: ``ProvenanceSink()`` on / off, interleaved, same run.

``.venv/bin/python benchmarks/bench_provenance_trees.py --base /work/main --dir /dev/shm`` runs
the ``bench_provenance.py`` ratio (1,000-step scripted run, the sink's defaults) in each tree in
turn, round after round, each in a fresh interpreter with that tree first on the path, and prints
per round and the median of rounds: plain µs/step, traced µs/step, the ratio, and the bytes the
trace wrote per 1,000 steps.  With ``--callgrind`` it also counts the instructions a traced step
adds over a plain one in each tree (valgrind, a 600-step run minus a 100-step run, / 500), a
figure the machine's load cannot move.  Never an assert: it prints what it measured.  The
rounds themselves are ``_trees.py``'s.
"""

from __future__ import annotations

import sys

from _trees import Feature, main


def kb_per_1k_steps(result: dict[str, float], steps: int) -> str:
    return f"{result['bytes'] / 1024 * 1000 / steps:.0f}"


TRACES = Feature(
    column="traced",
    noun="traces",
    default_rounds=3,
    extra=("KB/1k", kb_per_1k_steps),
    # prints {"plain": s, "on": s, "bytes": n} for one round, then the looplet_core it imported
    round_code="""
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
result = {"plain": statistics.median(plain), "on": statistics.median(traced), "bytes": size}
print(json.dumps(result), looplet_file)
""",
    callgrind_code="""
import os, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from bench_provenance import timed_run
from looplet_core import ProvenanceSink
with tempfile.TemporaryDirectory(dir=sys.argv[4]) as tmp:
    sink = ProvenanceSink(os.path.join(tmp, "t")) if sys.argv[3] == "1" else None
    timed_run(int(sys.argv[2]), sink)
""",
)

if __name__ == "__main__":
    sys.exit(main(TRACES, __doc__ or ""))
