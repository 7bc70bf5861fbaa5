"""What changed in the prompt since the previous model call: plain Python for the Prompt diff tab.

A step's ``prompt`` is the exact message list its model call was sent (``record_prompts=True``).
Between two calls the conversation normally only grows (the assistant's reply, tool results,
injected notes); compaction removes or shortens old messages; a ``pre_prompt`` hook may rewrite the
history or edit one request.  ``prompt_diff`` aligns the two message lists (``difflib`` on whole
messages), reports each message added, removed or rewritten (with the lines a rewrite took out and
put in), and names the hooks that changed the prompt, from the step's recorded decisions.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from looplet_core import HookDecision, Message, Step

__all__ = [
    "MessageChange",
    "PromptDiff",
    "diff_messages",
    "previous_call_step",
    "prompt_diff",
    "same_message",
]

PROMPT_PHASES = ("pre_prompt", "context")
"""Decisions in these phases change what the model is sent (hooks before the call, and the loop's
compaction after a context overflow)."""

ChangeKind = Literal["added", "removed", "rewritten"]


@dataclass(frozen=True, slots=True)
class MessageChange:
    """One message that differs: ``index`` is 1-based, in the new prompt (added, rewritten) or in
    the previous one (removed).  For a rewrite, ``removed``/``added`` are the lines taken out and
    put in."""

    kind: ChangeKind
    index: int
    before: Message | None
    after: Message | None
    removed: str = ""
    added: str = ""

    @property
    def message(self) -> Message:
        found = self.after if self.after is not None else self.before
        assert found is not None
        return found


@dataclass(frozen=True, slots=True)
class PromptDiff:
    """How step ``step``'s prompt differs from the prompt of the call before it."""

    step: int
    previous_step: int | None
    """The step of the previous model call; None for the run's first call."""
    messages_before: int
    messages_after: int
    kept: int
    changes: tuple[MessageChange, ...]
    causes: tuple[HookDecision, ...]
    """Hook decisions recorded on this step that change prompts (name, phase, decision)."""

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    def summary(self) -> str:
        if self.previous_step is None:
            return f"the run's first model call: {self.messages_after} messages, all new"
        parts = [f"since step {self.previous_step}'s model call: {self.kept} kept"]
        for kind in ("added", "removed", "rewritten"):
            if n := self.count(kind):
                parts.append(f"{n} {kind}")
        return ", ".join(parts)


def _key(message: Message) -> str:
    return json.dumps(message.to_dict(), sort_keys=True, default=str)


def _line_changes(before: str, after: str) -> tuple[str, str]:
    """The lines of ``before`` that are not in ``after`` and the other way round, in order."""
    old, new = before.splitlines(), after.splitlines()
    removed: list[str] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(old[i1:i2])
        if tag in ("replace", "insert"):
            added.extend(new[j1:j2])
    return "\n".join(removed), "\n".join(added)


def diff_messages(
    before: Sequence[Message], after: Sequence[Message]
) -> tuple[int, list[MessageChange]]:
    """Align two prompts message by message: (how many were kept unchanged, the changes).

    In a replaced run of messages, a new message pairs with an old one as a *rewrite* when it is
    recognisably the same message (see ``same_message``): a tool result compaction shortened, a
    summary note updated.  Unpaired old messages were removed, unpaired new ones added.
    """
    matcher = difflib.SequenceMatcher(
        None, [_key(m) for m in before], [_key(m) for m in after], autojunk=False
    )
    kept = 0
    changes: list[MessageChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            kept += i2 - i1
            continue
        unpaired = list(range(i1, i2))
        paired: set[int] = set()
        found: list[MessageChange] = []
        for j in range(j1, j2):
            i = next((i for i in unpaired if same_message(before[i], after[j])), None)
            if i is None:
                found.append(MessageChange("added", j + 1, None, after[j]))
                continue
            paired.add(i)
            unpaired = [k for k in unpaired if k > i]  # keep the order: no crossing pairs
            removed, added = _line_changes(before[i].content, after[j].content)
            found.append(MessageChange("rewritten", j + 1, before[i], after[j], removed, added))
        changes.extend(
            MessageChange("removed", i + 1, before[i], None)
            for i in range(i1, i2)
            if i not in paired
        )
        changes.extend(found)
    return kept, changes


def same_message(before: Message, after: Message) -> bool:
    """Whether ``after`` is ``before`` edited rather than a different message: same role, and the
    same tool call id (results), the same call ids (assistant turns), or mostly the same text."""
    if before.role != after.role:
        return False
    if before.tool_call_id is not None or after.tool_call_id is not None:
        return before.tool_call_id == after.tool_call_id
    if before.tool_calls or after.tool_calls:
        return [c.id for c in before.tool_calls] == [c.id for c in after.tool_calls]
    a, b = before.content, after.content
    if a.split("\n", 1)[0] == b.split("\n", 1)[0] and a.strip():
        return True
    return difflib.SequenceMatcher(None, a[:500], b[:500], autojunk=False).ratio() >= 0.6


def previous_call_step(step: Step, lookup: Callable[[int], Step | None]) -> Step | None:
    """The latest step before ``step`` that came from an earlier model call (``lookup`` finds a
    step by number).  Steps of the same reply share one prompt, so they are skipped."""
    call = step.llm_call.index if step.llm_call is not None else None
    for number in range(step.number - 1, 0, -1):
        earlier = lookup(number)
        if earlier is None:
            continue
        if call is None or earlier.llm_call is None or earlier.llm_call.index != call:
            return earlier
    return None


def prompt_diff(step: Step, previous: Step | None) -> PromptDiff | None:
    """The diff of ``step``'s prompt against ``previous``'s; None when ``step`` has no prompt
    (or ``previous`` exists but has none, so there is nothing to compare with)."""
    if step.prompt is None or (previous is not None and previous.prompt is None):
        return None
    causes = tuple(d for d in step.decisions if d.phase in PROMPT_PHASES)
    after = step.prompt
    if previous is None or previous.prompt is None:
        added = [MessageChange("added", j, None, m) for j, m in enumerate(after, 1)]
        return PromptDiff(step.number, None, 0, len(after), 0, tuple(added), causes)
    kept, changes = diff_messages(previous.prompt, after)
    return PromptDiff(
        step.number,
        previous.number,
        len(previous.prompt),
        len(after),
        kept,
        tuple(changes),
        causes,
    )
