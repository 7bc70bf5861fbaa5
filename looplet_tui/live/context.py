"""Context-window numbers for the gauge: the loop's own ``ContextStats`` when it has them.

``Step.context`` (and ``Prompt.stats``) carry the loop's accounting of how full the window was,
by role.  A run that predates it, a trace recorded without it, or a backend that reports no usage
still has the exact messages on ``Step.prompt``; for those the debugger estimates at four
characters a token and says so (``measured=False`` shows as "est." on screen), rather than
showing nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from looplet_core import ContextStats, Message, Step

__all__ = ["ROLES", "estimate", "message_tokens", "stats_for"]

ROLES = ("system", "tools", "user", "assistant", "tool")
"""The gauge's segments, in the order they are stacked."""


def message_tokens(message: Message) -> int:
    """Rough token count of one message: characters / 4, tool calls included."""
    size = len(message.content) + len(message.reasoning or "")
    for call in message.tool_calls:
        size += len(call.tool) + len(json.dumps(call.args, ensure_ascii=False, default=str))
    return (size + 3) // 4 + 4  # + per-message overhead of the chat format


def estimate(
    messages: Sequence[Message], tools: Sequence[Any] = (), window: int | None = None
) -> ContextStats:
    by_role: dict[str, int] = dict.fromkeys(ROLES, 0)
    for message in messages:
        by_role[message.role] += message_tokens(message)
    if tools:
        by_role["tools"] = len(json.dumps(list(tools), ensure_ascii=False, default=str)) // 4
    return ContextStats(by_role=by_role, total=sum(by_role.values()), window=window, measured=False)


def stats_for(step: Step, window: int | None, tools: Sequence[Any] = ()) -> ContextStats | None:
    """The step's recorded context stats, else an estimate from its prompt, else None."""
    if step.context is not None:
        return step.context
    if step.prompt is None:
        return None
    return estimate(step.prompt, tools, window)
