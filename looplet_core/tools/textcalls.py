"""JSON-in-text tool calls, for models served without native tool calling.

The system prompt gets a section (``render_tool_instructions``) describing the tools and one reply
format: a JSON object ``{"tool": "<name>", "args": {...}}``, or a JSON list of them, optionally in
a ```json fence.  ``parse_tool_calls`` reads calls back out of the model's text.  It is lenient
about what surrounds the JSON (prose, fences, ``<tool_call>`` tags) and about common dialects
(``{"name": ..., "arguments": ...}``, OpenAI's ``{"function": {...}}`` and ``{"tool_calls": [...]}``
shapes, arguments sent as a JSON string), and strict about the JSON itself: nothing is evaluated,
and Python-style quotes or trailing commas are not repaired.  Input is scanned up to
``MAX_SCAN_CHARS``, with a bounded amount of work spent on failed attempts and over-deep nesting
refused, so huge or hostile text costs little.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from looplet_core.backends.base import ToolSchema
from looplet_core.messages import ToolCall

__all__ = ["MAX_SCAN_CHARS", "parse_tool_calls", "render_tool_instructions"]

MAX_SCAN_CHARS = 500_000
"""Text beyond this many characters is not searched for calls."""

# Failed decode attempts are charged what they scanned plus a fixed overhead; scanning stops when
# this budget is spent.  Prose with thousands of braces is still searched, but no input can make
# the parser rescan the text quadratically or recurse without bound.
_FAILURE_BUDGET = 1_000_000
_FAILURE_OVERHEAD = 100
_TOO_DEEP_COST = 50_000
_OPENER = re.compile(r"[\[{]")
_LOOKS_LIKE_CALL = re.compile(r"""[\[{\s]*["']?(tool|name|function)["']?\s*:""")
_NAME_KEYS = ("tool", "name")
_ARGS_KEYS = ("args", "arguments", "parameters", "input")
_FORMAT = (
    'To call a tool, reply with a JSON object {"tool": "<tool name>", "args": {...}}, '
    "or a JSON list of such objects to make several calls in order."
)
_PLACEHOLDERS: dict[str, Any] = {
    "string": "...",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
}


def render_tool_instructions(schemas: Sequence[ToolSchema]) -> str:
    """A system-prompt section: the reply format, an example, and each tool with its arguments."""
    lines = [
        "# Tools",
        "",
        "To call a tool, reply with a JSON object and nothing else:",
        '{"tool": "<tool name>", "args": {"<argument>": <value>, ...}}',
        "To make several calls in order, reply with a JSON list of such objects. You may put the "
        "JSON in a ```json code fence. Each call's result comes back in the next message.",
    ]
    if schemas:
        lines += ["", f"Example: {_example(schemas[0])}"]
    lines += ["", "Available tools:"]
    for schema in schemas:
        lines += ["", f"## {schema.get('name', '')}"]
        description = str(schema.get("description") or "").strip()
        if description:
            lines.append(description)
        lines += _argument_lines(cast(Mapping[str, Any], schema.get("parameters") or {}))
    return "\n".join(lines)


def _argument_lines(parameters: Mapping[str, Any]) -> list[str]:
    properties = cast(Mapping[str, Any], parameters.get("properties") or {})
    if not properties:
        return ["Arguments: none (send an empty object)."]
    required = set(cast(list[str], parameters.get("required") or []))
    lines = ["Arguments:"]
    for name, sub in properties.items():
        prop = cast(Mapping[str, Any], sub if isinstance(sub, Mapping) else {})
        need = "required" if name in required else "optional"
        if "default" in prop:
            need += f", default {json.dumps(prop['default'], ensure_ascii=False, default=str)}"
        line = f"- {name} ({_type_text(prop)}, {need})"
        if prop.get("description"):
            line += f": {prop['description']}"
        lines.append(line)
    return lines


def _type_text(prop: Mapping[str, Any]) -> str:
    if "enum" in prop:
        choices = cast(list[Any], prop["enum"])
        return "one of " + ", ".join(json.dumps(c, ensure_ascii=False) for c in choices)
    if "anyOf" in prop or "oneOf" in prop or "properties" in prop:
        return "JSON Schema " + json.dumps(prop, ensure_ascii=False, separators=(",", ":"))
    kind = prop.get("type")
    if kind is None:
        return "any type"
    kinds = cast(list[str], kind) if isinstance(kind, list) else [str(kind)]
    items = prop.get("items")
    if isinstance(items, Mapping) and "type" in items:
        item_text = _type_text(cast(Mapping[str, Any], items))
        kinds = [f"array of {item_text}" if k == "array" else k for k in kinds]
    return " or ".join(kinds)


def _example(schema: ToolSchema) -> str:
    parameters = cast(Mapping[str, Any], schema.get("parameters") or {})
    properties = cast(Mapping[str, Any], parameters.get("properties") or {})
    args: dict[str, Any] = {}
    for name in cast(list[str], parameters.get("required") or []):
        prop = properties.get(name)
        kind = cast(Mapping[str, Any], prop).get("type") if isinstance(prop, Mapping) else None
        args[name] = _PLACEHOLDERS.get(kind, "...") if isinstance(kind, str) else "..."
    return json.dumps({"tool": schema.get("name", ""), "args": args}, ensure_ascii=False)


def parse_tool_calls(text: str, *, start: int = 1) -> tuple[list[ToolCall], str | None]:
    """Every tool call in ``text``, in order, with ids ``call_<start>``, ``call_<start+1>``...

    Returns ``(calls, None)``, or ``([], message)`` when there is no call; the message tells the
    model what was wrong and what format is expected.  Each JSON value in the text that has the
    shape of a call (or a list of calls) counts; other JSON (examples, data) is skipped.  A call
    whose arguments are not an object keeps its name and gets ``parse_error`` set.
    """
    text = text[:MAX_SCAN_CHARS]
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    json_error: str | None = None
    other_json = False
    budget = _FAILURE_BUDGET
    pos = 0
    while budget > 0:
        found = _OPENER.search(text, pos)
        if found is None:
            break
        index = found.start()
        try:
            value, pos = decoder.raw_decode(text, index)
        except (json.JSONDecodeError, RecursionError) as exc:
            pos = index + 1
            if isinstance(exc, RecursionError):
                budget -= _TOO_DEEP_COST
                problem = "nested too deeply"
            else:
                budget -= exc.pos - index + _FAILURE_OVERHEAD
                problem = str(exc)
            if json_error is None and _LOOKS_LIKE_CALL.match(text, index, index + 200):
                json_error = problem
            continue
        entries = _call_entries(value)
        if entries is None:
            other_json = True
            continue
        calls.extend(_to_call(entry, f"call_{start + len(calls)}") for entry in entries)
    if calls:
        return calls, None
    if json_error is not None:
        return [], f"Your tool call is not valid JSON ({json_error}). {_FORMAT}"
    if other_json:
        return [], f'Your reply has JSON but no tool call in it (no "tool" name). {_FORMAT}'
    return [], f"Your reply has no tool call. {_FORMAT}"


def _call_entries(value: object) -> list[Mapping[str, Any]] | None:
    """The call objects ``value`` holds, or None when it is not shaped like a call or a list."""
    if isinstance(value, Mapping):
        obj = cast(Mapping[str, Any], value)
        if isinstance(obj.get("tool_calls"), list):  # {"tool_calls": [...]}, a common wrapper
            return _call_entries(obj["tool_calls"])
        entry = _unwrap(obj)
        return None if entry is None else [entry]
    if isinstance(value, list) and value:
        entries = [
            _unwrap(cast(Mapping[str, Any], item)) if isinstance(item, Mapping) else None
            for item in cast(list[Any], value)
        ]
        if all(entry is not None for entry in entries):
            return cast(list[Mapping[str, Any]], entries)
    return None


def _unwrap(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The call inside ``obj``: itself, or its ``function`` member (OpenAI's shape); else None.

    ``{"name": ...}`` counts only with an arguments key too, so that data such as
    ``{"name": "Alice", "age": 3}`` is not read as a call.
    """
    function = obj.get("function")
    if isinstance(function, Mapping):
        obj = cast(Mapping[str, Any], function)
    tool = obj.get("tool")
    if isinstance(tool, str) and tool:
        return obj
    name = obj.get("name")
    if isinstance(name, str) and name and any(key in obj for key in _ARGS_KEYS):
        return obj
    return None


def _to_call(entry: Mapping[str, Any], call_id: str) -> ToolCall:
    name = next(str(entry[key]) for key in _NAME_KEYS if isinstance(entry.get(key), str))
    raw: Any = next((entry[key] for key in _ARGS_KEYS if key in entry), None)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError) as exc:
            return ToolCall(name, {}, call_id, parse_error=f"arguments are not valid JSON: {exc}")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        got = type(raw).__name__
        return ToolCall(name, {}, call_id, parse_error=f"args must be a JSON object, got {got}")
    return ToolCall(name, cast(dict[str, Any], raw), call_id)
