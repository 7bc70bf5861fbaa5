"""A small checkpointed agent that the crash and approval tests run in a separate process.

    python -m tests.core.durable_agent start DIR          # runs until an approval pause, then exits
    python -m tests.core.durable_agent crashable DIR N S  # N counting steps, each tool sleeps S s
    python -m tests.core.durable_agent resume DIR JSON    # resume with a decision (JSON or null)

Every step it is handed is printed as ``STEP <n>`` (flushed) so a parent can kill it at a known
point; ``resume`` prints one JSON summary line at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from looplet_core import (
    BaseToolRegistry,
    Decision,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    StepStatus,
    composable_loop,
    resume,
)
from tests.core.durable_helpers import Reply, backend, counting_plan, durable_tools, requests_of

APPROVAL_PLAN: list[Reply] = [
    {"tool": "count", "args": {"i": 0}},
    {"tool": "count", "args": {"i": 1}},
    {"tool": "delete", "args": {"target": "old rows"}},
    {"tool": "count", "args": {"i": 2}},
    {"tool": "done", "args": {"answer": "cleaned"}},
]


def tools_for(directory: Path, delay: float = 0.0) -> BaseToolRegistry:
    return durable_tools(log=directory / "tools.log", delay=delay)


def plan_for(mode: str, n: int) -> list[Reply]:
    return APPROVAL_PLAN if mode == "start" else counting_plan(n)


def start(directory: Path, mode: str, n: int, delay: float) -> None:
    store = FileCheckpointStore(directory / "cp")
    state = DefaultState(run_id="proc")
    loop = composable_loop(
        llm=backend(plan_for(mode, n)),
        tools=tools_for(directory, delay),
        task="work",
        config=LoopConfig(max_steps=n + 10, checkpoint=store),
        state=state,
    )
    for step in loop:
        print(f"STEP {step.number} {step.status.value}", flush=True)
        if step.status is StepStatus.AWAITING_APPROVAL:
            print(f"PAUSED {step.number}", flush=True)
            return  # abandon the loop with the approval undecided


def resume_run(directory: Path, decision_json: str) -> None:
    raw = json.loads(decision_json)
    decision = None
    if raw is not None:
        decision = Decision.parse(raw["action"])
        if raw.get("args") is not None or raw.get("message"):
            decision = Decision(decision.action, raw.get("args"), raw.get("message", ""))
    plan = counting_plan(int(raw["n"])) if raw and "n" in raw else APPROVAL_PLAN
    llm = backend(plan)
    run = resume(
        FileCheckpointStore(directory / "cp"),
        llm=llm,
        tools=tools_for(directory),
        decision=decision,
    )
    steps = []
    for step in run:
        print(f"STEP {step.number} {step.status.value}", flush=True)
        steps.append(step.to_dict())
    result = run.result
    summary = {
        "steps": steps,
        "requests": requests_of(llm),
        "stop": result.stop_reason.value if result else None,
        "all_steps": [s.to_dict() for s in run.state.steps],
    }
    print(json.dumps(summary), flush=True)


def main(argv: list[str]) -> int:
    mode, directory = argv[0], Path(argv[1])
    if mode == "resume":
        resume_run(directory, argv[2])
    else:
        n = int(argv[2]) if len(argv) > 2 else 0
        delay = float(argv[3]) if len(argv) > 3 else 0.0
        start(directory, mode, n, delay)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
