"""AnthropicBackend through the real ``anthropic`` SDK, with an in-process MockTransport server.

The SDK only accepts ``httpx2`` clients (it rejects legacy ``httpx`` objects), so that is the
transport here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from looplet_core.backends.anthropic import AnthropicBackend, AsyncAnthropicBackend
from looplet_core.errors import (
    BackendError,
    ContextLengthError,
    RateLimitError,
    ReplyCutOffError,
    ResponseFormatError,
    TransientBackendError,
)
from looplet_core.messages import Message, ToolCall

KEY = "sk-ant-test-secret-key-0000"
SEARCH = {
    "name": "search",
    "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}
CONVERSATION = [
    Message("system", "You are terse."),
    Message("user", "Find cats and dogs."),
    Message(
        "assistant",
        "Searching both.",
        tool_calls=(
            ToolCall("search", {"query": "cats"}, id="toolu_1"),
            ToolCall("search", {"query": "dogs"}, id="toolu_2"),
        ),
    ),
    Message("tool", '["cat-1"]', tool_call_id="toolu_1"),
    Message("tool", '["dog-1"]', tool_call_id="toolu_2"),
    Message("user", "Be brief."),
]

Handler = Callable[[httpx2.Request], httpx2.Response]


def message(
    content: list[dict[str, Any]], *, stop: str = "end_turn", usage: dict | None = None
) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-served",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 30, "output_tokens": 9},
    }


def events(*items: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in items).encode()


class Recorder:
    def __init__(self, reply: Handler) -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        return self.reply(request)

    @property
    def calls(self) -> int:
        return len(self.bodies)


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[AnthropicBackend, Recorder]]]:
    clients: list[anthropic.Anthropic] = []

    def build(reply: Handler, **options: Any) -> tuple[AnthropicBackend, Recorder]:
        recorder = Recorder(reply)
        client = anthropic.Anthropic(
            api_key=KEY,
            base_url="http://llm.test",
            http_client=httpx2.Client(transport=httpx2.MockTransport(recorder)),
        )
        clients.append(client)
        return AnthropicBackend(client, "claude-test", **options), recorder

    yield build
    for client in clients:
        client.close()


def json_reply(body: dict[str, Any], status: int = 200, **kw: Any) -> Handler:
    return lambda request: httpx2.Response(status, json=body, **kw)


def stream_reply(body: bytes | Iterator[bytes]) -> Handler:
    headers = {"content-type": "text/event-stream"}
    return lambda request: httpx2.Response(200, headers=headers, content=body)


def error_body(kind: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text}}


# -- replies ------------------------------------------------------------------------------------


def test_tool_use_reply_becomes_tool_calls_with_usage_including_cache(make):
    content = [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_9", "name": "search", "input": {"query": "cats"}},
    ]
    usage = {
        "input_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens": 9,
    }
    backend, server = make(json_reply(message(content, stop="tool_use", usage=usage)))

    reply = backend.generate(CONVERSATION, tools=[SEARCH])

    assert reply.text == "Looking."
    assert reply.tool_calls == [ToolCall("search", {"query": "cats"}, id="toolu_9")]
    assert reply.usage is not None and (reply.usage.input_tokens, reply.usage.output_tokens) == (
        125,
        9,
    )
    assert (reply.stop_reason, reply.model) == ("tool_use", "claude-served")
    assert reply.latency_ms > 0
    assert server.calls == 1


def test_request_json_merges_tool_results_into_one_user_turn_and_hoists_system(make):
    backend, server = make(json_reply(message([{"type": "text", "text": "ok"}])), temperature=0.3)

    backend.generate(CONVERSATION, tools=[SEARCH])

    assert server.bodies == [
        {
            "model": "claude-test",
            "max_tokens": 4096,
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Find cats and dogs."}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Searching both."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "search",
                            "input": {"query": "cats"},
                        },
                        {
                            "type": "tool_use",
                            "id": "toolu_2",
                            "name": "search",
                            "input": {"query": "dogs"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": '["cat-1"]'},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": '["dog-1"]'},
                        {"type": "text", "text": "Be brief."},
                    ],
                },
            ],
            "tools": [
                {
                    "name": "search",
                    "description": "Search the web.",
                    "input_schema": SEARCH["parameters"],
                }
            ],
            "temperature": 0.3,
        }
    ]


def test_later_system_messages_stay_in_place_as_user_text(make):
    backend, server = make(json_reply(message([{"type": "text", "text": "ok"}])))
    backend.generate(
        [
            Message("user", "a"),
            Message("assistant", "b"),
            Message("system", "note"),
            Message("user", "c"),
        ],
        tools=[],
    )
    body = server.bodies[0]
    assert "system" not in body and "tools" not in body
    assert body["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": "note"}, {"type": "text", "text": "c"}],
    }


def test_thinking_becomes_reasoning_and_is_echoed_back_with_its_signature(make):
    content = [
        {"type": "thinking", "thinking": "Cats first.", "signature": "sig-abc"},
        {"type": "tool_use", "id": "toolu_7", "name": "search", "input": {"query": "cats"}},
    ]
    replies = iter([message(content, stop="tool_use"), message([{"type": "text", "text": "done"}])])
    backend, server = make(lambda request: httpx2.Response(200, json=next(replies)))
    thinking = {"type": "enabled", "budget_tokens": 1024}
    backend.thinking = thinking

    first = backend.generate([Message("user", "go")], tools=[SEARCH])
    assert first.reasoning == "Cats first."
    backend.generate(
        [
            Message("user", "go"),
            Message("assistant", "", tool_calls=tuple(first.tool_calls), reasoning=first.reasoning),
            Message("tool", "[]", tool_call_id="toolu_7"),
        ],
        tools=[SEARCH],
    )

    assert server.bodies[1]["thinking"] == thinking
    assert server.bodies[1]["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Cats first.", "signature": "sig-abc"},
        {"type": "tool_use", "id": "toolu_7", "name": "search", "input": {"query": "cats"}},
    ]


def test_reply_without_content_is_a_response_format_error(make):
    backend, _ = make(
        json_reply({"id": "msg_1", "type": "message", "role": "assistant", "model": "m"})
    )
    with pytest.raises(ResponseFormatError, match="no content"):
        backend.generate([Message("user", "x")], tools=[])


# -- errors -------------------------------------------------------------------------------------


def test_429_is_rate_limit_error_with_retry_after_and_no_sdk_retry(make):
    backend, server = make(
        json_reply(error_body("rate_limit_error", "slow down"), 429, headers={"retry-after": "4"})
    )
    with pytest.raises(RateLimitError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert caught.value.retry_after == 4.0
    assert "slow down" in str(caught.value)
    assert server.calls == 1


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (529, "overloaded_error")])
def test_5xx_and_overloaded_are_transient(make, status, kind):
    backend, server = make(json_reply(error_body(kind, "try later"), status))
    with pytest.raises(TransientBackendError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert caught.value.status == status
    assert server.calls == 1


def test_timeout_is_transient(make):
    def fail(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    backend, server = make(fail)
    with pytest.raises(TransientBackendError):
        backend.generate([Message("user", "x")], tools=[])
    assert server.calls == 1


def test_prompt_too_long_is_context_length_error(make):
    body = error_body("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")
    backend, _ = make(json_reply(body, 400))
    with pytest.raises(ContextLengthError):
        backend.generate([Message("user", "x")], tools=[])


def test_other_4xx_is_backend_error_without_the_key(make):
    body = error_body("authentication_error", f"invalid x-api-key {KEY}")
    backend, _ = make(json_reply(body, 401))
    with pytest.raises(BackendError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert type(caught.value) is BackendError and caught.value.status == 401
    assert KEY not in str(caught.value) and "invalid x-api-key" in str(caught.value)


# -- streaming ----------------------------------------------------------------------------------

START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-served",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1},
    },
}
BODY = [
    START,
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "Hmm, "},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "cats."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "sig-1"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "On "}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "it."}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_s", "name": "search", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"query"'},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ': "cats"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 21},
    },
    {"type": "message_stop"},
]


def test_streaming_sends_deltas_and_assembles_the_same_response(make):
    backend, server = make(stream_reply(events(*BODY)))
    deltas: list[tuple[str, str]] = []

    reply = backend.generate(
        [Message("user", "x")], tools=[SEARCH], on_delta=lambda k, t: deltas.append((k, t))
    )

    assert deltas == [
        ("reasoning", "Hmm, "),
        ("reasoning", "cats."),
        ("text", "On "),
        ("text", "it."),
    ]
    assert (reply.text, reply.reasoning) == ("On it.", "Hmm, cats.")
    assert reply.tool_calls == [ToolCall("search", {"query": "cats"}, id="toolu_s")]
    assert reply.usage is not None and (reply.usage.input_tokens, reply.usage.output_tokens) == (
        25,
        21,
    )
    assert (reply.stop_reason, reply.model) == ("tool_use", "claude-served")
    assert server.bodies[0]["stream"] is True


def test_streamed_malformed_tool_input_sets_parse_error(make):
    broken = [
        *BODY[:12],
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": '},
        },
        *BODY[-3:],
    ]
    backend, _ = make(stream_reply(events(*broken)), stream=True)
    [call] = backend.generate([Message("user", "x")], tools=[SEARCH]).tool_calls
    assert call.args == {} and call.parse_error is not None and "not valid JSON" in call.parse_error


def test_stream_without_message_stop_is_transient(make):
    backend, server = make(stream_reply(events(*BODY[:9])))
    with pytest.raises(ReplyCutOffError, match="message_stop") as caught:
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)
    assert caught.value.how == "truncated"
    assert server.calls == 1


def test_stream_broken_by_the_transport_is_transient(make):
    def body() -> Iterator[bytes]:
        yield events(*BODY[:9])
        raise httpx2.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    backend, _ = make(stream_reply(body()))
    with pytest.raises(ReplyCutOffError, match="dropped the connection") as caught:
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)
    assert caught.value.how == "dropped" and caught.value.received_chars > 0


def test_overloaded_error_event_inside_a_stream_is_transient(make):
    failing = [*BODY[:9], error_body("overloaded_error", "Overloaded")]
    backend, _ = make(stream_reply(events(*failing)))
    with pytest.raises(TransientBackendError, match="Overloaded"):
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)


# -- async --------------------------------------------------------------------------------------


@pytest.fixture
async def amake():
    clients: list[anthropic.AsyncAnthropic] = []

    def build(reply: Handler, **options: Any) -> tuple[AsyncAnthropicBackend, Recorder]:
        recorder = Recorder(reply)
        client = anthropic.AsyncAnthropic(
            api_key=KEY,
            base_url="http://llm.test",
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(recorder)),
        )
        clients.append(client)
        return AsyncAnthropicBackend(client, "claude-test", **options), recorder

    yield build
    for client in clients:
        await client.close()


async def test_async_backend_streams_and_parses_like_the_sync_one(amake):
    async def body():
        yield events(*BODY)

    backend, _ = amake(stream_reply(body()))
    deltas: list[tuple[str, str]] = []
    reply = await backend.agenerate(
        [Message("user", "x")], tools=[SEARCH], on_delta=lambda k, t: deltas.append((k, t))
    )
    assert "".join(t for k, t in deltas if k == "text") == reply.text == "On it."
    assert reply.tool_calls == [ToolCall("search", {"query": "cats"}, id="toolu_s")]


async def test_async_errors_map_like_the_sync_ones(amake):
    backend, server = amake(json_reply(error_body("overloaded_error", "busy"), 529))
    with pytest.raises(TransientBackendError):
        await backend.agenerate([Message("user", "x")], tools=[])
    assert server.calls == 1
