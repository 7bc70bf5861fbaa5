"""The research example: three searches run as one batch, then the analyst sub-agent reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from looplet_core import DefaultState, StopReason, composable_loop
from looplet_core.examples.research_agent import make_agent

ROOT = Path(__file__).resolve().parents[2]


def test_the_lead_batches_its_searches_and_the_analyst_reads_as_a_sub_agent(monkeypatch):
    for key in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(key, raising=False)
    state = DefaultState()
    steps = list(composable_loop(state=state, **make_agent(delay=0.01)))
    assert [s.tool for s in steps] == ["search", "search", "search", "analyst", "done"]
    assert [s.batch.size if s.batch else None for s in steps] == [3, 3, 3, None, None]
    assert steps[0].tool_result.data == ["lib://owls/hunting"]
    child = steps[3].child
    assert child is not None and child.stop_reason is StopReason.DONE
    assert [s.tool for s in child.steps] == ["read_page", "read_page", "done"]
    assert [s.batch.index if s.batch else None for s in child.steps] == [0, 1, None]
    assert steps[3].tool_result.data == "Owls fly silently at night and locate prey by sound alone."
    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    assert state.usage.input_tokens > child.usage.input_tokens > 0


def test_the_example_runs_from_the_command_line_with_the_scripted_model():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    out = subprocess.run(
        [sys.executable, "-m", "looplet_core.examples.research_agent", "--delay", "0.01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert "model: scripted model" in out.stdout
    assert "∥ 3/3" in out.stdout and "└ sub-agent analyst (done):" in out.stdout
    assert "stopped: done" in out.stdout
