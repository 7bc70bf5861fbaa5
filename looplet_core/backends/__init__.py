"""Model backends: the protocol, a scripted mock, and adapters for the OpenAI and Anthropic SDKs.

Importing this package imports no SDK: ``OpenAIBackend`` and ``AnthropicBackend`` take a client
object that you build (``openai.OpenAI(...)``, ``anthropic.Anthropic(...)``) and only use it.

The adapters load on first use, so the loop (which needs only ``base``) never loads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
