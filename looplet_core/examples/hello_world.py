# pyright: basic
# (examples mirror user code, lambdas included, so they are checked in basic mode)
"""The seed's first agent: greet Alice and Bob, then finish.

    python -m looplet_core.examples.hello_world

Uses a real OpenAI-compatible endpoint when ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` /
``OPENAI_MODEL`` are set (Ollama, vLLM, llama.cpp, OpenAI, ...), otherwise a scripted model, so it
runs on a fresh machine with no key and no network.
"""

from __future__ import annotations

import sys

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    ToolSpec,
    composable_loop,
)
from looplet_core.examples._backend import pick_backend

SCRIPT = [
    {"tool": "greet", "args": {"name": "Alice"}},
    {"tool": "greet", "args": {"name": "Bob"}},
    {"tool": "done", "args": {"answer": "Greeted Alice and Bob."}},
]


def build_tools() -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            name="greet",
            description="Greet someone.",
            parameters={"name": "str"},
            execute=lambda *, name: {"greeting": f"Hello, {name}!"},
        )
    )
    tools.register(
        ToolSpec(
            name="done",
            description="Finish.",
            parameters={"answer": "str"},
            execute=lambda *, answer: {"answer": answer},
        )
    )
    return tools


def main() -> int:
    llm, where = pick_backend(SCRIPT)
    print(f"looplet hello_world on {where}")
    state = DefaultState(max_steps=5)
    for step in composable_loop(
        llm=llm,
        tools=build_tools(),
        state=state,
        config=LoopConfig(max_steps=5),
        task={"goal": "Greet Alice and Bob, then finish."},
    ):
        print(step.pretty())
    result = state.result
    assert result is not None
    print(
        f"stopped: {result.stop_reason.value}; answer: {result.answer_text}; "
        f"tokens in/out: {result.usage.input_tokens}/{result.usage.output_tokens}"
    )
    if not result.ok:
        print(f"why: {result.message}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
