#!/bin/bash
# Every figure of issue 16's table in one run, the scripts one after the other (~12 minutes):
#   bash benchmarks/issue16.sh > issue16.log
# Each line "## DATE load: 1/5/15 -- what" says when each part ran and under what load.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SHM=${SHM:-/dev/shm/looplet-bench}   # tmpfs, for the "on tmpfs" rows
DISK=${DISK:-/tmp/looplet-bench}     # the machine's disk
mkdir -p "$SHM" "$DISK"
stamp() { echo "## $(date -u '+%Y-%m-%d %H:%M:%S UTC') load: $(cut -d' ' -f1-3 /proc/loadavg) -- $*"; }
stamp start "$(git log --oneline -1 2>/dev/null)"
for round in 1 2; do
    stamp "checkpoint, tmpfs, round $round"; $PY benchmarks/bench_checkpoint.py --ratio-only --dir "$SHM"
    stamp "provenance, tmpfs, round $round"; $PY benchmarks/bench_provenance.py --ratio-only --dir "$SHM"
    stamp "compaction, round $round"; $PY benchmarks/bench_context.py --compaction-only
done
stamp "checkpoint, disk"; $PY benchmarks/bench_checkpoint.py --ratio-only --dir "$DISK"
stamp "provenance, disk"; $PY benchmarks/bench_provenance.py --ratio-only --dir "$DISK"
stamp loop; $PY benchmarks/bench_loop.py --repeats 10 --budget 20 --import-runs 20 2>/dev/null
stamp tui; $PY benchmarks/bench_tui.py
stamp replay; $PY benchmarks/bench_replay.py --dir "$DISK" --only first,keys,memory \
    --keys n,right,left,seek --presses 60 --seeks 5
stamp stores; $PY benchmarks/bench_stores.py --no-postgres --repeats 5 --dir "$SHM"
stamp end
