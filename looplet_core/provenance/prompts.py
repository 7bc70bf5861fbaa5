"""Writing each model call's prompt: machine-readable once, readable as often as asked.

Every message the model is sent is redacted and encoded once and appended to ``messages.jsonl``.
A prompt that extends the previous one (the usual case: the conversation only grows) appends only
its new messages, so each prompt is one contiguous byte range of that file and the file grows
linearly with the run.  After a rewrite (compaction, a hook's edited prompt) the whole prompt is
appended again.  The readable ``llm/NNNNNN.prompt.txt`` holds the whole prompt (``full``) or only
the new messages (``new``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from looplet_core.messages import Conversation, Message
from looplet_core.provenance import format as fmt

__all__ = ["PromptWriter"]

Encode = Callable[[Any], tuple[Any, str]]
"""``value -> (value redacted, its JSON text)``: the sink's redacting encoder."""


class PromptWriter:
    """Appends prompts to an open ``messages.jsonl`` and writes the readable prompt files.

    ``conversation`` (set by the sink from what its ``pre_prompt`` sees) makes the usual check,
    "does this prompt extend the previous one", O(1): two views of one history since its last
    rewrite.  Without it, or across a rewrite, the two lists are compared, identity first, in C.
    """

    def __init__(self, path: Path, messages: IO[bytes], encode: Encode, *, full: bool) -> None:
        self.path = path
        self.conversation: Conversation | None = None
        self._messages = messages
        self._encode = encode
        self._full = full
        self._size = messages.tell()
        self._prev: Sequence[Message] = ()
        self._range = (0, 0)
        self._text = ""

    def write(self, call: int, sent: Sequence[Message], tools: int) -> dict[str, int]:
        """Record call ``call``'s prompt; returns where it lives in ``messages.jsonl``."""
        prev = self._prev
        n = len(prev)
        extends = self._extends(prev, sent)
        redacted: list[Message] = []
        lines: list[str] = []
        for message in sent[n:] if extends else sent:
            raw = message.to_dict()
            clean, line = self._encode(raw)
            redacted.append(message if clean is raw else Message.from_dict(clean))
            lines.append(line + "\n")
        payload = "".join(lines).encode("utf-8", "backslashreplace")
        self._messages.write(payload)
        self._messages.flush()
        start, length = self._range if extends else (self._size, 0)
        self._range = (start, length + len(payload))
        self._size += len(payload)
        block = fmt.render_messages(redacted, n + 1 if extends else 1)
        header = fmt.prompt_header(call, len(sent), tools)
        if self._full:
            self._text = (self._text if extends else "") + block
            text = header + self._text
        else:
            note = f"(messages 1-{n} are as in the previous call)\n\n" if extends else ""
            text = header + note + block
        (self.path / fmt.prompt_path(call)).write_text(
            text, encoding="utf-8", errors="backslashreplace"
        )
        self._prev = sent
        return {"offset": start, "length": length + len(payload), "count": len(sent)}

    def _extends(self, prev: Sequence[Message], sent: Sequence[Message]) -> bool:
        n = len(prev)
        if n == 0 or len(sent) < n or sent[n - 1] is not prev[n - 1]:
            return False
        history = self.conversation
        if history is not None and history.is_current(prev) and history.is_current(sent):
            return True
        return list(sent[:n]) == list(prev)
