"""Run comparison for ``looplet-tui diff``: two runs' steps aligned, with what differs in each pair.

Plain Python, no Textual: the screen in ``looplet_tui.screens.run_diff`` only draws what this
module computes.  Whether two steps agree, and the first field where they part, is decided by
``looplet_core.provenance.compare.compare_steps`` (the same rule as ``python -m looplet_core diff``
and replay's divergence report); this module adds the alignment and, for the pane that explains one
pair, every field that differs rather than only the first.

Sub-agent runs are aligned too: right after a pair of steps that ran sub-agents come the pairs of
their child steps (``StepPair.path`` ``(2, 1)``, ``depth`` 1), and theirs after them, so the table
reads as a tree and the first divergence can be a step deep inside a child.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import zip_longest

from looplet_core import Step, StopReason, TraceReader
from looplet_core.durable.recorded import StoredRun
from looplet_core.provenance.compare import Divergence, canonical, compare_steps

__all__ = [
    "FIELDS",
    "FieldDiff",
    "RunComparison",
    "StepPair",
    "compare_recordings",
    "compare_runs",
    "compare_traces",
    "field_diffs",
]

FIELDS = ("tool", "args", "status", "result", "edits")
"""The parts of a step shown side by side: the first four in the order ``compare_steps`` checks
them, then the edits a person made in the debugger (shown, not part of whether steps agree: an
edit's effect is in the other fields)."""


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One compared part of a step pair: both sides as text, and whether they are equal."""

    field: str
    a: str
    b: str

    @property
    def same(self) -> bool:
        return self.a == self.b


@dataclass(frozen=True, slots=True)
class StepPair:
    """Row ``position`` (1-based) of the alignment: run A's step, run B's step, and their verdict.

    A side is None when that run had already ended.  ``divergence`` is None when they agree.
    """

    position: int
    a: Step | None
    b: Step | None
    divergence: Divergence | None
    path: tuple[int, ...] = ()
    """Step numbers from the run's step down to this one (``(2, 1)``: step 1 of the sub-agent
    step 2 ran); empty is read as ``(number,)``."""
    agents: tuple[str, ...] = ()
    """The sub-agents the pair's steps ran inside, outermost first (empty: the run's own)."""

    @property
    def agree(self) -> bool:
        return self.divergence is None

    @property
    def depth(self) -> int:
        """0 for the run's own steps, 1 for a sub-agent's, 2 for one it ran, ..."""
        return len(self.agents)

    @property
    def label(self) -> str:
        """``#2`` or ``#2›1`` (step 1 of the sub-agent step 2 ran)."""
        return "#" + "›".join(str(n) for n in (self.path or (self.number,)))

    @property
    def number(self) -> int:
        step = self.a or self.b
        return step.number if step is not None else self.position


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Two runs side by side: the aligned pairs and how each run ended."""

    label_a: str
    label_b: str
    pairs: tuple[StepPair, ...]
    stop_a: StopReason | None = None
    stop_b: StopReason | None = None

    @property
    def first(self) -> StepPair | None:
        """The first pair that differs (the runs' first divergence), or None.  When it is a
        pair whose sub-agent runs part, the child pair where they do (rows of a child follow
        their parent's)."""
        for pair in self.pairs:
            d = pair.divergence
            if d is not None and (d.inner is None or not _has_children(pair)):
                return pair
        return None

    @property
    def differing(self) -> list[int]:
        """Row indexes (0-based) of every pair that differs."""
        return [i for i, pair in enumerate(self.pairs) if not pair.agree]

    def summary(self) -> str:
        """One line: where the runs first part, or that they agree."""
        first = self.first
        if first is not None and first.divergence is not None:
            d = first.divergence
            count = len(self.differing)
            where = f"step {d.step}"
            if first.agents:
                steps = " › ".join(str(n) for n in first.path)
                where = f"step {steps} (in sub-agent {' › '.join(first.agents)})"
            return (
                f"first divergence at {where}: {d.field} differs "
                f"({count} of {len(self.pairs)} steps differ)"
            )
        if self.stop_a != self.stop_b:
            a = self.stop_a.value if self.stop_a else "?"
            b = self.stop_b.value if self.stop_b else "?"
            return f"same {len(self.pairs)} steps, different ends: A {a} vs B {b}"
        return f"no divergence: {len(self.pairs)} steps agree"


def compare_runs(
    a: Iterable[Step],
    b: Iterable[Step],
    *,
    label_a: str = "A",
    label_b: str = "B",
    stop_a: StopReason | None = None,
    stop_b: StopReason | None = None,
) -> RunComparison:
    """Align two step sequences by position and judge each pair with ``compare_steps``; the
    steps of sub-agent runs follow the pair that ran them (see the module docs)."""
    pairs: list[StepPair] = []
    _align(a, b, (), (), pairs)
    return RunComparison(label_a, label_b, tuple(pairs), stop_a, stop_b)


def _align(
    a: Iterable[Step],
    b: Iterable[Step],
    path: tuple[int, ...],
    agents: tuple[str, ...],
    out: list[StepPair],
) -> None:
    for position, (want, got) in enumerate(zip_longest(a, b), 1):
        step = want or got
        here = (*path, step.number if step is not None else position)
        pair = StepPair(len(out) + 1, want, got, compare_steps(want, got), here, agents)
        out.append(pair)
        child_a = want.child if want is not None else None
        child_b = got.child if got is not None else None
        child = child_a or child_b
        if child is not None:
            _align(
                child_a.steps if child_a else (),
                child_b.steps if child_b else (),
                here,
                (*agents, child.agent),
                out,
            )


def _has_children(pair: StepPair) -> bool:
    return any(s is not None and s.child is not None and s.child.steps for s in (pair.a, pair.b))


def compare_traces(path_a: str | os.PathLike[str], path_b: str | os.PathLike[str]) -> RunComparison:
    """Read two trace directories (``TraceError`` if either is not a whole trace) and compare."""
    return compare_recordings(TraceReader(path_a), TraceReader(path_b))


def compare_recordings(a: TraceReader | StoredRun, b: TraceReader | StoredRun) -> RunComparison:
    """Compare two recorded runs, each a trace directory or a run in a store (``StoredRun``)."""
    return compare_runs(
        a.steps(),
        b.steps(),
        label_a=_label(a),
        label_b=_label(b),
        stop_a=a.stop_reason,
        stop_b=b.stop_reason,
    )


def _label(run: TraceReader | StoredRun) -> str:
    return run.path_label if isinstance(run, StoredRun) else str(run.path)


def _fields(step: Step | None) -> dict[str, str]:
    if step is None:
        return dict.fromkeys(FIELDS, "(the run had ended)")
    result = step.tool_result
    if result.error is not None:
        kind = result.error_kind.value if result.error_kind else "error"
        outcome = f"{kind}: {result.error}"
    else:
        outcome = canonical(result.data)
    return {
        "tool": step.tool or "(no tool call)",
        "args": canonical(step.tool_call.args) if step.tool_call else "",
        "status": step.status.value,
        "result": outcome,
        "edits": "; ".join(
            f"{d.phase}: {d.detail or d.decision}"
            for d in step.decisions
            if d.hook == "debugger" and (d.before or d.after)  # edits, not approvals
        )
        or "(none)",
    }


def field_diffs(pair: StepPair) -> list[FieldDiff]:
    """Tool, arguments, status, result and debugger edits of both sides, each marked same or
    different.

    Unlike ``compare_steps`` (which stops at the first difference) this lists every field, so a
    pair whose arguments *and* result differ shows both.
    """
    a, b = _fields(pair.a), _fields(pair.b)
    return [FieldDiff(name, a[name], b[name]) for name in FIELDS]
