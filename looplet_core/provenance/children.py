"""Sub-agents' prompts in a trace: each child run gets a prompt stream of its own, written once.

A parent step's file holds the sub-agent run it started (``Step.child``) without prompts: each
repeats the child's conversation, so keeping them in the step would make the file grow
quadratically.  Instead the sink writes a child's prompts the way it writes the parent's
(``prompts.PromptWriter``: a prompt that extends the previous one appends only its new messages)
into the child's own directory, ``children/000001/`` for the sub-agent step 1 ran and
``children/000001/000002/`` for the one its step 2 ran (``format.child_dir``), with a readable
``llm/NNNNNN.prompt.txt`` per model call when the sink writes readable prompt files.  Each child
step's record in the step line gets a ``prompt_ref`` (offset, length and message count in that
directory's ``messages.jsonl``), which ``TraceReader`` follows.

A child keeps its prompts while the parent runs because the sink asks for them
(``ProvenanceSink.wants_child_prompts``).  A step logged again (its call resumed after an
approval pause) keeps the references of prompts written the first time, when its restored
steps no longer carry them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from looplet_core.messages import Message
from looplet_core.provenance import format as fmt
from looplet_core.provenance.prompts import Encode, PromptFiles, PromptWriter, Scan
from looplet_core.provenance.streams import StreamWriter
from looplet_core.step import ChildRun, Step

__all__ = ["ChildPrompts"]

Ref = dict[str, int]


class ChildPrompts:
    """Writes the prompts of the sub-agent runs under a trace's steps (see the module docs)."""

    def __init__(
        self, root: Path, encode: Encode, *, files: PromptFiles, scan: Scan | None
    ) -> None:
        self.root = root
        self._encode = encode
        self._files: PromptFiles = files
        self._scan = scan
        self._refs: dict[tuple[int, ...], dict[int, Ref]] = {}
        """References written so far, by child path and then child step number."""

    def write(self, number: int, child: ChildRun, record: dict[str, Any]) -> None:
        """Write the prompts of ``child`` (run by parent step ``number``) and of its own
        children; put each step's ``prompt_ref`` into ``record`` (``child.to_dict()``)."""
        self._write((number,), child, record)

    def _write(self, path: tuple[int, ...], child: ChildRun, record: dict[str, Any]) -> None:
        raw_steps = cast(list[dict[str, Any]], record.get("steps") or [])
        known = self._refs.setdefault(path, {})
        writer: PromptWriter | None = None
        handle = None
        last: tuple[Sequence[Message], Ref] | None = None
        unknown: list[tuple[Step, dict[str, Any]]] = []  # no prompt, none written before
        try:
            for step, raw in zip(child.steps, raw_steps, strict=True):
                prompt = step.prompt
                if prompt is not None:
                    if last is not None and last[0] is prompt:  # calls of one reply: one prompt
                        ref = last[1]
                    else:
                        if writer is None:
                            handle, writer = self._open(path)
                        call = step.llm_call.index if step.llm_call else step.number
                        ref = writer.write(call, prompt, None)
                        last = (prompt, ref)
                    known[step.number] = ref
                    for earlier, earlier_raw in unknown:
                        assert writer is not None  # a prompt was just written through it
                        found = _resumed_prompt(writer, prompt, earlier)
                        if found is not None:
                            known[earlier.number] = found
                            earlier_raw["prompt_ref"] = dict(found)
                    unknown = []
                elif step.llm_call is not None and step.number not in known:
                    unknown.append((step, raw))
                ref = known.get(step.number)
                if ref is not None:
                    raw["prompt_ref"] = dict(ref)
                if step.child is not None:
                    self._write((*path, step.number), step.child, raw["child"])
        finally:
            if handle is not None:
                handle.close()

    def _open(self, path: tuple[int, ...]) -> tuple[StreamWriter, PromptWriter]:
        directory = self.root / fmt.child_dir(path)
        directory.mkdir(parents=True, exist_ok=True)
        if self._files != "none":
            (directory / fmt.LLM_DIR).mkdir(exist_ok=True)
        stream = StreamWriter(os.path.join(directory, fmt.MESSAGES))
        return stream, PromptWriter(
            directory, stream, self._encode, files=self._files, scan=self._scan, keep_sizes=True
        )


def _resumed_prompt(writer: PromptWriter, later: Sequence[Message], step: Step) -> Ref | None:
    """The prompt of ``step``, whose call was made before an approval pause (its step was
    rebuilt from the child's checkpoint, which keeps no prompts), as a prefix of the ``later``
    prompt just written: the first ``prompt_messages`` messages, when the message after them is
    the model's reply that made ``step``'s call.  None when ``later`` does not show that (a
    rewrite such as compaction came between): then the step has no prompt in the trace."""
    call = step.llm_call
    count = call.prompt_messages if call is not None else 0
    if call is None or step.tool_call is None or not 0 < count < len(later):
        return None
    reply = later[count]
    if reply.role != "assistant" or all(tc.id != step.tool_call.id for tc in reply.tool_calls):
        return None
    return writer.prefix(count)
