"""looplet_core: an agent loop you own.

``for step in composable_loop(llm=..., tools=..., task=...)`` yields one ``Step`` per tool call;
hooks (any object with ``pre_prompt``, ``pre_dispatch``, ``post_dispatch``, ``check_done`` or
``on_event``) decide everything the loop decides.  Standard library only.
"""

from looplet_core.approval import ApprovalDecision, ApprovalRequest
from looplet_core.approval_hooks import ApprovalHook, Decision, TerminalApprover, auto_approve
from looplet_core.backends.base import LLMBackend, LLMResponse
from looplet_core.backends.mock import MockLLMBackend
from looplet_core.budget import ContextBudget
from looplet_core.cancel import CancelToken
from looplet_core.checkpoint_stores import FileCheckpointStore, MemoryCheckpointStore
from looplet_core.checkpointer import CheckpointHook
from looplet_core.checkpoints import (
    Checkpoint,
    CheckpointStore,
    checkpoint_tree,
    history,
    latest_checkpoint,
)
from looplet_core.compact import (
    CompactContext,
    Compacted,
    CompactionStage,
    Prune,
    Truncate,
    compact_chain,
)
from looplet_core.context_hooks import (
    CompactionReport,
    ContextExhausted,
    ContextPressureHook,
    ThresholdCompactHook,
)
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
from looplet_core.estimators import HeuristicEstimator, TiktokenEstimator, TokenEstimator
from looplet_core.evals import EvalContext, EvalHook, EvalResult, discover_evals, run_evals
from looplet_core.events import Event, EventKind
from looplet_core.fork import fork
from looplet_core.loop import async_composable_loop, composable_loop, run_loop
from looplet_core.messages import Conversation, Message, ToolCall
from looplet_core.permissions import PermissionHook, PermissionRule
from looplet_core.prompt import Prompt
from looplet_core.provenance.compare import Divergence
from looplet_core.provenance.reader import TraceReader
from looplet_core.provenance.redact import Redactor
from looplet_core.provenance.replay import ReplayBackend, ReplayResult, replay_loop
from looplet_core.provenance.sink import ProvenanceSink
from looplet_core.records import (
    ContextStats,
    ErrorKind,
    HookDecision,
    LLMCall,
    StopReason,
    ToolResult,
    Usage,
)
from looplet_core.resume import ResumedRun, resume
from looplet_core.state import DefaultState, LoopConfig, StepLog
from looplet_core.step import LoopResult, Step, StepStatus
from looplet_core.summarize import Summarize
from looplet_core.telemetry import MetricsHook, TracingHook
from looplet_core.tokens import ContextMeter
from looplet_core.tools import BaseToolRegistry, ToolContext, ToolSpec, tool

__version__ = "0.1.0"

__all__ = [
    "Allow",
    "ApprovalDecision",
    "ApprovalError",
    "ApprovalHook",
    "ApprovalRequest",
    "AskApproval",
    "BackendError",
    "BaseToolRegistry",
    "CancelToken",
    "Checkpoint",
    "CheckpointError",
    "CheckpointHook",
    "CheckpointStore",
    "CompactContext",
    "Compacted",
    "CompactionReport",
    "CompactionStage",
    "ConfigError",
    "ContextBudget",
    "ContextExhausted",
    "ContextLengthError",
    "ContextMeter",
    "ContextPressureHook",
    "ContextStats",
    "Continue",
    "Conversation",
    "Decision",
    "DefaultState",
    "Deny",
    "Divergence",
    "ErrorKind",
    "EvalContext",
    "EvalHook",
    "EvalResult",
    "Event",
    "EventKind",
    "FileCheckpointStore",
    "HeuristicEstimator",
    "HookDecision",
    "HookError",
    "InjectContext",
    "LLMBackend",
    "LLMCall",
    "LLMResponse",
    "LoopConfig",
    "LoopResult",
    "LoopletError",
    "MemoryCheckpointStore",
    "Message",
    "MetricsHook",
    "MockLLMBackend",
    "PermissionHook",
    "PermissionRule",
    "Prompt",
    "ProvenanceSink",
    "Prune",
    "RateLimitError",
    "Redactor",
    "ReplayBackend",
    "ReplayResult",
    "ResponseFormatError",
    "ResumedRun",
    "ScriptExhaustedError",
    "Step",
    "StepLog",
    "StepStatus",
    "Stop",
    "StopReason",
    "Summarize",
    "TerminalApprover",
    "ThresholdCompactHook",
    "TiktokenEstimator",
    "TokenEstimator",
    "ToolCall",
    "ToolContext",
    "ToolRegistrationError",
    "ToolResult",
    "ToolSpec",
    "TraceError",
    "TraceReader",
    "TracingHook",
    "TransientBackendError",
    "Truncate",
    "Usage",
    "async_composable_loop",
    "auto_approve",
    "checkpoint_tree",
    "compact_chain",
    "composable_loop",
    "discover_evals",
    "fork",
    "history",
    "latest_checkpoint",
    "replay_loop",
    "resume",
    "run_evals",
    "run_loop",
    "tool",
]
