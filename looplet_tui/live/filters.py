"""Which steps to show: a filter by tool and by status, for the timeline and the replay.

A long run is mostly routine; finding "every ``drop_rows`` call" or "the errors" by scrolling does
not scale.  A ``StepFilter`` says which steps to keep; the timeline hides the rest (markers too,
since they sit between steps that may be hidden), and a replay plays through the hidden steps
without stopping at them.  A tool is a glob (``*_csv``), as in breakpoints.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from looplet_core import StepStatus

__all__ = ["STATUSES", "StepFilter"]

STATUSES = tuple(status.value for status in StepStatus)


@dataclass(frozen=True, slots=True)
class StepFilter:
    """Keep steps whose tool matches ``tool`` (a glob) and whose status is ``status``.

    ``None`` means any.  A step without a tool call (a plain answer, a parse error) matches a
    tool filter only when the filter is ``-``, so "steps that called no tool" can be found too.
    """

    tool: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; one of {', '.join(STATUSES)}")

    @property
    def active(self) -> bool:
        return self.tool is not None or self.status is not None

    def matches(self, tool: str | None, status: str) -> bool:
        if self.status is not None and status != self.status:
            return False
        if self.tool is None:
            return True
        if tool is None:
            return self.tool == "-"
        return fnmatch.fnmatchcase(tool, self.tool)

    def select(self, steps: Iterable[tuple[int, str | None, str]]) -> frozenset[int]:
        """The numbers of the ``(number, tool, status)`` triples this filter keeps."""
        return frozenset(n for n, tool, status in steps if self.matches(tool, status))

    def describe(self) -> str:
        parts = []
        if self.tool is not None:
            parts.append("no tool" if self.tool == "-" else f"tool {self.tool}")
        if self.status is not None:
            parts.append(f"status {self.status}")
        return " and ".join(parts) or "every step"
