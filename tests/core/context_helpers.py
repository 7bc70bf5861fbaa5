"""Builders for the context-budget tests: a predictable estimator, tools with big results, a run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    ContextMeter,
    DefaultState,
    Event,
    LoopConfig,
    LoopResult,
    Message,
    MockLLMBackend,
    Step,
    ToolSpec,
    composable_loop,
)
from looplet_core.backends.mock import MockRequest


class Chars4:
    """One token per four characters: easy to reason about in assertions."""

    name = "chars4"

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return (len(text) + 3) // 4


def big_tools(size: int = 2_000) -> BaseToolRegistry:
    """read(path) returns ``size`` characters naming the path; note(text) echoes; done(answer)."""
    tools = BaseToolRegistry()

    def read(*, path: str) -> str:
        line = f"{path}: line of the file with some words in it\n"
        return (line * (size // len(line) + 1))[:size]

    tools.register(ToolSpec("read", "Read a file.", {"path": "str"}, read))
    tools.register(ToolSpec("note", "Write a note.", {"text": "str"}, lambda *, text: text))
    tools.register(
        ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: {"answer": answer})
    )
    return tools


def reads(n: int, *, then_done: bool = True) -> list[Any]:
    script: list[Any] = [{"tool": "read", "args": {"path": f"src/file_{i}.py"}} for i in range(n)]
    if then_done:
        script.append({"tool": "done", "args": {"answer": "read them all"}})
    return script


class Recorder:
    """Collects every event of a run."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.kind == kind]


def run_ctx(
    script: Sequence[Any],
    *,
    window: int | None = 3_000,
    hooks: Sequence[object] = (),
    tools: BaseToolRegistry | None = None,
    config: LoopConfig | None = None,
    llm: MockLLMBackend | None = None,
    task: str = "Read the files and report.",
) -> tuple[list[Step], LoopResult, MockLLMBackend, Recorder]:
    llm = llm or MockLLMBackend(script)
    recorder = Recorder()
    state = DefaultState()
    config = config or LoopConfig(max_steps=60, context_window=window, token_estimator=Chars4())
    steps = list(
        composable_loop(
            llm=llm,
            tools=tools or big_tools(),
            task=task,
            config=config,
            state=state,
            hooks=[*hooks, recorder],
        )
    )
    assert state.result is not None
    return steps, state.result, llm, recorder


def tokens(request: MockRequest) -> int:
    """What the request costs, priced from scratch the way the loop prices prompts."""
    return ContextMeter(Chars4(), window=None).count(list(request.messages), request.tools)


def texts(messages: Sequence[Message]) -> str:
    return "\n".join(m.content for m in messages)
