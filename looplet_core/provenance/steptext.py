"""The JSON text of a usual step's trace record and of a message, written straight from them.

A trace stores each step as ``fmt.dumps(step.to_dict(prompt=False))`` with the reply left out
(the sink splices in the reply's text, encoded once when it arrived).  Building that dict, with
a dict per part, and then encoding it, escaping the same twenty key names every step, was a
fifth of what a trace costs a step.  ``record_text`` writes the same text from the step's fields
directly: the key names are constants, and each value is encoded on its own by ``fmt.dumps``
(the same encoder, so the same output) unless it is a plain ``str``, ``int`` or finite ``float``,
written the way that encoder writes it.

``message_text`` does the same for a ``Message`` (``fmt.dumps(message.to_dict())``), which
has no shape it declines.

``record_text`` covers the common shape only: a step with a tool call and context figures, and none
of decisions, approval, batch, child or hook time.  For anything else it returns None and the sink
encodes ``to_dict()`` as before.  The key order is ``Step.to_dict``'s; a test builds steps of every
shape and compares this text with the encoded dict byte for byte, so a field added to
``to_dict`` fails that test rather than going missing from traces.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from looplet_core.firstuse import first_use
from looplet_core.messages import Message, ToolCall
from looplet_core.provenance import format as fmt
from looplet_core.step import Step

__all__ = ["RECORD_KEYS", "message_text", "record_text"]

RECORD_KEYS = (
    "number",
    "tool_call",
    "tool_result",
    "status",
    "original_args",
    "context",
    "decisions",
    "elapsed_ms",
    "started_at",
    "finished_at",
    "run_id",
    "branch_id",
    "prompt",
    "approval",
)
"""The keys ``record_text`` writes, in order: ``Step.to_dict(prompt=False)``'s for the shape it
covers, without ``llm_call`` (tested against ``to_dict``)."""

_DECISIONS = first_use(Step, "decisions")
_encode_str: Any = encode_basestring


def _text(value: object) -> str:
    return _encode_str(value) if type(value) is str else fmt.dumps(value)


def _flag(value: object) -> str:
    return "true" if value is True else "false" if value is False else fmt.dumps(value)


def _number(value: object) -> str:
    """An ``int`` or finite ``float`` as ``json`` writes it (its ``repr``); the rest encoded."""
    if value is None:
        return "null"
    if type(value) is int or (type(value) is float and math.isfinite(value)):  # type: ignore[arg-type]
        return repr(value)
    return fmt.dumps(value)


def _call_text(call: ToolCall) -> str:
    """``fmt.dumps(call.to_dict())``."""
    text = f'{{"id": {_text(call.id)}, "tool": {_text(call.tool)}, "args": {fmt.dumps(call.args)}'
    if call.parse_error is not None:
        return f'{text}, "parse_error": {_text(call.parse_error)}}}'
    return text + "}"


def message_text(message: Message) -> str:
    """``fmt.dumps(message.to_dict())``, without the dict."""
    text = f'{{"role": {_text(message.role)}, "content": {_text(message.content)}'
    if message.tool_calls:
        text += f', "tool_calls": [{", ".join(map(_call_text, message.tool_calls))}]'
    if message.tool_call_id is not None:
        text += f', "tool_call_id": {_text(message.tool_call_id)}'
    if message.name is not None:
        text += f', "name": {_text(message.name)}'
    if message.reasoning is not None:
        text += f', "reasoning": {_text(message.reasoning)}'
    return text + "}"


def record_text(step: Step) -> str | None:
    """``fmt.dumps`` of ``step.to_dict(prompt=False)`` without its ``llm_call`` key, or None
    when the step is not of the shape this writes (then encode the dict)."""
    call = step.tool_call
    stats = step.context
    if (
        call is None
        or stats is None
        or step.approval is not None
        or step.batch is not None
        or step.child is not None
        or step.hook_ms
        or _DECISIONS.stored(step)
    ):
        return None
    result = step.tool_result
    kind = result.error_kind
    error = result.error
    trace = result.traceback
    args = step.original_args
    return (
        f'{{"number": {_number(step.number)}, "tool_call": {_call_text(call)}, '
        f'"tool_result": {{"data": {fmt.dumps(result.data)}, '
        f'"error": {"null" if error is None else _text(error)}, '
        f'"error_kind": {_text(kind.value) if kind else "null"}, '
        f'"traceback": {"null" if trace is None else _text(trace)}, '
        f'"elapsed_ms": {_number(result.elapsed_ms)}}}, '
        f'"status": {_text(step.status.value)}, '
        f'"original_args": {"null" if args is None else fmt.dumps(args)}, '
        f'"context": {{"by_role": {fmt.dumps(dict(stats.by_role))}, '
        f'"total": {_number(stats.total)}, '
        f'"window": {_number(stats.window)}, '
        f'"measured": {_flag(stats.measured)}, "tier": {_text(stats.tier)}}}, '
        f'"decisions": [], "elapsed_ms": {_number(step.elapsed_ms)}, '
        f'"started_at": {_number(step.started_at)}, '
        f'"finished_at": {_number(step.finished_at)}, '
        f'"run_id": {_text(step.run_id)}, "branch_id": {_text(step.branch_id)}, '
        f'"prompt": null, "approval": null}}'
    )
