"""Small builders shared by the core tests: a registry with everyday tools and a run helper."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    LoopResult,
    Message,
    MockLLMBackend,
    Step,
    ToolSpec,
    composable_loop,
)


def make_tools(*, with_done: bool = True, calls: list[tuple[str, dict[str, Any]]] | None = None):
    """greet(name), add(a, b), search(query) -> list, boom() raises, slow(seconds); done(answer)."""
    seen = calls if calls is not None else []
    tools = BaseToolRegistry()

    def greet(*, name: str) -> dict[str, str]:
        seen.append(("greet", {"name": name}))
        return {"greeting": f"Hello, {name}!"}

    def add(*, a: int, b: int) -> int:
        seen.append(("add", {"a": a, "b": b}))
        return a + b

    def search(*, query: str) -> list[str]:
        seen.append(("search", {"query": query}))
        return [f"{query}-{i}" for i in range(12)]

    def boom() -> None:
        seen.append(("boom", {}))
        raise ValueError("kaboom")

    def slow(*, seconds: float) -> str:
        seen.append(("slow", {"seconds": seconds}))
        time.sleep(seconds)
        return "finished"

    tools.register(ToolSpec("greet", "Greet someone.", {"name": "str"}, greet))
    tools.register(ToolSpec("add", "Add two integers.", {"a": "int", "b": "int"}, add))
    tools.register(ToolSpec("search", "Search.", {"query": "str"}, search))
    tools.register(ToolSpec("boom", "Always fails.", {}, boom))
    tools.register(ToolSpec("slow", "Sleeps.", {"seconds": "float"}, slow, timeout=0.2))
    if with_done:
        tools.register(
            ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: {"answer": answer})
        )
    return tools


def run(
    script: Sequence[Any],
    *,
    tools: BaseToolRegistry | None = None,
    config: LoopConfig | None = None,
    hooks: Sequence[object] = (),
    task: Any = "Do the thing.",
) -> tuple[list[Step], LoopResult, MockLLMBackend, DefaultState]:
    llm = MockLLMBackend(script)
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=llm,
            tools=tools or make_tools(),
            task=task,
            config=config or LoopConfig(max_steps=20),
            state=state,
            hooks=hooks,
        )
    )
    assert state.result is not None
    return steps, state.result, llm, state


def assert_pairing_valid(messages: Sequence[Message]) -> None:
    """Every tool call has exactly one result right after its assistant message, and vice versa."""
    open_ids: list[str] = []
    for m in messages:
        if m.role == "assistant":
            assert not open_ids, f"assistant message before results for {open_ids}"
            open_ids = [tc.id for tc in m.tool_calls]
        elif m.role == "tool":
            assert m.tool_call_id in open_ids, f"tool result {m.tool_call_id} without its call"
            open_ids.remove(m.tool_call_id)
        else:
            assert not open_ids, f"{m.role} message between a call and its results {open_ids}"
    assert not open_ids, f"calls without results: {open_ids}"
