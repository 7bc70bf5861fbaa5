"""Fixtures for the MCP tests: real servers, started for real, on stdio or on 127.0.0.1.

* ``demo`` — ``tests/mcp/demo_server.py`` (the SDK's own ``MCPServer``) over stdio, one process
  for the module; tests that crash or restart a server start their own with ``demo_server()``.
* ``time_server`` — ``mcp-server-time`` from PyPI (the dev extra) over stdio, in UTC.
* ``http_url`` — the demo server over streamable HTTP (uvicorn) in a subprocess on a free port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from looplet_core.mcp import MCPConnection, StdioServer

DEMO = str(Path(__file__).with_name("demo_server.py"))
BIN = Path(sys.executable).parent


def demo_server(*extra: str, **options: object) -> MCPConnection:
    """A new, unstarted connection to a fresh demo server process."""
    return MCPConnection(StdioServer(sys.executable, [DEMO, *extra], name="demo"), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo() -> Iterator[MCPConnection]:
    with demo_server() as connection:
        yield connection


@pytest.fixture(scope="module")
def time_server() -> Iterator[MCPConnection]:
    command = str(BIN / "mcp-server-time")
    spec = StdioServer(command, ["--local-timezone", "UTC"], name="time")
    with MCPConnection(spec) as connection:
        yield connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the HTTP MCP server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the HTTP MCP server did not listen on {port} within {timeout} s")


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, DEMO, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
