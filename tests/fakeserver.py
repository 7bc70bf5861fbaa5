"""A scriptable OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

It runs the real HTTP path (the official SDK, its httpx2 transport, SSE parsing, timeouts and
connection failures) without a network or a model.  Script it with replies and faults; each
request takes the next queued fault if there is one, else the next reply::

    with FakeOpenAIServer() as server:
        server.reply(tool_calls=[("search", {"query": "cats"})], usage=(30, 8))
        server.fail(Fault.RATE_LIMIT, retry_after=3)
        server.reply("done", usage=(50, 2))
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key")
        ...
        server.requests[0]["messages"]      # every request body, in order

Faults, and what ``OpenAIBackend`` turns each into:

================  ==================================================  =============================
fault             what the server does                                backend result
================  ==================================================  =============================
rate_limit        429 with ``Retry-After: <retry_after>``             RateLimitError(retry_after=)
server_error      500                                                 TransientBackendError
unavailable       503                                                 TransientBackendError
reset             TCP reset after reading the request                 ReplyCutOffError "dropped"
slow              waits ``delay`` seconds, then answers "slow reply"  TransientBackendError if the
                                                                      client's timeout is shorter
stream_cut        stops mid-body and drops the connection             ReplyCutOffError "dropped"
stream_short      ends the body early but cleanly (no reset): a       ReplyCutOffError: streamed
                  stream without its final chunk, or half a body      "truncated", plain "dropped"
context_length    400 ``context_length_exceeded``                     ContextLengthError
unauthorized      401 echoing the bearer token it received            BackendError(status=401),
                                                                      key redacted
malformed_args    a tool call whose arguments are not JSON            ToolCall.parse_error set
unknown_tool      a call to a tool the request did not offer          returned as is (the loop
                                                                      reports it to the model)
no_choices        200 with ``"choices": []``                          ResponseFormatError
huge              a ``huge_chars``-long text reply (2 MB)             parsed normally
drip              the reply one byte every ``delay`` seconds: no      DeadlineError (llm_deadline);
                  read ever waits long, so no read timeout fires      a read timeout never fires
keepalive         streamed: an SSE comment line every ``delay``       DeadlineError (llm_deadline)
                  seconds and never a chunk; plain: a space every
                  ``delay`` seconds before a body that never comes
================  ==================================================  =============================

``drip`` and ``keepalive`` go on until the client hangs up, the server stops, or
``HOSTILE_LIMIT`` seconds pass, so a test that fails cannot hang the suite.

Faults do not consume scripted replies.  A request that finds the script empty gets a 400
"fake server script exhausted" (a BackendError, so the loop does not retry it) and is listed in
``server.unexpected``.  Streaming (``"stream": true``) answers as SSE with chunked encoding, the
usage chunk when ``stream_options.include_usage`` is set, and ``data: [DONE]``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["HOSTILE_LIMIT", "FakeOpenAIServer", "Fault", "Reply"]

HOSTILE_LIMIT = 60.0
"""Seconds a drip or keep-alive answer lasts at most, so a failing test cannot hang the suite."""


class Fault(StrEnum):
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    RESET = "reset"
    SLOW = "slow"
    STREAM_CUT = "stream_cut"
    STREAM_SHORT = "stream_short"
    CONTEXT_LENGTH = "context_length"
    UNAUTHORIZED = "unauthorized"
    MALFORMED_ARGS = "malformed_args"
    UNKNOWN_TOOL = "unknown_tool"
    NO_CHOICES = "no_choices"
    HUGE = "huge"
    DRIP = "drip"
    KEEPALIVE = "keepalive"


@dataclass(slots=True)
class Reply:
    """One scripted answer.  ``tool_calls`` items are ``(name, args)``; args may be a raw string."""

    text: str = ""
    tool_calls: Sequence[tuple[str, dict[str, Any] | str]] = ()
    usage: tuple[int, int] | None = (10, 5)
    reasoning: str | None = None
    finish_reason: str | None = None
    no_choices: bool = False


@dataclass(slots=True)
class _Queued:
    fault: Fault
    retry_after: float | None = None
    delay: float = 0.0


@dataclass(slots=True)
class _Script:
    replies: deque[Reply] = field(default_factory=deque[Reply])
    faults: deque[_Queued] = field(default_factory=deque[_Queued])


class FakeOpenAIServer:
    """The server.  Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, *, model: str = "fake-model", huge_chars: int = 2_000_000) -> None:
        self.model = model
        self.huge_chars = huge_chars
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.unexpected: list[dict[str, Any]] = []
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        """Answers from the request itself once the script is empty (many runs at once)."""
        self._script = _Script()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -- scripting ---------------------------------------------------------------------------

    def reply(
        self,
        text: str = "",
        *,
        tool_calls: Sequence[tuple[str, dict[str, Any] | str]] = (),
        usage: tuple[int, int] | None = (10, 5),
        reasoning: str | None = None,
        finish_reason: str | None = None,
    ) -> Self:
        """Queue a reply: text, tool calls, or both.  ``usage`` is (prompt, completion) tokens."""
        with self._lock:
            self._script.replies.append(
                Reply(text, tuple(tool_calls), usage, reasoning, finish_reason)
            )
        return self

    def fail(
        self, fault: Fault | str, *, retry_after: float | None = 2.0, delay: float = 2.0
    ) -> Self:
        """Queue a fault for the next request.  ``retry_after`` is sent with rate_limit (None
        omits the header); ``delay`` is how long ``slow`` waits."""
        with self._lock:
            self._script.faults.append(_Queued(Fault(fault), retry_after, delay))
        return self

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running; call start() first")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def pending(self) -> int:
        """Replies and faults not yet served: 0 at the end of a test that used its whole script."""
        with self._lock:
            return len(self._script.replies) + len(self._script.faults)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving (called from handler threads) -----------------------------------------------

    def _next(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[_Queued | None, Reply | None, int]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self._counter += 1
            if self._script.faults:
                return self._script.faults.popleft(), None, self._counter
            if self._script.replies:
                return None, self._script.replies.popleft(), self._counter
            if self.responder is not None:
                return None, self.responder(body), self._counter
            self.unexpected.append(body)
            return None, None, self._counter

    def _register(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Faults drop connections on purpose; the resulting socket errors are not news."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    _hostile_started: float | None = None

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle adds ~40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._register(self.connection, True)

    def finish(self) -> None:
        self.server.fake._register(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``server.requests`` instead."""

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            fake = self.server.fake
            self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body: dict[str, Any] = json.loads(raw)
        except ValueError:
            self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request"}})
            return
        fake = self.server.fake
        queued, reply, n = fake._next(body, {k.lower(): v for k, v in self.headers.items()})
        try:
            self._answer(body, queued, reply, n)
        except OSError:
            self.close_connection = True  # the client went away (timeouts do that)

    def _answer(
        self, body: dict[str, Any], queued: _Queued | None, reply: Reply | None, n: int
    ) -> None:
        fake = self.server.fake
        stream = bool(body.get("stream"))
        if queued is not None:
            reply = self._fault(queued, body, stream)
            if reply is None:
                return
        if reply is None:
            self._json(
                400, _error("fake server script exhausted: no reply queued", "script_exhausted")
            )
            return
        if stream:
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(_chunks(reply, fake.model, n, usage))
        else:
            self._json(200, _completion(reply, fake.model, n))

    def _fault(self, queued: _Queued, body: dict[str, Any], stream: bool) -> Reply | None:
        """Act out a fault; return a reply to send normally, or None when already answered."""
        fault = queued.fault
        if fault is Fault.RATE_LIMIT:
            extra = {} if queued.retry_after is None else {"Retry-After": f"{queued.retry_after:g}"}
            self._json(429, _error("Rate limit reached, slow down", "rate_limit_exceeded"), extra)
        elif fault is Fault.SERVER_ERROR:
            self._json(
                500, _error("The server had an error processing your request", "server_error")
            )
        elif fault is Fault.UNAVAILABLE:
            self._json(503, _error("The engine is currently overloaded", "server_error"))
        elif fault is Fault.CONTEXT_LENGTH:
            error = _error(
                "This model's maximum context length is 4096 tokens. However, your messages "
                "resulted in 9000 tokens.",
                "invalid_request_error",
            )
            error["error"]["code"] = "context_length_exceeded"
            self._json(400, error)
        elif fault is Fault.UNAUTHORIZED:
            token = self.headers.get("authorization", "").removeprefix("Bearer ")
            self._json(
                401, _error(f"Incorrect API key provided: {token}.", "invalid_request_error")
            )
        elif fault is Fault.RESET:
            self._reset()
        elif fault is Fault.STREAM_CUT:
            self._cut(stream)
        elif fault is Fault.STREAM_SHORT:
            self._short(stream)
        elif fault is Fault.SLOW:
            self.server.fake._stopping.wait(queued.delay)
            return Reply("slow reply")
        elif fault is Fault.MALFORMED_ARGS:
            return Reply(tool_calls=[("search", '{"query": "cats", "limit": 3')])
        elif fault is Fault.UNKNOWN_TOOL:
            return Reply(tool_calls=[("no_such_tool", {"x": 1})])
        elif fault is Fault.NO_CHOICES:
            return Reply(no_choices=True)
        elif fault is Fault.HUGE:
            return Reply("x" * self.server.fake.huge_chars)
        elif fault is Fault.DRIP:
            self._drip(Reply("this reply arrives one byte at a time"), body, stream, queued.delay)
        elif fault is Fault.KEEPALIVE:
            self._keepalive(stream, queued.delay)
        return None

    # -- wire helpers --------------------------------------------------------------------------

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(
        self,
        chunks: list[dict[str, Any]],
        cut_after: int | None = None,
        end_after: int | None = None,
    ) -> None:
        """SSE of ``chunks``; ``cut_after`` resets the connection there, ``end_after`` closes
        the body cleanly there (no final chunk, no ``[DONE]``)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, chunk in enumerate(chunks):
            if cut_after is not None and i >= cut_after:
                self._reset()
                return
            if end_after is not None and i >= end_after:
                break
            self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
        else:
            self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self, stream: bool) -> None:
        reply = Reply("this reply is cut off before it ends", usage=(10, 9))
        if stream:
            self._stream(_chunks(reply, self.server.fake.model, 0, True), cut_after=3)
            return
        data = json.dumps(_completion(reply, self.server.fake.model, 0)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self._reset()

    def _short(self, stream: bool) -> None:
        """End the reply early but cleanly (no reset): a stream without its final chunk, or a
        body shorter than its Content-Length."""
        reply = Reply("this reply ends before its finish_reason", usage=(10, 9))
        if stream:
            self._stream(_chunks(reply, self.server.fake.model, 0, True), end_after=3)
            return
        data = json.dumps(_completion(reply, self.server.fake.model, 0)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _hold(self, interval: float) -> bool:
        """Wait ``interval``; False once the server stops or the hostile time limit passed."""
        fake = self.server.fake
        if self._hostile_started is None:
            self._hostile_started = time.monotonic()
        if time.monotonic() - self._hostile_started > HOSTILE_LIMIT:
            return False
        return not fake._stopping.wait(interval)

    def _drip(self, reply: Reply, body: dict[str, Any], stream: bool, interval: float) -> None:
        """Send ``reply`` whole and correct, one byte per ``interval``."""
        fake = self.server.fake
        self._hostile_started = None
        if stream:
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _chunks(reply, fake.model, 0, usage)
            data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks)
            data += b"data: [DONE]\n\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(data)))
        else:
            data = json.dumps(_completion(reply, fake.model, 0)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        for i in range(len(data)):
            if not self._hold(interval):
                break
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
        self.close_connection = True

    def _keepalive(self, stream: bool, interval: float) -> None:
        """Look alive for ever without answering: SSE comments, or spaces before no body."""
        self._hostile_started = None
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        beat = b": keep-alive\n\n" if stream else b" "
        while self._hold(interval):
            self._write_chunk(beat)
        self.close_connection = True

    def _reset(self) -> None:
        """Drop the connection with a TCP RST (linger 0), as a crashed server would."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _wire_calls(reply: Reply, n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{n}_{i}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": args if isinstance(args, str) else json.dumps(args),
            },
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]


def _finish_reason(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _usage(reply: Reply) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(reply: Reply, model: str, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = _wire_calls(reply, n)
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    out: dict[str, Any] = {
        "id": f"chatcmpl-fake-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": []
        if reply.no_choices
        else [{"index": 0, "message": message, "finish_reason": _finish_reason(reply)}],
    }
    usage = _usage(reply)
    if usage is not None:
        out["usage"] = usage
    return out


def _pieces(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _chunks(reply: Reply, model: str, n: int, include_usage: bool) -> list[dict[str, Any]]:
    """The SSE chunk objects OpenAI would stream for ``reply``, in order."""
    created = int(time.time())

    def chunk(delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    if reply.no_choices:
        chunks: list[dict[str, Any]] = []
    else:
        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"reasoning_content": p}) for p in _pieces(reply.reasoning or "", 3)]
        chunks += [chunk({"content": p}) for p in _pieces(reply.text, 4)]
        for i, call in enumerate(_wire_calls(reply, n)):
            function = call["function"]
            head = {"index": i, "id": call["id"], "type": "function"}
            chunks.append(
                chunk(
                    {
                        "tool_calls": [
                            {**head, "function": {"name": function["name"], "arguments": ""}}
                        ]
                    }
                )
            )
            for piece in _pieces(function["arguments"], 2):
                chunks.append(
                    chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                )
        chunks.append(chunk({}, _finish_reason(reply)))
    if include_usage:
        final = chunk(None)
        final["usage"] = _usage(reply)
        chunks.append(final)
    return chunks
