"""The demo: a data-cleanup agent, scripted so it runs anywhere, on a real model when configured.

It exercises every view of the debugger in a dozen steps: streamed replies with reasoning, a tool
that fails (an unknown column), a call with invalid arguments, two dangerous calls that wait for
approval (dropping rows, saving over a file), a compaction of the history once the context passes
60% of a deliberately small window, and a final answer.  The data lives in memory: approving
``save_csv`` writes nothing.

``make_agent`` is also the example of a factory for ``looplet-tui run``: it returns the loop's
arguments as a dict.
"""

from __future__ import annotations

from typing import Any

from looplet_core import (
    BaseToolRegistry,
    ContextBudget,
    DefaultState,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    ThresholdCompactHook,
    ToolCall,
    ToolSpec,
)
from looplet_core.examples._backend import real_backend_configured

__all__ = ["make_agent", "make_tools"]

WINDOW = 1750
"""A small context window (the tool schemas alone take a quarter of it), so the gauge moves
and compaction happens once within a short demo."""
BUDGET = ContextBudget(warn=0.45, compact=0.6)
"""Warn at half the window, compact at 60%: the demo crosses both."""

_ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "city": "London"},
    {"id": 2, "name": "Alan Turing", "email": None, "city": "Wilmslow"},
    {"id": 3, "name": "Grace Hopper", "email": "grace@example.com", "city": "New York"},
    {"id": 4, "name": "Ada Lovelace", "email": "ada@example.com", "city": "London"},
    {"id": 5, "name": "Edsger Dijkstra", "email": "ewd@example.com", "city": "Nuenen"},
    {"id": 6, "name": "Barbara Liskov", "email": None, "city": "Boston"},
    {"id": 7, "name": "Grace Hopper", "email": "grace@example.com", "city": "New York"},
    {"id": 8, "name": "Ken Thompson", "email": "ken@example.com", "city": "[bold red]Berkeley[/]"},
]


def _reply(text: str, tool: str, args: dict[str, Any], reasoning: str | None = None) -> Any:
    return LLMResponse(
        text=text,
        tool_calls=[ToolCall(tool, args, f"call_{tool}_{len(text)}")],
        stop_reason="tool_calls",
        model="scripted",
        reasoning=reasoning,
    )


SCRIPT: list[Any] = [
    _reply(
        "I'll start by loading the file to see what it holds.",
        "load_csv",
        {"path": "customers.csv"},
        reasoning="The task names one file; look before changing anything.",
    ),
    _reply("Emails look patchy; profiling that column.", "profile", {"column": "email"}),
    _reply("Let me also check signup dates.", "profile", {"column": "signup_date"}),
    _reply(
        "No such column. Looking for duplicate customers instead.",
        "find_duplicates",
        {"keys": "email"},
    ),
    _reply("The key must be a column name.", "find_duplicates", {"key": "email"}),
    _reply(
        "Rows 4 and 7 repeat rows 1 and 3. Dropping them.",
        "drop_rows",
        {"ids": [4, 7], "reason": "exact duplicates"},
        reasoning="Duplicates share every field, so dropping loses nothing.",
    ),
    _reply(
        "Now filling the missing emails with a placeholder.",
        "fill_missing",
        {"column": "email", "value": "unknown@example.com"},
    ),
    _reply(
        "One row has markup in its city: \x1b[31m[bold]not rendered[/bold]\x1b[0m. Checking.",
        "profile",
        {"column": "city"},
    ),
    _reply("Saving the cleaned table.", "save_csv", {"path": "customers.csv"}),
    _reply(
        "Done.",
        "done",
        {
            "answer": "Dropped 2 duplicate rows, filled 2 missing emails, "
            "saved 6 rows to customers.csv."
        },
    ),
]


class _Table:
    """The in-memory CSV the tools work on."""

    def __init__(self) -> None:
        self.rows = [dict(r) for r in _ROWS]

    def load_csv(self, *, path: str) -> dict[str, Any]:
        return {
            "path": path,
            "rows": len(self.rows),
            "columns": list(self.rows[0]),
            "sample": self.rows,
        }

    def profile(self, *, column: str) -> dict[str, Any]:
        if column not in self.rows[0]:
            raise KeyError(f"no column {column!r}; columns are {', '.join(self.rows[0])}")
        values = [r[column] for r in self.rows]
        present = [v for v in values if v is not None]
        return {
            "column": column,
            "missing": len(values) - len(present),
            "unique": len(set(present)),
            "values": sorted(set(map(str, present))),
        }

    def find_duplicates(self, *, key: str) -> list[dict[str, Any]]:
        seen: dict[Any, int] = {}
        found: list[dict[str, Any]] = []
        for row in self.rows:
            value = row.get(key)
            if value is not None and value in seen:
                found.append({"id": row["id"], "duplicate_of": seen[value], "row": dict(row)})
            elif value is not None:
                seen[value] = row["id"]
        return found

    def drop_rows(self, *, ids: list[int], reason: str = "") -> dict[str, Any]:
        before = len(self.rows)
        self.rows = [r for r in self.rows if r["id"] not in ids]
        return {"dropped": before - len(self.rows), "rows": len(self.rows), "reason": reason}

    def fill_missing(self, *, column: str, value: str) -> dict[str, Any]:
        filled = 0
        for row in self.rows:
            if row.get(column) is None:
                row[column] = value
                filled += 1
        return {"column": column, "filled": filled}

    def save_csv(self, *, path: str) -> str:
        return f"saved {len(self.rows)} rows to {path} (in memory: the demo writes no files)"


def make_tools() -> BaseToolRegistry:
    table = _Table()
    tools = BaseToolRegistry()
    for spec in (
        ToolSpec(
            "load_csv",
            "Load a CSV file and show its shape.",
            {"path": "str"},
            table.load_csv,
            read_only=True,
        ),
        ToolSpec(
            "profile",
            "Missing and unique values of one column.",
            {"column": "str"},
            table.profile,
            read_only=True,
        ),
        ToolSpec(
            "find_duplicates",
            "Rows whose key column repeats an earlier row.",
            {"key": "str"},
            table.find_duplicates,
            read_only=True,
        ),
        ToolSpec(
            "drop_rows",
            "Delete rows by id. Destructive.",
            {"ids": "list[int]", "reason": "str = ''"},
            table.drop_rows,
            requires_approval=True,
        ),
        ToolSpec(
            "fill_missing",
            "Fill empty cells of a column.",
            {"column": "str", "value": "str"},
            table.fill_missing,
        ),
        ToolSpec(
            "save_csv",
            "Write the table to a file, replacing it.",
            {"path": "str"},
            table.save_csv,
            requires_approval=True,
        ),
    ):
        tools.register(spec)
    return tools


def make_agent(*, delay: float = 0.35, max_steps: int = 20) -> dict[str, Any]:
    """The demo's loop arguments: scripted, or a real model when ``OPENAI_*`` is set."""
    if real_backend_configured():
        from looplet_core.examples._backend import pick_backend

        llm, _ = pick_backend(SCRIPT)
    else:
        llm = MockLLMBackend(SCRIPT, report_usage=True, delay=delay, stream_chunk=6)
    return {
        "llm": llm,
        "tools": make_tools(),
        "task": {
            "goal": "Clean customers.csv: drop duplicate customers, fill missing emails, "
            "and save the result.",
            "file": "customers.csv",
        },
        "config": LoopConfig(
            max_steps=max_steps, context_window=WINDOW, stream=True, context_budget=BUDGET
        ),
        "state": DefaultState(),
        "hooks": [ThresholdCompactHook()],
    }
