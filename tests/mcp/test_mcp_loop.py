"""Full loop runs calling real MCP servers: sync and async, errors as steps, approval, resume."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from looplet_core import (
    BaseToolRegistry,
    CancelToken,
    ErrorKind,
    Event,
    EventKind,
    FileCheckpointStore,
    LoopConfig,
    LoopletError,
    MockLLMBackend,
    PermissionHook,
    ProvenanceSink,
    StepStatus,
    StopReason,
    TraceReader,
    async_composable_loop,
    composable_loop,
    resume,
)
from looplet_core.approvals.permissions import allow, deny
from looplet_core.backends.openai import OpenAIBackend
from looplet_core.durable.checkpoints import history, latest_checkpoint
from looplet_core.mcp import offline_tools
from looplet_core.provenance.replay import replay
from tests.core.durable_helpers import Reply, backend
from tests.fakeserver import FakeOpenAIServer
from tests.mcp.conftest import demo_server


def call(tool: str, **args: Any) -> dict[str, Any]:
    return {"tool": tool, "args": args}


def run(llm: Any, tools: BaseToolRegistry, **config: Any) -> tuple[list[Any], Any]:
    steps = list(
        composable_loop(llm=llm, tools=tools, task="use the tools", config=LoopConfig(**config))
    )
    return steps, llm


def tool_messages(llm: MockLLMBackend) -> list[str]:
    return [m.content for m in llm.requests[-1].messages if m.role == "tool"]


def test_a_scripted_run_calls_the_server_and_the_model_sees_every_result(demo):
    tools = BaseToolRegistry(demo.tools(prefix="demo_"))
    llm = MockLLMBackend(
        [
            call("demo_add", a=2, b="3"),
            call("demo_lookup", city="Oslo"),
            call("demo_picture"),
            call("demo_refuse", reason="no such city"),
            call("done", answer="ok"),
        ]
    )
    steps, _ = run(llm, tools)
    assert [s.status for s in steps] == [StepStatus.OK] * 3 + [StepStatus.ERROR, StepStatus.DONE]
    assert steps[0].tool_result.data == 5
    assert steps[1].tool_result.data == {
        "city": "Oslo",
        "population": 1_234_567,
        "tags": ["river", "old town"],
    }
    refused = steps[3].tool_result
    assert refused.error_kind is ErrorKind.EXECUTION
    assert "MCPToolError: MCP tool 'refuse' of server 'demo' failed" in refused.error
    assert "no such city" in refused.error
    seen = tool_messages(llm)
    assert seen[0] == "5"
    assert '"population": 1234567' in seen[1]
    assert "[image image/png, 68 bytes, not shown]" in seen[2]
    assert "[audio audio/wav, 32 bytes, not shown]" in seen[2]
    assert "note body" in seen[2]
    assert seen[3].startswith("Error (execution): MCPToolError:") and "no such city" in seen[3]
    # The model was offered the server's tools with the server's schemas.
    offered = {t["name"]: t for t in llm.requests[0].tools}
    assert offered["demo_add"]["parameters"]["required"] == ["a", "b"]


def test_a_call_past_its_timeout_is_a_timeout_step_and_the_server_keeps_serving(demo):
    tools = BaseToolRegistry(demo.tools(timeout=0.3))
    llm = MockLLMBackend(
        [call("slow", seconds=1.5), call("add", a=1, b=1), call("done", answer="")]
    )
    steps, _ = run(llm, tools)
    timed_out = steps[0].tool_result
    assert steps[0].status is StepStatus.ERROR and timed_out.error_kind is ErrorKind.TIMEOUT
    assert "did not finish within its 0.3 s timeout" in timed_out.error
    assert steps[1].status is StepStatus.OK and steps[1].tool_result.data == 2
    assert demo.alive


def test_a_one_megabyte_result_is_kept_on_the_step_and_cut_for_the_model(demo):
    tools = BaseToolRegistry(demo.tools())
    llm = MockLLMBackend([call("huge", chars=1_048_576), call("done", answer="")])
    steps, _ = run(llm, tools, result_limit=20_000)
    assert len(steps[0].tool_result.data) == 1_048_576
    [sent] = tool_messages(llm)
    assert sent.startswith("0123456789" * 100)
    assert sent.endswith("…[truncated 1028576 chars]") and len(sent) < 20_100


def test_max_result_chars_cuts_what_the_step_keeps_with_a_note():
    with demo_server(max_result_chars=1000) as conn:
        tools = BaseToolRegistry(conn.tools())
        steps, llm = run(
            MockLLMBackend([call("huge", chars=1_048_576), call("done", answer="")]), tools
        )
    kept = steps[0].tool_result.data
    assert kept.startswith("0123456789" * 100)
    assert kept.endswith("[MCP result cut: kept 1,000 of 1,048,576 characters (max_result_chars)]")
    assert tool_messages(llm) == [kept]


def test_a_dangerous_tool_waits_for_the_approver_like_any_tool(demo):
    tools = BaseToolRegistry(demo.tools(dangerous=["add"]))
    seen: list[tuple[str, dict[str, Any]]] = []

    def approver(request: Any) -> None:
        seen.append((request.tool, dict(request.args)))
        if request.args["a"] == 1:
            request.approve()
        else:
            request.deny("not that one")

    llm = MockLLMBackend([call("add", a=1, b=2), call("add", a=9, b=9), call("done", answer="")])
    steps, _ = run(llm, tools, approver=approver)
    assert seen == [("add", {"a": 1, "b": 2}), ("add", {"a": 9, "b": 9})]
    assert steps[0].status is StepStatus.OK and steps[0].tool_result.data == 3
    assert steps[1].status is StepStatus.DENIED and "not that one" in steps[1].tool_result.error


def test_permission_rules_see_the_prefixed_names(demo):
    tools = BaseToolRegistry(demo.tools(prefix="demo_"))
    hook = PermissionHook([deny("demo_echo", reason="no echoes"), allow("demo_*")])
    llm = MockLLMBackend(
        [call("demo_echo", text="hi"), call("demo_add", a=1, b=1), call("done", answer="")]
    )
    steps = list(composable_loop(llm=llm, tools=tools, task="t", hooks=[hook]))
    assert steps[0].status is StepStatus.DENIED and "no echoes" in steps[0].tool_result.error
    assert steps[1].status is StepStatus.OK


def test_a_server_crash_mid_run_is_an_error_step_and_the_run_resumes_after_a_restart(
    tmp_path: Path,
):
    plan: list[Reply] = [
        call("add", a=1, b=2),
        call("crash"),
        call("add", a=2, b=3),
        call("done", answer="five"),
    ]
    store = FileCheckpointStore(tmp_path / "runs")
    steps = []
    with demo_server() as conn:
        tools = BaseToolRegistry(conn.tools())
        loop = composable_loop(
            llm=backend(plan), tools=tools, task="t", config=LoopConfig(checkpoint=store)
        )
        for step in loop:
            steps.append(step)
            if step.status is StepStatus.ERROR:
                break  # as a program would stop on a dead server
        loop.close()
        crashed = steps[-1].tool_result
        assert [s.number for s in steps] == [1, 2]
        assert crashed.error_kind is ErrorKind.EXECUTION
        assert "MCPCallError" in crashed.error
        assert "closed the connection during the call to 'crash'" in crashed.error
        assert "demo server: crashing on purpose" in crashed.error  # its stderr, quoted
        assert "restart()" in crashed.error
        assert not conn.alive
        with pytest.raises(Exception, match="cannot take calls"):
            conn.call("add", {"a": 1, "b": 1})

    # A new process would do this: start the server again, resume from the checkpoint.
    with demo_server() as again:
        tools = BaseToolRegistry(again.tools())
        resumed = resume(store, llm=backend(plan), tools=tools)
        rest = list(resumed)
    assert [(s.number, s.status) for s in rest] == [(3, StepStatus.OK), (4, StepStatus.DONE)]
    assert rest[0].tool_result.data == 5
    assert resumed.result is not None and resumed.result.stop_reason is StopReason.DONE
    chain = history(store, latest_checkpoint(store, resumed.checkpoint.run_id))
    assert [c.step for c in chain][-1] == 4
    assert len({c.run_id for c in chain}) == 1  # one run, crash and all


def test_restart_brings_a_crashed_server_back_under_the_same_tools():
    with demo_server() as conn:
        tools = BaseToolRegistry(conn.tools())
        llm = MockLLMBackend([call("crash"), call("add", a=1, b=1), call("done", answer="")])
        first = list(composable_loop(llm=llm, tools=tools, task="t"))
        assert (
            first[1].status is StepStatus.ERROR
            and "cannot take calls" in first[1].tool_result.error
        )
        conn.restart()
        again = list(
            composable_loop(
                llm=MockLLMBackend([call("add", a=1, b=1), call("done", answer="")]),
                tools=tools,
                task="t",
            )
        )
        assert again[0].tool_result.data == 2
        # start() on a connection whose server went away starts it again too.
        with pytest.raises(LoopletError):
            conn.call("crash", {})
        assert not conn.alive
        assert conn.start().alive and conn.call("add", {"a": 2, "b": 2}) == 4


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["awaited-in-the-loop", "on-a-worker"])
async def test_the_async_loop_keeps_running_while_an_mcp_call_waits(demo, timeout):
    tools = BaseToolRegistry(demo.tools(timeout=timeout))
    ticks = 0
    during: dict[str, int] = {}

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    class TicksDuringTheSlowCall:
        def on_event(self, event: Event) -> None:
            if event.data.get("tool") == "slow":
                during[event.kind.value] = ticks

    task = asyncio.create_task(ticker())
    llm = MockLLMBackend(
        [call("slow", seconds=0.5), call("lookup", city="Rome"), call("done", answer="")]
    )
    hooks = [TicksDuringTheSlowCall()]
    steps = [s async for s in async_composable_loop(llm=llm, tools=tools, task="t", hooks=hooks)]
    task.cancel()
    assert steps[0].tool_result.data == "slept 0.5 s"
    assert steps[1].tool_result.data["city"] == "Rome"
    # The event loop ran the ticker all through the half-second call: it was never blocked.
    assert during[EventKind.TOOL_END.value] - during[EventKind.TOOL_START.value] >= 10


def test_a_run_with_the_pypi_time_server(time_server):
    tools = BaseToolRegistry(time_server.tools(prefix="time_", read_only=["*"]))
    llm = MockLLMBackend(
        [
            call("time_get_current_time", timezone="UTC"),
            call(
                "time_convert_time",
                source_timezone="UTC",
                time="12:00",
                target_timezone="Asia/Tokyo",
            ),
            call("time_get_current_time", timezone="Mars/Olympus_Mons"),
            call("done", answer=""),
        ]
    )
    steps, _ = run(llm, tools)
    now = steps[0].tool_result.data
    assert steps[0].status is StepStatus.OK and now["timezone"] == "UTC"
    converted = steps[1].tool_result.data
    assert converted["target"]["timezone"] == "Asia/Tokyo"
    assert converted["target"]["datetime"].endswith("21:00:00+09:00")
    assert steps[2].status is StepStatus.ERROR and "Mars/Olympus_Mons" in steps[2].tool_result.error


def test_a_run_with_the_real_openai_sdk_calling_mcp_tools(
    demo, fake_openai_server: FakeOpenAIServer
):
    server = fake_openai_server
    server.reply(tool_calls=[("demo_add", {"a": 20, "b": 22})])
    server.reply(tool_calls=[("done", {"answer": "42"})])
    with openai.OpenAI(base_url=server.base_url, api_key="test-key") as client:
        llm = OpenAIBackend(client, "fake-model")
        steps = list(
            composable_loop(llm=llm, tools=BaseToolRegistry(demo.tools(prefix="demo_")), task="add")
        )
    assert steps[0].tool_result.data == 42 and steps[-1].status is StepStatus.DONE
    offered = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert offered["demo_add"]["parameters"]["properties"]["a"]["type"] == "integer"
    assert server.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": server.requests[1]["messages"][-2]["tool_calls"][0]["id"],
        "content": "42",
    }


def test_one_connection_serves_calls_from_many_threads_at_once(demo):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: demo.call("add", {"a": i, "b": i}), range(40)))
    assert results == [2 * i for i in range(40)]


def test_cancelling_the_run_abandons_the_call_it_is_waiting_for():
    token = CancelToken()

    class CancelSoonAfterTheToolStarts:
        def on_event(self, event: Event) -> None:
            if event.kind is EventKind.TOOL_START:
                threading.Timer(0.2, token.cancel, args=("stopped by the user",)).start()

    with demo_server() as conn:
        tools = BaseToolRegistry(conn.tools(timeout=None))
        llm = MockLLMBackend([call("slow", seconds=5.0), call("done", answer="")])
        hooks = [CancelSoonAfterTheToolStarts()]
        steps = list(composable_loop(llm=llm, tools=tools, task="t", cancel=token, hooks=hooks))
    [step] = steps
    assert step.status is StepStatus.ERROR
    error = step.tool_result.error
    assert "abandoned (stopped by the user); the server was asked to cancel it" in error


def test_a_traced_mcp_run_replays_from_its_recording_with_the_server_gone(tmp_path: Path):
    trace = tmp_path / "trace"
    plan = [
        call("demo_add", a=2, b=3),
        call("demo_lookup", city="Oslo"),
        call("demo_refuse", reason="closed"),
        call("done", answer="ok"),
    ]
    with demo_server() as conn:
        tools = BaseToolRegistry(conn.tools(prefix="demo_"))
        live = list(
            composable_loop(
                llm=MockLLMBackend(plan), tools=tools, task="t", hooks=[ProvenanceSink(trace)]
            )
        )
    assert not conn.alive  # no server from here on
    offline = BaseToolRegistry(offline_tools(TraceReader(trace).tools()))
    assert set(offline.names()) == set(tools.names())
    outcome = replay(trace, offline)
    assert not outcome.diverged, str(outcome)
    assert [s.tool_result.data for s in outcome.steps] == [s.tool_result.data for s in live]
    assert outcome.steps[2].status is StepStatus.ERROR
    # A live replay has no server to call, and says so on each step.
    again = replay(trace, offline, mode="live")
    assert again.diverged and "is offline" in str(again.steps[0].tool_result.error)


def test_a_dangerous_call_paused_for_approval_runs_on_the_restarted_server_when_resumed(
    tmp_path: Path,
):
    plan: list[Reply] = [
        call("echo", text="hello"),
        call("add", a=20, b=22),
        call("done", answer="42"),
    ]
    store = FileCheckpointStore(tmp_path / "runs")
    with demo_server() as conn:
        tools = BaseToolRegistry(conn.tools(dangerous=["add"]))
        config = LoopConfig(checkpoint=store)
        steps = list(composable_loop(llm=backend(plan), tools=tools, task="t", config=config))
    assert [s.status for s in steps] == [StepStatus.OK, StepStatus.AWAITING_APPROVAL]
    # The process is gone, and its server with it.  Later, a new one approves the pending call.
    with demo_server() as again:
        tools = BaseToolRegistry(again.tools(dangerous=["add"]))
        rest = list(resume(store, llm=backend(plan), tools=tools, decision="approve"))
    assert [(s.number, s.status) for s in rest] == [(2, StepStatus.OK), (3, StepStatus.DONE)]
    assert rest[0].tool_result.data == 42
