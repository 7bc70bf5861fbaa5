"""The demo server over streamable HTTP on 127.0.0.1 (uvicorn in a subprocess), sync and async."""

from __future__ import annotations

import subprocess
import sys

import pytest

from looplet_core import (
    BaseToolRegistry,
    ConfigError,
    MockLLMBackend,
    StepStatus,
    async_composable_loop,
    composable_loop,
)
from looplet_core.errors import MCPConnectError
from looplet_core.mcp import HttpServer, MCPConnection, connect_http
from tests.mcp.conftest import DEMO, free_port, wait_for_port


def test_tools_over_http_run_in_a_loop_and_the_headers_reach_the_server(http_url):
    headers = {"X-Team": "looplet", "Authorization": "Bearer sk-secret-123"}
    with connect_http(http_url, headers=headers, name="web") as conn:
        assert conn.server_info["serverInfo"]["name"] == "demo"
        assert "sk-secret" not in repr(conn)  # headers stay out of reprs and logs
        tools = BaseToolRegistry(conn.tools(prefix="web_", allow=["add", "header", "lookup"]))
        assert tools.names() == ["web_add", "web_lookup", "web_header"]
        llm = MockLLMBackend(
            [
                {"tool": "web_add", "args": {"a": 4, "b": 5}},
                {"tool": "web_header", "args": {"name": "X-Team"}},
                {"tool": "done", "args": {"answer": "9"}},
            ]
        )
        steps = list(composable_loop(llm=llm, tools=tools, task="t"))
    assert steps[0].tool_result.data == 9
    assert steps[1].tool_result.data == "looplet"
    assert steps[2].status is StepStatus.DONE


async def test_the_async_loop_over_http(http_url):
    async with MCPConnection(HttpServer(http_url)) as conn:
        tools = BaseToolRegistry(conn.tools(timeout=None))
        llm = MockLLMBackend(
            [
                {"tool": "lookup", "args": {"city": "Lima"}},
                {"tool": "refuse", "args": {"reason": "closed today"}},
                {"tool": "done", "args": {"answer": ""}},
            ]
        )
        steps = [s async for s in async_composable_loop(llm=llm, tools=tools, task="t")]
    assert steps[0].tool_result.data["city"] == "Lima"
    assert steps[1].status is StepStatus.ERROR and "closed today" in steps[1].tool_result.error


def test_a_url_where_nothing_listens_is_a_connect_error_naming_it():
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(MCPConnectError) as err:
        connect_http(url, connect_timeout=5)
    message = str(err.value)
    assert url in message and "did not connect: ConnectError" in message
    assert "Check that the server is running" in message


def test_a_url_that_is_not_http_is_refused_before_connecting():
    with pytest.raises(ConfigError, match="must be an http"):
        HttpServer("ftp://127.0.0.1/mcp")


def start_demo_http(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, DEMO, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return proc


def test_an_http_server_that_dies_mid_run_is_an_error_step_and_restart_reconnects():
    port = free_port()
    proc = start_demo_http(port)

    class KillTheServerAfterStepOne:
        def post_dispatch(self, state, log, tc, result, step):
            if step == 1:
                proc.kill()
                proc.wait(10)

    try:
        with connect_http(f"http://127.0.0.1:{port}/mcp", name="web") as conn:
            tools = BaseToolRegistry(conn.tools())
            llm = MockLLMBackend(
                [
                    {"tool": "add", "args": {"a": 1, "b": 1}},
                    {"tool": "add", "args": {"a": 2, "b": 2}},
                    {"tool": "add", "args": {"a": 3, "b": 3}},
                    {"tool": "done", "args": {"answer": ""}},
                ]
            )
            hooks = [KillTheServerAfterStepOne()]
            steps = list(composable_loop(llm=llm, tools=tools, task="t", hooks=hooks))
            assert [s.status for s in steps[:3]] == [
                StepStatus.OK,
                StepStatus.ERROR,
                StepStatus.ERROR,
            ]
            assert "MCP server 'web'" in steps[1].tool_result.error
            assert "restart()" in steps[2].tool_result.error
            assert not conn.alive
            proc = start_demo_http(port)  # the server is back
            conn.restart()
            assert conn.alive and conn.call("add", {"a": 4, "b": 4}) == 8
    finally:
        proc.kill()
        proc.wait(10)
