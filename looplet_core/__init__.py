"""looplet_core: an agent loop you own.

``for step in composable_loop(llm=..., tools=..., task=...)`` yields one ``Step`` per tool call;
hooks (any object with ``pre_prompt``, ``pre_dispatch``, ``post_dispatch``, ``check_done`` or
``on_event``) decide everything the loop decides.  Standard library only.
"""

from looplet_core.approval import ApprovalDecision, ApprovalRequest
from looplet_core.backends.base import LLMBackend, LLMResponse
from looplet_core.backends.mock import MockLLMBackend
from looplet_core.cancel import CancelToken
from looplet_core.decisions import Allow, AskApproval, Continue, Deny, InjectContext, Stop
from looplet_core.errors import (
    ApprovalError,
    BackendError,
    CheckpointError,
    ConfigError,
    ContextLengthError,
    HookError,
    LoopletError,
    RateLimitError,
    ResponseFormatError,
    ScriptExhaustedError,
    ToolRegistrationError,
    TraceError,
    TransientBackendError,
)
from looplet_core.events import Event, EventKind
from looplet_core.loop import async_composable_loop, composable_loop, run_loop
from looplet_core.messages import Conversation, Message, ToolCall
from looplet_core.prompt import Prompt
from looplet_core.records import (
    ContextStats,
    ErrorKind,
    HookDecision,
    LLMCall,
    StopReason,
    ToolResult,
    Usage,
)
from looplet_core.state import DefaultState, LoopConfig, StepLog
from looplet_core.step import LoopResult, Step, StepStatus
from looplet_core.tools import BaseToolRegistry, ToolContext, ToolSpec, tool

__version__ = "0.1.0"

__all__ = [
    "Allow",
    "ApprovalDecision",
    "ApprovalError",
    "ApprovalRequest",
    "AskApproval",
    "BackendError",
    "BaseToolRegistry",
    "CancelToken",
    "CheckpointError",
    "ConfigError",
    "ContextLengthError",
    "ContextStats",
    "Continue",
    "Conversation",
    "DefaultState",
    "Deny",
    "ErrorKind",
    "Event",
    "EventKind",
    "HookDecision",
    "HookError",
    "InjectContext",
    "LLMBackend",
    "LLMCall",
    "LLMResponse",
    "LoopConfig",
    "LoopResult",
    "LoopletError",
    "Message",
    "MockLLMBackend",
    "Prompt",
    "RateLimitError",
    "ResponseFormatError",
    "ScriptExhaustedError",
    "Step",
    "StepLog",
    "StepStatus",
    "Stop",
    "StopReason",
    "ToolCall",
    "ToolContext",
    "ToolRegistrationError",
    "ToolResult",
    "ToolSpec",
    "TraceError",
    "TransientBackendError",
    "Usage",
    "async_composable_loop",
    "composable_loop",
    "run_loop",
    "tool",
]
