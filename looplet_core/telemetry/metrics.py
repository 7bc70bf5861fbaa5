"""``MetricsHook``: what runs do, counted (steps, tools, error kinds, model calls, tokens, latency).

Each event costs a counter update or a list append; percentiles are computed only when
``report()`` is called, so watching a long run costs the same per step at its end as at its start.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from looplet_core.events import Event, EventKind
from looplet_core.step import Step

__all__ = ["MetricsHook", "MetricsReport", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100.0 * len(ordered))))
    return ordered[rank - 1]


@dataclass(slots=True)
class MetricsReport:
    """A snapshot of ``MetricsHook``'s counters; ``format()`` renders it as a small table."""

    runs: int
    steps: int
    status: dict[str, int]
    tools: dict[str, int]
    tool_errors: dict[str, int]
    error_kinds: dict[str, int]
    llm_calls: int
    llm_retries: int
    input_tokens: int
    output_tokens: int
    latency_ms: dict[str, dict[str, float]]
    stop_reasons: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def format(self) -> str:
        lines = [
            f"runs {self.runs}  steps {self.steps}  llm calls {self.llm_calls} "
            f"(retries {self.llm_retries})  tokens {self.input_tokens} in / "
            f"{self.output_tokens} out",
            "status: " + (", ".join(f"{k} {v}" for k, v in sorted(self.status.items())) or "-"),
            "errors: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.error_kinds.items())) or "none"),
            "stops:  "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.stop_reasons.items())) or "-"),
            f"{'tool':<20}{'calls':>7}{'errors':>8}",
        ]
        for tool, count in sorted(self.tools.items(), key=lambda kv: -kv[1]):
            lines.append(f"{tool:<20}{count:>7}{self.tool_errors.get(tool, 0):>8}")
        lines.append(f"{'latency (ms)':<20}{'n':>7}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
        for what, stats in self.latency_ms.items():
            lines.append(
                f"{what:<20}{int(stats['n']):>7}{stats['p50']:>9.1f}"
                f"{stats['p90']:>9.1f}{stats['p99']:>9.1f}{stats['max']:>9.1f}"
            )
        return "\n".join(lines)


class MetricsHook:
    """Counts what runs do: steps by status, calls and errors per tool, error kinds, model calls,
    retries, tokens, and latency percentiles for model calls, tools and whole steps.

    One hook may watch many runs; the figures add up.
    """

    name = "metrics"

    def __init__(self) -> None:
        self.runs = 0
        self.status: Counter[str] = Counter()
        self.tools: Counter[str] = Counter()
        self.tool_errors: Counter[str] = Counter()
        self.error_kinds: Counter[str] = Counter()
        self.stop_reasons: Counter[str] = Counter()
        self.llm_calls = 0
        self.llm_retries = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.llm_latency: list[float] = []
        self.tool_latency: list[float] = []
        self.step_latency: list[float] = []
        self._log: Sequence[Step] = ()

    def check_done(self, state: object, log: Sequence[Step], step: int) -> None:
        self._log = log  # the finished step is read from here when its event arrives

    def on_event(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.STEP:
            self._count_step(event)
        elif kind is EventKind.LLM_END:
            call = cast(dict[str, Any], event.data.get("call") or {})
            self.llm_calls += 1
            self.llm_latency.append(float(call.get("latency_ms") or 0.0))
            usage = cast(dict[str, Any] | None, call.get("usage"))
            if usage:
                self.input_tokens += int(usage.get("input_tokens") or 0)
                self.output_tokens += int(usage.get("output_tokens") or 0)
        elif kind is EventKind.LLM_RETRY:
            self.llm_retries += 1
        elif kind is EventKind.RUN_START:
            self.runs += 1
        elif kind is EventKind.RUN_END:
            self.stop_reasons[str(event.data.get("stop_reason"))] += 1

    def _count_step(self, event: Event) -> None:
        log = self._log
        step = log[-1] if log and log[-1].number == event.step else None
        status = str(event.data.get("status") or (step.status.value if step else "ok"))
        self.status[status] += 1
        tool = event.data.get("tool")
        if tool:
            self.tools[str(tool)] += 1
        if step is None:
            return
        self.step_latency.append(step.elapsed_ms)
        if step.tool_result.error_kind is not None:
            self.error_kinds[step.tool_result.error_kind.value] += 1
            if tool:
                self.tool_errors[str(tool)] += 1
        elif tool:
            self.tool_latency.append(step.tool_result.elapsed_ms)

    def report(self) -> MetricsReport:
        def stats(values: list[float]) -> dict[str, float]:
            return {
                "n": float(len(values)),
                "p50": percentile(values, 50),
                "p90": percentile(values, 90),
                "p99": percentile(values, 99),
                "max": max(values, default=0.0),
            }

        return MetricsReport(
            runs=self.runs,
            steps=sum(self.status.values()),
            status=dict(self.status),
            tools=dict(self.tools),
            tool_errors=dict(self.tool_errors),
            error_kinds=dict(self.error_kinds),
            llm_calls=self.llm_calls,
            llm_retries=self.llm_retries,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            latency_ms={
                "llm": stats(self.llm_latency),
                "tool": stats(self.tool_latency),
                "step": stats(self.step_latency),
            },
            stop_reasons=dict(self.stop_reasons),
        )
