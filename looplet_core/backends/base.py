"""The contract every model backend implements, and the reply it returns.

A backend turns the provider-neutral message list plus tool schemas into one model reply.  It
does not retry (the loop owns retries so they are visible as events and honour Retry-After); it
translates provider failures into ``looplet_core.errors`` (``RateLimitError``,
``TransientBackendError``, ``ContextLengthError``, ``ResponseFormatError``, ``BackendError``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from looplet_core.messages import Message, ToolCall
from looplet_core.records import Usage

__all__ = ["AsyncLLMBackend", "DeltaCallback", "LLMBackend", "LLMResponse", "ToolSchema"]

ToolSchema = dict[str, Any]
"""``{"name": ..., "description": ..., "parameters": <JSON Schema object>}``."""

DeltaCallback = Callable[[str, str], None]
"""Streaming callback: ``(kind, text)`` where kind is ``"text"`` or ``"reasoning"``."""


@dataclass(slots=True)
class LLMResponse:
    """One model reply.  ``usage`` is None when the server reported none (the loop estimates)."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list[ToolCall])
    usage: Usage | None = None
    stop_reason: str | None = None
    latency_ms: float = 0.0
    model: str | None = None
    reasoning: str | None = None


@runtime_checkable
class LLMBackend(Protocol):
    """Synchronous backend.  ``on_delta``, when given, receives text as it streams in."""

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse: ...


@runtime_checkable
class AsyncLLMBackend(Protocol):
    """Asynchronous backend, used by ``async_composable_loop`` when present."""

    async def agenerate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse: ...
