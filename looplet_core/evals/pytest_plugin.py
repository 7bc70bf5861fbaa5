"""pytest integration: run eval files over a folder of saved traces, as a regression suite.

Two ways.  The helper, which needs no plugin: ``eval_cases`` pairs every trace with every eval for
``pytest.mark.parametrize`` (see its docstring).  The plugin, which needs no test file: enable it
with ``-p looplet_core.evals.pytest_plugin`` (or with
``pytest_plugins = ["looplet_core.evals.pytest_plugin"]`` in your root ``conftest.py``) and point
it at traces::

    pytest -p looplet_core.evals.pytest_plugin --looplet-traces traces/ evals/

Then pytest also collects ``eval_*.py`` files and, in them, ``eval_*`` functions; each one runs once
per trace, its single argument being that trace's ``EvalContext``.  A bool, float or
``EvalResult`` is judged as ``run_eval`` does (``--looplet-pass-mark`` sets the pass mark for
floats), so the same eval files serve ``python -m looplet_core eval`` and pytest.  Without
``--looplet-traces`` (or the ``looplet_traces`` ini option) the plugin does nothing.

This module imports pytest only inside its hooks, so importing ``looplet_core`` never loads pytest.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from looplet_core.evals.harness import (
    DEFAULT_PASS_MARK,
    EvalContext,
    EvalFunction,
    EvalResult,
    discover_evals,
    find_traces,
    run_eval,
)

if TYPE_CHECKING:
    import pytest

__all__ = [
    "EvalCase",
    "eval_cases",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_pyfunc_call",
    "trace_context",
]


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One (trace, eval) pair for ``pytest.mark.parametrize``; ``check()`` asserts it passed."""

    trace: Path
    eval: EvalFunction
    pass_mark: float = DEFAULT_PASS_MARK

    def run(self) -> EvalResult:
        return run_eval(
            self.eval.fn, trace_context(self.trace), name=self.eval.name, pass_mark=self.pass_mark
        )

    def check(self) -> EvalResult:
        result = self.run()
        if not result.passed:
            why = result.error or result.detail or f"score {result.score:.2f}"
            raise AssertionError(f"{self.eval.name} on {self.trace}: {why}")
        return result

    def __str__(self) -> str:
        return f"{self.trace.name}::{self.eval.name}"


_CONTEXTS: dict[Path, EvalContext] = {}


def trace_context(trace: Path) -> EvalContext:
    """The ``EvalContext`` of a trace, read once per process: a suite runs many evals on it."""
    ctx = _CONTEXTS.get(trace)
    if ctx is None:
        ctx = _CONTEXTS[trace] = EvalContext.from_trace(trace)
    return ctx


def eval_cases(
    traces: str | os.PathLike[str],
    evals: str | os.PathLike[str],
    *,
    pass_mark: float = DEFAULT_PASS_MARK,
) -> list[EvalCase]:
    """Every (trace, eval) pair under two paths, for a pytest regression suite::

    @pytest.mark.parametrize("case", eval_cases("traces/", "evals/"), ids=str)
    def test_agent(case):
        case.check()
    """
    functions = discover_evals(evals)
    return [EvalCase(t, f, pass_mark) for t in find_traces(traces) for f in functions]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("looplet", "looplet evals over saved traces")
    group.addoption(
        "--looplet-traces",
        default=None,
        metavar="PATH",
        help="a trace directory, or a folder of them, to run eval_* functions over",
    )
    group.addoption(
        "--looplet-pass-mark",
        type=float,
        default=None,
        metavar="X",
        help=f"score a float eval needs to pass (default {DEFAULT_PASS_MARK})",
    )
    parser.addini("looplet_traces", "default for --looplet-traces", default=None)


def _traces_option(config: pytest.Config) -> Path | None:
    """The traces path: the option is relative to where pytest runs, the ini to the rootdir."""
    option = config.getoption("--looplet-traces")
    if option:
        return Path(str(option)).resolve()
    ini = config.getini("looplet_traces")
    return (config.rootpath / str(ini)).resolve() if ini else None


def pytest_configure(config: pytest.Config) -> None:
    if _traces_option(config) is not None:
        config.addinivalue_line("python_files", "eval_*.py")
        config.addinivalue_line("python_functions", "eval_*")


def _is_eval(function: object) -> bool:
    return inspect.isfunction(function) and function.__name__.startswith("eval_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    root = _traces_option(metafunc.config)
    if root is None or not _is_eval(metafunc.function):
        return
    params = list(inspect.signature(metafunc.function).parameters)
    if len(params) != 1:
        return
    traces = find_traces(root)
    ids = [str(t.relative_to(root)) if t != root else t.name for t in traces]
    metafunc.parametrize(params[0], traces, ids=ids)


def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    function = pyfuncitem.obj
    config = pyfuncitem.config
    if _traces_option(config) is None or not _is_eval(function):
        return None
    params = list(inspect.signature(function).parameters)
    trace = pyfuncitem.funcargs.get(params[0]) if len(params) == 1 else None
    if not isinstance(trace, Path):
        return None
    mark = config.getoption("--looplet-pass-mark")
    result = run_eval(
        function,
        trace_context(trace),
        name=function.__name__,
        pass_mark=DEFAULT_PASS_MARK if mark is None else float(mark),
    )
    if not result.passed:
        import pytest

        why = result.error or result.detail or "did not pass"
        pytest.fail(
            f"{function.__name__} on {trace.name}: score {result.score:.2f}; {why}", pytrace=False
        )
    return True
