"""Helpers the SDK backends share: reading SDK objects, decoding tool arguments, mapping errors.

The backends never import a provider SDK (``looplet_core`` has no runtime dependencies), so this
module works on SDK objects by duck typing: a field is read from a pydantic model or a plain dict
alike, and an SDK exception is classified by its ``status_code``, its body and the names of its
classes.  Matching class *names* rather than classes also covers both ``httpx`` and ``httpx2``
transport errors, which the SDKs sometimes let escape while a stream is being read.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, cast

from looplet_core.backends.base import DeltaCallback, LLMResponse
from looplet_core.errors import (
    BackendError,
    ContextLengthError,
    LoopletError,
    RateLimitError,
    ReplyCutOffError,
    TransientBackendError,
)
from looplet_core.messages import ToolCall

__all__ = [
    "Assembler",
    "SDKBackend",
    "decode_tool_args",
    "field",
    "redactor",
    "retry_after_seconds",
    "translate_error",
]

_SNIPPET = 200
_MESSAGE_LIMIT = 600

# Phrases servers use when the prompt does not fit: OpenAI (code), vLLM, llama.cpp (type),
# Anthropic, Ollama and several proxies.  Matched case-insensitively against code, type and text.
_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length exceeded",
    "exceed_context_size",
    "exceeds the available context",
    "exceeds the context window",
    "context window",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "reduce the length of the messages",
)

# Class names (anywhere in the MRO) of failures that a retry may fix: SDK connection and timeout
# errors, and httpx/httpx2 transport errors that escape while a stream is read.
_TRANSIENT_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "TimeoutException",
        "TransportError",
        "EndOfStream",
        "BrokenResourceError",
    }
)

# Class names (anywhere in the MRO of the error or its cause) saying the server had the request
# and then closed or reset the connection: the reply was cut off, not the server unreachable.
_DROPPED_NAMES = frozenset(
    {
        "ReadError",
        "RemoteProtocolError",
        "ConnectionResetError",
        "EndOfStream",
        "BrokenResourceError",
        "IncompleteRead",
    }
)

# Anthropic reports some failures as an ``error`` event inside a 200 stream; its error type
# stands in for the status code the same failure would have had before the stream began.
_STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
    "timeout_error": 504,
}

_KEY_PATTERN = re.compile(r"(sk-[A-Za-z0-9_\-*]{6,}|(?i:bearer)\s+[A-Za-z0-9._\-~+/=]{6,})")


def field(obj: object, name: str) -> Any:
    """``obj.name`` for SDK models, ``obj[name]`` for dicts; None when absent.

    SDK models keep unknown server fields (``reasoning_content``) as attributes, so one accessor
    reads both the typed and the extra fields, and tests may feed plain dicts.
    """
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return cast(Mapping[str, Any], obj).get(name)
    return getattr(obj, name, None)


def decode_tool_args(name: str, call_id: str, raw: object) -> ToolCall:
    """Turn a model's raw tool arguments into a ToolCall; bad JSON sets ``parse_error``.

    Never raises: the loop reports a parse error to the model, which usually repairs its call.
    An empty string means "no arguments" (some servers send that for parameterless tools).
    """
    if isinstance(raw, Mapping):
        return ToolCall(tool=name, args=dict(cast(Mapping[str, Any], raw)), id=call_id)
    text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    if not text.strip():
        return ToolCall(tool=name, args={}, id=call_id)
    try:
        value: object = json.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        return ToolCall(
            tool=name,
            args={},
            id=call_id,
            parse_error=(
                f"arguments for tool {name!r} are not valid JSON ({detail}{where}); "
                f"received: {_snippet(text)}"
            ),
        )
    if not isinstance(value, dict):
        return ToolCall(
            tool=name,
            args={},
            id=call_id,
            parse_error=(
                f"arguments for tool {name!r} must be a JSON object, got "
                f"{type(value).__name__}: {_snippet(text)}"
            ),
        )
    return ToolCall(tool=name, args=cast(dict[str, Any], value), id=call_id)


def retry_after_seconds(headers: object) -> float | None:
    """The wait a 429/503 asked for: ``retry-after-ms``, else ``retry-after`` (seconds or date)."""
    if headers is None:
        return None
    get = cast(Callable[[str], object] | None, getattr(headers, "get", None))
    if get is None:
        return None
    millis = get("retry-after-ms")
    if isinstance(millis, str):
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = -1.0
        if math.isfinite(value) and value >= 0:
            return value
    raw = get("retry-after")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime  # rare; ~10 ms to import

            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def redactor(client: object) -> Callable[[str], str]:
    """A function that blanks the client's API key and anything key-shaped out of a message.

    Servers echo keys back ("Incorrect API key provided: sk-...") and error text ends up in
    steps, traces and logs, so every message a backend raises passes through this first.
    """
    secrets: list[str] = []
    for attr in ("api_key", "auth_token"):
        value = getattr(client, attr, None)
        if isinstance(value, str) and len(value) >= 4:
            secrets.append(value)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[redacted]")
        return _KEY_PATTERN.sub("[redacted]", text)

    return redact


def translate_error(
    exc: BaseException,
    *,
    provider: str,
    model: str,
    redact: Callable[[str], str],
    received_chars: int = 0,
) -> BackendError | None:
    """Map an SDK or transport exception to a looplet BackendError, or None if it is not one.

    None means the exception is not a provider failure (a bug, a TypeError from bad kwargs) and
    should propagate unchanged.  ``received_chars`` is how much of a streamed reply had arrived,
    reported when the connection drops part-way.
    """
    names = {klass.__name__ for klass in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    error = _error_object(getattr(exc, "body", None))
    where = f"HTTP {status}"
    if not isinstance(status, int) or status < 400:
        kind = str(field(error, "type") or "")
        status = _STATUS_BY_ERROR_TYPE.get(kind)
        where = f"error event {kind!r} in the stream"
    prefix = f"{provider} backend (model {model!r})"
    if status is not None:
        text = _clip(redact(_server_message(exc, error)))
        message = f"{prefix}: {where}: {text}"
        if status == 429:
            headers = field(getattr(exc, "response", None), "headers")
            return RateLimitError(message, status=429, retry_after=retry_after_seconds(headers))
        if status in (408, 409) or status >= 500:
            return TransientBackendError(message, status=status)
        if status in (400, 413, 422) and _mentions_context(error, text):
            return ContextLengthError(message, status=status)
        return BackendError(message, status=status)
    if names & _TRANSIENT_NAMES or isinstance(exc, (ConnectionError, TimeoutError)):
        timed_out = "Timeout" in " ".join(names)
        detail = str(exc) or type(exc).__name__
        cause = exc.__cause__
        if cause is not None and str(cause) and str(cause) not in detail:
            # The SDK's "Connection error." says little; the transport error says what broke.
            detail += f" ({type(cause).__name__}: {cause})"
        detail = _clip(redact(detail))
        if not timed_out and _dropped(exc):
            so_far = f"{received_chars} characters received"
            return ReplyCutOffError(
                f"{prefix}: the reply was cut off: the server dropped the connection "
                f"({detail}; {so_far})",
                how="dropped",
                received_chars=received_chars,
            )
        kind = "timed out" if timed_out else "connection failed"
        return TransientBackendError(f"{prefix}: request {kind}: {detail}")
    if "APIError" in names:
        # An error reported inside a stream, with no HTTP status to classify by.
        text = _clip(redact(_server_message(exc, error)))
        return BackendError(f"{prefix}: server reported an error: {text}")
    return None


def _dropped(exc: BaseException) -> bool:
    """Whether the server closed or reset a connection that had already carried the request.

    The SDKs wrap the transport's error (``APIConnectionError`` from ``httpx.ReadError``), so
    the cause chain is searched too; a refused or unresolvable connection is not a drop.
    """
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if {klass.__name__ for klass in type(seen).__mro__} & _DROPPED_NAMES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _error_object(body: object) -> Mapping[str, Any] | None:
    """The ``error`` object of an error body, whether or not the SDK already unwrapped it."""
    if not isinstance(body, Mapping):
        return None
    outer = cast(Mapping[str, Any], body)
    inner = outer.get("error")
    return cast(Mapping[str, Any], inner) if isinstance(inner, Mapping) else outer


def _server_message(exc: BaseException, error: Mapping[str, Any] | None) -> str:
    text = error.get("message") if error is not None else None
    if not isinstance(text, str) or not text:
        text = getattr(exc, "message", None)
    if not isinstance(text, str) or not text:
        text = str(exc) or type(exc).__name__
    return text


def _mentions_context(error: Mapping[str, Any] | None, text: str) -> bool:
    parts = [text]
    if error is not None:
        parts += [str(error.get(key) or "") for key in ("code", "type")]
    haystack = " ".join(parts).lower()
    return any(marker in haystack for marker in _CONTEXT_MARKERS)


def _clip(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"


def _snippet(text: str) -> str:
    if len(text) <= _SNIPPET:
        return repr(text)
    return repr(text[:_SNIPPET]) + f"… ({len(text)} chars)"


class Assembler(Protocol):
    """Builds one reply from stream items (chunks or events), forwarding text to ``on_delta``."""

    @property
    def received_chars(self) -> int:
        """Characters of text and reasoning received so far (for a cut-off report)."""
        ...

    def feed(self, item: object, /) -> None: ...

    def finish(self) -> LLMResponse: ...


class SDKBackend:
    """What the SDK backends share: settings, the no-retry client, and one call with translation.

    Subclasses name their ``provider`` and pass ``_call``/``_acall`` a request, a parser for a
    complete reply and an assembler for a stream; everything else here is provider-neutral.
    """

    provider: ClassVar[str] = "sdk"

    def __init__(
        self,
        client: Any,
        model: str,
        *,
        stream: bool | None,
        extra_body: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> None:
        # Retries belong to the loop (visible as events, honouring Retry-After), not the SDK.
        with_options = getattr(client, "with_options", None)
        self._client: Any = with_options(max_retries=0) if callable(with_options) else client
        self.model = model
        self.stream = stream
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.timeout = timeout
        self._redact: Callable[[str], str] = redactor(client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    def _streams(self, on_delta: DeltaCallback | None) -> bool:
        """``stream=None`` streams exactly when someone listens; True/False force it."""
        return self.stream if self.stream is not None else on_delta is not None

    def _translate(self, exc: Exception, assembler: Assembler | None) -> Exception:
        if isinstance(exc, LoopletError):
            return exc
        error = translate_error(
            exc,
            provider=self.provider,
            model=self.model,
            redact=self._redact,
            received_chars=assembler.received_chars if assembler is not None else 0,
        )
        return error if error is not None else exc

    def _call(
        self,
        create: Callable[..., Any],
        kwargs: dict[str, Any],
        parse: Callable[[object], LLMResponse],
        assembler: Assembler | None,
        on_delta: DeltaCallback | None,
    ) -> LLMResponse:
        """One request: ``assembler`` None means not streamed."""
        started = time.perf_counter()
        try:
            reply = create(**kwargs)
            if assembler is None:
                return _finish(parse(reply), started, on_delta)
            try:
                for item in reply:
                    assembler.feed(item)
            finally:
                close = getattr(reply, "close", None)
                if callable(close):
                    close()
            return _finish(assembler.finish(), started, None)
        except Exception as exc:
            translated = self._translate(exc, assembler)
            if translated is exc:
                raise
            raise translated from exc

    async def _acall(
        self,
        create: Callable[..., Any],
        kwargs: dict[str, Any],
        parse: Callable[[object], LLMResponse],
        assembler: Assembler | None,
        on_delta: DeltaCallback | None,
    ) -> LLMResponse:
        """The async twin of ``_call``."""
        started = time.perf_counter()
        try:
            reply = await create(**kwargs)
            if assembler is None:
                return _finish(parse(reply), started, on_delta)
            try:
                async for item in reply:
                    assembler.feed(item)
            finally:
                close = getattr(reply, "close", None)
                if callable(close):
                    result = close()
                    if inspect.isawaitable(result):
                        await result
            return _finish(assembler.finish(), started, None)
        except Exception as exc:
            translated = self._translate(exc, assembler)
            if translated is exc:
                raise
            raise translated from exc


def _finish(response: LLMResponse, started: float, on_delta: DeltaCallback | None) -> LLMResponse:
    """Stamp the latency; without streaming, hand a listener the whole reply in one piece."""
    response.latency_ms = (time.perf_counter() - started) * 1000.0
    if on_delta is not None:
        if response.reasoning:
            on_delta("reasoning", response.reasoning)
        if response.text:
            on_delta("text", response.text)
    return response
