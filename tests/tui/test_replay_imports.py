"""Opening a trace imports only what a replay uses: the loop, its engine and the checkpoint and
resume machinery are imported by the commands that run or resume a run, where they are used.
(Part of the replay's first-screen time: see docs/benchmarks.md.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LIVE_ONLY = (
    "looplet_core.loop",
    "looplet_core.engine",
    "looplet_core.durable.checkpointer",
    "looplet_core.durable.recorded",
    "looplet_core.runs.resume",
    "looplet_core.runs.headless",
)


def imported_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_replay_command_does_not_import_the_loop(tmp_path):
    trace = ROOT / "tests" / "fixtures" / "trace_v1"
    modules = imported_after(
        "from looplet_tui.__main__ import _parser\n"
        "from looplet_tui.app import DebuggerApp\n"
        "from looplet_tui.cli import build_session\n"
        f"args = _parser().parse_args(['replay', {str(trace)!r}])\n"
        "app = DebuggerApp(build_session(args), start_paused=True)\n"
    )
    assert "looplet_tui.app.debugger" in modules and "looplet_core.provenance.reader" in modules
    assert not modules & set(LIVE_ONLY)


def test_the_run_command_still_gets_them():
    modules = imported_after(
        "from looplet_tui.cli import build_session\n"
        "from looplet_tui.__main__ import _parser\n"
        "session = build_session(_parser().parse_args(['demo']))\n"
        "import looplet_core.runs.headless, looplet_core.runs.resume\n"
        "next(iter(session.start([], __import__('looplet_core').CancelToken())))\n"
    )
    assert {"looplet_core.loop", "looplet_core.engine"} <= modules
