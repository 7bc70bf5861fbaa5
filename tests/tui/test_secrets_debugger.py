"""Nothing the debugger writes holds a secret: its checkpoint directory (the checkpoints and the
agent file ``looplet-tui-agent.json``) and its breakpoints file, after a run whose tools printed
the environment's API key and token and whose model repeated them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from looplet_tui.__main__ import _parser
from looplet_tui.app import DebuggerApp
from looplet_tui.cli import build_session
from looplet_tui.session import RunSession
from tests.e2e.faults import written_bytes
from tests.tui.pilot import SIZE, until

ENV_KEY = "sk-env-debugger-Q1w2E3r4T5y6U7i8O9p0"
ENV_TOKEN = "tokdebugger5a4b3c2d1e0f9g8h"

AGENT = textwrap.dedent(
    """
    import os
    from looplet_core import BaseToolRegistry, MockLLMBackend, ToolSpec, LoopConfig

    def make_agent():
        key = os.environ["OPENAI_API_KEY"]
        tools = BaseToolRegistry()
        tools.register(ToolSpec("env", "Show the environment.", {}, lambda: dict(os.environ)))
        tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
        llm = MockLLMBackend(
            [{"tool": "env"}, {"tool": "done", "args": {"answer": "the key is " + key}}],
            report_usage=True,
        )
        return {"llm": llm, "tools": tools, "task": "Inspect the environment.",
                "config": LoopConfig(max_steps=5)}
    """
)


async def test_debugger_checkpoints_and_files_hold_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_TOKEN)
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    written = tmp_path / "written"
    args = _parser().parse_args(
        ["run", f"{agent}:make_agent", "--checkpoints", str(written / "checkpoints")]
    )
    session = build_session(args)
    assert isinstance(session, RunSession)
    session.breakpoints_file = written / "breakpoints.json"
    app = DebuggerApp(session, start_paused=False, timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the run to end", timeout=30)
        first = app.controller.step(1)
        assert first is not None and first.tool_result.data["OPENAI_API_KEY"] == ENV_KEY
    app.controller.breakpoints.toggle_tool("env")
    app.controller.breakpoints.save(written / "breakpoints.json")

    files = sorted(p.name for p in written.rglob("*") if p.is_file())
    assert "looplet-tui-agent.json" in files and "breakpoints.json" in files
    assert "checkpoints.log" in files  # the checkpoints (their bytes are scanned below)
    data = written_bytes(written)
    assert ENV_KEY.encode() not in data and ENV_TOKEN.encode() not in data
    assert b"[redacted]" in data
