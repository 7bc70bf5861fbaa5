# pyright: basic
# (examples mirror user code, lambdas included, so they are checked in basic mode)
"""A research agent: parallel searches, then a sub-agent that reads the pages and reports.

    python -m looplet_core.examples.research_agent            # scripted model, no network
    python -m looplet_core.examples.research_agent --mcp      # plus a clock from an MCP server
    looplet-tui run looplet_core.examples.research_agent:make_agent
    looplet-tui run looplet_core.examples.research_agent:make_mcp_agent

The lead agent searches a small built-in library with three ``search`` calls in one reply; the
tool is read-only and waits ``--delay`` seconds (a stand-in for a network call), and with
``LoopConfig(parallel_tools=4)`` the three run at the same time (one step each, bracketed as a
batch in the debugger).  It then hands the reading to ``analyst``, a sub-agent with its own
``read_page`` tool and a budget of 6 steps; the analyst's answer is the call's result and its
steps are kept on the lead's step (``Step.child``: Enter opens them in the debugger).  With
``OPENAI_*`` variables set, both agents use that model instead of the scripts.

With ``--mcp`` (``make_mcp_agent``; needs the ``mcp`` extra and the ``mcp-server-time`` package)
the lead also gets ``time_get_current_time`` from the ``mcp-server-time`` MCP server, started on
stdio, and asks it for the time in the same reply as its searches: four calls, one batch, one of
them answered by the server.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    Step,
    composable_loop,
    subagent,
)
from looplet_core.examples._backend import pick_backend, real_backend_configured

__all__ = ["PAGES", "build_tools", "main", "make_agent", "make_mcp_agent"]

PAGES = {
    "lib://owls/hunting": "Owls hunt mostly at night; soft-edged feathers make them silent.",
    "lib://owls/hearing": "Barn owls locate prey by sound alone, even in complete darkness.",
    "lib://owls/eyes": "Owl eyes are tubes, not balls: they cannot move them, so they turn heads.",
    "lib://bats/echo": "Bats find insects by echolocation, calling up to 200 times a second.",
}

TASK = (
    "How do owls find their prey at night? Search the library for hunting, hearing and eyes, "
    "have the analyst read the relevant pages, then call done with a two-sentence answer."
)

SEARCHES: list[Any] = [
    {"tool": "search", "args": {"query": "owls hunting"}},
    {"tool": "search", "args": {"query": "owls hearing"}},
    {"tool": "search", "args": {"query": "owls eyes"}},
]
CLOCK_CALL = {"tool": "time_get_current_time", "args": {"timezone": "UTC"}}

LEAD_SCRIPT: list[Any] = [
    SEARCHES,
    {
        "tool": "analyst",
        "args": {
            "task": "Read lib://owls/hunting and lib://owls/hearing and say, in one sentence, "
            "how owls find prey at night."
        },
    },
    {
        "tool": "done",
        "args": {
            "answer": "Owls hunt at night in silent flight and find prey by hearing alone. "
            "The analyst's reading of the library pages confirms it."
        },
    },
]

ANALYST_SCRIPT: list[Any] = [
    [
        {"tool": "read_page", "args": {"url": "lib://owls/hunting"}},
        {"tool": "read_page", "args": {"url": "lib://owls/hearing"}},
    ],
    {
        "tool": "done",
        "args": {"answer": "Owls fly silently at night and locate prey by sound alone."},
    },
]


def _library(delay: float) -> tuple[Any, Any]:
    def search(query: str) -> list[str]:
        """Search the library; returns the URLs of matching pages."""
        time.sleep(delay)
        words = [w for w in query.lower().split() if len(w) > 2]
        return [
            url
            for url, text in PAGES.items()
            if all(w.rstrip("s") in (url + " " + text).lower() for w in words)
        ]

    def read_page(url: str) -> str:
        """Read a library page by its URL."""
        time.sleep(delay)
        if url not in PAGES:
            raise KeyError(f"no page at {url}; search first")
        return PAGES[url]

    return search, read_page


def build_tools(*, delay: float = 0.2, real: bool | None = None) -> BaseToolRegistry:
    """The lead's tools: ``search`` (read-only) and the ``analyst`` sub-agent."""
    search, read_page = _library(delay)
    reading = BaseToolRegistry()
    reading.tool(read_only=True)(read_page)
    use_real = real_backend_configured() if real is None else real
    if use_real:
        analyst_llm: Any = pick_backend(ANALYST_SCRIPT)[0]
    else:
        analyst_llm = lambda: MockLLMBackend(ANALYST_SCRIPT, report_usage=True)  # noqa: E731
    tools = BaseToolRegistry()
    tools.tool(read_only=True)(search)
    tools.register(
        subagent(
            "analyst",
            "Give the analyst a reading task (which pages, what question); it reads the pages "
            "and answers in a sentence or two.",
            llm=analyst_llm,
            tools=reading,
            max_steps=6,
            config=LoopConfig(parallel_tools=4),
        )
    )
    return tools


def make_agent(delay: float = 0.2, max_steps: int = 12) -> dict[str, Any]:
    """The factory ``looplet-tui run`` opens."""
    llm, _ = pick_backend(LEAD_SCRIPT)
    return {
        "llm": llm,
        "tools": build_tools(delay=delay),
        "task": TASK,
        "config": LoopConfig(max_steps=max_steps, parallel_tools=4),
    }


def make_mcp_agent(delay: float = 0.2, max_steps: int = 12) -> dict[str, Any]:
    """``make_agent`` plus ``time_get_current_time`` from the ``mcp-server-time`` MCP server.

    The server is started here, on stdio, and stays up for the process (the MCP package closes
    open connections at exit).
    """
    from looplet_core.mcp import connect_stdio  # the mcp extra, only when asked for

    server = connect_stdio(
        sys.executable, ["-m", "mcp_server_time", "--local-timezone", "UTC"], name="time"
    )
    script = [[*SEARCHES, CLOCK_CALL], *LEAD_SCRIPT[1:]]
    llm, _ = pick_backend(script)
    tools = build_tools(delay=delay)
    for spec in server.tools(
        prefix="time_", allow=["get_current_time"], read_only=["get_current_time"]
    ):
        tools.register(spec)
    return {
        "llm": llm,
        "tools": tools,
        "task": TASK + " Say what time (UTC) the answer was written.",
        "config": LoopConfig(max_steps=max_steps, parallel_tools=4),
    }


def _print(step: Step, depth: int = 0) -> None:
    mark = f"  ∥ {step.batch.index + 1}/{step.batch.size}" if step.batch else ""
    print("    " * depth + step.pretty() + mark)
    if step.child is not None:
        child = step.child
        print("    " * depth + f"  └ sub-agent {child.agent} ({child.stop_reason.value}):")
        for inner in child.steps:
            _print(inner, depth + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="A research agent with parallel calls and a sub-agent."
    )
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each library call takes")
    parser.add_argument("--mcp", action="store_true", help="add a clock from an MCP server")
    parser.add_argument(
        "--max-steps", type=int, default=12, help="the lead's step budget (default 12)"
    )
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        parser.error(f"--max-steps must be at least 1, not {args.max_steps}")
    make = make_mcp_agent if args.mcp else make_agent
    agent = make(args.delay, args.max_steps)
    _, where = pick_backend(LEAD_SCRIPT)
    print(f"model: {where}")
    state = DefaultState()
    began = time.perf_counter()
    for step in composable_loop(state=state, **agent):
        _print(step)
    took = time.perf_counter() - began
    result = state.result
    assert result is not None
    print(
        f"stopped: {result.stop_reason.value} after {took:.2f}s; answer: {result.answer_text}; "
        f"tokens in/out (sub-agent included): {result.usage.input_tokens}/"
        f"{result.usage.output_tokens}"
    )
    if not result.ok:
        print(f"why: {result.message}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
