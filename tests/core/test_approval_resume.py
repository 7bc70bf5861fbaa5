"""Approval pauses survive the process: pause, abandon, resume with a decision, exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    ApprovalError,
    Decision,
    DefaultState,
    LoopConfig,
    MemoryCheckpointStore,
    StepStatus,
    StopReason,
    auto_approve,
    composable_loop,
    resume,
)
from looplet_core.durable.checkpoints import latest_checkpoint
from tests.core.durable_agent import APPROVAL_PLAN
from tests.core.durable_helpers import backend, durable_tools, requests_of

ROOT = Path(__file__).resolve().parents[2]


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.core.durable_agent", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def tool_log(directory: Path) -> list[str]:
    path = directory / "tools.log"
    return path.read_text().splitlines() if path.exists() else []


def paused_in_a_subprocess(tmp_path: Path) -> None:
    out = agent("start", str(tmp_path))
    assert "PAUSED 3" in out.stdout
    assert tool_log(tmp_path) == ["count [('i', 0)]", "count [('i', 1)]"]


def resumed_in_a_subprocess(tmp_path: Path, decision: object) -> dict[str, Any]:
    out = agent("resume", str(tmp_path), json.dumps(decision))
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_model_not_asked_for_the_paused_call(summary: dict[str, Any]) -> None:
    first = summary["requests"][0]  # the first thing the new process asked the model
    assert first[-1]["role"] == "tool" and first[-1]["tool_call_id"] == "c2"


@pytest.mark.slow
def test_approve_in_a_new_process_runs_the_paused_call_once(tmp_path: Path):
    paused_in_a_subprocess(tmp_path)
    summary = resumed_in_a_subprocess(tmp_path, {"action": "approve"})
    assert tool_log(tmp_path).count("delete [('target', 'old rows')]") == 1
    assert [s["number"] for s in summary["steps"]] == [3, 4, 5]
    assert summary["steps"][0]["tool_call"]["args"] == {"target": "old rows"}
    assert summary["stop"] == "done"
    assert_model_not_asked_for_the_paused_call(summary)
    assert len(summary["requests"]) == 2  # count(2), then done: never the delete again


@pytest.mark.slow
def test_approve_with_edited_args_in_a_new_process_runs_the_edited_call(tmp_path: Path):
    paused_in_a_subprocess(tmp_path)
    summary = resumed_in_a_subprocess(
        tmp_path, {"action": "approve", "args": {"target": "only test rows"}}
    )
    log = tool_log(tmp_path)
    assert "delete [('target', 'only test rows')]" in log
    assert not any("old rows" in line for line in log)
    step = summary["steps"][0]
    assert step["tool_call"]["args"] == {"target": "only test rows"}
    assert step["original_args"] == {"target": "old rows"}
    assert_model_not_asked_for_the_paused_call(summary)


@pytest.mark.slow
def test_deny_in_a_new_process_never_runs_the_call_and_tells_the_model(tmp_path: Path):
    paused_in_a_subprocess(tmp_path)
    summary = resumed_in_a_subprocess(tmp_path, {"action": "deny", "message": "not today"})
    assert not any(line.startswith("delete") for line in tool_log(tmp_path))
    assert summary["steps"][0]["status"] == "denied"
    told = summary["requests"][0][-1]
    assert told["tool_call_id"] == "c2" and "not today" in told["content"]
    assert summary["stop"] == "done"


@pytest.mark.slow
def test_resume_without_a_decision_pauses_again_then_a_decision_finishes(tmp_path: Path):
    paused_in_a_subprocess(tmp_path)
    again = resumed_in_a_subprocess(tmp_path, None)
    assert again["stop"] == "awaiting_approval" and again["requests"] == []
    assert [s["status"] for s in again["steps"]] == ["awaiting_approval"]
    summary = resumed_in_a_subprocess(tmp_path, {"action": "approve"})
    assert tool_log(tmp_path).count("delete [('target', 'old rows')]") == 1
    assert [s["number"] for s in summary["all_steps"]] == [1, 2, 3, 4, 5]


def paused(store: MemoryCheckpointStore, calls: list[Any] | None = None) -> DefaultState:
    state = DefaultState()
    for step in composable_loop(
        llm=backend(APPROVAL_PLAN),
        tools=durable_tools(calls),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
    ):
        if step.approval is not None:
            break
    return state


def test_the_pause_is_checkpointed_before_the_caller_sees_the_step():
    store = MemoryCheckpointStore()
    state = paused(store)
    cp = store.get(latest_checkpoint(store))
    assert cp.reason == "approval" and cp.step == 2
    assert cp.pending_approval is not None and cp.pending_approval["tool"] == "delete"
    assert cp.pending_approval["decision"] is None
    assert state.pending_approval is not None


def test_undecided_approval_ends_the_run_as_paused_not_finished():
    store = MemoryCheckpointStore()
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(APPROVAL_PLAN),
            tools=durable_tools(),
            task="t",
            config=LoopConfig(checkpoint=store),
            state=state,
        )
    )
    assert steps[-1].status is StepStatus.AWAITING_APPROVAL
    assert state.result is not None and state.result.stop_reason is StopReason.AWAITING_APPROVAL
    assert not state.finished
    assert store.get(latest_checkpoint(store)).reason == "approval"  # no "end" for a pause


def test_invalid_edited_args_are_refused_before_anything_runs():
    store = MemoryCheckpointStore()
    paused(store)
    calls: list[Any] = []
    with pytest.raises(ApprovalError, match="invalid"):
        resume(
            store,
            llm=backend(APPROVAL_PLAN),
            tools=durable_tools(calls),
            decision=Decision.approve(args={"target": 42, "extra": 1}),
        )
    assert calls == []
    run = resume(store, llm=backend(APPROVAL_PLAN), tools=durable_tools(calls), decision="approve")
    list(run)
    assert ("delete", {"target": "old rows"}) in calls


def test_a_decision_for_a_run_with_nothing_pending_is_an_error():
    store = MemoryCheckpointStore()
    state = DefaultState()
    for step in composable_loop(
        llm=backend(APPROVAL_PLAN),
        tools=durable_tools(),
        task="t",
        config=LoopConfig(checkpoint=store),
        state=state,
    ):
        if step.number == 1:
            break
    with pytest.raises(ApprovalError, match="no call is waiting for approval"):
        resume(store, llm=backend(APPROVAL_PLAN), tools=durable_tools(), decision="approve")


def test_stop_decision_ends_the_run_without_running_the_call():
    store = MemoryCheckpointStore()
    paused(store)
    calls: list[Any] = []
    run = resume(
        store,
        llm=backend(APPROVAL_PLAN),
        tools=durable_tools(calls),
        decision=Decision.stop("changed my mind"),
    )
    steps = list(run)
    assert [s.status for s in steps] == [StepStatus.DENIED]
    assert run.result is not None and run.result.stop_reason is StopReason.HOOK_STOP
    assert calls == [] and run.finished


def test_an_approver_given_to_resume_answers_the_paused_call():
    store = MemoryCheckpointStore()
    paused(store)
    llm = backend(APPROVAL_PLAN)
    run = resume(store, llm=llm, tools=durable_tools(), approver=auto_approve)
    steps = list(run)
    assert steps[0].decisions[-1].hook == "auto-approve"
    assert steps[0].status is StepStatus.OK
    assert requests_of(llm)[0][-1]["tool_call_id"] == "c2"


def test_approving_inside_the_loop_after_resume_runs_the_call_once():
    store = MemoryCheckpointStore()
    paused(store)
    calls: list[Any] = []
    run = resume(store, llm=backend(APPROVAL_PLAN), tools=durable_tools(calls))
    for step in run:
        if step.status is StepStatus.AWAITING_APPROVAL:
            assert step.approval is not None
            assert step.number == 3 and step.approval.args == {"target": "old rows"}
            step.approval.approve()
    assert [c for c in calls if c[0] == "delete"] == [("delete", {"target": "old rows"})]
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
