"""Context-window numbers for the gauge: the loop's own ``ContextStats`` when it has them.

``Step.context`` (and ``Prompt.stats``) carry the loop's accounting of how full the window was,
by role.  A run that predates it, a trace recorded without it, or a backend that reports no usage
still has the exact messages on ``Step.prompt``; for those the debugger estimates them with the
loop's own estimator (one count everywhere: the gauge, the Prompt tab, the summaries)
and says so (``measured=False`` shows as "est." on screen), rather than showing nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from looplet_core import ContextStats, Message, Step
from looplet_core.context.tokens import ROLES as CORE_ROLES
from looplet_core.context.tokens import ContextMeter

__all__ = ["ROLES", "PromptTokens", "estimate", "message_tokens", "stats_for"]

ROLES = CORE_ROLES
"""The gauge's segments, in the order they are stacked (the loop's own roles)."""


_TOOLS_LOCK = threading.Lock()  # the meter caches the last schemas; the worker and UI share it
_meter_lock = threading.Lock()
_meters: list[ContextMeter] = []


def _meter() -> ContextMeter:
    """The loop's own pricing, uncalibrated: the debugger counts a message as the loop does.

    Built on first use, not at import: the default estimator loads tiktoken's encoding (about
    0.15 s and 50 MiB here), which a replay whose steps carry their recorded figures may never
    need, and which would otherwise hold up every debugger's first screen.
    """
    if not _meters:
        with _meter_lock:
            if not _meters:
                _meters.append(ContextMeter())
    return _meters[0]


def message_tokens(message: Message) -> int:
    """Tokens of one message as the loop estimates them (framing and tool calls included)."""
    return _meter().message_tokens(message)


def estimate(
    messages: Sequence[Message], tools: Sequence[Any] = (), window: int | None = None
) -> ContextStats:
    """The loop's uncalibrated estimate of a prompt, by role, for steps that carry none."""
    by_role: dict[str, int] = dict.fromkeys(ROLES, 0)
    meter = _meter()
    for message in messages:
        by_role[message.role] += meter.message_tokens(message)
    if tools:
        with _TOOLS_LOCK:
            by_role["tools"] = meter.tools_tokens(tools)
    return ContextStats(by_role=by_role, total=sum(by_role.values()), window=window, measured=False)


def stats_for(step: Step, window: int | None, tools: Sequence[Any] = ()) -> ContextStats | None:
    """The step's recorded context stats, else an estimate from its prompt, else None."""
    if step.context is not None:
        return step.context
    if step.prompt is None:
        return None
    return estimate(step.prompt, tools, window)


class PromptTokens:
    """The summed token estimate of a run's successive prompts, each message counted once.

    A run's next prompt is its last one plus a few messages (until a compaction rewrites it), and
    a replay stepping back shows a prefix of it.  Summing every message of every prompt shown made
    each step cost the length of the run (and, past the views' per-message caches, re-tokenised
    thousands of messages per redraw).  So this keeps the running sums of the longest prompt seen
    and reuses them for any prompt that shares a start with it: only the messages after the shared
    start are counted.  The start is compared with list equality, which is C-speed for the same
    message objects; equal messages count the same, so the sums stay exact.
    """

    def __init__(self, count: Callable[[Message], int] = message_tokens) -> None:
        self._count = count
        self._messages: list[Message] = []
        self._sums: list[int] = []
        """``_sums[i]`` is the tokens of ``_messages[: i + 1]``."""

    def total(self, messages: Sequence[Message]) -> int:
        """Tokens of ``messages``: the sum of ``count`` over them."""
        new = messages[:]  # a list or tuple copy at C speed (a ``MessageView`` slices to a list)
        if not isinstance(new, list):
            new = list(new)
        known = self._messages
        shared = min(len(known), len(new))
        if new[:shared] != known[:shared]:  # a rewrite (compaction): find where they part
            shared = next(
                i for i, (a, b) in enumerate(zip(known, new, strict=False)) if a is not b and a != b
            )
        if shared == len(new):
            return self._sums[shared - 1] if shared else 0
        sums = self._sums  # the new prompt is longer (or parted): it becomes the one kept
        del sums[shared:]
        running = sums[-1] if sums else 0
        for message in new[shared:]:
            running += self._count(message)
            sums.append(running)
        self._messages = new
        return running
