"""``Summarize``: the compaction stage that asks a model to condense old turns.

It replaces everything between the task and the newest ``keep_turns`` turns with one user message
holding a structured summary (goal, findings, open questions, decisions) in which identifiers are
copied verbatim.  It makes exactly one model call, on the run's backend or the one you give it.
If that call fails, returns nothing usable, or returns a "summary" no shorter than what it would
replace, the stage changes nothing and says why, so ``compact_chain`` falls through to the next
stage (usually ``Truncate``).

The call is synchronous (``generate``), like every hook: in the async loop it blocks the event loop
for that one call.  Its usage is reported in the compaction event's detail, not in the run's
``usage`` totals, which count the run's own calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from looplet_core.context.compact import (
    SUMMARY_PREFIX,
    CompactContext,
    Compacted,
    head_length,
    turn_starts,
)
from looplet_core.errors import ConfigError
from looplet_core.messages import Message

__all__ = ["SUMMARY_INSTRUCTIONS", "Summarize"]

SUMMARY_SYSTEM = (
    "You condense an AI agent's working history into a faithful summary that replaces it. "
    "Anything you leave out is lost to the agent."
)

SUMMARY_INSTRUCTIONS = """\
Summarise the excerpt below of an agent's work on this task:

{task}

Write exactly these four sections as short bullet lists:
## Goal
## Findings
## Open questions
## Decisions

Copy identifiers character for character: file paths, URLs, IDs, names of functions, tools and
variables, numbers, commands and error messages. Keep results the agent will need again. Do not
invent anything that is not in the excerpt, and do not call tools.

Excerpt:
{transcript}"""


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} characters omitted]"


def _render(message: Message, limit: int) -> str:
    if message.role == "tool":
        return f"[result of {message.name or 'tool'} {message.tool_call_id or ''}]\n" + _clip(
            message.content, limit
        )
    lines = [f"[{message.role}]"] if message.content else []
    if message.content:
        lines.append(_clip(message.content, limit))
    for call in message.tool_calls:
        args = json.dumps(call.args, ensure_ascii=False, default=str)
        lines.append(f"[{message.role} calls {call.tool} {call.id}] {_clip(args, limit)}")
    return "\n".join(lines)


class Summarize:
    """Condense old turns into one structured summary message; see the module docstring.

    ``llm``: the backend to ask (default: the run's).  ``keep_turns``: newest turns left as they
    are.  ``clip_chars``: longest text of one message shown to the summariser.  ``max_chars``:
    longest excerpt sent (the oldest messages are dropped from it first); when the window is known
    the excerpt is also kept under about half of it, so the summary request itself fits.
    """

    name = "summarize"

    def __init__(
        self,
        llm: Any = None,
        *,
        keep_turns: int = 2,
        clip_chars: int = 4_000,
        max_chars: int = 60_000,
        instructions: str = SUMMARY_INSTRUCTIONS,
    ) -> None:
        if keep_turns < 1:
            raise ConfigError(f"Summarize keep_turns must be at least 1, got {keep_turns}")
        if "{transcript}" not in instructions:
            raise ConfigError("Summarize instructions must contain {transcript}")
        self.llm = llm
        self.keep_turns = keep_turns
        self.clip_chars = clip_chars
        self.max_chars = max_chars
        self.instructions = instructions

    def compact(self, messages: Sequence[Message], ctx: CompactContext) -> Compacted:
        unchanged = list(messages)
        head = head_length(messages)
        turns = turn_starts(messages, head)
        if len(turns) <= self.keep_turns:
            return Compacted(
                unchanged,
                f"only {len(turns)} turn(s) after the task; the last {self.keep_turns} are kept",
            )
        cut = turns[-self.keep_turns]
        span = messages[head:cut]
        backend = self.llm if self.llm is not None else ctx.llm
        generate = getattr(backend, "generate", None)
        if not callable(generate):
            return Compacted(unchanged, "no backend with generate() to summarise with")
        request = [
            Message("system", SUMMARY_SYSTEM),
            Message(
                "user", self._request_text(messages[head - 1].content if head else "", span, ctx)
            ),
        ]
        try:
            response = generate(request, tools=[])
        except Exception as exc:  # any failure of the summariser means: fall through
            return Compacted(unchanged, f"summary call failed ({type(exc).__name__}: {exc})")
        text = str(getattr(response, "text", "") or "").strip()
        if not text:
            return Compacted(unchanged, "summary call returned no text")
        summary = Message("user", f"{SUMMARY_PREFIX}: it replaces {len(span)} messages]\n{text}")
        if ctx.costs([summary])[0] >= sum(ctx.costs(span)):
            return Compacted(unchanged, "the summary was not shorter than what it would replace")
        usage = getattr(response, "usage", None)
        used = (
            f"; the summary call used {usage.input_tokens} input and {usage.output_tokens} "
            "output tokens"
            if usage is not None
            else ""
        )
        return Compacted(
            [*messages[:head], summary, *messages[cut:]],
            f"summarised {len(span)} message(s) into one{used}",
        )

    def _request_text(self, task: str, span: Sequence[Message], ctx: CompactContext) -> str:
        budget = self.max_chars
        if ctx.window is not None:
            budget = min(budget, ctx.window * 2)  # about half the window at ~4 characters a token
        parts = [_render(m, self.clip_chars) for m in span]
        size = sum(len(p) + 2 for p in parts)
        if size > budget:  # show every message, each shorter, before dropping any
            limit = max(200, budget // len(parts) - 100)
            parts = [_render(m, min(limit, self.clip_chars)) for m in span]
            size = sum(len(p) + 2 for p in parts)
        dropped = 0
        while parts and size > budget and len(parts) > 1:
            size -= len(parts[0]) + 2
            parts.pop(0)
            dropped += 1
        if dropped:
            parts.insert(0, f"[{dropped} older messages not shown]")
        transcript = _clip("\n\n".join(parts), budget)
        return self.instructions.format(task=_clip(task, self.clip_chars), transcript=transcript)
