"""Compact steps for readers that keep thousands of them: ``Step.from_dict(data, compact=True)``.

Why: a replay reads one ``Step`` a step played and its controller keeps every one (a seek to
the end of a 10,000-step trace holds 10,000).  Read the plain way, a recorded step of the
benchmark's trace held about 2.5 KB, much of it repeated from step to step or within a step:

* the step's tool call, parsed twice: into ``Step.tool_call`` and into its ``LLMCall``'s
  ``tool_calls`` (a ``ToolCall``, its ``args`` dict and its ``id``);
* the same few strings per step (the tool's name, the run id, the branch, the model, the
  reply's stop reason, the context tier), each a new object from the JSON parser;
* the context stats' ``by_role`` dict (five counts, 184 bytes) where the live loop keeps an
  int (``ContextStats.counted``);
* empty ``decisions`` and ``failures`` lists, where a live step keeps nothing until one is read
  (``firstuse.py``).

So the compact read shares the ``ToolCall`` between the step and its model call when the two
records are equal, interns those strings, packs the counts and leaves the empty lists unmade.
The step it gives compares, prints and serialises equal to the plain read's (a test checks a
real trace both ways).  Live runs do not come through here: their steps are built by the loop.
"""

from __future__ import annotations

import sys
from typing import Any, cast

from looplet_core.firstuse import NOT_YET
from looplet_core.messages import ToolCall, optional
from looplet_core.records import AttemptFailure, ContextStats, HookDecision, LLMCall, Usage

__all__ = ["compact_calls", "compact_context", "compact_decisions", "shared_text"]


def shared_text(value: object) -> str:
    """``str(value)``, interned: one object for every step that holds the same short text."""
    return sys.intern(str(value))


def _tool_call(data: dict[str, Any]) -> ToolCall:
    return ToolCall(
        tool=shared_text(data["tool"]),
        args=dict(data.get("args") or {}),
        id=str(data.get("id", "")),
        parse_error=optional(data.get("parse_error"), str, "parse_error"),
    )


def compact_calls(
    tc: dict[str, Any] | None, llm: dict[str, Any] | None
) -> tuple[ToolCall | None, LLMCall | None]:
    """The step's tool call and model call, the call object shared where the records match."""
    tool_call = _tool_call(tc) if tc else None
    if not llm:
        return tool_call, None
    raw_calls = cast(list[dict[str, Any]], llm.get("tool_calls") or [])
    calls = tuple(
        tool_call if tool_call is not None and raw == tc else _tool_call(raw) for raw in raw_calls
    )
    shared: Any = calls or NOT_YET  # a tuple: the list is made when first read (firstuse.py)
    usage = llm.get("usage")
    failures = cast(list[dict[str, Any]], llm.get("failures") or [])
    stop = optional(llm.get("stop_reason"), str, "stop_reason")
    model = optional(llm.get("model"), str, "model")
    call = LLMCall(
        index=int(llm["index"]),
        text=str(llm.get("text") or ""),
        reasoning=optional(llm.get("reasoning"), str, "reasoning"),
        tool_calls=shared,
        usage=Usage.from_dict(usage) if usage else None,
        latency_ms=float(llm.get("latency_ms") or 0.0),
        stop_reason=sys.intern(stop) if stop is not None else None,
        model=sys.intern(model) if model is not None else None,
        attempts=int(llm.get("attempts") or 1),
        prompt_messages=int(llm.get("prompt_messages") or 0),
        failures=[AttemptFailure.from_dict(f) for f in failures] if failures else NOT_YET,
    )
    return tool_call, call


def compact_context(data: dict[str, Any]) -> ContextStats:
    """The stats with their counts packed in an int when they fit (as the meter's do)."""
    by_role = {shared_text(k): int(v) for k, v in dict(data.get("by_role") or {}).items()}
    return ContextStats.counted(
        by_role,
        int(data.get("total") or 0),
        optional(data.get("window"), int, "window"),
        bool(data.get("measured", False)),
        shared_text(data.get("tier") or "ok"),
    )


def compact_decisions(raw: list[dict[str, Any]]) -> list[HookDecision]:
    """The decisions, or nothing made for none (the list is made when first read)."""
    if not raw:
        return NOT_YET
    return [
        HookDecision(
            shared_text(d["hook"]),
            shared_text(d["phase"]),
            shared_text(d["decision"]),
            str(d.get("detail") or ""),
            str(d.get("before") or ""),
            str(d.get("after") or ""),
        )
        for d in raw
    ]
