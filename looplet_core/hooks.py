"""Hook discovery: a hook is any object with one or more of the phase methods.

Methods are looked up once per run (not per step), so a run with many hooks pays for the ones
that exist only.  ``hook_name`` gives the name shown on steps and in the debugger: the hook's
``name`` attribute when it has a string one, else its class name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from looplet_core.events import Event, EventKind

__all__ = ["PHASES", "Hook", "HookSet", "hook_name"]

PHASES = ("pre_prompt", "pre_dispatch", "post_dispatch", "check_done", "on_event")


class Hook(Protocol):
    """Documentation of the phase methods; hooks implement any subset and need not inherit.

    * ``pre_prompt(state, log, ctx, step)`` -> ``Prompt`` | list of messages | ``InjectContext`` |
      ``Stop`` | None
    * ``pre_dispatch(state, log, tc, step)`` -> ``Allow`` | ``Deny`` | ``Stop`` | ``AskApproval``
      | None
    * ``post_dispatch(state, log, tc, result, step)`` -> ``ToolResult`` | new data |
      ``InjectContext`` | ``Stop`` | None
    * ``check_done(state, log, step)`` -> ``Continue`` | ``Stop`` | None
    * ``on_event(event)`` -> None

    A hook with ``event_kinds`` (a collection of ``EventKind``, or their names) hears only
    those kinds; the loop does not build an event no hook hears.  Without it, every kind.

    A hook with ``wants_child_prompts = True`` (the trace sink) makes sub-agents keep each of
    their steps' prompts, as ``LoopConfig(record_prompts=True)`` would, so it can record them.

    And one that is not a phase: ``child_hooks(agent, step)`` -> a sequence of hooks.  A tool
    that runs a nested loop (a sub-agent) asks every hook that has it, with the sub-agent's
    name and the number of the step whose call starts the nested loop, and adds what they
    return (last) to the nested loop's own hooks; so an observer or a debugger can take part in
    a child run.  Hooks it returns may have ``child_hooks`` too, for the children of that
    child.  They always learn that the nested loop is over: if it raises instead of ending (a
    backend factory that fails, say), they still get a ``run_end`` event, with stop reason
    ``error``.  A loop whose hooks have none of it pays nothing.
    """


_Bound = tuple[str, Callable[..., Any]]
_Listener = tuple[str, Callable[[Event], None]]


def hook_name(hook: object) -> str:
    name = getattr(hook, "name", None)
    return name if isinstance(name, str) and name else type(hook).__name__


@dataclass(slots=True)
class HookSet:
    """Bound phase methods of a run's hooks, grouped by phase, in the order hooks were given."""

    pre_prompt: list[_Bound] = field(default_factory=list[_Bound])
    pre_dispatch: list[_Bound] = field(default_factory=list[_Bound])
    post_dispatch: list[_Bound] = field(default_factory=list[_Bound])
    check_done: list[_Bound] = field(default_factory=list[_Bound])
    on_event: list[_Listener] = field(default_factory=list[_Listener])
    heard_by: dict[EventKind, tuple[_Listener, ...]] = field(
        default_factory=dict[EventKind, tuple[_Listener, ...]]
    )
    """The ``on_event`` listeners of each kind, in order (see ``event_kinds`` on ``Hook``)."""
    child_prompts: bool = False
    """Whether a hook wants sub-agents' prompts kept (``wants_child_prompts``)."""
    child_hooks: list[tuple[str, Callable[[str, int], Sequence[object]]]] = field(
        default_factory=list[tuple[str, Callable[[str, int], Sequence[object]]]]
    )

    @classmethod
    def build(cls, hooks: Sequence[object]) -> HookSet:
        found = cls()
        kinds_of: list[frozenset[EventKind] | None] = []
        for hook in hooks:
            name = hook_name(hook)
            if getattr(hook, "wants_child_prompts", False) is True:
                found.child_prompts = True
            for phase in PHASES:
                method = getattr(hook, phase, None)
                if callable(method):
                    getattr(found, phase).append((name, method))
                    if phase == "on_event":
                        kinds_of.append(_event_kinds(hook, name))
            child = getattr(hook, "child_hooks", None)
            if callable(child):
                found.child_hooks.append(
                    (name, cast(Callable[[str, int], Sequence[object]], child))
                )
        pairs = list(zip(found.on_event, kinds_of, strict=True))
        found.heard_by = {
            kind: tuple(bound for bound, kinds in pairs if kinds is None or kind in kinds)
            for kind in EventKind
        }
        return found

    def for_child(self, agent: str, step: int) -> list[object]:
        """The hooks these hooks add to the nested loop of the sub-agent ``agent`` that the
        call of step ``step`` starts."""
        return [hook for _, fn in self.child_hooks for hook in fn(agent, step)]


def _event_kinds(hook: object, name: str) -> frozenset[EventKind] | None:
    """The kinds ``hook`` listens to (its ``event_kinds``), None for every kind."""
    given = getattr(hook, "event_kinds", None)
    if given is None:
        return None
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise TypeError(
            f"hook {name}: event_kinds must be a collection of EventKind (or their names), "
            f"got {given!r}; leave it out to hear every kind"
        )
    kinds: set[EventKind] = set()
    for kind in cast(Iterable[object], given):
        try:
            kinds.add(EventKind(kind))
        except ValueError:
            known = ", ".join(k.value for k in EventKind)
            raise ValueError(
                f"hook {name}: event_kinds holds {kind!r}, which is not an event kind ({known})"
            ) from None
    return frozenset(kinds)
