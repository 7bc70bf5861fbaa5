"""``python -m looplet_core``: look at traces, evaluate them, compare two of them.

    python -m looplet_core show TRACE
    python -m looplet_core eval TRACES --evals PATH [--threshold X] [--pass-mark Y]
    python -m looplet_core diff TRACE_A TRACE_B

Exit status: 0 when all is well; 1 when evals fall below the threshold (or, with no threshold, when
any eval fails) or when ``diff`` finds a divergence; 2 when an input cannot be read (the message
says which file and why).  Text from models and tools is printed with control characters escaped,
so a trace cannot drive your terminal.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any, TextIO

from looplet_core.errors import TraceError
from looplet_core.evals.harness import (
    DEFAULT_PASS_MARK,
    EvalContext,
    EvalReport,
    EvalResult,
    discover_evals,
    find_traces,
    run_evals,
)
from looplet_core.provenance.compare import compare_steps
from looplet_core.provenance.reader import TraceReader
from looplet_core.step import Step, answer_text

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


def _print_steps(steps: Iterable[Step], out: TextIO, depth: int = 0) -> None:
    """One line per step; a batch's steps are marked ``∥ i/n``, a sub-agent's steps indented
    under the step that started it."""
    indent = "    " * depth
    for step in steps:
        mark = f"  ∥ {step.batch.index + 1}/{step.batch.size}" if step.batch else ""
        print(indent + safe(step.pretty()) + mark, file=out)
        child = step.child
        if child is not None:
            head = f"sub-agent {child.agent}: {child.stop_reason.value}, {len(child.steps)} step(s)"
            print(f"{indent}  └ {safe(head)}", file=out)
            _print_steps(child.steps, out, depth + 1)


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
    _print_steps(reader.steps(), out)
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
    a, b = TraceReader(path_a), TraceReader(path_b)
    width = max(30, (shutil.get_terminal_size((120, 24)).columns - 8) // 2)
    print(f"{'step':<6}{'A: ' + safe(str(a.path)):<{width}}  B: {safe(str(b.path))}", file=out)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m looplet_core", description="Inspect, evaluate and compare looplet traces."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_show = sub.add_parser("show", help="print a trace's steps and totals")
    p_show.add_argument("trace")
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
    p_diff = sub.add_parser("diff", help="align two traces step by step; exit 1 if they differ")
    p_diff.add_argument("trace_a")
    p_diff.add_argument("trace_b")
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    stdout, stderr = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if args.command == "show":
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
        return diff(args.trace_a, args.trace_b, stdout)
    except (TraceError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    except BrokenPipeError:  # `... | head` closed the pipe: not an error worth a traceback
        return 0
