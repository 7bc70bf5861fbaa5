"""The trace directory format (version 2): names, JSON encoding and the readable renderings.

A trace is a directory::

    manifest.json          format name + version, run id, task, model, start/end, stop, totals
    events.jsonl           append-only, one JSON object per line, ``kind`` first; a ``step`` line
                           names its record's byte range in ``steps.jsonl`` (``at``)
    tools.json             the tool schemas the model was offered
    messages.jsonl         every prompt's messages, machine-readable; each prompt is one byte range
    steps.jsonl            append-only, ``Step.to_dict()`` of each step, one per line, without
                           the prompt (which lives in messages.jsonl)
    children/000001/       the prompts of the sub-agent step 1 ran: its own ``messages.jsonl``;
                           ``children/000001/000002/`` is the one its step 2 ran
    llm/000001.prompt.txt  only with ``prompt_files="full"`` or ``"new"``: the messages the model
    llm/000001.response.txt  saw on call 1 with role headers, and what it answered

Version 1 wrote each step to ``steps/000001.json`` (``step_path``) and the readable ``llm/``
files always; the reader reads both layouts, step line by step line (one with ``at`` is in
``steps.jsonl``), so a version-1 trace that a newer sink resumed reads whole.

Numbers are zero-padded so that ``ls`` and ``diff llm/000003.prompt.txt llm/000004.prompt.txt``
work as expected.  This module is the only place that knows file names and line shapes; the sink
writes through it and the reader reads through it, so the format lives in one file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, cast

from looplet_core.jsonsafe import clip_depth
from looplet_core.messages import Message
from looplet_core.records import LLMCall

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "child_dir",
    "dumps",
    "prompt_path",
    "render_messages",
    "render_response",
    "response_path",
    "step_path",
]

FORMAT_NAME = "looplet-trace"
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
TOOLS = "tools.json"
MESSAGES = "messages.jsonl"
STEPS = "steps.jsonl"
STREAMS = (EVENTS, MESSAGES, STEPS)
"""The append-only files a sink keeps open for the run, in the order it opens them."""
STEPS_DIR = "steps"
LLM_DIR = "llm"
CHILDREN_DIR = "children"


def step_path(number: int) -> str:
    """Where version 1 kept step ``number``'s record."""
    return f"{STEPS_DIR}/{number:06d}.json"


def child_dir(path: Sequence[int]) -> str:
    """The directory of the sub-agent run at ``path``: the parent's step number, then the step
    numbers inside each nested child (``(1, 2)``: the one step 2 of step 1's sub-agent ran)."""
    return "/".join([CHILDREN_DIR, *(f"{number:06d}" for number in path)])


def prompt_path(call: int) -> str:
    return f"{LLM_DIR}/{call:06d}.prompt.txt"


def response_path(call: int) -> str:
    return f"{LLM_DIR}/{call:06d}.response.txt"


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(cast(Iterable[Any], value), key=repr)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON the way traces store it: UTF-8 text, non-JSON values as their repr (never pickled).

    Data nested past what ``json`` can encode keeps its top levels (``jsonsafe.clip_depth``).
    Text is written with ``errors="backslashreplace"``, so a lone surrogate becomes its JSON
    escape and reads back unchanged.
    """
    try:
        if indent is None:
            if _C_ENCODE is not None:
                return "".join(_C_ENCODE(value, 0))
            return _ENCODER.encode(value)
        return json.dumps(value, ensure_ascii=False, default=_default, indent=indent)
    except RecursionError:
        return json.dumps(clip_depth(value), ensure_ascii=False, default=_default, indent=indent)


def write_text(path: str, text: str) -> None:
    """Write a trace file: UTF-8, a lone surrogate as its escape (see ``dumps``), line ends as
    text mode writes them.  Through a bare descriptor: the sink writes three files a step, and
    a text-mode file object costs more to set up than a small file costs to write."""
    if os.linesep != "\n":
        text = text.replace("\n", os.linesep)
    data = memoryview(text.encode("utf-8", "backslashreplace"))
    fd = os.open(path, _CREATE, 0o666)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


# What open(path, "w") asks for, plus O_BINARY where it exists (Windows).
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_default)

# The C encoder itself, built once: ``JSONEncoder.encode`` builds one per call, which is half the
# cost of encoding a small record, and a step encodes several.  No circular-reference markers:
# they would be shared between threads; a cycle recurses until RecursionError and is clipped
# (``jsonsafe.clip_depth`` cuts cycles).  Same output as ``_ENCODER`` (tested).
_C_ENCODE: Callable[[Any, int], list[str]] | None = (
    None
    if c_make_encoder is None
    else cast(
        Callable[[Any, int], list[str]],
        c_make_encoder(None, _default, encode_basestring, None, ": ", ", ", False, False, True),
    )
)


def head(kind: str, seq: int, time: float, step: int) -> str | None:
    """The start of an event line, ``{"kind": ..., "seq": ..., "time": ..., "step": ...``,
    built without the encoder (what ``dumps`` of that dict writes; tested); None when a value
    is not the plain int or finite float the fast path writes, so the caller encodes."""
    if type(seq) is not int or type(step) is not int or type(time) is not float:
        return None
    if not math.isfinite(time):
        return None
    return f'{{"kind": "{kind}", "seq": {seq}, "time": {time!r}, "step": {step}'


def text_or_null(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _json_block(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default, sort_keys=True)


def render_message(position: int, message: Message) -> str:
    """One message with its role header: ``=== [3] assistant ===`` then its content."""
    header = f"=== [{position}] {message.role}"
    if message.role == "tool":
        header += f" {message.name or ''} ({message.tool_call_id or ''})"
    lines = [header.rstrip() + " ==="]
    if message.reasoning:
        lines.append(f"(reasoning)\n{message.reasoning}\n(/reasoning)")
    if message.content:
        lines.append(message.content)
    for call in message.tool_calls:
        lines.append(f"→ {call.tool} ({call.id}) {_json_block(call.args)}")
    return "\n".join(lines) + "\n\n"


def render_messages(messages: Sequence[Message], start: int = 1) -> str:
    return "".join(render_message(start + i, m) for i, m in enumerate(messages))


def prompt_header(call: int, count: int, tools: int | None) -> str:
    """``tools`` None: the schemas were not recorded with the prompt (a sub-agent's)."""
    schemas = "" if tools is None else f", {tools} tool schemas (tools.json)"
    return f"# LLM call {call}: {count} messages{schemas}\n\n"


def render_response(call: LLMCall) -> str:
    """What the model answered, for people: header facts, then text, reasoning and calls."""
    usage = call.usage
    if usage is None:
        usage_text = "not reported"
    else:
        kind = "measured" if usage.measured else "estimated"
        usage_text = f"{usage.input_tokens} in / {usage.output_tokens} out ({kind})"
    lines = [
        f"# LLM call {call.index}",
        f"model: {call.model or 'unknown'}",
        f"stop reason: {call.stop_reason or 'unknown'}",
        f"usage: {usage_text}",
        f"latency: {call.latency_ms:.0f} ms",
        f"attempts: {call.attempts}",
        "",
    ]
    if call.failures:
        lines.append("## failed attempts")
        for f in call.failures:
            status = f" HTTP {f.status}" if f.status is not None else ""
            wait = f", retried after {f.wait_s:g} s" if f.wait_s is not None else ""
            lines.append(
                f"{f.attempt}. {f.kind}{status} after {f.latency_ms:.0f} ms{wait}: {f.error}"
            )
        lines.append("")
        if call.failed:
            lines.append("no answer: every attempt failed")
            return "\n".join(lines) + "\n"
    if call.reasoning:
        lines += ["## reasoning", call.reasoning, ""]
    lines += ["## text", call.text if call.text else "(empty)", ""]
    lines.append("## tool calls")
    if not call.tool_calls:
        lines.append("(none)")
    for tc in call.tool_calls:
        lines.append(f"→ {tc.tool} ({tc.id}) {_json_block(tc.args)}")
        if tc.parse_error:
            lines.append(f"  arguments did not parse: {tc.parse_error}")
    return "\n".join(lines) + "\n"
