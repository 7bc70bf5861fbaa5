"""Breakpoints: conditions on the loop's phases that pause the run for a person to look.

A breakpoint holds one or more conditions, all of which must hold: a phase, a tool-name glob, a
regular expression searched in the call's arguments (as JSON), a context-use percentage, "the step
failed".  ``after`` delays it: the first ``after - 1`` matches only count as hits, the ``after``-th
and later ones pause (pdb's ignore count, stated the other way round).

When no phase is given, a breakpoint checks the phase where its conditions are first known:
"on error" after the step (check_done), a tool or argument condition before the tool runs
(pre_dispatch), a context condition before the prompt is sent (pre_prompt).

Everything here is plain Python with a lock, because the UI edits breakpoints while the loop's
worker thread checks them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["Breakpoint", "BreakpointSet", "Phase", "Probe"]

FORMAT_VERSION = 1


class Phase(StrEnum):
    """The points of a step where the debugger can stop, in the order they happen."""

    PRE_PROMPT = "pre_prompt"
    PRE_DISPATCH = "pre_dispatch"
    POST_DISPATCH = "post_dispatch"
    CHECK_DONE = "check_done"


@dataclass(frozen=True, slots=True)
class Probe:
    """What the loop is doing at a phase, as breakpoints see it.

    ``failed`` is known after the tool ran (post_dispatch) or after the step (check_done);
    ``context_percent`` is the latest known fill of the context window, None when no window is set.
    """

    phase: Phase
    step: int
    tool: str | None = None
    args: Mapping[str, Any] | None = None
    failed: bool = False
    context_percent: float | None = None


@dataclass(slots=True)
class Breakpoint:
    """One breakpoint; see the module docstring for how its conditions combine."""

    phase: Phase | None = None
    tool: str | None = None
    args: str | None = None
    context_above: float | None = None
    on_error: bool = False
    after: int = 1
    enabled: bool = True
    hits: int = 0
    id: int = 0
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.phase is not None:
            self.phase = Phase(self.phase)
        self.tool = self.tool or None
        self.args = self.args or None
        if self.args is not None:
            try:
                self._regex = re.compile(self.args)
            except re.error as exc:
                raise ValueError(f"argument regex {self.args!r} is invalid: {exc}") from None
        if self.after < 1:
            raise ValueError(f"'after N hits' must be at least 1, got {self.after}")
        if self.context_above is not None and not 0 <= self.context_above <= 100:
            raise ValueError(f"context percent must be between 0 and 100, got {self.context_above}")
        if not (
            self.phase or self.tool or self.args or self.on_error or self.context_above is not None
        ):
            raise ValueError("a breakpoint needs a phase or at least one condition")

    @property
    def at(self) -> Phase:
        """The phase this breakpoint is checked at."""
        if self.phase is not None:
            return self.phase
        if self.on_error:
            return Phase.CHECK_DONE
        if self.tool or self.args:
            return Phase.PRE_DISPATCH
        return Phase.PRE_PROMPT

    def matches(self, probe: Probe) -> bool:
        """True when every condition holds at this probe (hits and ``after`` are not counted)."""
        if probe.phase is not self.at:
            return False
        if self.tool is not None and (
            probe.tool is None or not fnmatch.fnmatchcase(probe.tool, self.tool)
        ):
            return False
        if self._regex is not None:
            if probe.args is None:
                return False
            text = json.dumps(dict(probe.args), ensure_ascii=False, sort_keys=True, default=str)
            if self._regex.search(text) is None:
                return False
        if self.on_error and not probe.failed:
            return False
        return self.context_above is None or (
            probe.context_percent is not None and probe.context_percent > self.context_above
        )

    def marks(self, tool: str | None) -> bool:
        """Whether a step calling ``tool`` shows this breakpoint's marker on the timeline."""
        return (
            self.enabled
            and self.tool is not None
            and tool is not None
            and (fnmatch.fnmatchcase(tool, self.tool))
        )

    def describe(self) -> str:
        """One line for lists and notifications: ``tool 'write_*' · args /rm/ · @pre_dispatch``."""
        parts: list[str] = []
        if self.tool:
            parts.append(f"tool {self.tool!r}")
        if self.args:
            parts.append(f"args /{self.args}/")
        if self.context_above is not None:
            parts.append(f"context > {self.context_above:g}%")
        if self.on_error:
            parts.append("on error")
        if self.after > 1:
            parts.append(f"after {self.after} hits")
        parts.append(f"@{self.at.value}")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value if self.phase else None,
            "tool": self.tool,
            "args": self.args,
            "context_above": self.context_above,
            "on_error": self.on_error,
            "after": self.after,
            "enabled": self.enabled,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Breakpoint:
        context = data.get("context_above")
        return cls(
            phase=Phase(data["phase"]) if data.get("phase") else None,
            tool=data.get("tool"),
            args=data.get("args"),
            context_above=float(context) if context is not None else None,
            on_error=bool(data.get("on_error", False)),
            after=int(data.get("after") or 1),
            enabled=bool(data.get("enabled", True)),
        )


class BreakpointSet:
    """The run's breakpoints, safe to edit from the UI while the worker thread checks them."""

    def __init__(self, breakpoints: list[Breakpoint] | None = None) -> None:
        self._lock = threading.Lock()
        self._items: list[Breakpoint] = []
        self._next_id = 1
        self.revision = 0
        """Bumped on every change, so views redraw markers only when something changed."""
        for bp in breakpoints or []:
            self.add(bp)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Breakpoint]:
        with self._lock:
            return list(self._items)

    def get(self, bp_id: int) -> Breakpoint | None:
        with self._lock:
            return next((bp for bp in self._items if bp.id == bp_id), None)

    def add(self, bp: Breakpoint) -> Breakpoint:
        with self._lock:
            bp.id = self._next_id
            self._next_id += 1
            self._items.append(bp)
            self.revision += 1
        return bp

    def replace(self, bp_id: int, new: Breakpoint) -> None:
        """Swap an edited breakpoint in place, keeping its id and position; hits restart."""
        with self._lock:
            for i, bp in enumerate(self._items):
                if bp.id == bp_id:
                    new.id = bp_id
                    self._items[i] = new
                    self.revision += 1
                    return
        raise KeyError(bp_id)

    def remove(self, bp_id: int) -> None:
        with self._lock:
            self._items = [bp for bp in self._items if bp.id != bp_id]
            self.revision += 1

    def set_enabled(self, bp_id: int, enabled: bool) -> None:
        with self._lock:
            for bp in self._items:
                if bp.id == bp_id:
                    bp.enabled = enabled
            self.revision += 1

    def toggle_tool(self, tool: str) -> bool:
        """The ``b`` key: remove the plain breakpoint on ``tool`` if there is one, else add it.

        Returns True when a breakpoint was added.  Only a breakpoint with no other condition counts
        as "the" breakpoint on the tool, so a carefully built conditional one is never removed.
        """
        with self._lock:
            for bp in self._items:
                if bp.to_dict() | {"enabled": True} == Breakpoint(tool=tool).to_dict():
                    self._items.remove(bp)
                    self.revision += 1
                    return False
        self.add(Breakpoint(tool=tool))
        return True

    def check(self, probe: Probe) -> Breakpoint | None:
        """Count a hit on every enabled breakpoint that matches; the first one due to stop wins."""
        hit: Breakpoint | None = None
        with self._lock:
            for bp in self._items:
                if bp.enabled and bp.matches(probe):
                    bp.hits += 1
                    if hit is None and bp.hits >= bp.after:
                        hit = bp
        return hit

    def marks(self, tool: str | None) -> bool:
        with self._lock:
            return any(bp.marks(tool) for bp in self._items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "looplet-breakpoints",
            "version": FORMAT_VERSION,
            "breakpoints": [bp.to_dict() for bp in self.items()],
        }

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)  # the state directory, on first save
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    def load(self, path: Path) -> None:
        """Replace the breakpoints with the file's; a bad file raises ValueError naming it."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != "looplet-breakpoints":
                raise ValueError("not a looplet breakpoints file")
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            loaded = [Breakpoint.from_dict(item) for item in data.get("breakpoints") or []]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"cannot load breakpoints from {path}: {exc}") from None
        with self._lock:
            self._items = []
        for bp in loaded:
            self.add(bp)
