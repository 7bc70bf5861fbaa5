"""Tools and a scripted model for the parallel-tool-call tests (also run as a script by the
crash test: ``python -m tests.core.parallel_helpers DIR`` dies after the batch's second step)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from looplet_core import BaseToolRegistry, FileCheckpointStore, LoopConfig, composable_loop
from tests.core.durable_helpers import backend

FOUR_LOOKUPS: list[Any] = [
    [{"tool": "lookup", "args": {"key": k}} for k in ("a", "b", "c", "d")],
    {"tool": "done", "args": {"answer": "looked up four"}},
]


def lookup_tools(
    calls: list[str], *, barrier: threading.Barrier | None = None, log: Path | None = None
) -> BaseToolRegistry:
    """``lookup(key)`` (read-only, so it may overlap) and ``write(key)`` (may not).

    With a ``barrier``, every lookup waits at it: a batch that did not run its calls at the same
    time breaks the barrier (timeout), and the lookups fail.  ``log`` gets one line per run.
    """
    tools = BaseToolRegistry()
    lock = threading.Lock()

    @tools.tool(read_only=True)
    def lookup(key: str) -> str:
        """Look a key up."""
        with lock:
            calls.append(f"lookup {key}")
            if log is not None:
                with log.open("a") as f:
                    f.write(f"lookup {key}\n")
        if barrier is not None:
            barrier.wait()
        return f"value of {key}"

    @tools.tool
    def write(key: str) -> str:
        """Write a key."""
        with lock:
            calls.append(f"write {key}")
        return f"wrote {key}"

    return tools


def crash_after_two(directory: str) -> None:
    store = FileCheckpointStore(directory)
    calls: list[str] = []
    tools = lookup_tools(calls, log=Path(directory) / "tools.log")
    loop = composable_loop(
        llm=backend(FOUR_LOOKUPS),
        tools=tools,
        task="look up four keys",
        config=LoopConfig(checkpoint=store, parallel_tools=4),
    )
    for step in loop:
        if step.number == 2:
            sys.stdout.write("DYING\n")
            sys.stdout.flush()
            os._exit(9)  # no cleanup, no finally: as if the machine went down


if __name__ == "__main__":
    crash_after_two(sys.argv[1])
