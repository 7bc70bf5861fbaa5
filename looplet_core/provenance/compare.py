"""Comparing runs step by step: what replay and ``python -m looplet_core diff`` report.

Two steps *agree* when they called the same tool with the same arguments, ended with the same
status, and returned the same result (data, or error kind and text).  Timings, timestamps, ids and
token counts are not compared: they differ between any two runs and say nothing about behaviour.
Results are compared as canonical JSON, so a tuple in a live run equals the list read from a trace.
Model-server failures (error kind ``llm``) compare by kind only: a replay cannot reproduce the
server's exact words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from looplet_core.provenance.format import dumps
from looplet_core.records import ErrorKind
from looplet_core.step import Step

__all__ = ["Divergence", "canonical", "compare_steps", "describe_step", "first_divergence"]

_SHOW = 160


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two runs part: the step, what differs, and both sides as short text.

    ``field`` is one of ``tool``, ``args``, ``status``, ``result``, ``prompt`` (the messages sent
    to the model), ``end`` (one run has a step where the other had ended) or ``stop_reason``.
    """

    step: int
    field: str
    expected: str
    got: str

    def __str__(self) -> str:
        return (
            f"step {self.step}: {self.field} differs\n"
            f"  expected: {self.expected}\n"
            f"  got:      {self.got}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "field": self.field, "expected": self.expected, "got": self.got}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOW else text[: _SHOW - 1] + "…"


def canonical(value: Any) -> str:
    """``value`` as sorted-key JSON: equal for a live value and its JSON round trip."""
    return json.dumps(json.loads(dumps(value)), sort_keys=True, ensure_ascii=False)


def _result_text(step: Step) -> str:
    result = step.tool_result
    if result.error_kind is ErrorKind.LLM:
        return "llm: the model server failed"  # a replay cannot reproduce the server's words
    if result.error is not None:
        kind = result.error_kind.value if result.error_kind else "error"
        return f"{kind}: {result.error}"
    return canonical(result.data)


def describe_step(step: Step | None) -> str:
    """One line for a divergence report: ``greet {"name": "Bob"} → ok``; or ``(no step)``."""
    if step is None:
        return "(no step: the run had ended)"
    args = canonical(step.tool_call.args) if step.tool_call else ""
    return _short(f"{step.tool or '(no tool call)'} {args} → {step.status.value}")


def compare_steps(expected: Step | None, got: Step | None) -> Divergence | None:
    """The first difference between two steps at the same position, or None if they agree."""
    if expected is None:
        return (
            None
            if got is None
            else Divergence(got.number, "end", describe_step(None), describe_step(got))
        )
    if got is None:
        return Divergence(expected.number, "end", describe_step(expected), describe_step(None))
    number = got.number
    if expected.tool != got.tool:
        return Divergence(number, "tool", describe_step(expected), describe_step(got))
    want_args = canonical(expected.tool_call.args) if expected.tool_call else ""
    got_args = canonical(got.tool_call.args) if got.tool_call else ""
    if want_args != got_args:
        return Divergence(number, "args", _short(want_args), _short(got_args))
    if expected.status != got.status:
        return Divergence(number, "status", describe_step(expected), describe_step(got))
    want, have = _result_text(expected), _result_text(got)
    if want != have:
        return Divergence(number, "result", _short(want), _short(have))
    return None


def first_divergence(expected: Iterable[Step], got: Iterable[Step]) -> Divergence | None:
    """Walk two step sequences in order and report where they first differ."""
    for want, have in zip_longest(expected, got):
        found = compare_steps(want, have)
        if found is not None:
            return found
    return None
