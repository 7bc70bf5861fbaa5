"""OpenAIBackend against the fake server over real HTTP: the real SDK, sockets, SSE and faults."""

from __future__ import annotations

from collections.abc import Iterator
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
from tests.fakeserver import FakeOpenAIServer, Fault

SEARCH = {
    "name": "search",
    "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}
ASK = [Message("system", "Be terse."), Message("user", "Find cats.")]


@pytest.fixture
def client(fake_openai_server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    # A short timeout keeps the slow-reply fault quick; the fake server answers in milliseconds.
    with openai.OpenAI(base_url=fake_openai_server.base_url, api_key="test-key", timeout=0.5) as c:
        yield c


def test_tool_call_round_trip_sends_the_conversation_back(fake_openai_server, client):
    server = fake_openai_server
    server.reply(tool_calls=[("search", {"query": "cats"})], usage=(30, 8))
    server.reply("Found 12 cats.", usage=(55, 4))
    backend = OpenAIBackend(client, "fake-model")

    first = backend.generate(ASK, tools=[SEARCH])
    [call] = first.tool_calls
    conversation = [
        *ASK,
        Message("assistant", first.text, tool_calls=(call,)),
        Message("tool", '["cat-1"]', tool_call_id=call.id, name="search"),
    ]
    second = backend.generate(conversation, tools=[SEARCH])

    assert (call.tool, call.args) == ("search", {"query": "cats"})
    assert first.usage is not None and first.usage.total_tokens == 38
    assert second.text == "Found 12 cats."
    assert second.usage is not None and (second.usage.input_tokens, second.usage.output_tokens) == (
        55,
        4,
    )
    sent = server.requests[1]["messages"]
    assert sent[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "search", "arguments": '{"query": "cats"}'},
            }
        ],
    }
    assert sent[3] == {"role": "tool", "tool_call_id": call.id, "content": '["cat-1"]'}
    assert server.requests[0]["tools"] == [{"type": "function", "function": SEARCH}]
    assert server.headers[0]["authorization"] == "Bearer test-key"
    assert server.pending == 0 and server.unexpected == []


def test_streaming_delivers_text_as_it_arrives_and_matches_the_plain_reply(
    fake_openai_server, client
):
    server = fake_openai_server
    for _ in range(2):
        server.reply(
            "Looking for cats now.",
            tool_calls=[("search", {"query": "cats"})],
            reasoning="The user wants cats.",
            usage=(21, 13),
        )
    backend = OpenAIBackend(client, "fake-model")
    deltas: list[tuple[str, str]] = []

    streamed = backend.generate(ASK, tools=[SEARCH], on_delta=lambda k, t: deltas.append((k, t)))
    plain = backend.generate(ASK, tools=[SEARCH])

    assert len([d for d in deltas if d[0] == "text"]) > 1  # it really came in pieces
    assert "".join(t for k, t in deltas if k == "text") == "Looking for cats now."
    assert "".join(t for k, t in deltas if k == "reasoning") == "The user wants cats."
    assert server.requests[0]["stream"] is True and "stream" not in server.requests[1]
    for field in ("text", "reasoning", "usage", "stop_reason", "model"):
        assert getattr(streamed, field) == getattr(plain, field), field
    assert [(c.tool, c.args) for c in streamed.tool_calls] == [
        (c.tool, c.args) for c in plain.tool_calls
    ]


ERRORS: list[tuple[Fault, type[Exception]]] = [
    (Fault.RATE_LIMIT, RateLimitError),
    (Fault.SERVER_ERROR, TransientBackendError),
    (Fault.UNAVAILABLE, TransientBackendError),
    (Fault.RESET, ReplyCutOffError),
    (Fault.SLOW, TransientBackendError),
    (Fault.STREAM_CUT, ReplyCutOffError),
    (Fault.CONTEXT_LENGTH, ContextLengthError),
    (Fault.UNAUTHORIZED, BackendError),
    (Fault.NO_CHOICES, ResponseFormatError),
]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("fault", "error"), ERRORS, ids=[f.value for f, _ in ERRORS])
def test_each_fault_raises_its_documented_error_after_one_request(
    fake_openai_server, client, fault, error, stream
):
    server = fake_openai_server
    server.fail(fault, retry_after=3, delay=2.0)
    backend = OpenAIBackend(client, "fake-model", stream=stream)

    with pytest.raises(error) as caught:
        backend.generate(ASK, tools=[SEARCH])

    assert isinstance(caught.value, BackendError)
    assert "test-key" not in str(caught.value)
    assert len(server.requests) == 1  # the SDK did not retry on its own
    if fault is Fault.RATE_LIMIT:
        assert caught.value.retry_after == 3.0
    if fault is Fault.UNAUTHORIZED:
        assert type(caught.value) is BackendError and caught.value.status == 401


CUT_OFF = [
    (Fault.RESET, "dropped"),
    (Fault.STREAM_CUT, "dropped"),
    (Fault.STREAM_SHORT, "truncated"),
]


@pytest.mark.parametrize(("fault", "how"), CUT_OFF, ids=[f.value for f, _ in CUT_OFF])
def test_a_reply_cut_off_says_whether_the_stream_was_short_or_the_connection_dropped(
    fake_openai_server, client, fault, how
):
    fake_openai_server.fail(fault)
    backend = OpenAIBackend(client, "fake-model", stream=True)
    shown: list[str] = []

    with pytest.raises(ReplyCutOffError) as caught:
        backend.generate(ASK, tools=[SEARCH], on_delta=lambda _kind, text: shown.append(text))

    error = caught.value
    assert error.how == how
    assert "the reply was cut off" in str(error)
    assert error.received_chars == sum(map(len, shown))
    assert f"{error.received_chars} characters received" in str(error)
    if fault is Fault.RESET:  # dropped before a byte of the reply: nothing was shown
        assert error.received_chars == 0
    else:
        assert error.received_chars > 0
    if how == "dropped":
        assert "dropped the connection" in str(error)
    else:
        assert "stream ended before the reply was complete" in str(error)


def test_a_server_that_cannot_be_reached_is_a_failed_connection_not_a_cut_off_reply():
    server = FakeOpenAIServer().start()
    base_url = server.base_url
    server.stop()  # the port is closed now: connecting is refused
    with openai.OpenAI(base_url=base_url, api_key="test-key", timeout=0.5) as gone:
        backend = OpenAIBackend(gone, "fake-model", stream=True)
        with pytest.raises(TransientBackendError) as caught:
            backend.generate(ASK, tools=[SEARCH], on_delta=lambda _kind, _text: None)

    assert not isinstance(caught.value, ReplyCutOffError)
    assert "request connection failed" in str(caught.value)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_reply_shaped_faults_come_back_as_replies_for_the_loop_to_judge(
    fake_openai_server, client, stream
):
    server = fake_openai_server
    server.fail(Fault.MALFORMED_ARGS).fail(Fault.UNKNOWN_TOOL).fail(Fault.HUGE)
    backend = OpenAIBackend(client, "fake-model", stream=stream)

    [malformed] = backend.generate(ASK, tools=[SEARCH]).tool_calls
    [unknown] = backend.generate(ASK, tools=[SEARCH]).tool_calls
    huge = backend.generate(ASK, tools=[SEARCH])

    assert malformed.tool == "search" and malformed.args == {}
    assert malformed.parse_error is not None and '"limit": 3' in malformed.parse_error
    assert unknown == ToolCall("no_such_tool", {"x": 1}, id=unknown.id)
    assert len(huge.text) == server.huge_chars
    assert len(server.requests) == 3


def test_a_fault_then_a_reply_is_what_a_retrying_loop_sees(fake_openai_server, client):
    server = fake_openai_server
    server.fail(Fault.UNAVAILABLE).reply("recovered")
    backend = OpenAIBackend(client, "fake-model")
    with pytest.raises(TransientBackendError):
        backend.generate(ASK, tools=[])
    assert backend.generate(ASK, tools=[]).text == "recovered"


def test_an_empty_script_answers_loudly_with_a_non_retryable_error(fake_openai_server, client):
    with pytest.raises(BackendError, match="script exhausted") as caught:
        OpenAIBackend(client, "fake-model").generate(ASK, tools=[])
    assert not isinstance(caught.value, TransientBackendError)
    assert len(fake_openai_server.unexpected) == 1


async def test_async_backend_against_the_fake_server(fake_openai_server):
    server = fake_openai_server
    server.reply(tool_calls=[("search", {"query": "cats"})], usage=(9, 3))
    deltas: list[Any] = []
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key") as client:
        backend = AsyncOpenAIBackend(client, "fake-model")
        first = await backend.agenerate(ASK, tools=[SEARCH])
        server.fail(Fault.RATE_LIMIT, retry_after=1.5).reply("streamed text", usage=(4, 2))
        with pytest.raises(RateLimitError) as caught:
            await backend.agenerate(ASK, tools=[SEARCH])
        third = await backend.agenerate(ASK, tools=[], on_delta=lambda k, t: deltas.append(t))

    assert first.tool_calls[0].args == {"query": "cats"}
    assert caught.value.retry_after == 1.5
    assert third.text == "".join(deltas) == "streamed text"
    assert third.usage is not None and third.usage.total_tokens == 6
    assert len(server.requests) == 3
