"""The agent the store CLI and attach tests run in a separate process: count, then a dangerous
``delete`` that needs approval, then done.  ``delete`` appends to ``$LOOPLET_TEST_LOG`` so a
test sees whether (and with which arguments) it really ran."""

from __future__ import annotations

import os
from typing import Any

from looplet_core import BaseToolRegistry, ToolSpec
from tests.core.durable_helpers import backend

PLAN: list[Any] = [
    {"tool": "count", "args": {"i": 1}},
    {"tool": "delete", "args": {"target": "10000 rows"}},
    {"tool": "done", "args": {"answer": "cleaned"}},
]


def make_agent() -> dict[str, Any]:
    def delete(*, target: str) -> str:
        log = os.environ.get("LOOPLET_TEST_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"delete {target}\n")
        return f"deleted {target}"

    tools = BaseToolRegistry()
    tools.register(ToolSpec("count", "Count.", {"i": "int"}, lambda *, i: i * 2, read_only=True))
    tools.register(
        ToolSpec("delete", "Delete rows.", {"target": "str"}, delete, requires_approval=True)
    )
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
    return {"llm": backend(PLAN), "tools": tools, "task": "clean the table"}
