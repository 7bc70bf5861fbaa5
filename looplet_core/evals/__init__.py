"""Evals: pytest-style checks of finished runs, and the pytest plugin that collects them.

Owns the ``eval_*`` discovery and the ``EvalContext`` an eval reads a run through (``harness``),
and ``looplet_core.evals.pytest_plugin`` (``pytest -p looplet_core.evals.pytest_plugin``), which
runs them over saved traces.  May import everything below it: the loop, ``durable`` and
``provenance`` (an eval may read a trace); nothing imports it but the CLI.  The names the module
``looplet_core.evals`` used to export still import from here.
"""

from __future__ import annotations

from looplet_core._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from looplet_core.evals.harness import (
        DEFAULT_PASS_MARK,
        EvalContext,
        EvalFunction,
        EvalHook,
        EvalReport,
        EvalResult,
        discover_evals,
        find_traces,
        run_eval,
        run_evals,
    )

__all__ = [
    "DEFAULT_PASS_MARK",
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

_LAZY: dict[str, str] = dict.fromkeys(__all__, "looplet_core.evals.harness")

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
