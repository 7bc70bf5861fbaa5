"""``python -m looplet_core``: look at traces, evaluate them, compare two of them; run an agent
headless in a run store and answer its approvals from another terminal.

    python -m looplet_core show TRACE [--prompt N | --response N]
    python -m looplet_core eval TRACES --evals PATH [--threshold X] [--pass-mark Y]
    python -m looplet_core diff TRACE_A TRACE_B
    python -m looplet_core run AGENT --store URL [--run-id ID] [--wait SECONDS]
    python -m looplet_core runs [list|show|approve|deny|pause|continue] [RUN] --store URL

``--store`` is a SQLite file (``runs.db``), ``sqlite:///PATH`` or ``postgresql://...``
(default: ``$LOOPLET_STORE``, else ``runs.db``); see docs/stores.md.  ``run`` exits 3 when it
stopped waiting for an approval (``--wait``): the run is paused, and running it again resumes it.

Exit status: 0 when all is well; 1 when evals fall below the threshold (or, with no threshold, when
any eval fails) or when ``diff`` finds a divergence; 2 when an input cannot be read (the message
says which file and why).  Text from models and tools is printed with control characters escaped,
so a trace cannot drive your terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from looplet_core.errors import ApprovalError, CheckpointError, ConfigError, TraceError
from looplet_core.evals.harness import (
    DEFAULT_PASS_MARK,
    EvalContext,
    EvalReport,
    EvalResult,
    discover_evals,
    find_traces,
    run_evals,
)
from looplet_core.provenance import format as fmt
from looplet_core.provenance.compare import compare_steps
from looplet_core.provenance.reader import TraceReader
from looplet_core.step import Step, answer_text

if TYPE_CHECKING:
    from looplet_core.durable.runstore import ApprovalRecord, RunStore

__all__ = ["main"]

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL.pop(0x0A)
_CONTROL.pop(0x09)


def safe(text: str) -> str:
    """``text`` with terminal control characters (escapes, carriage returns) made visible."""
    return text.translate(_CONTROL)


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "?"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_steps(tree: Iterable[tuple[tuple[int, ...], Step]], out: TextIO) -> None:
    """One line per step of ``TraceReader.tree()``; a batch's steps are marked ``∥ i/n``, a
    sub-agent's steps indented under the step that started it, as deep as they nest."""
    for path, step in tree:
        indent = "    " * (len(path) - 1)
        mark = f"  ∥ {step.batch.index + 1}/{step.batch.size}" if step.batch else ""
        print(indent + safe(step.pretty()) + mark, file=out)
        child = step.child
        if child is not None:
            head = f"sub-agent {child.agent}: {child.stop_reason.value}, {len(child.steps)} step(s)"
            print(f"{indent}  └ {safe(head)}", file=out)


def show(path: str, out: TextIO) -> int:
    reader = TraceReader(path)
    m = reader.manifest
    started, ended = m.get("started_at"), m.get("ended_at")
    took = (
        f" ({ended - started:.1f}s)"
        if isinstance(started, int | float) and isinstance(ended, int | float)
        else ""
    )
    print(
        f"trace  {safe(str(reader.path))}  ({m['format']} v{m['version']}, {reader.status})",
        file=out,
    )
    print(f"run    {safe(reader.run_id)}  model {safe(str(reader.model))}", file=out)
    print(f"task   {safe(_one_line(reader.task))}", file=out)
    print(f"start  {_when(started)}{took}", file=out)
    _print_steps(reader.tree(), out)
    if reader.stop_reason is not None:
        print(f"stop   {reader.stop_reason.value}: {safe(str(m.get('message') or ''))}", file=out)
        print(f"answer {safe(_one_line(answer_text(reader.final_answer)))}", file=out)
    else:
        print("stop   (the run has not ended: still running, or it crashed)", file=out)
    totals = reader.totals
    tools = ", ".join(f"{safe(k)} {v}" for k, v in dict(totals.get("tools") or {}).items())
    usage = reader.usage
    print(
        f"totals {len(reader)} steps ({totals.get('errors', 0)} not ok), "
        f"{totals.get('llm_calls', 0)} model calls, tokens {usage.input_tokens} in / "
        f"{usage.output_tokens} out" + (f"; tools: {tools}" if tools else ""),
        file=out,
    )
    return 0


def show_call(path: str, out: TextIO, *, call: int, part: Literal["prompt", "response"]) -> int:
    """Print one model call's prompt or reply as the readable ``llm/`` files would hold it,
    whatever the trace's ``prompt_files``: ``diff <(show T --prompt 3) <(show T --prompt 4)``
    shows what the model was sent between two calls."""
    reader = TraceReader(path)
    try:
        if part == "prompt":
            messages = reader.prompt(call)
            header = fmt.prompt_header(call, len(messages), len(reader.tools()))
            text = header + fmt.render_messages(messages)
        else:
            text = fmt.render_response(reader.llm_call(call))
    except IndexError:
        calls = int(reader.totals.get("llm_calls") or len(reader.llm_calls()))
        raise TraceError(
            f"{reader.path}: the trace has no model call {call} (its calls are numbered 1 to "
            f"{calls}; `python -m looplet_core show TRACE` lists its steps)"
        ) from None
    out.write(safe(text))
    return 0


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:199] + "…"


class _Progress:
    """Progress on stderr for long evaluations: a live line on a terminal, else every tenth."""

    def __init__(self, total: int, err: TextIO) -> None:
        self.total, self.err = total, err
        self.live = err.isatty()
        self.every = max(1, total // 10)

    def update(self, done: int, name: str) -> None:
        if self.total < 2:
            return
        if self.live:
            end = "\n" if done == self.total else ""
            print(
                f"\r[{done}/{self.total}] {safe(name)[:60]:<60}", end=end, file=self.err, flush=True
            )
        elif done % self.every == 0 or done == self.total:
            print(f"evaluated {done}/{self.total} traces", file=self.err, flush=True)


def evaluate(
    traces: str,
    evals: str,
    *,
    threshold: float | None,
    pass_mark: float,
    out: TextIO,
    err: TextIO,
) -> int:
    functions = discover_evals(evals)
    if not functions:
        print(f"no eval_* functions found in {evals}", file=err)
        return 2
    paths = find_traces(traces)
    if not paths:
        print(f"no traces found at {traces}", file=err)
        return 2
    progress = _Progress(len(paths), err)
    reports: list[EvalReport] = []
    for done, path in enumerate(paths, 1):
        try:
            ctx = EvalContext.from_trace(path)
        except TraceError as exc:
            failed = [
                EvalResult(0.0, False, "", f.name, f"unreadable trace: {exc}") for f in functions
            ]
            report = EvalReport(failed, str(path))
        else:
            report = run_evals(functions, ctx, pass_mark=pass_mark)
        reports.append(report)
        progress.update(done, path.name)
        _print_report(report, out)
    results = [r for report in reports for r in report.results]
    mean = sum(r.score for r in results) / len(results)
    passed = sum(bool(r.passed) for r in results)
    errors = sum(r.error is not None for r in results)
    print(f"\n{'eval':<32}{'mean':>6}{'passed':>10}", file=out)
    for f in functions:
        mine = [r for report in reports for r in report.results if r.name == f.name]
        score = sum(r.score for r in mine) / len(mine)
        ok = sum(bool(r.passed) for r in mine)
        print(f"{f.name:<32}{score:>6.2f}{f'{ok}/{len(mine)}':>10}", file=out)
    print(
        f"\n{len(paths)} traces x {len(functions)} evals: mean score {mean:.3f}, "
        f"{passed}/{len(results)} passed, {errors} errors",
        file=out,
    )
    if threshold is not None:
        verdict = mean >= threshold
        print(f"threshold {threshold}: {'met' if verdict else 'NOT met'}", file=out)
        return 0 if verdict else 1
    return 0 if passed == len(results) else 1


def _print_report(report: EvalReport, out: TextIO) -> None:
    flag = "PASS" if report.passed else "FAIL"
    print(f"{flag} {report.score:.2f}  {safe(report.source)}", file=out)
    for r in report.results:
        if not r.passed:
            why = r.error or r.detail or f"score {r.score:.2f}"
            print(f"       {r.name}: {safe(_one_line(why))}", file=out)


def diff(path_a: str, path_b: str, out: TextIO) -> int:
    """Two runs step by step; each a trace directory or a run in a store (``STORE#RUN``)."""
    from looplet_core.durable.recorded import StoredRun, open_recorded

    a, b = open_recorded(path_a), open_recorded(path_b)
    name_a, name_b = (r.path_label if isinstance(r, StoredRun) else str(r.path) for r in (a, b))
    width = max(30, (shutil.get_terminal_size((120, 24)).columns - 8) // 2)
    print(f"{'step':<6}{'A: ' + safe(name_a):<{width}}  B: {safe(name_b)}", file=out)
    first = None
    for want, got in zip_longest(a.steps(), b.steps()):
        found = compare_steps(want, got)
        first = first or found
        number = (want or got).number if (want or got) else 0
        mark = "=" if found is None else "≠"
        print(f"#{number:<3}{mark} {_cell(want, width)}  {_cell(got, width)}".rstrip(), file=out)
    if first is None and a.stop_reason != b.stop_reason:
        print(f"\nsame steps, different ends: A {a.stop_reason} vs B {b.stop_reason}", file=out)
        return 1
    if first is None:
        print(f"\nno divergence: {len(a)} steps agree", file=out)
        return 0
    print(f"\nfirst divergence: {safe(str(first))}", file=out)
    return 1


def _cell(step: Step | None, width: int) -> str:
    text = "(ended)" if step is None else safe(step.pretty().split(" ", 1)[1])
    return text[: width - 1] + "…" if len(text) > width else f"{text:<{width}}"


def _store_arg(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """``--store``; on a nested action its default is left to the parent's, so ``runs --store X
    list`` and ``runs list --store X`` both mean X."""
    parser.add_argument(
        "--store",
        default=argparse.SUPPRESS if nested else os.environ.get("LOOPLET_STORE") or "runs.db",
        help="runs.db, sqlite:///PATH or postgresql://USER@HOST/DB (default $LOOPLET_STORE or "
        "runs.db)",
    )


def run_agent(args: argparse.Namespace, out: TextIO) -> int:
    from looplet_core.durable.connect import open_store
    from looplet_core.runs.headless import load_agent, run_in_store

    agent = load_agent(args.agent)
    store = open_store(args.store)
    try:
        run_id = args.run_id or f"run-{int(time.time())}-{os.getpid()}"
        print(f"run {run_id} in {store.where}", file=out, flush=True)

        def waiting(record: ApprovalRecord) -> None:
            print(
                f"WAITING {safe(record.describe())}\n  answer: python -m looplet_core runs approve "
                f"{run_id} --store ... (or deny, or looplet-tui attach --store ... {run_id})",
                file=out,
                flush=True,
            )

        result = run_in_store(
            agent,
            store,
            run_id=run_id,
            name=args.agent,
            timeout=args.wait,
            on_step=lambda step: print(safe(step.pretty()), file=out, flush=True),
            on_wait=waiting,
        )
        if result is None:
            return 1
        print(f"stop   {result.stop_reason.value}", file=out, flush=True)
        return 3 if result.stop_reason.value == "awaiting_approval" else 0
    finally:
        store.close()


def runs_command(args: argparse.Namespace, out: TextIO) -> int:
    from looplet_core.durable.connect import open_store

    # Listing, showing or answering runs never makes a new file; `pause` may be set before the
    # run (and its store) exists, so a headless run started next stops where it was asked to.
    store = open_store(args.store, create=args.action == "pause")
    try:
        action = args.action or "list"
        if action == "list":
            return _list_runs(store, out)
        if action == "show":
            return _show_run(store, args.run, out)
        from looplet_core.runs.headless import continue_run, decide, pause_run

        if action == "pause":
            pause_run(store, args.run, tool=args.tool)
            where = f"before calls of {args.tool}" if args.tool else "before its next call"
            print(f"run {safe(args.run)} will pause {safe(where)}", file=out)
            return 0
        if action == "continue":
            step = continue_run(store, args.run, clear=args.clear)
            print(f"run {safe(args.run)} goes on from step {step}", file=out)
            return 0

        edited: dict[str, Any] | None = None
        if getattr(args, "args", None):
            try:
                parsed: object = json.loads(args.args)
            except ValueError as exc:
                raise ConfigError(f"--args must be a JSON object: {exc}") from None
            if not isinstance(parsed, dict):
                raise ConfigError("--args must be a JSON object")
            edited = cast(dict[str, Any], parsed)
        record = decide(
            store,
            args.run,
            action,
            approval_id=args.id,
            args=edited,
            message=getattr(args, "message", "") or "",
            always=args.always,
            by=args.by,
        )
        print(safe(record.describe()), file=out)
        return 0
    finally:
        store.close()


def _age(stamp: float) -> str:
    seconds = max(0.0, time.time() - stamp)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _list_runs(store: RunStore, out: TextIO) -> int:
    infos = store.list_runs()
    if not infos:
        print(f"no runs in {store.where}", file=out)
        return 0
    print(f"{'run':<28}{'agent':<28}{'state':<24}{'steps':>6}{'age':>6}", file=out)
    for info in reversed(infos):
        print(
            f"{safe(info.run_id)[:27]:<28}{safe(info.agent)[:27]:<28}{info.status:<24}"
            f"{info.steps:>6}{_age(info.updated_at):>6}",
            file=out,
        )
    return 0


def _show_run(store: RunStore, run_id: str, out: TextIO) -> int:
    from looplet_core.durable.checkpoints import latest_checkpoint, load

    info = store.run_info(run_id)
    print(f"run    {safe(info.run_id)}  agent {safe(info.agent) or '?'}", file=out)
    print(
        f"state  {info.status}, {info.steps} steps, updated {_age(info.updated_at)} ago", file=out
    )
    if info.owner:
        print(f"worker {safe(info.owner)}", file=out)
    if info.checkpoints:
        snapshot = load(store, latest_checkpoint(store, run_id))
        for step in snapshot.state.steps:
            print(safe(step.pretty()), file=out)
    for record in store.approvals(run_id):
        print(f"approval {safe(record.describe())}", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m looplet_core", description="Inspect, evaluate and compare looplet traces."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_show = sub.add_parser("show", help="print a trace's steps and totals")
    p_show.add_argument("trace")
    which = p_show.add_mutually_exclusive_group()
    which.add_argument(
        "--prompt", type=int, metavar="N", help="print model call N's whole prompt, readable"
    )
    which.add_argument(
        "--response", type=int, metavar="N", help="print model call N's reply, readable"
    )
    p_eval = sub.add_parser("eval", help="run eval_* functions over traces")
    p_eval.add_argument("traces", help="a trace directory or a folder of them")
    p_eval.add_argument("--evals", required=True, help="an eval file or a folder of them")
    p_eval.add_argument(
        "--threshold", type=float, default=None, help="exit 1 when the mean score is below this"
    )
    p_eval.add_argument(
        "--pass-mark",
        type=float,
        default=DEFAULT_PASS_MARK,
        help=f"score a float eval needs to pass (default {DEFAULT_PASS_MARK})",
    )
    p_diff = sub.add_parser("diff", help="align two runs step by step; exit 1 if they differ")
    p_diff.add_argument("trace_a", metavar="A", help="a trace directory, or STORE#RUN")
    p_diff.add_argument("trace_b", metavar="B", help="a trace directory, or STORE#RUN")
    p_run = sub.add_parser("run", help="run an agent headless in a run store (resumes it if saved)")
    p_run.add_argument("agent", help="module:factory or path/agent.py[:factory]")
    _store_arg(p_run)
    p_run.add_argument("--run-id", default=None, help="the run's id (default: a new one)")
    p_run.add_argument(
        "--wait",
        type=float,
        default=None,
        help="seconds to wait for each approval before pausing the run (default: forever)",
    )
    p_runs = sub.add_parser("runs", help="list, show and answer the runs in a store")
    _store_arg(p_runs)
    actions = p_runs.add_subparsers(dest="action")
    p_list = actions.add_parser("list", help="every run: id, agent, state, steps, age")
    _store_arg(p_list, nested=True)
    p_shown = actions.add_parser("show", help="a run's steps and approvals")
    p_shown.add_argument("run")
    _store_arg(p_shown, nested=True)
    p_pause = actions.add_parser("pause", help="pause a run before its next call (or a tool's)")
    p_pause.add_argument("run")
    p_pause.add_argument("--tool", default=None, help="pause before calls matching this glob")
    _store_arg(p_pause, nested=True)
    p_go = actions.add_parser("continue", help="let a run paused at a breakpoint go on")
    p_go.add_argument("run")
    p_go.add_argument("--clear", action="store_true", help="also remove its tool breakpoints")
    _store_arg(p_go, nested=True)
    for name, helptext in (
        ("approve", "run the pending call"),
        ("deny", "refuse the pending call"),
    ):
        p_decide = actions.add_parser(name, help=helptext)
        p_decide.add_argument("run")
        p_decide.add_argument("--id", type=int, default=None, help="approval number (oldest)")
        p_decide.add_argument("--always", action="store_true", help="also for later calls")
        p_decide.add_argument("--by", default=os.environ.get("USER") or "cli")
        if name == "approve":
            p_decide.add_argument("--args", default=None, help="edited arguments, a JSON object")
        else:
            p_decide.add_argument("--message", default="", help="what the model is told")
        _store_arg(p_decide, nested=True)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    stdout, stderr = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if args.command == "show":
            if args.prompt is not None:
                return show_call(args.trace, stdout, call=args.prompt, part="prompt")
            if args.response is not None:
                return show_call(args.trace, stdout, call=args.response, part="response")
            return show(args.trace, stdout)
        if args.command == "eval":
            return evaluate(
                args.traces,
                args.evals,
                threshold=args.threshold,
                pass_mark=args.pass_mark,
                out=stdout,
                err=stderr,
            )
        if args.command == "run":
            return run_agent(args, stdout)
        if args.command == "runs":
            return runs_command(args, stdout)
        return diff(args.trace_a, args.trace_b, stdout)
    except (TraceError, FileNotFoundError, CheckpointError, ApprovalError, ConfigError) as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    except BrokenPipeError:  # `... | head` closed the pipe: not an error worth a traceback
        return 0
