"""OpenAIBackend through the real ``openai`` SDK, with an in-process MockTransport as the server.

Every test runs over both transports the SDK accepts: ``httpx2`` (its default) and legacy
``httpx`` clients passed as ``http_client``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import openai
import pytest

from looplet_core.backends.openai import AsyncOpenAIBackend, OpenAIBackend
from looplet_core.errors import (
    BackendError,
    ContextLengthError,
    RateLimitError,
    ReplyCutOffError,
    ResponseFormatError,
    TransientBackendError,
)
from looplet_core.messages import Message, ToolCall

SEARCH = {
    "name": "search",
    "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}
CONVERSATION = [
    Message("system", "You are terse."),
    Message("user", "Find cats."),
    Message("assistant", "", tool_calls=(ToolCall("search", {"query": "cats"}, id="call_1"),)),
    Message("tool", '["cat-1"]', tool_call_id="call_1", name="search"),
]

Handler = Callable[[Any], Any]


def completion(message: dict[str, Any], *, usage: bool = True, finish: str = "stop") -> dict:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "served-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
    return body


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict | None = None
) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "served-model",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": usage,
    }


class Recorder:
    """The 'server': answers with ``reply(request)`` and keeps every request body it saw."""

    def __init__(self, http: ModuleType, reply: Handler) -> None:
        self.http = http
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: Any) -> Any:
        self.bodies.append(json.loads(request.content))
        return self.reply(request)

    @property
    def calls(self) -> int:
        return len(self.bodies)


@pytest.fixture(params=["httpx2", "httpx"])
def http(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


@pytest.fixture
def make(http: ModuleType) -> Iterator[Callable[..., tuple[OpenAIBackend, Recorder]]]:
    """``make(reply, **backend_options)`` -> (backend, recorder); clients close at teardown."""
    clients: list[Any] = []

    def build(reply: Handler, **options: Any) -> tuple[OpenAIBackend, Recorder]:
        recorder = Recorder(http, reply)
        transport = http.MockTransport(recorder)
        client = openai.OpenAI(
            api_key="sk-test-secret-key-123456",
            base_url="http://llm.test/v1",
            http_client=http.Client(transport=transport),
        )
        clients.append(client)
        return OpenAIBackend(client, "test-model", **options), recorder

    yield build
    for client in clients:
        client.close()


def json_reply(http: ModuleType, body: dict[str, Any], status: int = 200, **kw: Any) -> Handler:
    return lambda request: http.Response(status, json=body, **kw)


# -- replies ------------------------------------------------------------------------------------


def test_tool_call_reply_becomes_tool_calls_with_usage_and_stop_reason(make, http):
    calls = [
        {
            "id": "call_9",
            "type": "function",
            "function": {"name": "search", "arguments": '{"query": "cats"}'},
        }
    ]
    backend, server = make(
        json_reply(http, completion({"content": None, "tool_calls": calls}, finish="tool_calls"))
    )

    reply = backend.generate(CONVERSATION, tools=[SEARCH])

    assert reply.tool_calls == [ToolCall("search", {"query": "cats"}, id="call_9")]
    assert reply.text == ""
    assert reply.usage is not None and (reply.usage.input_tokens, reply.usage.output_tokens) == (
        42,
        7,
    )
    assert reply.usage.measured
    assert reply.stop_reason == "tool_calls"
    assert reply.model == "served-model"
    assert reply.latency_ms > 0
    assert server.calls == 1


def test_request_json_is_chat_completions_shape_with_empty_content_for_tool_calls(make, http):
    backend, server = make(
        json_reply(http, completion({"content": "ok"})),
        temperature=0.2,
        max_tokens=64,
        extra_body={"top_k": 5},
    )

    backend.generate(CONVERSATION, tools=[SEARCH])

    assert server.bodies == [
        {
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Find cats."},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "search", "arguments": '{"query": "cats"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '["cat-1"]'},
            ],
            "tools": [{"type": "function", "function": SEARCH}],
            "tool_choice": "auto",  # llama.cpp's server ignores tools unless it is said
            "temperature": 0.2,
            "max_tokens": 64,
            "top_k": 5,
        }
    ]


def test_tools_key_is_left_out_when_there_are_no_tools(make, http):
    backend, server = make(json_reply(http, completion({"content": "hi"})))
    backend.generate([Message("user", "hi")], tools=[])
    assert "tools" not in server.bodies[0]
    assert "tool_choice" not in server.bodies[0]
    assert "stream" not in server.bodies[0]


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_reasoning_is_read_from_either_field_servers_use(make, http, key):
    backend, _ = make(json_reply(http, completion({"content": "42", key: "6 times 7"})))
    reply = backend.generate([Message("user", "?")], tools=[])
    assert (reply.text, reply.reasoning) == ("42", "6 times 7")


def test_missing_usage_is_none_so_the_loop_estimates(make, http):
    backend, _ = make(json_reply(http, completion({"content": "hi"}, usage=False)))
    assert backend.generate([Message("user", "hi")], tools=[]).usage is None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"query": "cats"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_bad_tool_arguments_set_parse_error_instead_of_raising(make, http, arguments, expected):
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "search", "arguments": arguments}}
    ]
    backend, _ = make(json_reply(http, completion({"content": None, "tool_calls": calls})))

    [call] = backend.generate([Message("user", "x")], tools=[SEARCH]).tool_calls

    assert (call.tool, call.id, call.args) == ("search", "c1", {})
    assert call.parse_error is not None
    assert expected in call.parse_error and "search" in call.parse_error
    assert arguments in call.parse_error  # the snippet shows what the model sent


def test_empty_arguments_mean_no_arguments_and_missing_ids_are_generated(make, http):
    calls = [{"type": "function", "function": {"name": "now", "arguments": ""}}]
    backend, _ = make(json_reply(http, completion({"content": None, "tool_calls": calls})))
    [call] = backend.generate([Message("user", "x")], tools=[]).tool_calls
    assert (call.tool, call.args, call.parse_error) == ("now", {}, None)
    assert call.id.startswith("call_")


def test_reply_without_choices_is_a_response_format_error(make, http):
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
    backend, _ = make(json_reply(http, body))
    with pytest.raises(ResponseFormatError, match="no choices"):
        backend.generate([Message("user", "x")], tools=[])


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
def test_429_is_rate_limit_error_with_retry_after_and_no_sdk_retry(make, http, headers, expected):
    error = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}}
    backend, server = make(json_reply(http, error, 429, headers=headers))

    with pytest.raises(RateLimitError) as caught:
        backend.generate([Message("user", "x")], tools=[])

    assert caught.value.retry_after == expected
    assert caught.value.status == 429
    assert "Rate limit reached" in str(caught.value)
    assert server.calls == 1


def test_retry_after_may_be_an_http_date(make, http):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    backend, _ = make(
        json_reply(http, {"error": {"message": "later"}}, 429, headers={"Retry-After": when})
    )
    with pytest.raises(RateLimitError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 30


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient_and_the_sdk_does_not_retry(make, http, status):
    backend, server = make(json_reply(http, {"error": {"message": "boom"}}, status))
    with pytest.raises(TransientBackendError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert caught.value.status == status
    assert server.calls == 1


@pytest.mark.parametrize("error", ["ReadTimeout", "ConnectError", "RemoteProtocolError"])
def test_timeouts_and_connection_failures_are_transient(make, http, error):
    def fail(request: Any) -> Any:
        raise getattr(http, error)("simulated", request=request)

    backend, server = make(fail)
    with pytest.raises(TransientBackendError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert not isinstance(caught.value, RateLimitError)
    assert server.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        {
            "message": "This model's maximum context length is 8192 tokens.",
            "code": "context_length_exceeded",
        },
        {
            "message": "the request exceeds the available context size",
            "type": "exceed_context_size_error",
        },
        {"message": "Input is too long for requested model."},
    ],
)
def test_context_overflow_400_is_context_length_error(make, http, error):
    backend, _ = make(json_reply(http, {"error": error}, 400))
    with pytest.raises(ContextLengthError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert caught.value.status == 400


def test_other_4xx_is_backend_error_with_status_and_server_message_without_the_key(make, http):
    error = {"error": {"message": "Incorrect API key provided: sk-test-secret-key-123456."}}
    backend, server = make(json_reply(http, error, 401))

    with pytest.raises(BackendError) as caught:
        backend.generate([Message("user", "x")], tools=[])

    assert type(caught.value) is BackendError
    assert caught.value.status == 401
    assert "Incorrect API key provided" in str(caught.value)
    assert "sk-test-secret" not in str(caught.value)
    assert server.calls == 1


def test_plain_400_is_not_mistaken_for_context_length(make, http):
    backend, _ = make(json_reply(http, {"error": {"message": "Unknown parameter: 'foo'."}}, 400))
    with pytest.raises(BackendError) as caught:
        backend.generate([Message("user", "x")], tools=[])
    assert type(caught.value) is BackendError


def test_programming_errors_are_not_disguised_as_backend_errors():
    def create(**kwargs: Any) -> Any:
        raise KeyError("bug")

    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    with pytest.raises(KeyError):
        OpenAIBackend(client, "m").generate([Message("user", "x")], tools=[])


# -- streaming ----------------------------------------------------------------------------------

STREAM = sse(
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Let me "}),
    chunk({"reasoning_content": "look."}),
    chunk({"content": "Search"}),
    chunk({"content": "ing."}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "search", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"que'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "sea", "arguments": "{}"},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 1, "function": {"name": "rch"}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ry": "cats"}'}}]}),
    chunk({}, "tool_calls"),
    chunk(None, usage={"prompt_tokens": 11, "completion_tokens": 13, "total_tokens": 24}),
)


def stream_reply(http: ModuleType, body: bytes | Iterator[bytes]) -> Handler:
    headers = {"content-type": "text/event-stream"}
    return lambda request: http.Response(200, headers=headers, content=body)


def test_streaming_sends_deltas_and_assembles_the_same_response(make, http):
    backend, server = make(stream_reply(http, STREAM))
    deltas: list[tuple[str, str]] = []

    reply = backend.generate(
        CONVERSATION, tools=[SEARCH], on_delta=lambda k, t: deltas.append((k, t))
    )

    assert deltas == [
        ("reasoning", "Let me "),
        ("reasoning", "look."),
        ("text", "Search"),
        ("text", "ing."),
    ]
    assert reply.text == "Searching."
    assert reply.reasoning == "Let me look."
    assert reply.tool_calls == [
        ToolCall("search", {"query": "cats"}, id="call_a"),
        ToolCall("search", {}, id="call_b"),
    ]
    assert reply.usage is not None and (reply.usage.input_tokens, reply.usage.output_tokens) == (
        11,
        13,
    )
    assert (reply.stop_reason, reply.model) == ("tool_calls", "served-model")
    assert server.bodies[0]["stream"] is True
    assert server.bodies[0]["stream_options"] == {"include_usage": True}


def test_stream_true_streams_even_without_a_listener(make, http):
    backend, server = make(stream_reply(http, STREAM), stream=True)
    reply = backend.generate([Message("user", "x")], tools=[SEARCH])
    assert reply.text == "Searching." and len(reply.tool_calls) == 2
    assert server.bodies[0]["stream"] is True


def test_stream_false_still_hands_the_listener_the_whole_text_once(make, http):
    body = completion({"content": "all at once", "reasoning_content": "hm"})
    backend, server = make(json_reply(http, body), stream=False)
    deltas: list[tuple[str, str]] = []
    backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: deltas.append((k, t)))
    assert deltas == [("reasoning", "hm"), ("text", "all at once")]
    assert "stream" not in server.bodies[0]


def test_stream_that_ends_before_finish_reason_is_transient(make, http):
    cut = sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "half a"}), done=False)
    backend, server = make(stream_reply(http, cut))
    with pytest.raises(ReplyCutOffError, match="stream ended") as caught:
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)
    assert caught.value.how == "truncated"
    assert server.calls == 1


def test_stream_broken_by_the_transport_is_transient(make, http):
    def body() -> Iterator[bytes]:
        yield sse(chunk({"content": "half a"}), done=False)
        raise http.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    backend, _ = make(stream_reply(http, body()))
    with pytest.raises(ReplyCutOffError, match="dropped the connection") as caught:
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)
    assert caught.value.how == "dropped" and caught.value.received_chars > 0


def test_error_event_inside_a_stream_is_translated(make, http):
    broken = sse(
        chunk({"content": "partial"}), {"error": {"message": "overloaded", "type": "server_error"}}
    )
    backend, _ = make(stream_reply(http, broken))
    with pytest.raises(TransientBackendError, match="overloaded"):
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)


def test_stream_with_usage_but_no_choices_is_a_response_format_error(make, http):
    empty = sse(chunk(None, usage={"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}))
    backend, _ = make(stream_reply(http, empty))
    with pytest.raises(ResponseFormatError):
        backend.generate([Message("user", "x")], tools=[], on_delta=lambda k, t: None)


# -- async --------------------------------------------------------------------------------------


@pytest.fixture
async def amake(http: ModuleType):
    clients: list[Any] = []

    def build(reply: Handler, **options: Any) -> tuple[AsyncOpenAIBackend, Recorder]:
        recorder = Recorder(http, reply)
        client = openai.AsyncOpenAI(
            api_key="sk-test-secret-key-123456",
            base_url="http://llm.test/v1",
            http_client=http.AsyncClient(transport=http.MockTransport(recorder)),
        )
        clients.append(client)
        return AsyncOpenAIBackend(client, "test-model", **options), recorder

    yield build
    for client in clients:
        await client.close()


async def test_async_backend_parses_tool_calls_like_the_sync_one(amake, http):
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "search", "arguments": '{"query": "x"}'},
        }
    ]
    backend, server = amake(json_reply(http, completion({"content": None, "tool_calls": calls})))
    reply = await backend.agenerate(CONVERSATION, tools=[SEARCH])
    assert reply.tool_calls == [ToolCall("search", {"query": "x"}, id="c1")]
    assert server.bodies[0]["messages"][2]["content"] == ""


async def test_async_streaming_delivers_deltas(amake, http):
    async def body():
        yield STREAM

    backend, _ = amake(stream_reply(http, body()))
    deltas: list[tuple[str, str]] = []
    reply = await backend.agenerate(
        CONVERSATION, tools=[SEARCH], on_delta=lambda k, t: deltas.append((k, t))
    )
    assert "".join(t for k, t in deltas if k == "text") == reply.text == "Searching."
    assert [c.id for c in reply.tool_calls] == ["call_a", "call_b"]


async def test_async_errors_map_like_the_sync_ones(amake, http):
    backend, server = amake(
        json_reply(http, {"error": {"message": "slow down"}}, 429, headers={"Retry-After": "2"})
    )
    with pytest.raises(RateLimitError) as caught:
        await backend.agenerate([Message("user", "x")], tools=[])
    assert caught.value.retry_after == 2.0
    assert server.calls == 1

    def timeout(request: Any) -> Any:
        raise http.ReadTimeout("slow", request=request)

    backend, server = amake(timeout)
    with pytest.raises(TransientBackendError):
        await backend.agenerate([Message("user", "x")], tools=[])
    assert server.calls == 1
