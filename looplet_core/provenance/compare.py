"""Comparing runs step by step: what replay and ``python -m looplet_core diff`` report.

Two steps *agree* when they called the same tool with the same arguments, ended with the same
status, and returned the same result (data, or error kind and text).  Timings, timestamps, ids and
token counts are not compared: they differ between any two runs and say nothing about behaviour.
Results are compared as canonical JSON, so a tuple in a live run equals the list read from a trace.
Model-server failures (error kind ``llm``) compare by kind only: a replay cannot reproduce the
server's exact words.

Two steps that ran sub-agents (``Step.child``) with the same tool and arguments are judged by
their child runs next, step by step and as deep as they nest, before status and result: a child
that went another way is why the answer differs, so the divergence is reported as ``child``,
with ``inner`` saying where inside the children the runs first part (``path``: ``(2, 1, 3)``
is step 3 of the sub-agent that step 1 of step 2's sub-agent ran).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from looplet_core.provenance.format import dumps
from looplet_core.records import ErrorKind
from looplet_core.step import ChildRun, Step

__all__ = ["Divergence", "canonical", "compare_steps", "describe_step", "first_divergence"]

_SHOW = 160


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two runs part: the step, what differs, and both sides as short text.

    ``field`` is one of ``tool``, ``args``, ``status``, ``result``, ``prompt`` (the messages sent
    to the model), ``end`` (one run has a step where the other had ended), ``stop_reason``, or
    ``child``: the sub-agent runs of the two steps part, ``inner`` says where (in the child's
    steps) and ``agent`` names the sub-agent.
    """

    step: int
    field: str
    expected: str
    got: str
    inner: Divergence | None = None
    agent: str = ""

    @property
    def path(self) -> tuple[int, ...]:
        """The step numbers from the run's step down to the innermost step that differs."""
        return (self.step,) if self.inner is None else (self.step, *self.inner.path)

    @property
    def innermost(self) -> Divergence:
        """The difference itself: this one, or the one deepest inside the sub-agent runs."""
        return self if self.inner is None else self.inner.innermost

    @property
    def where(self) -> str:
        """``step 2`` or ``step 2 › 1 › 3 (in sub-agent editor › researcher)``."""
        steps = " › ".join(str(n) for n in self.path)
        agents: list[str] = []
        d = self
        while d.inner is not None:
            agents.append(d.agent)
            d = d.inner
        return f"step {steps}" + (f" (in sub-agent {' › '.join(agents)})" if agents else "")

    def __str__(self) -> str:
        leaf = self.innermost
        return (
            f"{self.where}: {leaf.field} differs\n"
            f"  expected: {leaf.expected}\n"
            f"  got:      {leaf.got}"
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": self.step,
            "field": self.field,
            "expected": self.expected,
            "got": self.got,
        }
        if self.inner is not None:
            data.update(agent=self.agent, inner=self.inner.to_dict())
        return data


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
    if expected.child is not None or got.child is not None:
        found = _child_divergence(number, expected.child, got.child)
        if found is not None:
            return found
    if expected.status != got.status:
        return Divergence(number, "status", describe_step(expected), describe_step(got))
    want, have = _result_text(expected), _result_text(got)
    if want != have:
        return Divergence(number, "result", _short(want), _short(have))
    return None


def _child_divergence(
    number: int, expected: ChildRun | None, got: ChildRun | None
) -> Divergence | None:
    """Where the sub-agent runs of two agreeing calls (step ``number``) first part, if they do."""
    if expected is None or got is None:
        missing = "(no sub-agent run)"
        return Divergence(
            number,
            "child",
            missing if expected is None else f"sub-agent {expected.agent}",
            missing if got is None else f"sub-agent {got.agent}",
        )
    if expected.agent != got.agent:
        return Divergence(number, "child", expected.agent, got.agent)
    inner = first_divergence(expected.steps, got.steps)
    if inner is None:
        return None
    return Divergence(number, "child", inner.expected, inner.got, inner, expected.agent)


def first_divergence(expected: Iterable[Step], got: Iterable[Step]) -> Divergence | None:
    """Walk two step sequences in order and report where they first differ."""
    for want, have in zip_longest(expected, got):
        found = compare_steps(want, have)
        if found is not None:
            return found
    return None
