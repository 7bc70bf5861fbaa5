"""Whose stop comes first when sub-agents of one batch run side by side: ``Turns``.

The debugger shows one stop at a time.  Sub-agents started by one reply's calls run at the same
time, on the batch's threads, so two of them may reach a phase where they should stop at once;
which one gets there first is up to the threads.  To show stops in an order that does not
depend on that, a stop waits its turn while any sub-agent before it in the model's order (an
earlier call of the batch, or a sub-agent inside one) is still running or about to start: that
one may stop first.  Plain data, no locking: the controller calls it under its own lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from looplet_core import BaseToolRegistry, Event, EventKind
from looplet_tui.live.children import ChildFrame

__all__ = ["Turns", "runs_subagent"]


class Turns:
    """The sub-agents a stop may have to wait for, and the stops that wait."""

    def __init__(self) -> None:
        self.queued: list[ChildFrame] = []
        """Sub-agents whose stop waits its turn, in the order they began to wait."""
        self.starting: dict[tuple[int, int], tuple[int, ...]] = {}
        """Sub-agent calls that started (``tool_start``) but whose loop is not followed yet, by
        (id of the enclosing frame, or 0 for the run; step): their place in the model's order."""

    def call_event(
        self, frame: ChildFrame | None, event: Event, tools: BaseToolRegistry | None
    ) -> bool:
        """A call starting or ending in the run or in ``frame``: a sub-agent's call that has
        started is one that may stop before a later one, until its loop is followed
        (``started``) or the call ends.  True when a waiting stop should look again."""
        kind = event.kind
        if kind is not EventKind.TOOL_START and kind is not EventKind.TOOL_END:
            return False
        key = (id(frame) if frame else 0, event.step)
        if kind is EventKind.TOOL_END:
            return self.starting.pop(key, None) is not None
        if runs_subagent(tools, frame, str(event.data.get("tool", ""))):
            self.starting[key] = (event.step,) if frame is None else (*frame.order, event.step)
        return False

    def started(self, parent: ChildFrame | None, step: int) -> None:
        """The loop of the sub-agent that step ``step`` (of ``parent``, or of the run) called
        is followed now: its frame stands for it."""
        self.starting.pop((id(parent) if parent else 0, step), None)

    def ahead(self, frame: ChildFrame | None, frames: Sequence[ChildFrame]) -> bool:
        """Whether a sub-agent before ``frame`` in the model's order runs or is about to start
        (and is not waiting to stop itself), so it may still stop first: ``frame``'s stop waits.
        Its own parents are not ahead of it (they wait for it); the run itself never waits."""
        if frame is None or len(frames) + len(self.starting) < 2:
            return False
        order = frame.order
        if any(starting < order for starting in self.starting.values()):
            return True
        lineage = {id(f) for f in frame.lineage}
        queued = {id(f) for f in self.queued}
        return any(f.order < order and id(f) not in lineage and id(f) not in queued for f in frames)

    def wait(self, frame: ChildFrame, waits: bool) -> tuple[str, ...]:
        """``frame``'s stop starts (or stops) waiting its turn; the paths of those that wait,
        in the model's order (``RunHistory.waiting``)."""
        if waits:
            self.queued = [*self.queued, frame]
        else:
            self.queued = [f for f in self.queued if f is not frame]
        return tuple(f.path for f in sorted(self.queued, key=lambda f: f.order))


def runs_subagent(tools: BaseToolRegistry | None, frame: ChildFrame | None, tool: str) -> bool:
    """Whether ``tool``, called in the run (whose tools are ``tools``) or in ``frame``'s
    sub-agent, is itself a sub-agent."""
    registry: object = tools
    for name in () if frame is None else frame.names:
        spec = registry.get(name) if isinstance(registry, BaseToolRegistry) else None
        registry = spec.agent_tools if spec is not None else None
    if not isinstance(registry, BaseToolRegistry):
        return False
    spec = registry.get(tool)
    return spec is not None and isinstance(spec.agent_tools, BaseToolRegistry)
