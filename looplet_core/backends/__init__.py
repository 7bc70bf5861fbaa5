"""Model backends: the protocol, a scripted mock, and adapters for the OpenAI and Anthropic SDKs.

Importing this package imports no SDK: ``OpenAIBackend`` and ``AnthropicBackend`` take a client
object that you build (``openai.OpenAI(...)``, ``anthropic.Anthropic(...)``) and only use it.

The adapters load on first use, so the loop (which needs only ``base``) never loads them.

May import: the loop's data (``messages``, ``records``, ``errors``) only; the engine, tools and
context import ``base`` for ``LLMResponse`` and ``ToolSchema``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from looplet_core._lazy import lazy_exports
from looplet_core.backends.base import (
    AsyncLLMBackend,
    DeltaCallback,
    LLMBackend,
    LLMResponse,
    ToolSchema,
)

if TYPE_CHECKING:
    from looplet_core.backends.anthropic import AnthropicBackend, AsyncAnthropicBackend
    from looplet_core.backends.mock import MockLLMBackend
    from looplet_core.backends.openai import AsyncOpenAIBackend, OpenAIBackend

# Where each public name lives; the module is imported on first access (PEP 562).
_LAZY: dict[str, str] = {
    "AnthropicBackend": "looplet_core.backends.anthropic",
    "AsyncAnthropicBackend": "looplet_core.backends.anthropic",
    "AsyncOpenAIBackend": "looplet_core.backends.openai",
    "MockLLMBackend": "looplet_core.backends.mock",
    "OpenAIBackend": "looplet_core.backends.openai",
}

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
