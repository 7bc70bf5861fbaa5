"""Two checkouts' checkpoint cost side by side: ``FileCheckpointStore`` on / off, interleaved.

``.venv/bin/python benchmarks/bench_checkpoint_trees.py --base /work/main --dir /dev/shm`` runs
``bench_checkpoint.py``'s 1,000-step scripted run without checkpoints and with
``FileCheckpointStore(durable=False)`` (its default log layout) in each tree in turn, round
after round, each round in a fresh interpreter with that tree first on the path, and prints per
round and the median of rounds: plain µs/step, checkpointed µs/step and their ratio.  With
``--callgrind`` it also counts the instructions checkpointing adds to a step in each tree
(valgrind, a 600-step run minus a 100-step run, / 500), a figure the machine's load cannot move
(it leaves out the time spent in the kernel, which the wall ratio holds).  Never an assert: it
prints what it measured.  The rounds themselves are ``_trees.py``'s.
"""

from __future__ import annotations

import sys

from _trees import Feature, main

CHECKPOINTS = Feature(
    column="stored",
    noun="checkpoints",
    # prints {"plain": s, "on": s} (medians of one round), then the looplet_core it imported
    round_code="""
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
result = {"plain": statistics.median(plain), "on": statistics.median(stored)}
print(json.dumps(result), looplet_core.__file__)
""",
    callgrind_code="""
import os, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from bench_checkpoint import run
from looplet_core import FileCheckpointStore
with tempfile.TemporaryDirectory(dir=sys.argv[4]) as tmp:
    store = FileCheckpointStore(os.path.join(tmp, "c"), durable=False)
    run(int(sys.argv[2]), store if sys.argv[3] == "1" else None)
""",
)

if __name__ == "__main__":
    sys.exit(main(CHECKPOINTS, __doc__ or ""))
