"""A factory for ``looplet-tui run``: the smallest agent worth opening in the debugger.

    looplet-tui run looplet_tui/examples/notes_agent.py          # file path (make_agent)
    looplet-tui run looplet_tui.examples.notes_agent:make_agent  # or module:factory

A factory takes no arguments and returns the loop's keyword arguments as a dict: ``llm``,
``tools`` and ``task`` are required, ``config``, ``state`` and ``hooks`` optional.  The debugger
adds its own hook last and turns on ``record_prompts`` and ``stream``.  With ``OPENAI_BASE_URL`` /
``OPENAI_API_KEY`` / ``OPENAI_MODEL`` set it talks to that server; otherwise a script plays the
model, so it runs anywhere.
"""

from __future__ import annotations

from typing import Any

from looplet_core import BaseToolRegistry, LoopConfig, MockLLMBackend, ToolSpec
from looplet_core.examples._backend import pick_backend, real_backend_configured

SCRIPT = [
    {"tool": "list_notes", "args": {}},
    {"tool": "add_note", "args": {"text": "buy milk"}},
    {"tool": "done", "args": {"answer": "Added 'buy milk'; there are 3 notes now."}},
]


def make_agent() -> dict[str, Any]:
    notes = ["call Ada", "water the plants"]
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec("list_notes", "List the notes.", {}, lambda: list(notes), read_only=True)
    )
    tools.register(
        ToolSpec(
            "add_note",
            "Add a note.",
            {"text": "str"},
            lambda *, text: notes.append(text) or f"{len(notes)} notes",
            requires_approval=True,
        )
    )
    llm = (
        pick_backend(SCRIPT)[0]
        if real_backend_configured()
        else MockLLMBackend(SCRIPT, report_usage=True, delay=0.3)
    )
    return {
        "llm": llm,
        "tools": tools,
        "task": "Add a note to buy milk, unless it is already there.",
        "config": LoopConfig(max_steps=10, context_window=8000),
    }
