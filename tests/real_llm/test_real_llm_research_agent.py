"""The research example against the real model: its sub-agent runs a nested loop on the local
model while the lead's three searches run as one parallel batch, and the whole example runs
end to end (both agents on the real model) in its own process, as a user would start it.

The 135M model seldom follows the task, so these tests check what must hold whatever it says:
the structure of the run, the child's usage in the parent's, and an error in the child staying
an error step in the parent rather than ending the run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from looplet_core import DefaultState, LoopConfig, MockLLMBackend, StepStatus, composable_loop
from looplet_core.examples import research_agent
from tests.e2e.faults import bounded

pytestmark = pytest.mark.real_llm

KEY = "sk-real-llm-research-agent-5f4e3d2c1b0a"


@pytest.fixture
def real_env(llama_server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "OPENAI_BASE_URL": llama_server.base_url,
        "OPENAI_API_KEY": KEY,
        "OPENAI_MODEL": llama_server.model_id,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_the_analyst_sub_agent_runs_on_the_real_model_inside_a_scripted_lead(real_env):
    tools = research_agent.build_tools(delay=0.0, real=True)
    lead = MockLLMBackend(research_agent.LEAD_SCRIPT, report_usage=True)
    state = DefaultState()
    loop = composable_loop(
        llm=lead,
        tools=tools,
        task=research_agent.TASK,
        config=LoopConfig(max_steps=6, parallel_tools=4),
        state=state,
    )

    steps = bounded(lambda: list(loop), seconds=300)

    searches, analyst, done = steps[:3], steps[3], steps[4]
    assert [s.tool for s in searches] == ["search"] * 3
    assert {s.batch.size for s in searches if s.batch} == {3}  # one parallel batch
    assert all(s.status is StepStatus.OK for s in searches)
    assert analyst.tool == "analyst"
    child = analyst.child
    assert child is not None and child.agent == "analyst"
    assert child.steps, "the child loop took no step"
    assert child.llm_calls >= 1
    for inner in child.steps:
        assert inner.status in (StepStatus.OK, StepStatus.ERROR)
    # the local server reports usage: the child's tokens are real and rolled up into the lead's
    assert child.usage.input_tokens > 0
    # the three searches of one batch share one model call
    calls = {id(s.llm_call): s.llm_call for s in steps if s.llm_call is not None}
    lead_own = sum(call.usage.input_tokens for call in calls.values())
    result = state.result
    assert result is not None
    assert result.usage.input_tokens == lead_own + child.usage.input_tokens
    # a child that failed (ran out of its 6 steps, say) is an error step; the lead goes on
    assert analyst.status is (StepStatus.OK if child.ok else StepStatus.ERROR)
    assert done.tool == "done" and result.ok


def test_the_whole_example_runs_on_the_real_model_in_its_own_process(real_env, llama_server):
    env = dict(os.environ) | real_env
    out = subprocess.run(
        [sys.executable, "-m", "looplet_core.examples.research_agent", "--delay", "0",
         "--max-steps", "4"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip

    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode in (0, 1), out.stdout + out.stderr
    assert f"model: {llama_server.model_id} at {llama_server.base_url}" in out.stdout
    assert "#1 " in out.stdout
    assert "stopped: " in out.stdout and "tokens in/out (sub-agent included)" in out.stdout
    assert KEY not in out.stdout + out.stderr
