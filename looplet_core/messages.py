"""The conversation the model is sent: messages, tool calls, and an append-only history.

The loop keeps the real conversation (system, user, assistant with tool calls, tool results) rather
than re-rendering a prompt string each step, so what the model saw can be shown, diffed and counted.

``Conversation`` is append-only between explicit rewrites (compaction).  ``Conversation.view()``
returns an immutable prefix snapshot in O(1): the loop hands the backend a view instead of copying
the message list, which keeps per-step cost flat and lets a scripted backend record every prompt
without quadratic memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast, overload

__all__ = ["Conversation", "Message", "MessageView", "Role", "ToolCall"]

Role = Literal["system", "user", "assistant", "tool"]
T = TypeVar("T")
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")


def optional(value: object, kind: type[T], what: str) -> T | None:
    """``value`` if it is None or a ``kind``, else a TypeError naming ``what``.

    For ``from_dict``: a saved file with a list where a string belongs must fail when it is read
    (loaders turn the TypeError into a clear CheckpointError / TraceError), not later, in the
    middle of printing a step.
    """
    if value is None or isinstance(value, kind):
        return value
    raise TypeError(f"{what} should be {kind.__name__} or null, got {type(value).__name__}")


class _NewDict:
    """``ToolCall``'s "no args given": each call then gets its own empty dict (an explicit None
    stays None, as with the generated __init__)."""

    def __repr__(self) -> str:
        return "{}"


_NEW_DICT: Any = _NewDict()


@dataclass(frozen=True, slots=True, init=False)
class ToolCall:
    """One call the model asked for.

    ``parse_error`` is set when the model's arguments could not be decoded (malformed JSON); the
    loop then reports the error to the model instead of dispatching.
    """

    tool: str
    args: dict[str, Any] = field(default_factory=dict[str, Any])
    id: str = ""
    parse_error: str | None = None

    # Written out, not generated: a frozen dataclass's own __init__ sets each field through
    # object.__setattr__, which made building the few messages and calls of a step a visible
    # part of the loop's per-step cost.  The slot setters below do the same work directly.
    def __init__(
        self,
        tool: str,
        args: dict[str, Any] = _NEW_DICT,
        id: str = "",
        parse_error: str | None = None,
    ) -> None:
        _call_tool(self, tool)
        _call_args(self, {} if args is _NEW_DICT else args)
        _call_id(self, id)
        _call_parse_error(self, parse_error)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "tool": self.tool, "args": self.args}
        if self.parse_error is not None:
            out["parse_error"] = self.parse_error
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolCall:
        return cls(
            tool=str(data["tool"]),
            args=dict(data.get("args") or {}),
            id=str(data.get("id", "")),
            parse_error=optional(data.get("parse_error"), str, "parse_error"),
        )


_call_tool, _call_args, _call_id, _call_parse_error = (
    ToolCall.__dict__[name].__set__ for name in ("tool", "args", "id", "parse_error")
)


@dataclass(frozen=True, slots=True, init=False)
class Message:
    """One message of the conversation, in a provider-neutral shape.

    ``tool_calls`` is set on assistant messages that call tools; ``tool_call_id`` and ``name`` on
    tool results.  Backends translate this shape into their wire format.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning: str | None = None

    def __init__(  # noqa: PLR0917 - positional, as the generated one was; written out for speed
        self,
        role: Role,
        content: str = "",
        tool_calls: tuple[ToolCall, ...] = (),
        tool_call_id: str | None = None,
        name: str | None = None,
        reasoning: str | None = None,
    ) -> None:
        _msg_role(self, role)
        _msg_content(self, content)
        _msg_tool_calls(self, tool_calls)
        _msg_tool_call_id(self, tool_call_id)
        _msg_name(self, name)
        _msg_reasoning(self, reasoning)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [tc.to_dict() for tc in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        role = data.get("role")
        if role not in ROLES:
            raise ValueError(f"message role must be one of {ROLES}, got {role!r}")
        calls = cast(list[dict[str, Any]], data.get("tool_calls") or [])
        return cls(
            role=role,
            content=str(data.get("content") or ""),
            tool_calls=tuple(ToolCall.from_dict(c) for c in calls),
            tool_call_id=optional(data.get("tool_call_id"), str, "tool_call_id"),
            name=optional(data.get("name"), str, "name"),
            reasoning=optional(data.get("reasoning"), str, "reasoning"),
        )


_msg_role, _msg_content, _msg_tool_calls, _msg_tool_call_id, _msg_name, _msg_reasoning = (
    Message.__dict__[name].__set__
    for name in ("role", "content", "tool_calls", "tool_call_id", "name", "reasoning")
)


class MessageView(Sequence[Message]):
    """An immutable prefix of a conversation's storage: O(1) to take, safe to keep."""

    __slots__ = ("_items", "_length")

    def __init__(self, items: list[Message], length: int) -> None:
        self._items = items
        self._length = length

    def __len__(self) -> int:
        return self._length

    @property
    def storage(self) -> object:
        """The list this view reads.  A conversation only appends to it (a rewrite starts a new
        one), so two views with the same storage share their first ``min(len)`` messages: an
        observer can count what a new prompt added without walking the whole prompt again."""
        return self._items

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            return self._items[: self._length][index]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("message index out of range")
        return self._items[index]

    def __iter__(self) -> Iterator[Message]:
        items = self._items
        for i in range(self._length):
            yield items[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(cast(Sequence[object], other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MessageView({len(self)} messages)"


class Conversation:
    """The run's message history: appends are O(1); ``replace`` is the only rewrite.

    ``revision`` counts rewrites so that observers (token accounting, checkpoint logs) can tell an
    append from a compaction without re-reading the history.
    """

    __slots__ = ("_items", "revision")

    def __init__(self, messages: Sequence[Message] = ()) -> None:
        self._items: list[Message] = list(messages)
        self.revision = 0

    def append(self, message: Message) -> None:
        self._items.append(message)

    def extend(self, messages: Sequence[Message]) -> None:
        self._items.extend(messages)

    def replace(self, messages: Sequence[Message]) -> None:
        """Swap the whole history (compaction).  Views taken earlier keep the old messages."""
        self._items = list(messages)
        self.revision += 1

    def view(self) -> MessageView:
        return MessageView(self._items, len(self._items))

    def is_current(self, messages: Sequence[Message]) -> bool:
        """True if ``messages`` is a view of this history taken since the last ``replace``: a
        prefix of the current messages, so a token meter need only price what was appended."""
        return isinstance(messages, MessageView) and messages._items is self._items  # pyright: ignore[reportPrivateUsage]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items[:])

    def __getitem__(self, index: int) -> Message:
        return self._items[index]

    def __repr__(self) -> str:
        return f"Conversation({len(self._items)} messages, revision {self.revision})"
