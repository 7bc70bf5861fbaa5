"""The debugger inside sub-agents: a ``ChildFrame`` per child loop running now, and the hook
(``ChildHook``) the controller puts in each child loop through ``child_hooks``.

A sub-agent is a tool that runs a loop of its own, on the thread that runs the tool; the parent's
loop waits in that call meanwhile.  The controller's ``child_hooks(agent, step)`` (a hook method
looplet_core asks for when a sub-agent call starts its child loop) hands the child a
``ChildHook``, which reports the child's phases back to the controller with the frame they
belong to.  So the controller can stop inside the child (``i`` steps into it), show its steps as
they happen, nested under the parent step, and its context; the child's own hooks and loop do
not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from looplet_core import ContextStats, Edit, Event, Prompt, Step, Stop, ToolCall, ToolResult
from looplet_tui.live.runstate import Live

__all__ = ["ChildFrame", "ChildHook", "FollowsChildren"]


class FollowsChildren(Protocol):
    """What a ``ChildHook`` reports to: the controller (a Protocol, so this module does not
    import the controller that imports it)."""

    def child_started(
        self, agent: str, step: int, parent: ChildFrame | None = None
    ) -> ChildHook: ...

    def child_pre_prompt(
        self, frame: ChildFrame, state: Any, ctx: Prompt, step: int
    ) -> Stop | Edit | None: ...

    def child_pre_dispatch(
        self, frame: ChildFrame, state: Any, tc: ToolCall, step: int
    ) -> Edit | None: ...

    def child_post_dispatch(
        self, frame: ChildFrame, tc: ToolCall, result: ToolResult, step: int
    ) -> Edit | None: ...

    def child_step(self, frame: ChildFrame, step: Step) -> None: ...

    def child_event(self, frame: ChildFrame, event: Event) -> None: ...


@dataclass(slots=True, eq=False)
class ChildFrame:
    """A sub-agent's loop that is running now, as far as the debugger has seen it.

    ``parent_step`` is the step of the enclosing run (the parent, or for ``depth`` 2 the child
    that ran it) whose call started this loop; ``steps`` are the child's steps recorded so far,
    appended to only; ``live`` its step in progress.  ``revision`` is bumped on every change, so
    views redraw only then.  Fields are written by the child's thread under the controller's lock.
    """

    agent: str
    parent_step: int
    parent: ChildFrame | None = None
    steps: list[Step] = field(default_factory=list[Step])
    live: Live | None = None
    context: ContextStats | None = None
    tool_schemas: Sequence[Any] = ()
    revision: int = 0

    @property
    def depth(self) -> int:
        """1 for a sub-agent of the run, 2 for a sub-agent of a sub-agent, and so on."""
        return 1 if self.parent is None else self.parent.depth + 1

    @property
    def path(self) -> str:
        """``researcher`` or ``researcher › helper``: the agents from the run down to this one."""
        return self.agent if self.parent is None else f"{self.parent.path} › {self.agent}"

    @property
    def order(self) -> tuple[int, ...]:
        """Where this sub-agent comes in the model's order: the parent steps from the run down
        (``(1,)``; ``(1, 3)`` for one that step 3 of that one started).  Sub-agents of one
        batch have consecutive step numbers in the order the model made the calls."""
        own = (self.parent_step,)
        return own if self.parent is None else (*self.parent.order, self.parent_step)

    @property
    def lineage(self) -> tuple[ChildFrame, ...]:
        """This frame and the frames it runs inside, innermost first."""
        return (self,) if self.parent is None else (self, *self.parent.lineage)

    @property
    def names(self) -> tuple[str, ...]:
        """The sub-agents' names from the run down to this one: the sub-agent tools to walk
        through from the run's registry to this one's (``validate_nested``)."""
        return (self.agent,) if self.parent is None else (*self.parent.names, self.agent)


class ChildHook:
    """The debugger's hook in one child loop: each phase goes to the controller with its frame.

    It is the child's last hook (``SubagentSpec.hook_list``), so like the controller in the
    parent it sees what the child's own hooks decided.  An edit staged at a stop inside the
    child is its return value, so the child's loop applies it and records it on the child's
    step (a decision of ``debugger``), as the run's loop does for the controller.
    """

    name = "debugger"

    def __init__(self, controller: FollowsChildren, frame: ChildFrame) -> None:
        self.controller = controller
        self.frame = frame

    def child_hooks(self, agent: str, step: int) -> list[object]:
        """A sub-agent of this sub-agent: followed the same way, one level deeper."""
        return [self.controller.child_started(agent, step, parent=self.frame)]

    def pre_prompt(self, state: Any, log: Any, ctx: Prompt, step: int) -> Stop | Edit | None:
        return self.controller.child_pre_prompt(self.frame, state, ctx, step)

    def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> Edit | None:
        return self.controller.child_pre_dispatch(self.frame, state, tc, step)

    def post_dispatch(
        self, state: Any, log: Any, tc: ToolCall, result: ToolResult, step: int
    ) -> Edit | None:
        return self.controller.child_post_dispatch(self.frame, tc, result, step)

    def check_done(self, state: Any, log: Sequence[Step], step: int) -> None:
        recorded = log[-1] if log and log[-1].number == step else None
        if recorded is not None:
            self.controller.child_step(self.frame, recorded)

    def on_event(self, event: Event) -> None:
        self.controller.child_event(self.frame, event)
