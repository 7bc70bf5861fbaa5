"""``MockLLMBackend``: a scripted model for tests, demos and docs.

Each script entry is one reply:

* ``{"tool": "greet", "args": {"name": "Alice"}}`` — one tool call;
* a list of such dicts — several tool calls in one reply;
* a string — a text reply with no tool call;
* an ``LLMResponse`` — returned as is;
* an exception instance — raised (to script server failures);
* a callable ``(messages, tools) -> any of the above`` — decided from what the model was sent.

The backend records every request (``requests``: the message list and tools it was sent; the
list is the loop's immutable view, so recording costs O(1), about 130 bytes a request).  A long
scripted run that never looks at them (a demo, a benchmark standing in for a real model, which
keeps no such log) passes ``record_requests=False``.  When the script runs out it raises
``ScriptExhaustedError``: it never cycles or invents a reply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from looplet_core.backends.base import DeltaCallback, LLMResponse, ToolSchema
from looplet_core.errors import ScriptExhaustedError
from looplet_core.messages import Message, MessageView, ToolCall
from looplet_core.records import Usage

__all__ = ["MockLLMBackend", "MockRequest"]

ScriptEntry = Any


@dataclass(frozen=True, slots=True)
class MockRequest:
    messages: Sequence[Message]
    tools: Sequence[ToolSchema]


class _PromptSize:
    """What a server would report as the prompt's size: the messages *and* the tool schemas
    (a real server counts both; leaving the schemas out made the loop calibrate every later
    estimate down by several times, so a demo's gauge fell from 53% to 7% after one reply).

    The loop's prompts are views of one growing conversation, so the characters already summed
    for the last prompt are kept and only the new messages are added: summing every message on
    every call made a scripted run quadratic (63% of a 5,000-step debugged run's worker time).
    """

    __slots__ = ("_chars", "_length", "_storage")

    def __init__(self) -> None:
        self._storage: object = None
        self._length = 0
        self._chars = 0

    def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSchema]) -> int:
        schemas = len(json.dumps(list(tools), ensure_ascii=False, default=str)) if tools else 0
        storage = messages.storage if type(messages) is MessageView else None
        length = len(messages)
        start = chars = 0
        if storage is not None and storage is self._storage and length >= self._length:
            start, chars = self._length, self._chars
        for index in range(start, length):
            message = messages[index]
            chars += len(message.content) + 16 * len(message.tool_calls)
        self._storage, self._length, self._chars = storage, length, chars
        return (chars + schemas) // 4 + 4 * length


class MockLLMBackend:
    """Replays a script of replies.  ``report_usage=True`` reports chars/4 token counts as usage
    (so gauges move in demos); otherwise usage is None, as from a server that reports none.
    ``delay`` sleeps before each reply; ``stream_chunk`` streams text replies in pieces of that
    many characters to ``on_delta``.  ``record_requests=False`` leaves ``requests`` empty.
    """

    in_process = True  # answers without I/O: the loop calls it directly, no deadline thread

    def __init__(
        self,
        script: Sequence[ScriptEntry],
        *,
        model: str = "scripted",
        report_usage: bool = False,
        delay: float = 0.0,
        stream_chunk: int = 0,
        record_requests: bool = True,
    ) -> None:
        self.script = list(script)
        self.model = model
        self.report_usage = report_usage
        self.delay = delay
        self.stream_chunk = stream_chunk
        self.record_requests = record_requests
        self.requests: list[MockRequest] = []
        self._position = 0
        self._ids = 0
        self._prompt_size = _PromptSize()

    @property
    def remaining(self) -> int:
        return len(self.script) - self._position

    def skip(self, replies: int) -> None:
        """Go on after the first ``replies`` replies: a resumed run's model was asked that many
        times already (``state.llm_calls``), so a scripted run continues its script instead of
        starting it again (a demo resumed after ``drop_rows`` must not load the CSV anew)."""
        if replies < 0:
            raise ValueError(f"cannot skip {replies} replies: give 0 or more")
        self._position = min(len(self.script), self._position + replies)

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        started = time.perf_counter()
        if self.record_requests:
            self.requests.append(MockRequest(messages, tools))
        if self._position >= len(self.script):
            raise ScriptExhaustedError(
                f"MockLLMBackend script has {len(self.script)} replies and reply "
                f"{self._position + 1} was requested; add replies to the script or lower "
                f"max_steps. Last message sent: {_last_text(messages)!r}"
            )
        entry = self.script[self._position]
        self._position += 1
        if self.delay:
            time.sleep(self.delay)
        if callable(entry) and not isinstance(entry, BaseException):
            entry = cast(Callable[[Sequence[Message], Sequence[ToolSchema]], Any], entry)(
                messages, tools
            )
        if isinstance(entry, BaseException):
            raise entry
        response = self._to_response(entry)
        if on_delta is not None and response.text:
            chunk = self.stream_chunk or len(response.text)
            for i in range(0, len(response.text), chunk):
                on_delta("text", response.text[i : i + chunk])
        if self.report_usage and response.usage is None:
            response.usage = Usage(
                self._prompt_size(messages, tools),
                max(1, len(response.text) // 4) + 8,
                measured=True,
            )
        response.latency_ms = (time.perf_counter() - started) * 1000.0
        return response

    async def agenerate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        return self.generate(messages, tools=tools, on_delta=on_delta)

    def _next_id(self) -> str:
        self._ids += 1
        return f"call_{self._ids}"

    def _call(self, spec: dict[str, Any]) -> ToolCall:
        if "tool" not in spec:
            raise ValueError(f"script entry {spec!r} needs a 'tool' key")
        return ToolCall(  # tool, args, id, parse_error
            str(spec["tool"]),
            dict(spec.get("args") or {}),
            str(spec.get("id") or self._next_id()),
            spec.get("parse_error"),
        )

    def _to_response(self, entry: Any) -> LLMResponse:
        if isinstance(entry, dict):  # the usual entry first (the kinds cannot overlap)
            spec = cast(dict[str, Any], entry)
            # text, tool_calls, usage, stop_reason, latency_ms, model (positional: the usual path)
            return LLMResponse(
                str(spec.get("text", "")), [self._call(spec)], None, "tool_calls", 0.0, self.model
            )
        if isinstance(entry, LLMResponse):
            # A copy: usage and latency are set on the reply below, and a script (a module-level
            # list, say) may be replayed by other backends, which must not see this run's usage.
            return replace(entry, tool_calls=list(entry.tool_calls))
        if isinstance(entry, str):
            return LLMResponse(text=entry, stop_reason="stop", model=self.model)
        if isinstance(entry, list):
            specs = cast(list[dict[str, Any]], entry)
            return LLMResponse(
                tool_calls=[self._call(s) for s in specs],
                stop_reason="tool_calls",
                model=self.model,
            )
        raise TypeError(f"unsupported script entry {entry!r}; see MockLLMBackend's docstring")


def _last_text(messages: Sequence[Message]) -> str:
    if not messages:
        return ""
    text = messages[-1].content
    return text if len(text) <= 120 else text[:119] + "…"
