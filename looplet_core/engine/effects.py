"""What the engine asks its driver to do, and the exception that ends a run from any depth.

The engine never does I/O: it yields these effects, the driver (``looplet_core.loop``) carries
them out and sends back the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from looplet_core.backends.base import DeltaCallback, ToolSchema
from looplet_core.messages import Message
from looplet_core.records import (
    StopReason,
)
from looplet_core.step import Step
from looplet_core.tools.run import ToolContext
from looplet_core.tools.spec import ToolSpec

__all__ = [
    "CallModel",
    "Effect",
    "EngineGen",
    "Finish",
    "RunTool",
    "RunTools",
    "Sleep",
    "clock",
    "now",
]


@dataclass(slots=True)
class CallModel:
    """Ask the model once.  ``deadline``: seconds the whole attempt may take (None: no limit);
    ``limit`` names the setting it comes from and ``limit_seconds`` its value, for the error
    that says it ran out (the run's deadline leaves less than its value for a late call)."""

    messages: Sequence[Message]
    tools: Sequence[ToolSchema]
    on_delta: DeltaCallback | None
    deadline: float | None = None
    limit: str = "llm_deadline"
    limit_seconds: float | None = None


@dataclass(slots=True)
class RunTool:
    spec: ToolSpec
    args: dict[str, Any]
    ctx: ToolContext
    timeout: float | None


@dataclass(slots=True)
class RunTools:
    """Run these calls at the same time (at most ``workers`` at once); send back one
    ``looplet_core.tools.batch.ToolOutcome`` per call, in this order."""

    calls: list[RunTool]
    workers: int


@dataclass(slots=True)
class Sleep:
    seconds: float


Effect = CallModel | RunTool | RunTools | Sleep | Step
EngineGen = Generator[Effect, Any, None]


class Finish(Exception):  # control flow only: never escapes the engine
    def __init__(self, reason: StopReason, message: str = "", answer: Any = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.answer = answer


# The clocks themselves, not wrappers: the engine reads them several times a step.
now: Callable[[], float] = time.time
"""Wall-clock time, for a step's ``started_at`` / ``finished_at``."""
clock: Callable[[], float] = time.monotonic
"""For durations and deadlines: never jumps when the wall clock is set."""
