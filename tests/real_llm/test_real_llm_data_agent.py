"""The data-cleanup example against the real model: its tools, approval, compaction hook and
checkpoints, a run abandoned midway, and the example's own ``--resume`` finishing it in a new
process against the same server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from looplet_core import (
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    Step,
    StepStatus,
    ThresholdCompactHook,
    auto_approve,
    composable_loop,
    latest_checkpoint,
)
from looplet_core.durable.checkpoints import load
from looplet_core.examples import data_agent
from tests.e2e.faults import bounded

pytestmark = pytest.mark.real_llm


def test_data_agent_runs_checkpoints_and_resumes_against_the_real_model(
    real_llm_backend, llama_server, tmp_path: Path
):
    workdir = tmp_path / "work"
    workdir.mkdir()
    data_agent.make_csv(workdir / data_agent.DATA)
    store = FileCheckpointStore(workdir / "checkpoints")
    state = DefaultState()
    config = LoopConfig(
        max_steps=4, checkpoint=store, approver=auto_approve, context_window=2048, llm_retries=1
    )
    loop = composable_loop(
        llm=real_llm_backend,
        tools=data_agent.build_tools(workdir),
        task=data_agent.TASK,
        config=config,
        state=state,
        hooks=[ThresholdCompactHook()],
    )

    def first_two() -> list[Step]:
        taken = [next(loop), next(loop)]
        loop.close()  # the process "dies" here; step 2 is already on disk
        return taken

    steps = bounded(first_two, seconds=240)
    assert [s.number for s in steps] == [1, 2]
    for step in steps:
        assert step.status in (StepStatus.OK, StepStatus.ERROR)
    saved = load(store, latest_checkpoint(store)).state
    assert saved.step_number == 2 and not saved.finished

    env = dict(os.environ)
    env.update(
        OPENAI_BASE_URL=llama_server.base_url,
        OPENAI_API_KEY="sk-real-llm-data-agent-0123456789",
        OPENAI_MODEL=llama_server.model_id,
        OPENAI_CONTEXT_WINDOW="2048",
    )
    out = subprocess.run(
        [sys.executable, "-m", "looplet_core.examples.data_agent", "--resume", "--auto-approve",
         "--workdir", str(workdir)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip

    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode in (0, 1), out.stdout + out.stderr
    assert f"resuming run {state.run_id} after step 2" in out.stdout
    assert "#3 " in out.stdout and "#4 " in out.stdout  # numbering continues in the new process
    assert "#5 " not in out.stdout  # and the saved step budget holds
    final = load(store, latest_checkpoint(store)).state
    assert final.finished and final.step_number == 4
    assert "sk-real-llm-data-agent" not in out.stdout + out.stderr
