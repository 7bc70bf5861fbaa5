"""``Prompt``: what a ``pre_prompt`` hook sees and may edit before the model is called."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from looplet_core.backends.base import ToolSchema
from looplet_core.messages import Conversation, Message
from looplet_core.records import ContextStats

if TYPE_CHECKING:
    from looplet_core.context.tokens import ContextMeter

__all__ = ["Prompt"]


@dataclass(slots=True)
class Prompt:
    """The request about to be sent: messages and tool schemas.

    Returning an edited ``Prompt`` from ``pre_prompt`` changes this one request only.  To change
    the history itself (compaction), call ``prompt.conversation.replace(...)``: later hooks then see
    the new history, and so does every later request.
    """

    messages: Sequence[Message]
    tools: Sequence[ToolSchema]
    step: int
    conversation: Conversation
    stats: ContextStats | None = None
    notes: list[str] = field(default_factory=list[str])
    meter: ContextMeter | None = None
    """The run's token meter: prices messages as ``stats`` was priced (compaction plans with it)."""
    llm: Any = None
    """The run's backend, for hooks that must ask the model themselves (``Summarize``)."""
    emit: Callable[..., None] | None = None
    """``emit(EventKind, **data)``: lets a hook report what it did (compaction, tier changes)."""

    def with_messages(self, messages: Sequence[Message]) -> Prompt:
        return replace(self, messages=list(messages))

    def map_text(self, fn: Callable[[str], str]) -> Prompt:
        """A copy with ``fn`` applied to every message's text (for redaction and the like)."""
        return self.with_messages([replace(m, content=fn(m.content)) for m in self.messages])

    @property
    def text(self) -> str:
        """All message texts with role headers: handy for search, redaction checks and tests."""
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)

    def __str__(self) -> str:
        return self.text
