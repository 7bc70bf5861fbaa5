"""``looplet-tui`` / ``python -m looplet_tui``: open the debugger on a demo, an agent, a trace or a
checkpointed run.

    looplet-tui demo                              the data-cleanup agent (scripted, or OPENAI_*)
    looplet-tui run path/to/agent.py[:factory]    your agent: a factory returning the loop's args
    looplet-tui run package.module:factory
    looplet-tui replay TRACE_DIR [--agent FILE]   step through a saved trace, read-only
    looplet-tui replay STORE [--run ID]           the same for a run kept in a run store
    looplet-tui resume CHECKPOINT_DIR [--run ID]  continue a paused or crashed run
    looplet-tui diff A B                          two runs side by side, first divergence marked
                                                  (each a trace directory or STORE#RUN)
    looplet-tui runs --store URL                  the runs in a run store (SQLite file, PostgreSQL)
    looplet-tui attach --store URL RUN            follow a run another process runs; answer its
                                                  approvals (also: attach URL RUN)

Every problem with what was asked for (a missing file, a bad factory, a directory that is not a
trace) is one line on stderr and exit status 2; a missing ``textual`` says which extra to install.
Textual is imported only after the arguments are checked, so ``--help`` works without it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

_TUI_MISSING = (
    'looplet-tui needs the debugger\'s extra: pip install "looplet-lab[tui]" (it installs textual)'
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="looplet-tui",
        description="A terminal step debugger for looplet agent loops.",
        epilog="Keys: n next step, s next phase, c continue, p pause, b breakpoint, "
        "a/A/d/D/e approvals, ? all keys, q quit.  See docs/debugger.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="the data-cleanup agent in the debugger")
    demo.add_argument(
        "--delay",
        type=_seconds,
        default=0.35,
        help="seconds the scripted model takes per reply (default 0.35)",
    )
    run = sub.add_parser(
        "run", help="debug your agent: path/to/agent.py[:factory] or module:factory"
    )
    run.add_argument(
        "target",
        help="a factory returning the loop's arguments as a dict (default name: make_agent)",
    )
    replay = sub.add_parser("replay", help="step through a saved trace or stored run, read-only")
    replay.add_argument(
        "trace",
        metavar="TRACE_OR_STORE",
        help="a trace directory written by ProvenanceSink, or a run store (runs.db, "
        "sqlite:///PATH, postgresql://...; STORE#RUN names the run)",
    )
    replay.add_argument(
        "--run", dest="run_id", help="the run in the store (needed when it holds several)"
    )
    replay.add_argument(
        "--agent",
        metavar="FILE[:factory]",
        help="the agent whose model and tools a live re-run from a step may use "
        "(path/to/agent.py[:factory] or module:factory)",
    )
    resume = sub.add_parser("resume", help="continue a paused or crashed run")
    resume.add_argument(
        "checkpoints",
        help="the checkpoint directory (FileCheckpointStore), or a run store: runs.db, "
        "sqlite:///PATH, postgresql://...",
    )
    resume.add_argument("--run", dest="run_id", help="the run to resume (default: the newest)")
    resume.add_argument(
        "--branch", help="the branch to continue (default: the one checkpointed last)"
    )
    resume.add_argument(
        "--checkpoint",
        metavar="ID",
        help="resume from this checkpoint (default: the newest of the run or branch)",
    )
    resume.add_argument(
        "--agent",
        help="the factory that built the run (default: the one "
        "recorded when the debugger started it)",
    )
    diff = sub.add_parser("diff", help="compare two runs step by step, side by side")
    for side in ("a", "b"):
        diff.add_argument(
            f"trace_{side}",
            metavar=f"RUN_{side.upper()}",
            help=f"run {side.upper()}: a trace directory, or STORE#RUN (runs.db#r1, "
            "postgresql://.../db#r1; STORE alone if it holds one run)",
        )
    runs = sub.add_parser("runs", help="list the runs in a run store")
    runs.add_argument("--store", default=os.environ.get("LOOPLET_STORE") or "runs.db")
    attach = sub.add_parser(
        "attach", help="follow a run another process runs, and answer its approvals"
    )
    attach.add_argument("where", nargs="+", metavar="[URL] RUN", help="the store and the run id")
    attach.add_argument("--store", default=None, help="runs.db, sqlite:///PATH, postgresql://...")
    # `resume` keeps checkpointing into the directory it resumes from: no second way to name it.
    for command in (demo, run):
        command.add_argument(
            "--checkpoints",
            dest="checkpoint_dir",
            metavar="DIR",
            help="checkpoint the run into DIR so `resume` can reopen it",
        )
    for command in (demo, run, replay, resume, attach):
        command.add_argument(
            "--no-pause",
            action="store_true",
            help="start running instead of paused before the first step",
        )
    return parser


def _seconds(text: str) -> float:
    """A delay in seconds: a finite number, zero or more (checked here, not inside the UI)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a delay: give 0 or more seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, build the session (errors are one line), then run the app."""
    args = _parser().parse_args(argv)
    try:
        import textual  # noqa: F401  (checked first so the message names the extra)
    except ImportError:
        print(_TUI_MISSING, file=sys.stderr)
        return 2
    if args.command == "diff":
        return _diff(args.trace_a, args.trace_b)
    if args.command == "runs":
        from looplet_core.cli import main as core_main

        return core_main(["runs", "--store", args.store])
    from looplet_tui.cli import SessionError, build_session

    try:
        session = build_session(args)
    except SessionError as exc:
        print(f"looplet-tui: {exc}", file=sys.stderr)
        return 2
    return _run(session, start_paused=not args.no_pause)


def _diff(spec_a: str, spec_b: str) -> int:
    from looplet_core import LoopletError
    from looplet_tui.cli import SessionError, open_recording
    from looplet_tui.rundiff.align import compare_recordings
    from looplet_tui.screens.run_diff import RunDiffApp

    try:
        comparison = compare_recordings(open_recording(spec_a), open_recording(spec_b))
    except (LoopletError, OSError, SessionError) as exc:
        print(f"looplet-tui: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return RunDiffApp(comparison).run() or 0


def _run(session: object, *, start_paused: bool) -> int:
    import asyncio

    from looplet_tui.app.debugger import DebuggerApp
    from looplet_tui.session import AttachSession, ReplaySession, RunSession

    assert isinstance(session, RunSession | ReplaySession | AttachSession)
    app = DebuggerApp(session, start_paused=start_paused)
    # Our own event loop, not asyncio.run: asyncio.run would wait for the worker thread on the
    # way out, and a tool that ignores cancellation could then hold the terminal for minutes.
    loop = asyncio.new_event_loop()
    try:
        status = app.run(loop=loop) or 0
    finally:
        asyncio.set_event_loop(None)
    if not app.loop_done.wait(2.0):
        print(
            "looplet-tui: a model call or tool was still running when you quit; it was "
            "cancelled and left behind.",
            file=sys.stderr,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)  # the stuck thread would otherwise keep the process alive
    loop.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
