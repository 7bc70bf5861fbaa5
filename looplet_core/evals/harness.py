"""Evals: pytest-style ``eval_*(ctx)`` functions that score a run, live or from a saved trace.

An eval takes an ``EvalContext`` (the task, steps, tool sequence, errors, final answer, stop
reason, usage) and returns:

* a ``bool``: pass (score 1) or fail (score 0);
* a ``float`` in [0, 1]: a score, which passes when it reaches the pass mark (0.5 by default);
* an ``EvalResult``: a score with its own verdict and a detail message.

Evals may also be written pytest-style with ``assert``: a failed assert is a fail carrying the
assertion's message, and an eval that asserts and returns nothing passes, as a pytest test would.
Returning None from an eval that has no ``assert`` is an error instead: that is a forgotten
``return``, and it must not pass silently.  Any other exception is an *error* (score 0, reported
with its type and where it was raised), so a broken eval never looks like a bad run.

``discover_evals`` imports eval files with ``importlib``.  They are your own code, run with your
permissions, exactly as pytest imports test files: point it only at files you trust.  Traces, by
contrast, are data: nothing in a trace is ever executed.
"""

from __future__ import annotations

import dis
import importlib.util
import inspect
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from looplet_core.events import Event, EventKind
from looplet_core.provenance.manifest import is_trace
from looplet_core.provenance.reader import TraceReader
from looplet_core.records import StopReason, Usage
from looplet_core.step import LoopResult, Step

__all__ = [
    "EvalContext",
    "EvalFunction",
    "EvalHook",
    "EvalReport",
    "EvalResult",
    "discover_evals",
    "find_traces",
    "run_eval",
    "run_evals",
]

DEFAULT_PASS_MARK = 0.5


@dataclass(slots=True)
class EvalContext:
    """What an eval sees of one run.  Build it with ``from_result`` (a live run) or
    ``from_trace``; ``trace`` is the ``TraceReader`` when it came from a trace (for prompts)."""

    task: Any
    steps: list[Step]
    stop_reason: StopReason | None
    final_answer: Any = None
    usage: Usage = field(default_factory=Usage)
    llm_calls: int = 0
    run_id: str = ""
    source: str = "live"
    trace: TraceReader | None = None

    @property
    def tool_sequence(self) -> list[str]:
        """The tools called, in order (steps without a tool call are left out)."""
        return [s.tool for s in self.steps if s.tool is not None]

    @property
    def errors(self) -> list[Step]:
        """Steps that failed or were denied."""
        return [s for s in self.steps if not s.ok]

    @property
    def completed(self) -> bool:
        """True when the run ended by finishing (done, or a final text answer)."""
        return self.stop_reason in (StopReason.DONE, StopReason.FINAL_TEXT)

    def called(self, tool: str) -> bool:
        return tool in self.tool_sequence

    def count(self, tool: str) -> int:
        return self.tool_sequence.count(tool)

    @classmethod
    def from_result(cls, result: LoopResult, *, task: Any = None) -> EvalContext:
        return cls(
            task=task,
            steps=list(result.steps),
            stop_reason=result.stop_reason,
            final_answer=result.final_answer,
            usage=result.usage,
            llm_calls=result.llm_calls,
            run_id=result.run_id,
        )

    @classmethod
    def from_trace(cls, trace: TraceReader | str | os.PathLike[str]) -> EvalContext:
        reader = trace if isinstance(trace, TraceReader) else TraceReader(trace)
        return cls(
            task=reader.task,
            steps=list(reader.steps()),
            stop_reason=reader.stop_reason,
            final_answer=reader.final_answer,
            usage=reader.usage,
            llm_calls=int(reader.totals.get("llm_calls") or 0),
            run_id=reader.run_id,
            source=str(reader.path),
            trace=reader,
        )


@dataclass(frozen=True, slots=True)
class EvalResult:
    """One eval's outcome.  Return one from an eval to give a score with a detail message;
    ``passed=None`` lets the pass mark decide.  The runner fills ``name`` and ``passed``."""

    score: float
    passed: bool | None = None
    detail: str = ""
    name: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "passed": self.passed,
            "detail": self.detail,
            "error": self.error,
        }


Eval = Callable[[EvalContext], Any]


@dataclass(frozen=True, slots=True)
class EvalFunction:
    """An eval found by ``discover_evals``: its name, the function, and the file it came from."""

    name: str
    fn: Eval
    source: str = ""


def run_eval(
    fn: Eval, ctx: EvalContext, *, name: str | None = None, pass_mark: float = DEFAULT_PASS_MARK
) -> EvalResult:
    """Run one eval and interpret what it returned (see the module docs); never raises."""
    label = name or getattr(fn, "__name__", repr(fn))
    try:
        value = fn(ctx)
    except AssertionError as exc:
        return EvalResult(0.0, False, str(exc) or "assertion failed", label)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"at {Path(where.filename).name}:{where.lineno}"
        return EvalResult(0.0, False, detail, label, f"{type(exc).__name__}: {exc}")
    if value is None and _asserts(fn):
        return EvalResult(1.0, True, "", label)
    if isinstance(value, bool):
        return EvalResult(float(value), value, "", label)
    if isinstance(value, int | float):
        return _scored(label, float(value), None, "", mark=pass_mark)
    if isinstance(value, EvalResult):
        return _scored(
            label, value.score, value.passed, value.detail, mark=pass_mark, error=value.error
        )
    hint = " and has no assert (a forgotten return?)" if value is None else ""
    return EvalResult(
        0.0,
        False,
        "",
        label,
        f"returned {type(value).__name__}{hint}; return a bool, a float in [0, 1] or an EvalResult",
    )


def _asserts(fn: Eval) -> bool:
    """True when ``fn``'s own code contains an ``assert`` statement (plain, or as pytest's
    assertion rewriting leaves it: a raise of ``AssertionError``)."""
    try:
        return any(
            i.opname == "LOAD_ASSERTION_ERROR" or i.argval == "AssertionError"
            for i in dis.get_instructions(fn)
        )
    except TypeError:  # not Python code (a builtin, a C extension callable)
        return False


def _scored(
    label: str,
    score: float,
    passed: bool | None,
    detail: str,
    *,
    mark: float,
    error: str | None = None,
) -> EvalResult:
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        return EvalResult(0.0, False, detail, label, f"score {score!r} is not in [0, 1]")
    verdict = passed if passed is not None else score >= mark
    return EvalResult(score, verdict and error is None, detail, label, error)


@dataclass(slots=True)
class EvalReport:
    """The evals of one run: results in order, the mean score, and whether all passed."""

    results: list[EvalResult]
    source: str = "live"

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results) / len(self.results) if self.results else 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def errors(self) -> list[EvalResult]:
        return [r for r in self.results if r.error is not None]

    def format(self) -> str:
        lines = [
            f"evals for {self.source}: score {self.score:.2f}, "
            f"{sum(bool(r.passed) for r in self.results)}/{len(self.results)} passed"
        ]
        for r in self.results:
            mark = "ERROR" if r.error else ("pass" if r.passed else "FAIL")
            note = r.error or r.detail
            lines.append(f"  {mark:5} {r.score:4.2f}  {r.name}" + (f"  ({note})" if note else ""))
        return "\n".join(lines)


def run_evals(
    evals: Iterable[EvalFunction | Eval], ctx: EvalContext, *, pass_mark: float = DEFAULT_PASS_MARK
) -> EvalReport:
    results: list[EvalResult] = []
    for item in evals:
        if isinstance(item, EvalFunction):
            results.append(run_eval(item.fn, ctx, name=item.name, pass_mark=pass_mark))
        else:
            results.append(run_eval(item, ctx, pass_mark=pass_mark))
    return EvalReport(results, ctx.source)


# -- discovery ------------------------------------------------------------------------------------


def _is_eval_file(path: Path) -> bool:
    name = path.name
    return name.endswith(".py") and (
        name.startswith("eval_") or name == "evals.py" or name.endswith("_evals.py")
    )


def discover_evals(*paths: str | os.PathLike[str]) -> list[EvalFunction]:
    """The ``eval_*`` functions of eval files: each path is a ``.py`` file, or a directory
    searched recursively for ``eval_*.py``, ``evals.py`` and ``*_evals.py``.

    Files are imported as your own code (see the module docs); a file that fails to import raises.
    """
    found: list[EvalFunction] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.py") if _is_eval_file(p))
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f"no eval file or directory at {path}")
        for file in files:
            found.extend(_evals_in(file))
    return found


def _evals_in(file: Path) -> list[EvalFunction]:
    resolved = file.resolve()
    module_name = f"looplet_evals_{abs(hash(str(resolved))):x}_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import eval file {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(resolved.parent))  # so an eval file can import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(resolved.parent))
    return [
        EvalFunction(name, obj, str(file))
        for name, obj in vars(module).items()
        if name.startswith("eval_") and inspect.isfunction(obj) and obj.__module__ == module_name
    ]


def find_traces(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself if it is a trace, else every trace directory below it, sorted."""
    root = Path(path)
    if is_trace(root):
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no trace or directory of traces at {root}")
    return sorted(p.parent for p in root.rglob("manifest.json") if is_trace(p.parent))


# -- in a run --------------------------------------------------------------------------------------


class EvalHook:
    """Runs evals when a run ends; the latest report is on ``report`` (all on ``reports``).

    A run that pauses for approval is not over, so it is not evaluated until it ends.
    ``on_report`` (optional) receives each report, e.g. to print it or fail a CI job.
    """

    name = "evals"

    def __init__(
        self,
        evals: Iterable[EvalFunction | Eval],
        *,
        pass_mark: float = DEFAULT_PASS_MARK,
        on_report: Callable[[EvalReport], None] | None = None,
    ) -> None:
        self.evals = list(evals)
        self.pass_mark = pass_mark
        self.on_report = on_report
        self.reports: list[EvalReport] = []
        self._task: Any = None
        self._steps: Sequence[Step] = ()

    @property
    def report(self) -> EvalReport | None:
        return self.reports[-1] if self.reports else None

    def check_done(self, state: object, log: Sequence[Step], step: int) -> None:
        self._steps = log  # the run's live step log, read when the run ends

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.RUN_START:
            self._task = event.data.get("task")
        elif event.kind is EventKind.RUN_END:
            reason = StopReason(event.data["stop_reason"])
            if reason is StopReason.AWAITING_APPROVAL:
                return
            steps = list(self._steps)
            ctx = EvalContext(
                task=self._task,
                steps=steps,
                stop_reason=reason,
                final_answer=_answer(steps, reason),
                usage=Usage.from_dict(event.data.get("usage") or {}),
                run_id=event.run_id,
            )
            report = run_evals(self.evals, ctx, pass_mark=self.pass_mark)
            self.reports.append(report)
            if self.on_report is not None:
                self.on_report(report)


def _answer(steps: Sequence[Step], reason: StopReason) -> Any:
    if reason is StopReason.DONE and steps:
        return steps[-1].tool_result.data
    if reason is StopReason.FINAL_TEXT and steps and steps[-1].llm_call is not None:
        return steps[-1].llm_call.text
    return None
