"""Backend for any OpenAI-compatible chat-completions server, through a client you pass in.

``OpenAIBackend(openai.OpenAI(...), "gpt-4o-mini")`` works with OpenAI itself and with servers
that speak its wire format (vLLM, llama.cpp, Ollama, LM Studio, OpenRouter, ...).  This module does
not import ``openai``: looplet_core has no runtime dependencies, and the SDK comes with the
``openai`` extra.  The SDK objects are read by duck typing (see ``_wire``).

Behaviour worth knowing:

* **No retries here.**  The client is wrapped with ``with_options(max_retries=0)`` so that a 429
  or a timeout reaches the loop at once; the loop retries with backoff, honours Retry-After, and
  records every attempt.
* **Streaming.**  ``stream=None`` (the default) streams exactly when the caller passes
  ``on_delta``; ``True`` always streams; ``False`` never does.  Streamed or not, the returned
  ``LLMResponse`` is the same, and ``on_delta`` always receives the whole text: in pieces as it
  arrives when streaming, in one piece after the reply otherwise.
* **Messages are converted on every call.**  Conversion is a few dict literals per message, far
  cheaper than the SDK's own serialisation of the same list, so a cache would buy nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from looplet_core.backends._wire import SDKBackend, decode_tool_args, field
from looplet_core.backends.base import DeltaCallback, LLMResponse, ToolSchema
from looplet_core.errors import ReplyCutOffError, ResponseFormatError
from looplet_core.messages import Message, ToolCall
from looplet_core.records import Usage

__all__ = ["AsyncOpenAIBackend", "OpenAIBackend", "to_openai_messages", "to_openai_tools"]

_PROVIDER = "openai-compatible"


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Neutral messages as chat-completions dicts.

    Assistant messages that call tools carry ``content: ""`` rather than null, because several
    compatible servers reject a null content.  Tool results carry only ``tool_call_id`` (``name``
    is not part of the tool message schema).  Reasoning is not sent back: OpenAI ignores it and
    some servers (DeepSeek) reject it in requests.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id or "",
                    "content": message.content,
                }
            )
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": message.content or "",
                    "tool_calls": [_wire_call(call) for call in message.tool_calls],
                }
            )
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def to_openai_tools(tools: Sequence[ToolSchema]) -> list[dict[str, Any]]:
    """Tool schemas as chat-completions ``tools``; schemas already in that shape pass through."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        if "function" in tool:
            out.append(dict(tool))
            continue
        function: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        out.append({"type": "function", "function": function})
    return out


def _wire_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.tool, "arguments": json.dumps(call.args, ensure_ascii=False)},
    }


def _new_call_id() -> str:
    # Some servers omit call ids; the loop needs one to pair the tool result with its call.
    return "call_" + uuid.uuid4().hex[:16]


def _usage(raw: object) -> Usage | None:
    if raw is None:
        return None
    prompt = field(raw, "prompt_tokens")
    completion = field(raw, "completion_tokens")
    if prompt is None and completion is None:
        return None
    return Usage(int(prompt or 0), int(completion or 0), measured=True)


def _text(raw: object) -> str:
    """Message content as text; a list of content parts (some servers) is joined."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        parts = [field(part, "text") for part in cast(list[object], raw)]
        return "".join(p for p in parts if isinstance(p, str))
    return str(raw)


def _reasoning(raw: object) -> str | None:
    for name in ("reasoning_content", "reasoning"):
        value = field(raw, name)
        if isinstance(value, str) and value:
            return value
    return None


def parse_completion(completion: object) -> LLMResponse:
    """A non-streamed chat completion as an LLMResponse; no choices is a ResponseFormatError."""
    choices = field(completion, "choices")
    if not choices:
        raise ResponseFormatError(
            f"{_PROVIDER} backend: the server's reply has no choices "
            f"(id={field(completion, 'id')!r}, model={field(completion, 'model')!r})"
        )
    choice = choices[0]
    message = field(choice, "message")
    if message is None:
        raise ResponseFormatError(f"{_PROVIDER} backend: the server's first choice has no message")
    calls: list[ToolCall] = []
    for raw in field(message, "tool_calls") or ():
        function = field(raw, "function")
        calls.append(
            decode_tool_args(
                str(field(function, "name") or ""),
                str(field(raw, "id") or _new_call_id()),
                field(function, "arguments"),
            )
        )
    return LLMResponse(
        text=_text(field(message, "content")),
        tool_calls=calls,
        usage=_usage(field(completion, "usage")),
        stop_reason=field(choice, "finish_reason"),
        model=field(completion, "model"),
        reasoning=_reasoning(message),
    )


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class StreamAssembler:
    """Builds one LLMResponse from streamed chunks, forwarding text to ``on_delta`` as it comes.

    Tool calls arrive as fragments keyed by ``index``: the id and name first, then the
    arguments in pieces.  A stream counts as complete once it carried a ``finish_reason`` or the
    final usage chunk; ending before either means it was cut, which is worth a retry.
    """

    def __init__(self, on_delta: DeltaCallback | None) -> None:
        self._on_delta = on_delta
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PendingCall] = {}
        self._usage: Usage | None = None
        self._finish: str | None = None
        self._model: str | None = None
        self._saw_choice = False
        self._saw_usage = False

    def feed(self, chunk: object) -> None:
        model = field(chunk, "model")
        if isinstance(model, str) and model:
            self._model = model
        usage = _usage(field(chunk, "usage"))
        if usage is not None:
            self._usage = usage
            self._saw_usage = True
        for choice in field(chunk, "choices") or ():
            if (field(choice, "index") or 0) != 0:
                continue
            self._saw_choice = True
            self._feed_delta(field(choice, "delta"))
            finish = field(choice, "finish_reason")
            if finish:
                self._finish = str(finish)

    def _feed_delta(self, delta: object) -> None:
        if delta is None:
            return
        text = field(delta, "content")
        if isinstance(text, str) and text:
            self._text.append(text)
            if self._on_delta is not None:
                self._on_delta("text", text)
        thought = _reasoning(delta)
        if thought:
            self._reasoning.append(thought)
            if self._on_delta is not None:
                self._on_delta("reasoning", thought)
        for position, raw in enumerate(field(delta, "tool_calls") or ()):
            index = field(raw, "index")
            pending = self._calls.setdefault(
                index if isinstance(index, int) else position, _PendingCall()
            )
            call_id = field(raw, "id")
            if isinstance(call_id, str) and call_id:
                pending.id = call_id
            function = field(raw, "function")
            name = field(function, "name")
            if isinstance(name, str) and name:
                # Most servers send the whole name once; some repeat it in every fragment.
                pending.name = name if name.startswith(pending.name) else pending.name + name
            arguments = field(function, "arguments")
            if isinstance(arguments, str):
                pending.arguments.append(arguments)

    @property
    def received_chars(self) -> int:
        return sum(map(len, self._text)) + sum(map(len, self._reasoning))

    def finish(self) -> LLMResponse:
        if self._finish is None and not self._saw_usage:
            received = self.received_chars
            raise ReplyCutOffError(
                f"{_PROVIDER} backend: the reply was cut off: the stream ended before the reply "
                f"was complete (no finish_reason; {received} characters received)",
                how="truncated",
                received_chars=received,
            )
        if not self._saw_choice:
            raise ResponseFormatError(f"{_PROVIDER} backend: the streamed reply held no choices")
        calls = [
            decode_tool_args(p.name, p.id or _new_call_id(), "".join(p.arguments))
            for _, p in sorted(self._calls.items())
        ]
        return LLMResponse(
            text="".join(self._text),
            tool_calls=calls,
            usage=self._usage,
            stop_reason=self._finish,
            model=self._model,
            reasoning="".join(self._reasoning) or None,
        )


class _OpenAIBase(SDKBackend):
    """Settings and request building shared by the sync and async backends."""

    provider = _PROVIDER

    def __init__(
        self,
        client: Any,
        model: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream: bool | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(client, model, stream=stream, extra_body=extra_body, timeout=timeout)
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _request(
        self, messages: Sequence[Message], tools: Sequence[ToolSchema], stream: bool
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": to_openai_messages(messages)}
        if tools:
            kwargs["tools"] = to_openai_tools(tools)
            # OpenAI's default when tools are given, said out loud: llama-cpp-python's server
            # leaves the tools out of the prompt entirely unless tool_choice is set.
            kwargs["tool_choice"] = "auto"
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return kwargs


class OpenAIBackend(_OpenAIBase):
    """Synchronous backend over an ``openai.OpenAI`` (or compatible) client.

    ``extra_body`` is merged into every request (e.g. ``{"top_k": 20}`` for vLLM, or
    ``{"max_completion_tokens": 512}`` for OpenAI reasoning models); ``timeout`` (seconds)
    overrides the client's own per request.
    """

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        stream = self._streams(on_delta)
        kwargs = self._request(messages, tools, stream)
        assembler = StreamAssembler(on_delta) if stream else None
        create = self._client.chat.completions.create
        return self._call(create, kwargs, parse_completion, assembler, on_delta)


class AsyncOpenAIBackend(_OpenAIBase):
    """Asynchronous twin of ``OpenAIBackend`` over an ``openai.AsyncOpenAI`` client."""

    async def agenerate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        stream = self._streams(on_delta)
        kwargs = self._request(messages, tools, stream)
        assembler = StreamAssembler(on_delta) if stream else None
        create = self._client.chat.completions.create
        return await self._acall(create, kwargs, parse_completion, assembler, on_delta)
