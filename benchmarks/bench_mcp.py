"""What an MCP tool call costs beside a local tool: per call, and per loop step.

    .venv/bin/python benchmarks/bench_mcp.py                 # about 30 s
    .venv/bin/python benchmarks/bench_mcp.py --calls 500 --steps 200

The server is ``tests/mcp/demo_server.py`` (the SDK's ``MCPServer``), started over stdio and, for
the HTTP rows, over streamable HTTP with uvicorn on 127.0.0.1 in a subprocess.  The tool is
``add(a, b)``, so the figures are the round trip and the plumbing, not the work.  The local tool
is the same function declared with ``@tool``.

**Per call** (median and p95 of ``--calls`` calls after ``--warmup``): the local tool through
``tools.run.execute`` (inline, and with a timeout, which puts it on the worker pool); the MCP tool
through the same ``execute`` (inline: the caller's thread waits on the connection's loop; with a
timeout, as ``tools()`` makes it by default: a worker waits); ``MCPConnection.call`` directly;
``acall`` awaited in an event loop; and, for the floor, the SDK alone (``await
ClientSession.call_tool`` in its own event loop, no looplet in between).

**Per step**: a ``composable_loop`` run of ``--steps`` steps with ``MockLLMBackend`` calling the
tool each step, wall time divided by steps (best of 3, after one untimed warm-up run), for the
local tool and the MCP tool.

Prints one table; exits 0 whatever the figures.  The load average is printed at the start and the
end because the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from looplet_core import BaseToolRegistry, MockLLMBackend, composable_loop, tool  # noqa: E402
from looplet_core.mcp import HttpServer, MCPConnection, StdioServer  # noqa: E402
from looplet_core.tools.run import ToolContext, execute  # noqa: E402

DEMO = str(ROOT / "tests" / "mcp" / "demo_server.py")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def timed(fn: Callable[[], Any], calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out: list[float] = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e6)
    return out


def atimed(make: Callable[[], Any], calls: int, warmup: int) -> list[float]:
    async def main() -> list[float]:
        for _ in range(warmup):
            await make()
        out: list[float] = []
        for _ in range(calls):
            start = time.perf_counter()
            await make()
            out.append((time.perf_counter() - start) * 1e6)
        return out

    return asyncio.run(main())


def sdk_alone(calls: int, warmup: int) -> list[float]:
    """``await ClientSession.call_tool`` in the SDK's own loop: no looplet in between."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def main() -> list[float]:
        params = StdioServerParameters(command=sys.executable, args=[DEMO])
        with open(os.devnull, "w") as quiet:
            async with (
                stdio_client(params, errlog=quiet) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                for _ in range(warmup):
                    await session.call_tool("add", {"a": 1, "b": 2})
                out: list[float] = []
                for _ in range(calls):
                    start = time.perf_counter()
                    await session.call_tool("add", {"a": 1, "b": 2})
                    out.append((time.perf_counter() - start) * 1e6)
                return out

    return asyncio.run(main())


def per_step(tools: BaseToolRegistry, name: str, steps: int, repeats: int = 3) -> float:
    """Best of ``repeats`` runs (after one untimed run that loads what the loop loads lazily)."""

    def once(n: int) -> float:
        script: list[Any] = [{"tool": name, "args": {"a": i, "b": 1}} for i in range(n)]
        script.append({"tool": "done", "args": {"answer": "ok"}})
        llm = MockLLMBackend(script)
        start = time.perf_counter()
        for _ in composable_loop(llm=llm, tools=tools, task="add"):
            pass
        return (time.perf_counter() - start) * 1e6 / (n + 1)

    once(10)
    return min(once(steps) for _ in range(repeats))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_http() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, DEMO, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/mcp"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the HTTP MCP server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows: list[tuple[str, list[float]]] = []
    n, w = args.calls, args.warmup
    ctx = ToolContext()
    two = {"a": 1, "b": 2}
    rows.append(("local tool, execute() inline", timed(lambda: execute(add, two, ctx), n, w)))
    rows.append(
        (
            "local tool, execute() with a timeout (worker pool)",
            timed(lambda: execute(add, two, ctx, timeout=60), n, w),
        )
    )
    step_rows: list[tuple[str, float]] = [
        ("local tool", per_step(BaseToolRegistry([add]), "add", args.steps))
    ]
    rows.append(("MCP stdio, the SDK alone: await session.call_tool()", sdk_alone(n, w)))
    with MCPConnection(StdioServer(sys.executable, [DEMO], name="demo")) as conn:
        [untimed] = conn.tools(allow=["add"], timeout=None)
        [timed_spec] = conn.tools(allow=["add"])
        rows.append(
            ("MCP stdio, execute() inline", timed(lambda: execute(untimed, two, ctx), n, w))
        )
        rows.append(
            (
                "MCP stdio, execute() with its 60 s timeout (default)",
                timed(lambda: execute(timed_spec, two, ctx), n, w),
            )
        )
        rows.append(("MCP stdio, MCPConnection.call()", timed(lambda: conn.call("add", two), n, w)))
        rows.append(("MCP stdio, await acall()", atimed(lambda: conn.acall("add", two), n, w)))
        step_rows.append(
            (
                "MCP stdio tool (default timeout)",
                per_step(BaseToolRegistry([timed_spec]), "add", args.steps),
            )
        )
    proc, url = start_http()
    try:
        with MCPConnection(HttpServer(url)) as web:
            rows.append(
                (
                    "MCP HTTP 127.0.0.1, MCPConnection.call()",
                    timed(lambda: web.call("add", two), n, w),
                )
            )
            [web_add] = web.tools(allow=["add"])
            step_rows.append(
                (
                    "MCP HTTP tool (default timeout)",
                    per_step(BaseToolRegistry([web_add]), "add", args.steps),
                )
            )
    finally:
        proc.terminate()
        proc.wait(10)

    print(f"\nPer call ({n} calls after {w} warm-up), microseconds")
    print(f"{'path':58} {'median':>9} {'p95':>9}")
    for label, samples in rows:
        print(f"{label:58} {statistics.median(samples):9.1f} {p95(samples):9.1f}")
    print(f"\nPer loop step ({args.steps} steps + done, MockLLMBackend, best of 3), microseconds")
    for label, us in step_rows:
        print(f"{label:58} {us:9.1f}")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
