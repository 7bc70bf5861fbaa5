"""Replay recorded steps through the debugger: the same phases, stepping keys and breakpoints.

A replay drives ``DebugController``'s hook methods with what was recorded, exactly as a live loop
would call them, so pausing, ``n``/``s``/``c`` and every breakpoint kind work on a saved run
without a second code path.  Nothing runs: tools are not called and no approval is asked for (the
recorded decision is on each step).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from looplet_core import Conversation, Event, EventKind, LLMCall, Prompt, Step, Usage
from looplet_tui.controller import DebugController

__all__ = ["replay_steps"]


@dataclass(slots=True)
class _Recorded:
    """Stands in for the loop's state: the two fields the controller reads."""

    usage: Usage
    current_call: LLMCall | None = None


def replay_steps(
    controller: DebugController, steps: Sequence[Step], events: Iterable[Event] = ()
) -> None:
    """Walk ``steps`` (and compaction ``events``, placed by step number) through ``controller``."""
    state = _Recorded(Usage())
    pending = sorted(
        (e for e in events if e.kind in (EventKind.COMPACTION, EventKind.DECISION)),
        key=lambda e: e.step,
    )
    controller.on_event(Event(EventKind.RUN_START, data={"max_steps": len(steps)}))
    last_call: int | None = None
    for step in steps:
        if controller.cancel_token.cancelled:
            return
        while pending and pending[0].step <= step.number:
            controller.on_event(pending.pop(0))
        call = step.llm_call
        if call is None or call.index != last_call:
            if call is not None:
                if call.usage is not None:
                    state.usage = state.usage + call.usage
                controller.on_event(Event(EventKind.LLM_END, data={"call": call.to_dict()}))
            state.current_call = call
            prompt = Prompt(step.prompt or (), (), step.number, Conversation(), step.context)
            controller.pre_prompt(state, None, prompt, step.number)
            if controller.cancel_token.cancelled:
                return
        last_call = call.index if call is not None else None
        if step.tool_call is not None:
            controller.pre_dispatch(state, None, step.tool_call, step.number)
            controller.post_dispatch(state, None, step.tool_call, step.tool_result, step.number)
        controller.check_done(state, [step], step.number)
