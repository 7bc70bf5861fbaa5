"""The research example with its MCP clock: a server's tool in the same batch as local ones."""

from __future__ import annotations

from looplet_core import DefaultState, StopReason, composable_loop
from looplet_core.examples.research_agent import make_mcp_agent


def test_an_mcp_tool_runs_in_the_batch_with_the_searches_and_the_sub_agent_follows(monkeypatch):
    for key in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(key, raising=False)
    agent = make_mcp_agent(delay=0.01)
    state = DefaultState()
    steps = list(composable_loop(state=state, **agent))
    assert [s.tool for s in steps] == [
        "search",
        "search",
        "search",
        "time_get_current_time",
        "analyst",
        "done",
    ]
    assert [s.batch.index if s.batch else None for s in steps] == [0, 1, 2, 3, None, None]
    clock = steps[3]
    assert clock.ok and isinstance(clock.tool_result.data, dict)
    assert clock.tool_result.data["timezone"] == "UTC"  # what the real server answered
    assert steps[4].child is not None and steps[4].child.stop_reason is StopReason.DONE
    assert state.result is not None and state.result.stop_reason is StopReason.DONE
