"""Every exception looplet raises, under one base so callers can catch the library as a whole.

The tree::

    LoopletError
    ├── ConfigError                  a LoopConfig, budget, ToolSpec or hook is set up wrongly
    │   └── ToolRegistrationError    a tool was registered twice or its schema is invalid
    ├── BackendError                 the model server failed; the run ends with llm_error
    │   ├── TransientBackendError    worth retrying: timeout, connection reset, 5xx
    │   │   ├── RateLimitError       429; carries the server's Retry-After when it sent one
    │   │   ├── ReplyCutOffError     the server took the request, then the reply stopped short
    │   │   └── DeadlineError        a reply took longer than llm_deadline, or the run ran out
    │   ├── ContextLengthError       the prompt is longer than the model's window
    │   └── ResponseFormatError      the server answered, but not with something usable
    ├── ScriptExhaustedError         MockLLMBackend ran out of scripted replies
    ├── HookError                    a hook raised; names the hook and the phase
    ├── SubagentError                a sub-agent's run ended without an answer (a tool error)
    ├── ApprovalError                an approval was resolved twice, or with invalid arguments
    ├── CheckpointError              a checkpoint is missing, corrupt, or of an unknown format
    │   └── StoreError               a run store cannot be opened or used (URL, server, file, lock)
    ├── TraceError                   a provenance trace is missing, corrupt, or of an unknown format
    └── MCPError                     an MCP server (looplet_core.mcp) failed; the message names it
        ├── MCPConnectError          the server did not start, or did not answer the handshake
        ├── MCPSchemaError           a tool the server lists cannot be registered as it is
        ├── MCPCallError             a call got no answer: the server exited, closed or refused it
        └── MCPToolError             the server ran the tool and reported an error (``isError``)

Errors *inside* a run (a tool that raises, bad arguments from the model, a malformed reply) do not
raise: they become error steps the model is told about.  Only failures of the caller's own setup, of
the scripted backend, or of persisted files raise.  (``MCPCallError`` and ``MCPToolError`` are
raised inside an MCP tool, so in a run they arrive as error steps, like any tool's exception.)
"""

from __future__ import annotations

__all__ = [
    "ApprovalError",
    "BackendError",
    "CheckpointError",
    "ConfigError",
    "ContextLengthError",
    "DeadlineError",
    "HookError",
    "LoopletError",
    "MCPCallError",
    "MCPConnectError",
    "MCPError",
    "MCPSchemaError",
    "MCPToolError",
    "RateLimitError",
    "ReplyCutOffError",
    "ResponseFormatError",
    "ScriptExhaustedError",
    "StoreError",
    "SubagentError",
    "ToolRegistrationError",
    "TraceError",
    "TransientBackendError",
]


class LoopletError(Exception):
    """Base of every looplet exception: catch this to handle any of them."""


class ConfigError(LoopletError, ValueError):
    """When you see this: fix the arguments you passed; the message says which and why."""


class ToolRegistrationError(ConfigError):
    """When you see this: a tool name is taken, or its parameters are not a valid schema."""


class BackendError(LoopletError):
    """When you see this: the model server failed in a way retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientBackendError(BackendError):
    """When you see this: the loop already retried with backoff and the server still failed."""


class RateLimitError(TransientBackendError):
    """When you see this: the server said 429; ``retry_after`` is its requested wait in seconds."""

    def __init__(
        self, message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ReplyCutOffError(TransientBackendError):
    """When you see this: the server took the request but its reply stopped short, even on retry.

    Two ways it happens, told apart by ``how`` (docs/reliability.md): ``"truncated"``, the stream
    closed cleanly before its final chunk (no ``finish_reason`` / ``message_stop``); ``"dropped"``,
    the server closed or reset the connection after it had the request (before or during the
    reply).  ``received_chars`` is how much reply text had arrived.  A server that cannot be
    reached at all is a plain TransientBackendError ("connection failed"), not this.
    """

    def __init__(self, message: str, *, how: str, received_chars: int = 0) -> None:
        super().__init__(message)
        self.how = how
        self.received_chars = received_chars


class DeadlineError(TransientBackendError):
    """When you see this: the model's reply did not arrive within a deadline of the loop's.

    ``limit`` names the setting that ran out: ``"llm_deadline"`` (one attempt, from the request
    to the reply's last byte, streamed or not) or ``"run_deadline"`` (the whole run).  A server
    that sends a byte now and then, or keep-alive lines forever, never trips a read timeout; it
    trips this.  An attempt past ``llm_deadline`` is retried like a timeout while the run's own
    deadline leaves room; raise the limit if the model is simply slow.
    """

    def __init__(self, message: str, *, limit: str, seconds: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.seconds = seconds


class ContextLengthError(BackendError):
    """When you see this: the prompt did not fit the model's window even after compaction."""


class ResponseFormatError(BackendError):
    """When you see this: the server's reply had no usable choice, message or content."""


class ScriptExhaustedError(LoopletError):
    """When you see this: a MockLLMBackend was asked for more replies than its script holds."""


class HookError(LoopletError):
    """When you see this: one of your hooks raised; ``hook`` and ``phase`` say which."""

    def __init__(self, hook: str, phase: str, cause: BaseException) -> None:
        super().__init__(f"hook {hook}.{phase} raised {type(cause).__name__}: {cause}")
        self.hook = hook
        self.phase = phase
        self.cause = cause


class SubagentError(LoopletError):
    """When you see this (as a tool error in the parent run): a sub-agent stopped without an
    answer; the message names it and its stop reason, and ``Step.child`` holds its steps."""


class ApprovalError(LoopletError):
    """When you see this: an approval request was already decided, or edited args are invalid."""


class CheckpointError(LoopletError):
    """When you see this: a checkpoint file is unreadable; the message names file and problem.

    When the newest checkpoint of a run is damaged but an older one loads, ``intact`` is that
    one's id and ``problem`` the damage alone, so a command can word its own way out.
    """

    def __init__(self, message: str, *, intact: str | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.intact = intact
        self.problem = problem or message


class StoreError(CheckpointError):
    """When you see this: a run store (SQLite file, PostgreSQL server) cannot be opened or used;
    the message names the store (never its password) and what to do."""


class TraceError(LoopletError):
    """When you see this: a trace directory is unreadable; the message names file and problem."""


class MCPError(LoopletError):
    """When you see this: an MCP server misbehaved; ``server`` names it (its name or command)."""

    def __init__(self, message: str, *, server: str = "") -> None:
        super().__init__(message)
        self.server = server


class MCPConnectError(MCPError):
    """When you see this: the server's command is missing or failed, or its URL did not answer;
    the message says which, with the end of what the server wrote to stderr."""


class MCPSchemaError(MCPError):
    """When you see this: a tool's name or input schema from the server is unusable; leave the
    tool out with ``deny=[...]`` or fix the server.  ``tool`` is the server's name for it."""

    def __init__(self, message: str, *, server: str = "", tool: str = "") -> None:
        super().__init__(message, server=server)
        self.tool = tool


class MCPCallError(MCPError):
    """When you see this (usually as an error step): a tool call got no answer because the server
    exited or closed the connection, or it refused the request; ``restart()`` the connection."""


class MCPToolError(MCPError):
    """When you see this (usually as an error step): the server ran the tool and said it failed
    (``isError``); the message is the server's own text."""
