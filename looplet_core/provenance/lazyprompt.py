"""Prompts read message by message, for viewers that step through long traces.

``TraceReader.prompt`` parses a whole prompt; a viewer stepping through a 10,000-step run shows
only the newest messages of each, and consecutive prompts share almost all of theirs.  A
``LazyPrompt`` knows its byte range in ``messages.jsonl`` and its length, reads the range only
when a message is asked for, and parses only the messages asked for.  Parsed messages are kept by
their byte offset in the file, so the same line read for two prompts that extend each other is
one ``Message`` object: a view that caches by identity re-renders only what is new.

It holds no bytes itself (a step keeps its prompt; ten thousand stored prompts must not pin the
file ten thousand times): the ranges recently read live in ``PromptLines``, shared by the reader.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import overload

from looplet_core.errors import TraceError
from looplet_core.messages import Message

__all__ = ["LazyPrompt", "PromptLines"]

_RANGES_KEPT = 2
_MESSAGES_KEPT = 50_000
_BAD = (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError)


class PromptLines:
    """The last few prompt ranges read from ``messages.jsonl``, split into lines with their
    offsets, and the messages parsed from them by offset (both bounded)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._ranges: OrderedDict[tuple[int, int], tuple[list[bytes], list[int]]] = OrderedDict()
        self._messages: dict[int, Message] = {}

    def lines(self, offset: int, length: int) -> tuple[list[bytes], list[int]]:
        key = (offset, length)
        found = self._ranges.get(key)
        if found is not None:
            self._ranges.move_to_end(key)
            return found
        try:
            with open(self.file, "rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except OSError as exc:
            raise TraceError(f"{self.file}: cannot read a prompt ({exc})") from exc
        lines = data.splitlines()
        ends = (len(line) + 1 for line in lines[:-1])  # where each next line starts
        starts = list(itertools.accumulate(ends, initial=offset))
        found = (lines, starts)
        self._ranges[key] = found
        while len(self._ranges) > _RANGES_KEPT:
            self._ranges.popitem(last=False)
        return found

    def message(self, start: int, raw: bytes, call: int) -> Message:
        cached = self._messages.get(start)
        if cached is not None:
            return cached
        try:
            message = Message.from_dict(json.loads(raw))
        except _BAD as exc:
            raise TraceError(
                f"{self.file}: a message of call {call}'s prompt is corrupt ({exc})"
            ) from exc
        if len(self._messages) >= _MESSAGES_KEPT:
            self._messages.clear()
        self._messages[start] = message
        return message


class LazyPrompt(Sequence[Message]):
    """Call ``call``'s prompt: ``count`` messages in ``length`` bytes at ``offset``."""

    def __init__(self, lines: PromptLines, call: int, offset: int, length: int, count: int) -> None:
        self._lines = lines
        self.call = call
        self._offset, self._length, self._count = offset, length, count

    def __len__(self) -> int:
        return self._count

    @property
    def ref(self) -> dict[str, int]:
        """Where the prompt lives: ``{"offset", "length", "count"}`` in its ``messages.jsonl``."""
        return {"offset": self._offset, "length": self._length, "count": self._count}

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"message {index} of a {self._count}-message prompt")
        lines, starts = self._lines.lines(self._offset, self._length)
        if len(lines) != self._count:
            raise TraceError(
                f"{self._lines.file}: the prompt of call {self.call} should have {self._count} "
                f"messages, found {len(lines)} (the file is truncated)"
            )
        return self._lines.message(starts[index], lines[index], self.call)

    def __repr__(self) -> str:
        return f"LazyPrompt(call={self.call}, messages={self._count})"
