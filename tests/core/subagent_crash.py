"""A parent run whose sub-agent checkpoints; ``python -m tests.core.subagent_crash DIR`` dies
inside the sub-agent, just after its second step, as if the machine went down."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from looplet_core import BaseToolRegistry, FileCheckpointStore, LoopConfig, Step, composable_loop
from looplet_core.agents import subagent
from tests.core.durable_helpers import backend

PARENT_PLAN: list[Any] = [
    {"tool": "note", "args": {"text": "starting"}},
    {"tool": "researcher", "args": {"task": "look up a, b and c"}},
    {"tool": "done", "args": {"answer": "reported"}},
]
CHILD_PLAN: list[Any] = [
    {"tool": "lookup", "args": {"key": "a"}},
    {"tool": "lookup", "args": {"key": "b"}},
    {"tool": "lookup", "args": {"key": "c"}},
    {"tool": "done", "args": {"answer": "a, b and c looked up"}},
]


def parent_tools(directory: Path, *, die_after: int | None = None) -> BaseToolRegistry:
    log = directory / "tools.log"
    child_tools = BaseToolRegistry()

    @child_tools.tool
    def lookup(key: str) -> str:
        """Look a key up."""
        with log.open("a") as f:
            f.write(f"lookup {key}\n")
        return f"value of {key}"

    def watch(step: Step) -> None:
        if die_after is not None and step.number == die_after:
            sys.stdout.write("DYING\n")
            sys.stdout.flush()
            os._exit(9)  # the child's step is checkpointed before anyone sees it

    tools = BaseToolRegistry()

    @tools.tool
    def note(text: str) -> str:
        """Write a note."""
        with log.open("a") as f:
            f.write(f"note {text}\n")
        return "noted"

    tools.register(
        subagent(
            "researcher",
            "Research.",
            llm=lambda: backend(CHILD_PLAN),
            tools=child_tools,
            checkpoint=FileCheckpointStore(directory / "child"),
            on_step=watch,
        )
    )
    return tools


def start(directory: Path) -> None:
    loop = composable_loop(
        llm=backend(PARENT_PLAN),
        tools=parent_tools(directory, die_after=2),
        task="research",
        config=LoopConfig(checkpoint=FileCheckpointStore(directory / "parent")),
    )
    for _ in loop:
        pass


if __name__ == "__main__":
    start(Path(sys.argv[1]))
