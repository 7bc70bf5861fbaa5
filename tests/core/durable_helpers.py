"""Builders for the checkpoint, resume, approval and fork tests.

The scripted model here is a *router*: it decides its reply from the conversation it is sent (how
many assistant messages it holds), not from a position in a script.  So a run resumed in a new
process, with a new backend, gets exactly the replies the uninterrupted run got, with the same
call ids, and the two can be compared message for message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    CheckpointStore,
    DefaultState,
    LoopConfig,
    Message,
    MockLLMBackend,
    Step,
    ToolSpec,
    composable_loop,
)

Reply = dict[str, Any] | list[dict[str, Any]] | str


def router(plan: Sequence[Reply]) -> Callable[[Sequence[Message], Any], Reply]:
    """Reply number k (k = assistant messages so far) is ``plan[k]``; call ids are ``c<k>``."""

    def reply(messages: Sequence[Message], tools: Any) -> Reply:
        k = sum(1 for m in messages if m.role == "assistant")
        entry = plan[min(k, len(plan) - 1)]
        if isinstance(entry, dict):
            return {"id": f"c{k}", **entry}
        if isinstance(entry, list):
            return [{"id": f"c{k}.{i}", **e} for i, e in enumerate(entry)]
        return entry

    return reply


def backend(plan: Sequence[Reply]) -> MockLLMBackend:
    return MockLLMBackend([router(plan)] * (len(plan) + 20), report_usage=True)


def counting_plan(n: int) -> list[Reply]:
    """``count(i=0..n-1)`` then ``done``."""
    return [{"tool": "count", "args": {"i": i}} for i in range(n)] + [
        {"tool": "done", "args": {"answer": f"counted {n}"}}
    ]


def durable_tools(
    calls: list[tuple[str, dict[str, Any]]] | None = None,
    *,
    log: Path | None = None,
    delay: float = 0.0,
) -> BaseToolRegistry:
    """count(i), note(text) -> a non-dict result, delete(target) needing approval, done(answer).

    Every execution is appended to ``calls`` and, when given, to the ``log`` file (one line per
    call, written when the call starts), which survives a killed process.  ``count`` sleeps
    ``delay`` seconds after logging, so a kill lands inside it.
    """
    seen = calls if calls is not None else []

    def record(tool: str, args: dict[str, Any]) -> None:
        seen.append((tool, args))
        if log is not None:
            with log.open("a") as f:
                f.write(f"{tool} {sorted(args.items())}\n")

    def count(*, i: int) -> dict[str, int]:
        record("count", {"i": i})
        time.sleep(delay)
        return {"i": i, "square": i * i}

    def note(*, text: str) -> int:
        record("note", {"text": text})
        return len(text)

    def delete(*, target: str) -> None:
        record("delete", {"target": target})

    def done(*, answer: str) -> dict[str, str]:
        record("done", {"answer": answer})
        return {"answer": answer}

    tools = BaseToolRegistry()
    tools.register(ToolSpec("count", "Count.", {"i": "int"}, count))
    tools.register(ToolSpec("note", "Note some text.", {"text": "str"}, note))
    tools.register(
        ToolSpec("delete", "Delete something.", {"target": "str"}, delete, requires_approval=True)
    )
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, done))
    return tools


_TIMING = ("elapsed_ms", "started_at", "finished_at")


def comparable(step: Step) -> dict[str, Any]:
    """A step as data, without the wall-clock fields that differ between two runs."""
    doc = step.to_dict()
    for key in _TIMING:
        doc.pop(key)
    doc["tool_result"].pop("elapsed_ms")
    if doc["llm_call"] is not None:
        doc["llm_call"].pop("latency_ms")
    return doc


def requests_of(llm: MockLLMBackend) -> list[list[dict[str, Any]]]:
    """Every message list the backend was sent, as dicts."""
    return [[m.to_dict() for m in request.messages] for request in llm.requests]


def record_counting_run(store: CheckpointStore, n: int, run_id: str = "r1") -> DefaultState:
    """Checkpoint ``n`` steps of the counting agent into ``store`` and stop there (the run is
    left open for a resume), for the tests that compare a store's fast load with its full one."""
    state = DefaultState(run_id=run_id)
    cfg = LoopConfig(max_steps=n + 5, checkpoint=store)
    loop = composable_loop(
        llm=backend(counting_plan(n)), tools=durable_tools(), task="count", config=cfg, state=state
    )
    for step in loop:
        if step.number == n:
            break
    loop.close()
    return state
