"""Hooks a parent's ``child_hooks`` adds to a sub-agent hear that its loop is over even when the
loop raises instead of ending (here its backend factory fails): a ``run_end`` with stop reason
``error``; the sub-agent's own hooks get nothing made up, and a loop that ends gets one only."""

from __future__ import annotations

from typing import Any

import pytest

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    Event,
    EventKind,
    LoopConfig,
    MockLLMBackend,
    composable_loop,
    subagent,
)


class Follower:
    """Adds a listener to every sub-agent; keeps the run_end events it hears there."""

    def __init__(self) -> None:
        self.ends: list[dict[str, Any]] = []

    def child_hooks(self, agent: str, step: int) -> list[object]:
        return [self.Listener(self)]

    class Listener:
        def __init__(self, follower: Follower) -> None:
            self.follower = follower

        def on_event(self, event: Event) -> None:
            if event.kind is EventKind.RUN_END:
                self.follower.ends.append(event.data)


class Own:
    def __init__(self) -> None:
        self.events: list[EventKind] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event.kind)


def run(llm: Any, *, asynchronous: bool = False) -> tuple[Follower, Own, DefaultState]:
    own = Own()
    tools = BaseToolRegistry()
    helper = subagent(
        "helper",
        "Helps.",
        llm=llm,
        tools=BaseToolRegistry(),
        hooks=[own],
        asynchronous=asynchronous,
    )
    tools.register(helper)
    script = [
        {"tool": "helper", "args": {"task": "help"}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    follower = Follower()
    state = DefaultState()
    steps = composable_loop(
        llm=MockLLMBackend(script),
        tools=tools,
        task="t",
        config=LoopConfig(max_steps=5),
        state=state,
        hooks=[follower],
    )
    list(steps)
    return follower, own, state


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_loop_that_raises_still_tells_the_added_hooks_it_ended(asynchronous: bool) -> None:
    def broken() -> MockLLMBackend:
        raise RuntimeError("no model")

    follower, own, state = run(broken, asynchronous=asynchronous)
    assert len(follower.ends) == 1
    assert follower.ends[0]["stop_reason"] == "error"
    assert "RuntimeError: no model" in follower.ends[0]["message"]
    assert own.events == []
    result = state.steps[0].tool_result
    assert result is not None and "no model" in str(result.error)


def test_a_loop_that_ends_gives_its_own_run_end_once() -> None:
    answer = [{"tool": "done", "args": {"answer": "helped"}}]
    follower, own, _ = run(lambda: MockLLMBackend(answer))
    assert [end["stop_reason"] for end in follower.ends] == ["done"]
    assert own.events.count(EventKind.RUN_END) == 1
