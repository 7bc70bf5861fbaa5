"""looplet_core: an agent loop you own.

``for step in composable_loop(llm=..., tools=..., task=...)`` yields one ``Step`` per tool call;
hooks (any object with ``pre_prompt``, ``pre_dispatch``, ``post_dispatch``, ``check_done`` or
``on_event``) decide everything the loop decides.  Standard library only.

Names are imported on first use, so ``import looplet_core`` costs little and a program pays
only for the parts it touches: the loop does not load checkpoints, provenance or evals.
"""

from __future__ import annotations

from looplet_core import _moved
from looplet_core._lazy import lazy_exports

_moved.install(_moved.CORE_MOVES)

# Not typing.TYPE_CHECKING: importing typing would cost this package most of its import time.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from looplet_core.agents import subagent
    from looplet_core.approvals.hooks import ApprovalHook, Decision, TerminalApprover, auto_approve
    from looplet_core.approvals.permissions import PermissionHook, PermissionRule
    from looplet_core.approvals.requests import ApprovalDecision, ApprovalRequest
    from looplet_core.backends.base import LLMBackend, LLMResponse
    from looplet_core.backends.mock import MockLLMBackend
    from looplet_core.cancel import CancelToken
    from looplet_core.context.budget import ContextBudget
    from looplet_core.context.compact import (
        CompactContext,
        Compacted,
        CompactionStage,
        Prune,
        Truncate,
        compact_chain,
    )
    from looplet_core.context.estimators import (
        HeuristicEstimator,
        TiktokenEstimator,
        TokenEstimator,
    )
    from looplet_core.context.hooks import (
        CompactionReport,
        ContextExhausted,
        ContextPressureHook,
        ThresholdCompactHook,
    )
    from looplet_core.context.prompt import Prompt
    from looplet_core.context.summarize import Summarize
    from looplet_core.context.tokens import ContextMeter
    from looplet_core.decisions import (
        Allow,
        AskApproval,
        Continue,
        Deny,
        Edit,
        InjectContext,
        Stop,
    )
    from looplet_core.durable.checkpointer import CheckpointHook
    from looplet_core.durable.checkpoints import (
        Checkpoint,
        CheckpointStore,
        checkpoint_tree,
        history,
        latest_checkpoint,
    )
    from looplet_core.durable.connect import open_store
    from looplet_core.durable.postgres import PostgresRunStore
    from looplet_core.durable.runstore import ApprovalRecord, RunInfo, RunStore
    from looplet_core.durable.sqlite import SQLiteRunStore
    from looplet_core.durable.store_approver import StoreApprover, StoreEventLog
    from looplet_core.durable.stores import FileCheckpointStore, MemoryCheckpointStore
    from looplet_core.errors import (
        ApprovalError,
        BackendError,
        CheckpointError,
        ConfigError,
        ContextLengthError,
        DeadlineError,
        HookError,
        LoopletError,
        RateLimitError,
        ReplyCutOffError,
        ResponseFormatError,
        ScriptExhaustedError,
        StoreError,
        SubagentError,
        ToolRegistrationError,
        TraceError,
        TransientBackendError,
    )
    from looplet_core.evals.harness import (
        EvalContext,
        EvalHook,
        EvalResult,
        discover_evals,
        run_evals,
    )
    from looplet_core.events import Event, EventKind
    from looplet_core.loop import async_composable_loop, composable_loop, run_loop
    from looplet_core.messages import Conversation, Message, ToolCall
    from looplet_core.provenance.compare import Divergence
    from looplet_core.provenance.reader import TraceReader
    from looplet_core.provenance.redact import Redactor
    from looplet_core.provenance.replay import ReplayBackend, ReplayResult, replay_loop
    from looplet_core.provenance.sink import ProvenanceSink
    from looplet_core.records import (
        AttemptFailure,
        ContextStats,
        ErrorKind,
        HookDecision,
        LLMCall,
        StopReason,
        ToolResult,
        Usage,
    )
    from looplet_core.runs.fork import fork
    from looplet_core.runs.headless import run_in_store
    from looplet_core.runs.resume import ResumedRun, resume
    from looplet_core.state import DefaultState, LoopConfig, StepLog
    from looplet_core.step import BatchInfo, ChildRun, LoopResult, Step, StepStatus
    from looplet_core.telemetry import MetricsHook, TracingHook
    from looplet_core.tools.registry import BaseToolRegistry
    from looplet_core.tools.run import ToolContext
    from looplet_core.tools.spec import ToolSpec, tool
    from looplet_core.tools.view import ToolView

__version__ = "0.2.0"

# Where each public name lives; the module is imported on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Allow": "looplet_core.decisions",
    "ApprovalDecision": "looplet_core.approvals.requests",
    "ApprovalError": "looplet_core.errors",
    "ApprovalHook": "looplet_core.approvals.hooks",
    "ApprovalRecord": "looplet_core.durable.runstore",
    "ApprovalRequest": "looplet_core.approvals.requests",
    "AskApproval": "looplet_core.decisions",
    "BackendError": "looplet_core.errors",
    "BaseToolRegistry": "looplet_core.tools.registry",
    "BatchInfo": "looplet_core.step",
    "CancelToken": "looplet_core.cancel",
    "Checkpoint": "looplet_core.durable.checkpoints",
    "ChildRun": "looplet_core.step",
    "CheckpointError": "looplet_core.errors",
    "CheckpointHook": "looplet_core.durable.checkpointer",
    "CheckpointStore": "looplet_core.durable.checkpoints",
    "CompactContext": "looplet_core.context.compact",
    "Compacted": "looplet_core.context.compact",
    "CompactionReport": "looplet_core.context.hooks",
    "CompactionStage": "looplet_core.context.compact",
    "ConfigError": "looplet_core.errors",
    "ContextBudget": "looplet_core.context.budget",
    "ContextExhausted": "looplet_core.context.hooks",
    "ContextLengthError": "looplet_core.errors",
    "ContextMeter": "looplet_core.context.tokens",
    "ContextPressureHook": "looplet_core.context.hooks",
    "ContextStats": "looplet_core.records",
    "Continue": "looplet_core.decisions",
    "Conversation": "looplet_core.messages",
    "Decision": "looplet_core.approvals.hooks",
    "DefaultState": "looplet_core.state",
    "Deny": "looplet_core.decisions",
    "Edit": "looplet_core.decisions",
    "Divergence": "looplet_core.provenance.compare",
    "ErrorKind": "looplet_core.records",
    "EvalContext": "looplet_core.evals.harness",
    "EvalHook": "looplet_core.evals.harness",
    "EvalResult": "looplet_core.evals.harness",
    "Event": "looplet_core.events",
    "EventKind": "looplet_core.events",
    "FileCheckpointStore": "looplet_core.durable.stores",
    "HeuristicEstimator": "looplet_core.context.estimators",
    "HookDecision": "looplet_core.records",
    "HookError": "looplet_core.errors",
    "InjectContext": "looplet_core.decisions",
    "LLMBackend": "looplet_core.backends.base",
    "LLMCall": "looplet_core.records",
    "AttemptFailure": "looplet_core.records",
    "DeadlineError": "looplet_core.errors",
    "LLMResponse": "looplet_core.backends.base",
    "LoopConfig": "looplet_core.state",
    "LoopResult": "looplet_core.step",
    "LoopletError": "looplet_core.errors",
    "MemoryCheckpointStore": "looplet_core.durable.stores",
    "Message": "looplet_core.messages",
    "MetricsHook": "looplet_core.telemetry",
    "MockLLMBackend": "looplet_core.backends.mock",
    "PermissionHook": "looplet_core.approvals.permissions",
    "PermissionRule": "looplet_core.approvals.permissions",
    "PostgresRunStore": "looplet_core.durable.postgres",
    "Prompt": "looplet_core.context.prompt",
    "ProvenanceSink": "looplet_core.provenance.sink",
    "Prune": "looplet_core.context.compact",
    "RateLimitError": "looplet_core.errors",
    "Redactor": "looplet_core.provenance.redact",
    "ReplayBackend": "looplet_core.provenance.replay",
    "ReplayResult": "looplet_core.provenance.replay",
    "ReplyCutOffError": "looplet_core.errors",
    "ResponseFormatError": "looplet_core.errors",
    "ResumedRun": "looplet_core.runs.resume",
    "RunInfo": "looplet_core.durable.runstore",
    "RunStore": "looplet_core.durable.runstore",
    "SQLiteRunStore": "looplet_core.durable.sqlite",
    "ScriptExhaustedError": "looplet_core.errors",
    "Step": "looplet_core.step",
    "StepLog": "looplet_core.state",
    "StepStatus": "looplet_core.step",
    "Stop": "looplet_core.decisions",
    "SubagentError": "looplet_core.errors",
    "StopReason": "looplet_core.records",
    "StoreApprover": "looplet_core.durable.store_approver",
    "StoreError": "looplet_core.errors",
    "StoreEventLog": "looplet_core.durable.store_approver",
    "Summarize": "looplet_core.context.summarize",
    "TerminalApprover": "looplet_core.approvals.hooks",
    "ThresholdCompactHook": "looplet_core.context.hooks",
    "TiktokenEstimator": "looplet_core.context.estimators",
    "TokenEstimator": "looplet_core.context.estimators",
    "ToolCall": "looplet_core.messages",
    "ToolContext": "looplet_core.tools.run",
    "ToolRegistrationError": "looplet_core.errors",
    "ToolResult": "looplet_core.records",
    "ToolSpec": "looplet_core.tools.spec",
    "ToolView": "looplet_core.tools.view",
    "TraceError": "looplet_core.errors",
    "TraceReader": "looplet_core.provenance.reader",
    "TracingHook": "looplet_core.telemetry",
    "TransientBackendError": "looplet_core.errors",
    "Truncate": "looplet_core.context.compact",
    "Usage": "looplet_core.records",
    "async_composable_loop": "looplet_core.loop",
    "auto_approve": "looplet_core.approvals.hooks",
    "checkpoint_tree": "looplet_core.durable.checkpoints",
    "compact_chain": "looplet_core.context.compact",
    "composable_loop": "looplet_core.loop",
    "discover_evals": "looplet_core.evals.harness",
    "fork": "looplet_core.runs.fork",
    "history": "looplet_core.durable.checkpoints",
    "latest_checkpoint": "looplet_core.durable.checkpoints",
    "open_store": "looplet_core.durable.connect",
    "replay_loop": "looplet_core.provenance.replay",
    "resume": "looplet_core.runs.resume",
    "run_evals": "looplet_core.evals.harness",
    "run_in_store": "looplet_core.runs.headless",
    "run_loop": "looplet_core.loop",
    "subagent": "looplet_core.agents",
    "tool": "looplet_core.tools.spec",
}

__all__ = [
    "Allow",
    "ApprovalDecision",
    "ApprovalError",
    "ApprovalHook",
    "ApprovalRecord",
    "ApprovalRequest",
    "AskApproval",
    "AttemptFailure",
    "BackendError",
    "BaseToolRegistry",
    "BatchInfo",
    "CancelToken",
    "Checkpoint",
    "CheckpointError",
    "CheckpointHook",
    "CheckpointStore",
    "ChildRun",
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
    "DeadlineError",
    "Decision",
    "DefaultState",
    "Deny",
    "Divergence",
    "Edit",
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
    "PostgresRunStore",
    "Prompt",
    "ProvenanceSink",
    "Prune",
    "RateLimitError",
    "Redactor",
    "ReplayBackend",
    "ReplayResult",
    "ReplyCutOffError",
    "ResponseFormatError",
    "ResumedRun",
    "RunInfo",
    "RunStore",
    "SQLiteRunStore",
    "ScriptExhaustedError",
    "Step",
    "StepLog",
    "StepStatus",
    "Stop",
    "StopReason",
    "StoreApprover",
    "StoreError",
    "StoreEventLog",
    "SubagentError",
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
    "ToolView",
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
    "open_store",
    "replay_loop",
    "resume",
    "run_evals",
    "run_in_store",
    "run_loop",
    "subagent",
    "tool",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
