"""Recorded runs with sub-agents two deep, for the trace, compare and run diff tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from looplet_core import BaseToolRegistry, MockLLMBackend, ProvenanceSink, composable_loop, subagent
from looplet_core.provenance.prompts import PromptFiles


def library() -> BaseToolRegistry:
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    def lookup(topic: str) -> str:
        """Look a topic up in the library."""
        return f"notes on {topic}"

    return tools


def two_deep(
    trace: Path, *, secret: str = "", second: str = "bats", prompt_files: PromptFiles = "none"
) -> None:
    """editor (step 1 of the parent) runs researcher (its step 1), which looks up owls."""
    researcher = MockLLMBackend(
        [
            {"tool": "lookup", "args": {"topic": "owls" + secret}},
            {"tool": "lookup", "args": {"topic": second}},
            {"tool": "done", "args": {"answer": "owls hunt at night"}},
        ]
    )
    middle = BaseToolRegistry()
    middle.register(subagent("researcher", "Research.", llm=researcher, tools=library()))
    editor = MockLLMBackend(
        [
            {"tool": "researcher", "args": {"task": "owls, in depth"}},
            {"tool": "done", "args": {"answer": "owls: nocturnal hunters"}},
        ]
    )
    top = BaseToolRegistry()
    top.register(subagent("editor", "Edit a report.", llm=editor, tools=middle))
    top.register(library().get("lookup"))  # type: ignore[arg-type]
    plan: list[Any] = [
        {"tool": "lookup", "args": {"topic": "birds"}},
        {"tool": "editor", "args": {"task": "write about owls"}},
        {"tool": "done", "args": {"answer": "done"}},
    ]
    sink = ProvenanceSink(trace, secrets=[secret] if secret else (), prompt_files=prompt_files)
    list(composable_loop(llm=MockLLMBackend(plan), tools=top, task="study owls", hooks=[sink]))
