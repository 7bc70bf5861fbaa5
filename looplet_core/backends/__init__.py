"""Model backends: the protocol, a scripted mock, and adapters for the OpenAI and Anthropic SDKs.

Importing this package imports no SDK: ``OpenAIBackend`` and ``AnthropicBackend`` take a client
object that you build (``openai.OpenAI(...)``, ``anthropic.Anthropic(...)``) and only use it.
"""

from __future__ import annotations

from looplet_core.backends.anthropic import AnthropicBackend, AsyncAnthropicBackend
from looplet_core.backends.base import (
    AsyncLLMBackend,
    DeltaCallback,
    LLMBackend,
    LLMResponse,
    ToolSchema,
)
from looplet_core.backends.mock import MockLLMBackend
from looplet_core.backends.openai import AsyncOpenAIBackend, OpenAIBackend

__all__ = [
    "AnthropicBackend",
    "AsyncAnthropicBackend",
    "AsyncLLMBackend",
    "AsyncOpenAIBackend",
    "DeltaCallback",
    "LLMBackend",
    "LLMResponse",
    "MockLLMBackend",
    "OpenAIBackend",
    "ToolSchema",
]
