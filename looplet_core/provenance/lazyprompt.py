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

import bisect
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
    """The lines of the last few prompt runs read from ``messages.jsonl``, with their offsets,
    and the messages parsed from them by offset (both bounded).

    A run is what prompts starting at one offset have read so far: each prompt that extends the
    previous one covers the same first bytes and a few more, so the next step's prompt reads and
    splits only the bytes past the run's last line, and an earlier step's is a prefix of the run
    (nothing read).  Reading a whole prompt again per step made a step near the end of a long
    trace cost the length of the run (20,000 lines split at step 10,000)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._runs: OrderedDict[int, tuple[list[bytes], list[int], int]] = OrderedDict()
        """Start offset -> the lines read from it, where each starts, and where reading ended."""
        self._messages: dict[int, Message] = {}

    def lines(self, offset: int, length: int) -> tuple[list[bytes], list[int], int]:
        """The lines of the run starting at ``offset``, where each starts, and how many of them
        are the ``length`` bytes at ``offset`` (what ``splitlines`` of those bytes gives)."""
        end = offset + length
        run = self._runs.get(offset)
        if run is not None:
            self._runs.move_to_end(offset)
            lines, starts, read_to = run
            if end <= read_to:  # the lines starting before ``end``, if the last is whole
                count = bisect.bisect_left(starts, end)
                if count == 0 or starts[count - 1] + len(lines[count - 1]) <= end:
                    return lines, starts, count
            elif lines:  # read on from the last line's start: it may have been cut short
                more, more_starts = self._read(starts[-1], end - starts[-1])
                lines[-1:] = more
                starts[-1:] = more_starts
                self._runs[offset] = (lines, starts, end)
                return lines, starts, len(lines)
        lines, starts = self._read(offset, length)
        self._runs[offset] = (lines, starts, end)
        while len(self._runs) > _RANGES_KEPT:
            self._runs.popitem(last=False)
        return lines, starts, len(lines)

    def _read(self, offset: int, length: int) -> tuple[list[bytes], list[int]]:
        try:
            with open(self.file, "rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except OSError as exc:
            raise TraceError(f"{self.file}: cannot read a prompt ({exc})") from exc
        lines = data.splitlines()
        ends = (len(line) + 1 for line in lines[:-1])  # where each next line starts
        return lines, list(itertools.accumulate(ends, initial=offset))

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
        lines, starts, found = self._lines.lines(self._offset, self._length)
        if found != self._count:
            raise TraceError(
                f"{self._lines.file}: the prompt of call {self.call} should have {self._count} "
                f"messages, found {found} (the file is truncated)"
            )
        return self._lines.message(starts[index], lines[index], self.call)

    def __repr__(self) -> str:
        return f"LazyPrompt(call={self.call}, messages={self._count})"
