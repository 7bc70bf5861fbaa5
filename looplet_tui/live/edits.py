"""Edits made at a stop: the prompt about to be sent, the call about to run, the result about to be
read.  Plain Python, no Textual: the controller stages them, the editor only shows text.

Each kind of edit is text in, checked value out.  The editor starts from ``*_text`` (JSON for a
prompt or a call, the result as the model will read it) and gives back what the person typed;
``parse_*`` turns that into the value the loop acts on, or raises ``EditError`` saying what is
wrong and leaving everything as it was.  Every staged edit carries a note and the changed parts
before and after, which become the step's recorded decision (``looplet_core.Edit``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from looplet_core import Allow, Deny, Edit, Message, ToolCall, ToolResult
from looplet_core.context.compact import pairing_problem
from looplet_core.tools.results import result_to_text

__all__ = [
    "CHANGE_LIMIT",
    "EditError",
    "EditKind",
    "EditPoint",
    "Scope",
    "StagedEdit",
    "call_text",
    "parse_call",
    "parse_prompt",
    "parse_result",
    "prompt_text",
    "result_text",
    "skip",
]

CHANGE_LIMIT = 4_000
"""Characters of each before/after text kept on the recorded decision: enough to read the change,
bounded so an edit of a 1 MB result does not put two more megabytes in every checkpoint."""

Scope = Literal["request", "history"]
"""A prompt edit applies to this request only (the default) or rewrites the history from here on."""

Validate = Callable[[ToolCall], tuple[dict[str, Any] | None, str | None]]
"""The loop's own validator: ``(coerced_args, None)`` or ``(None, what to fix)``."""


class EditError(ValueError):
    """An edit that cannot be applied; the message says what is wrong and how to fix it."""


class EditKind(StrEnum):
    """What a stop lets a person edit."""

    PROMPT = "prompt"
    CALL = "call"
    RESULT = "result"


class EditPoint(NamedTuple):
    """Where the stop a person may edit is: what kind of edit, at which step, and in which
    sub-agent (``researcher › helper``; empty for the run itself).  Step numbers are each
    loop's own, so the agent is what tells step 1 of the run from step 1 of a sub-agent."""

    kind: EditKind
    step: int
    agent: str = ""


@dataclass(frozen=True, slots=True)
class StagedEdit:
    """An edit waiting for the run to go on: ``value`` is what the controller's hook returns
    (messages, an ``Allow``/``Deny``, a ``ToolResult``), ``text`` what the editor held."""

    kind: EditKind
    step: int
    text: str
    value: Any
    note: str
    before: str
    after: str
    scope: Scope = "request"

    def as_edit(self, value: Any = None) -> Edit:
        """What the controller's hook returns: ``value`` (default: this edit's own) with the
        note and before/after the loop records on the step."""
        return Edit(self.value if value is None else value, self.note, self.before, self.after)


# -- prompts ----------------------------------------------------------------------------------


def prompt_text(messages: Sequence[Message]) -> str:
    """The prompt as an editable JSON list, one object a message, in the loop's own shape."""
    return json.dumps([m.to_dict() for m in messages], indent=2, ensure_ascii=False)


def parse_prompt(
    text: str, original: Sequence[Message], step: int, scope: Scope = "request"
) -> StagedEdit:
    """The edited message list, checked: valid JSON, valid messages, valid tool-call pairing."""
    if scope not in ("request", "history"):
        raise EditError(f"scope must be 'request' or 'history', not {scope!r}")
    value = _json(text)
    if not isinstance(value, list):
        raise EditError("The prompt must be a JSON list of messages ([{...}, ...]).")
    messages: list[Message] = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise EditError(f"Message {index} must be a JSON object with a role and content.")
        try:
            messages.append(Message.from_dict(item))
        except (ValueError, TypeError) as exc:
            raise EditError(f"Message {index}: {exc}") from None
    if not messages:
        raise EditError("The prompt needs at least one message.")
    problem = pairing_problem(messages)
    if problem is not None:
        raise EditError(
            f"That breaks tool-call pairing ({problem}, counting from 0): every assistant "
            "message's tool calls need their results right after it."
        )
    if messages == list(original):
        raise EditError("Nothing changed: the prompt is as the loop built it.")
    note, before, after = _message_changes(original, messages)
    where = "this request only" if scope == "request" else "the history from here on"
    return StagedEdit(
        EditKind.PROMPT, step, text, messages, f"{note} ({where})", before, after, scope
    )


def _message_changes(old: Sequence[Message], new: Sequence[Message]) -> tuple[str, str, str]:
    """A few words on which messages changed, and those messages before and after."""
    matcher = difflib.SequenceMatcher(a=[_key(m) for m in old], b=[_key(m) for m in new])
    counts = {"rewritten": 0, "inserted": 0, "deleted": 0}
    before: list[str] = []
    after: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace":
            common = min(i2 - i1, j2 - j1)
            counts["rewritten"] += common
            counts["deleted"] += (i2 - i1) - common
            counts["inserted"] += (j2 - j1) - common
        elif tag == "delete":
            counts["deleted"] += i2 - i1
        else:
            counts["inserted"] += j2 - j1
        before += [_line(i, old[i]) for i in range(i1, i2)]
        after += [_line(j, new[j]) for j in range(j1, j2)]
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    note = f"prompt edited: {', '.join(parts)} message{'s' if sum(counts.values()) > 1 else ''}"
    return note, _bounded("\n".join(before)), _bounded("\n".join(after))


def _key(message: Message) -> str:
    return json.dumps(message.to_dict(), sort_keys=True, ensure_ascii=False)


def _line(index: int, message: Message) -> str:
    return f"[{index + 1}] {message.role}: {message.content}"


# -- calls ------------------------------------------------------------------------------------


def call_text(call: ToolCall, *, indent: int | None = 2) -> str:
    """The call as ``{"tool": ..., "args": {...}}``: both may be changed.  ``indent=None`` gives
    the one-line form the recorded decision keeps."""
    body = {"tool": call.tool, "args": call.args}
    return json.dumps(body, indent=indent, ensure_ascii=False, default=str)


def parse_call(text: str, original: ToolCall, step: int, validate: Validate | None) -> StagedEdit:
    """The edited call, checked by the loop's own validator against the tool's schema."""
    value = _json(text)
    if not isinstance(value, dict) or not isinstance(value.get("tool"), str):
        raise EditError('The call must be a JSON object: {"tool": "name", "args": {...}}.')
    extra = sorted(set(value) - {"tool", "args"})
    if extra:
        raise EditError(f"Unknown key(s) {extra}: a call has only 'tool' and 'args'.")
    tool: str = value["tool"]
    args_value = value.get("args", {})
    if not isinstance(args_value, dict):
        raise EditError("'args' must be a JSON object ({...}).")
    args: dict[str, Any] = args_value
    if validate is not None:
        checked, problem = validate(ToolCall(tool, args, original.id))
        if problem is not None or checked is None:
            raise EditError(problem or f"the arguments do not fit {tool}")
    if tool == original.tool and args == original.args:
        raise EditError("Nothing changed: the call is as the model made it.")
    what = f"tool {original.tool} -> {tool}" if tool != original.tool else "arguments"
    return StagedEdit(
        EditKind.CALL,
        step,
        text,
        Allow(args, tool=tool if tool != original.tool else None),
        f"call edited: {what}",
        _bounded(call_text(original, indent=None)),
        _bounded(call_text(ToolCall(tool, args, original.id), indent=None)),
    )


def skip(message: str, original: ToolCall, step: int) -> StagedEdit:
    """Do not run the call; the model reads ``message`` as its result."""
    message = message.strip()
    if not message:
        raise EditError("Say why the call is skipped: the model reads it as the call's result.")
    return StagedEdit(
        EditKind.CALL,
        step,
        message,
        Deny(message),
        "call skipped",
        _bounded(call_text(original, indent=None)),
        _bounded(message),
    )


# -- results ----------------------------------------------------------------------------------


def result_text(result: ToolResult) -> str:
    """The result as the model would read it: the data's text, or the error's message."""
    if not result.ok:
        return result.error or ""
    if isinstance(result.data, str):
        return result.data
    return json.dumps(result.data, indent=2, ensure_ascii=False, default=str)


def parse_result(text: str, original: ToolResult, step: int) -> StagedEdit:
    """The edited result: the same kind as the original (text stays text, JSON data must stay
    valid JSON, an error stays an error with the edited message)."""
    if text == result_text(original):
        raise EditError("Nothing changed: the result is as the tool returned it.")
    if not original.ok:
        new = ToolResult(error=text, error_kind=original.error_kind, elapsed_ms=original.elapsed_ms)
    elif isinstance(original.data, str) or original.data is None:
        new = ToolResult(data=text, elapsed_ms=original.elapsed_ms)
    else:
        new = ToolResult(data=_json(text), elapsed_ms=original.elapsed_ms)
    before = _bounded(result_to_text(original.data) if original.ok else original.error or "")
    return StagedEdit(EditKind.RESULT, step, text, new, "result edited", before, _bounded(text))


# -- shared -----------------------------------------------------------------------------------


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise EditError(f"Not valid JSON: {exc}.") from None


def _bounded(text: str) -> str:
    if len(text) <= CHANGE_LIMIT:
        return text
    return text[: CHANGE_LIMIT - 1] + f"… ({len(text):,} characters in all)"
