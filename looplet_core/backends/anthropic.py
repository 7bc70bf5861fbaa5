"""Backend for Anthropic's Messages API, through an ``anthropic.Anthropic`` client you pass in.

This module never imports ``anthropic`` (the SDK comes with the ``anthropic`` extra).  It
translates the neutral conversation into Anthropic's shape:

* leading system messages become the ``system`` parameter; a system message later in the
  conversation is sent as user text in place, because Anthropic has no mid-conversation system
  role and hoisting it would reorder what the model saw;
* tool results become ``tool_result`` blocks in a user turn, consecutive results (and any user
  text after them) merged into one turn with the results first, as the API requires;
* assistant tool calls become ``tool_use`` blocks; an assistant turn with no text and no calls is
  dropped, since the API rejects empty content;
* extended-thinking blocks come back as ``LLMResponse.reasoning``.  The API also wants those blocks,
  signature included, echoed in the assistant turn of a tool-use loop, and the neutral ``Message``
  has no place for a signature, so the backend remembers the raw blocks of its recent replies by
  their first tool-use id and re-attaches them.  After a process restart they are gone; turn
  thinking off for runs that must resume across processes.

Retries (none: the loop owns them), streaming and error mapping are as in the OpenAI backend.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from looplet_core.backends._wire import SDKBackend, decode_tool_args, field
from looplet_core.backends.base import DeltaCallback, LLMResponse, ToolSchema
from looplet_core.errors import ReplyCutOffError, ResponseFormatError
from looplet_core.messages import Message, ToolCall
from looplet_core.records import Usage

__all__ = [
    "AnthropicBackend",
    "AsyncAnthropicBackend",
    "to_anthropic_messages",
    "to_anthropic_tools",
]

_PROVIDER = "anthropic"
_THINKING_MEMORY = 256
_PROMPT_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")

Block = dict[str, Any]


def to_anthropic_tools(tools: Sequence[ToolSchema]) -> list[dict[str, Any]]:
    """Tool schemas in Anthropic's shape; schemas that already have ``input_schema`` pass."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        if "input_schema" in tool:
            out.append(dict(tool))
            continue
        converted: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            converted["description"] = tool["description"]
        converted["input_schema"] = tool.get("parameters") or {"type": "object", "properties": {}}
        out.append(converted)
    return out


def to_anthropic_messages(
    messages: Sequence[Message], thinking: Mapping[str, list[Block]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """``(system, messages)`` for the Messages API; ``thinking`` maps a tool-use id to the
    thinking blocks to send back before that call."""
    system: list[str] = []
    turns: list[tuple[str, list[Block]]] = []
    for message in messages:
        if message.role == "system" and not turns:
            if message.content:
                system.append(message.content)
            continue
        role, blocks = _blocks(message, thinking or {})
        if not blocks and role == "assistant":
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    out: list[dict[str, Any]] = []
    for role, blocks in turns:
        if role == "user":
            # tool_result blocks must open the user turn that answers a tool_use turn.
            blocks.sort(key=lambda block: block["type"] != "tool_result")
            if not blocks:
                blocks.append({"type": "text", "text": "(empty message)"})
        out.append({"role": role, "content": blocks})
    return "\n\n".join(system), out


def _blocks(message: Message, thinking: Mapping[str, list[Block]]) -> tuple[str, list[Block]]:
    text: list[Block] = [{"type": "text", "text": message.content}] if message.content else []
    if message.role == "tool":
        result: Block = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        if message.content:
            result["content"] = message.content
        return "user", [result]
    if message.role != "assistant":
        return "user", text
    blocks: list[Block] = []
    if message.tool_calls:
        blocks.extend(thinking.get(message.tool_calls[0].id, ()))
    blocks.extend(text)
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.tool, "input": call.args}
        for call in message.tool_calls
    )
    return "assistant", blocks


def _usage(raw: object) -> Usage | None:
    if raw is None:
        return None
    fresh = field(raw, "input_tokens")
    output = field(raw, "output_tokens")
    if fresh is None and output is None:
        return None
    # The prompt's size is all three: cached reads and writes are part of what the model saw.
    prompt = sum(int(field(raw, name) or 0) for name in _PROMPT_FIELDS)
    return Usage(prompt, int(output or 0), measured=True)


def parse_message(reply: object) -> tuple[LLMResponse, list[Block]]:
    """A Messages API reply as an LLMResponse, plus its raw thinking blocks (for echoing back)."""
    content = field(reply, "content")
    if content is None:
        raise ResponseFormatError(
            f"{_PROVIDER} backend: the server's reply has no content "
            f"(id={field(reply, 'id')!r}, type={field(reply, 'type')!r})"
        )
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[Block] = []
    for block in cast(Sequence[object], content):
        kind = field(block, "type")
        if kind == "text":
            text.append(str(field(block, "text") or ""))
        elif kind == "tool_use":
            name = str(field(block, "name") or "")
            calls.append(
                decode_tool_args(name, str(field(block, "id") or ""), field(block, "input"))
            )
        elif kind == "thinking":
            reasoning.append(str(field(block, "thinking") or ""))
            thinking.append(
                {
                    "type": "thinking",
                    "thinking": field(block, "thinking") or "",
                    "signature": field(block, "signature") or "",
                }
            )
        elif kind == "redacted_thinking":
            thinking.append({"type": "redacted_thinking", "data": field(block, "data") or ""})
    response = LLMResponse(
        text="".join(text),
        tool_calls=calls,
        usage=_usage(field(reply, "usage")),
        stop_reason=field(reply, "stop_reason"),
        model=field(reply, "model"),
        reasoning="".join(reasoning) or None,
    )
    return response, thinking


class StreamAssembler:
    """Rebuilds the reply from stream events, forwarding text and thinking to ``on_delta``.

    A stream is complete only once ``message_stop`` arrived; ending earlier means it was cut.
    """

    def __init__(
        self,
        on_delta: DeltaCallback | None,
        remember: Callable[[LLMResponse, list[Block]], LLMResponse] | None = None,
    ) -> None:
        self._on_delta = on_delta
        self._remember = remember
        self._blocks: dict[int, Block] = {}
        self._received = 0
        self._json: dict[int, list[str]] = {}
        self._message: Block = {"content": []}
        self._usage: dict[str, Any] = {}
        self._done = False

    def feed(self, event: object) -> None:
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            self._message["model"] = field(message, "model")
            self._message["id"] = field(message, "id")
            self._merge_usage(field(message, "usage"))
        elif kind == "content_block_start":
            self._start(int(field(event, "index") or 0), field(event, "content_block"))
        elif kind == "content_block_delta":
            self._delta(int(field(event, "index") or 0), field(event, "delta"))
        elif kind == "message_delta":
            stop = field(field(event, "delta"), "stop_reason")
            if stop:
                self._message["stop_reason"] = stop
            self._merge_usage(field(event, "usage"))
        elif kind == "message_stop":
            self._done = True

    def _start(self, index: int, block: object) -> None:
        kind = str(field(block, "type") or "")
        started: Block = {"type": kind}
        for name in ("id", "name", "text", "thinking", "signature", "data", "input"):
            value = field(block, name)
            if value is not None:
                started[name] = value
        self._blocks[index] = started
        if kind == "text" and started.get("text"):
            self._emit("text", str(started["text"]))
        if kind == "thinking" and started.get("thinking"):
            self._emit("reasoning", str(started["thinking"]))

    def _delta(self, index: int, delta: object) -> None:
        block = self._blocks.setdefault(index, {"type": "text"})
        kind = field(delta, "type")
        if kind == "text_delta":
            piece = str(field(delta, "text") or "")
            block["text"] = str(block.get("text") or "") + piece
            self._emit("text", piece)
        elif kind == "thinking_delta":
            piece = str(field(delta, "thinking") or "")
            block["thinking"] = str(block.get("thinking") or "") + piece
            self._emit("reasoning", piece)
        elif kind == "signature_delta":
            piece = str(field(delta, "signature") or "")
            block["signature"] = str(block.get("signature") or "") + piece
        elif kind == "input_json_delta":
            self._json.setdefault(index, []).append(str(field(delta, "partial_json") or ""))

    @property
    def received_chars(self) -> int:
        return self._received

    def _emit(self, kind: str, piece: str) -> None:
        self._received += len(piece)
        if piece and self._on_delta is not None:
            self._on_delta(kind, piece)

    def _merge_usage(self, usage: object) -> None:
        for name in (*_PROMPT_FIELDS, "output_tokens"):
            value = field(usage, name)
            if value is not None:
                self._usage[name] = value

    def finish(self) -> LLMResponse:
        if not self._done:
            raise ReplyCutOffError(
                f"{_PROVIDER} backend: the reply was cut off: the stream ended before "
                f"message_stop ({len(self._blocks)} content blocks, {self._received} characters "
                "received)",
                how="truncated",
                received_chars=self._received,
            )
        for index, parts in self._json.items():
            # The full input arrives as JSON fragments; decode_tool_args reports bad JSON.
            self._blocks[index]["input"] = "".join(parts)
        self._message["content"] = [self._blocks[i] for i in sorted(self._blocks)]
        self._message["usage"] = self._usage or None
        response, thinking = parse_message(self._message)
        return self._remember(response, thinking) if self._remember else response


class _AnthropicBase(SDKBackend):
    """Settings, request building and thinking memory shared by both backends."""

    provider = _PROVIDER

    def __init__(
        self,
        client: Any,
        model: str,
        *,
        max_tokens: int = 4096,
        temperature: float | None = None,
        thinking: Mapping[str, Any] | None = None,
        stream: bool | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(client, model, stream=stream, extra_body=extra_body, timeout=timeout)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.thinking: dict[str, Any] | None = dict(thinking) if thinking else None
        self._thinking_blocks: OrderedDict[str, list[Block]] = OrderedDict()

    def _request(
        self, messages: Sequence[Message], tools: Sequence[ToolSchema], stream: bool
    ) -> dict[str, Any]:
        system, wire = to_anthropic_messages(messages, self._thinking_blocks)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": wire,
        }
        if system:
            kwargs["system"] = system
        if tools:
            kwargs["tools"] = to_anthropic_tools(tools)
        if self.thinking:
            kwargs["thinking"] = self.thinking
        if stream:
            kwargs["stream"] = True
        # Recent SDKs dropped the ``temperature`` keyword; the API still takes it in the body.
        body = {"temperature": self.temperature} if self.temperature is not None else {}
        body.update(self.extra_body)
        if body:
            kwargs["extra_body"] = body
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return kwargs

    def _remember(self, response: LLMResponse, thinking: list[Block]) -> LLMResponse:
        if thinking and response.tool_calls:
            self._thinking_blocks[response.tool_calls[0].id] = thinking
            while len(self._thinking_blocks) > _THINKING_MEMORY:
                self._thinking_blocks.popitem(last=False)
        return response

    def _parse(self, reply: object) -> LLMResponse:
        return self._remember(*parse_message(reply))

    def _prepare(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None,
    ) -> tuple[dict[str, Any], StreamAssembler | None]:
        stream = self._streams(on_delta)
        assembler = StreamAssembler(on_delta, self._remember) if stream else None
        return self._request(messages, tools, stream), assembler


class AnthropicBackend(_AnthropicBase):
    """Synchronous backend over an ``anthropic.Anthropic`` client.

    ``thinking`` is passed through (e.g. ``{"type": "enabled", "budget_tokens": 2048}``);
    ``extra_body`` is merged into every request; ``timeout`` (seconds) overrides the client's.
    """

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        kwargs, assembler = self._prepare(messages, tools, on_delta)
        create = self._client.messages.create
        return self._call(create, kwargs, self._parse, assembler, on_delta)


class AsyncAnthropicBackend(_AnthropicBase):
    """Asynchronous twin of ``AnthropicBackend`` over an ``anthropic.AsyncAnthropic`` client."""

    async def agenerate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        kwargs, assembler = self._prepare(messages, tools, on_delta)
        create = self._client.messages.create
        return await self._acall(create, kwargs, self._parse, assembler, on_delta)
