"""Writing each model call's prompt: machine-readable once, readable as often as asked.

Every message the model is sent is redacted and encoded once and appended to ``messages.jsonl``.
A prompt that extends the previous one (the usual case: the conversation only grows) appends only
its new messages, so each prompt is one contiguous byte range of that file and the file grows
linearly with the run.  After a rewrite (compaction, a hook's edited prompt) the whole prompt is
appended again.  The readable ``llm/NNNNNN.prompt.txt``, when asked for, holds the whole prompt
(``"full"``) or only the new messages (``"new"``); by default (``"none"``) there is none, since
``messages.jsonl`` holds every prompt exactly and rendering it costs more than recording it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from looplet_core.messages import Conversation, Message
from looplet_core.provenance import format as fmt
from looplet_core.provenance.steptext import message_text
from looplet_core.provenance.streams import StreamWriter

__all__ = ["PromptFiles", "PromptWriter"]

PromptFiles = Literal["none", "full", "new"]
"""Which readable prompt files to write: none, each whole prompt, or each one's new messages."""

Encode = Callable[[Any], tuple[Any, str]]
"""``value -> (value redacted, its JSON text)``: the sink's redacting encoder."""
Scan = Callable[[str], bool]
"""``text -> whether it may hold a secret`` (``Redactor.found_in``): never False when it does,
and True for a text when it is True for a part of it, so new messages are scanned as one text."""


class PromptWriter:
    """Appends prompts to an open ``messages.jsonl`` (and writes readable prompt files if asked).

    ``conversation`` (set by the sink from what its ``pre_prompt`` sees) makes the usual check,
    "does this prompt extend the previous one", O(1): two views of one history since its last
    rewrite.  Without it, or across a rewrite, the two lists are compared, identity first, in C.
    """

    def __init__(
        self,
        path: Path,
        messages: StreamWriter,
        encode: Encode,
        *,
        files: PromptFiles,
        scan: Scan | None = None,
        keep_sizes: bool = False,
    ) -> None:
        self.path = path
        self._keep_sizes = keep_sizes
        self._root = os.fspath(path)
        self.conversation: Conversation | None = None
        self._messages = messages
        self._encode = encode
        self._scan = scan
        self._files = files
        self._prev: Sequence[Message] = ()
        self._range = (0, 0)
        self._sizes: list[int] = []
        """The byte size of each message line of the prompt last written (its range)."""
        self._text = ""

    def write(self, call: int, sent: Sequence[Message], tools: int | None) -> dict[str, int]:
        """Record call ``call``'s prompt; returns where it lives in ``messages.jsonl``.
        ``tools``: how many tool schemas went with it (None: not known, a sub-agent's)."""
        prev = self._prev
        n = len(prev)
        extends = self._extends(prev, sent)
        # By index, not ``sent[n:]``: a conversation view's slice copies the whole history
        # first, which made each call cost the length of the run.
        new = [sent[i] for i in range(n, len(sent))] if extends else sent
        lines: list[str] | None = None
        redacted: Sequence[Message] = new
        scan = self._scan
        if scan is not None:  # the usual case: encode the new messages, scan them as one text
            lines = [message_text(message) + "\n" for message in new]
            if scan("".join(lines)):
                lines = None  # something to redact: message by message, below
        if lines is None:
            redacted, lines = [], []
            for message in new:
                raw = message.to_dict()
                clean, line = self._encode(raw)
                redacted.append(message if clean is raw else Message.from_dict(clean))
                lines.append(line + "\n")
        if self._keep_sizes:
            if not extends:
                self._sizes = []
            self._sizes += [len(line.encode("utf-8", "backslashreplace")) for line in lines]
        payload = "".join(lines).encode("utf-8", "backslashreplace")
        at = self._messages.append(payload)
        start, length = self._range if extends else (at, 0)
        self._range = (start, length + len(payload))
        if self._files != "none":
            self._write_file(call, redacted, n if extends else 0, len(sent), tools)
        self._prev = sent
        return {"offset": start, "length": length + len(payload), "count": len(sent)}

    def prefix(self, count: int) -> dict[str, int] | None:
        """Where the first ``count`` messages of the prompt last written are (``keep_sizes``);
        None when it has fewer."""
        if not 0 < count <= len(self._sizes):
            return None
        return {"offset": self._range[0], "length": sum(self._sizes[:count]), "count": count}

    def _write_file(
        self, call: int, new: Sequence[Message], kept: int, count: int, tools: int | None
    ) -> None:
        """The readable prompt file: ``new`` follows ``kept`` messages of the previous call."""
        block = fmt.render_messages(new, kept + 1)
        header = fmt.prompt_header(call, count, tools)
        if self._files == "full":
            self._text = (self._text if kept else "") + block
            text = header + self._text
        else:
            note = f"(messages 1-{kept} are as in the previous call)\n\n" if kept else ""
            text = header + note + block
        fmt.write_text(os.path.join(self._root, fmt.prompt_path(call)), text)

    def _extends(self, prev: Sequence[Message], sent: Sequence[Message]) -> bool:
        n = len(prev)
        if n == 0 or len(sent) < n or sent[n - 1] is not prev[n - 1]:
            return False
        history = self.conversation
        if history is not None and history.is_current(prev) and history.is_current(sent):
            return True
        return list(sent[:n]) == list(prev)
