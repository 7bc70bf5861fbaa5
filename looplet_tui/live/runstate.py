"""What the debugger knows about a run, as plain data the controller fills and the UI reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from looplet_core import ContextStats, Message, Step
from looplet_tui.live.breakpoints import Phase
from looplet_tui.live.stream import StreamedText

__all__ = ["Entry", "Live", "Marker", "PausePoint", "RunState", "Sample"]


class RunState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    AWAITING_APPROVAL = "awaiting approval"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PausePoint:
    """Where and why the worker is blocked.  ``breakpoint`` is the id of the one that fired.

    ``agent`` names the sub-agent the stop is inside (``researcher``, or ``researcher › helper``
    two deep), empty in the run itself; ``depth`` counts how deep (0 in the run); ``step`` is
    then the sub-agent's step."""

    phase: Phase
    step: int
    reason: str
    breakpoint: int | None = None
    agent: str = ""
    depth: int = 0


@dataclass(slots=True)
class Marker:
    """A timeline row that is not a step: a compaction or a rewrite of the history."""

    after_step: int
    kind: str
    text: str


@dataclass(slots=True)
class Live:
    """The step in progress, as far as it is known so far, for the timeline's ``●`` row.

    ``prompt`` is the message list being sent, kept as the loop's own immutable view rather
    than copied: a copy per step would make a long run quadratic.  ``text`` and ``reasoning``
    are what has streamed in so far, kept in pieces (``StreamedText``) for the same reason.
    """

    step: Step
    prompt: Sequence[Message] | None = None
    phase: Phase | None = None
    activity: str = ""
    text: StreamedText = field(default_factory=StreamedText)
    reasoning: StreamedText = field(default_factory=StreamedText)
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Sample:
    """Context use for one step, for the gauge's sparkline."""

    step: int
    stats: ContextStats | None


Entry = Step | Marker
