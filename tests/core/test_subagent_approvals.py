"""Approving a checkpointed sub-agent's paused call from its parent: the person decides (and
edits) the child's call, checked against the child's tool, and the child runs it as decided."""

from __future__ import annotations

from typing import Any

import pytest

from looplet_core import (
    ApprovalError,
    BaseToolRegistry,
    Decision,
    DefaultState,
    LoopConfig,
    MemoryCheckpointStore,
    Step,
    StepStatus,
    StopReason,
    composable_loop,
    resume,
    subagent,
)
from tests.core.durable_helpers import backend

OWLS = {"topic": "owls", "keep_backup": True}  # the call as it will run: defaults filled in
ERASE_OWLS: list[Any] = [
    {"tool": "erase", "args": {"topic": "owls"}},
    {"tool": "done", "args": {"answer": "erased"}},
]


def janitor(store: MemoryCheckpointStore, erased: list[str]) -> Any:
    """The ``janitor`` sub-agent: its one tool, ``erase``, needs approval."""
    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(topic: str, keep_backup: bool = True) -> str:
        """Erase notes on a topic."""
        erased.append(topic if keep_backup else f"{topic} (no backup)")
        return f"erased {topic}"

    return subagent(
        "janitor", "Tidy up.", llm=lambda: backend(ERASE_OWLS), tools=guarded, checkpoint=store
    )


def parent_tools(store: MemoryCheckpointStore, erased: list[str]) -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(janitor(store, erased))
    return tools


def ask(agent: str) -> list[Any]:
    return [
        {"tool": agent, "args": {"task": "erase the owl notes"}},
        {"tool": "done", "args": {"answer": "tidied"}},
    ]


def paused_parent(
    tools: BaseToolRegistry, agent: str = "janitor"
) -> tuple[MemoryCheckpointStore, Step]:
    parents = MemoryCheckpointStore()
    steps = list(
        composable_loop(
            llm=backend(ask(agent)), tools=tools, task="tidy", config=LoopConfig(checkpoint=parents)
        )
    )
    assert steps[-1].status is StepStatus.AWAITING_APPROVAL
    return parents, steps[-1]


def test_the_waiting_parent_request_shows_the_child_s_call_naming_the_sub_agent():
    erased: list[str] = []
    _, waiting = paused_parent(parent_tools(MemoryCheckpointStore(), erased))
    request = waiting.approval
    assert request is not None and request.tool == "janitor"
    assert (request.call_tool, request.call_args) == ("erase", OWLS)
    nested = request.nested
    assert nested is not None and nested.path == ("janitor",)
    assert nested.where == "sub-agent janitor"
    assert request.requested_by == "sub-agent janitor"
    assert erased == []


def test_edited_args_approved_in_process_run_the_child_s_call_with_them():
    erased: list[str] = []
    loop = composable_loop(
        llm=backend(ask("janitor")),
        tools=parent_tools(MemoryCheckpointStore(), erased),
        task="tidy",
    )
    last: Step | None = None
    for step in loop:
        last = step
        if step.approval is not None and not step.approval.decided:
            step.approval.approve(args={"topic": "bats", "keep_backup": False}, by="test")
    assert erased == ["bats (no backup)"]
    assert last is not None and last.status is StepStatus.DONE


def test_bad_edited_args_name_the_child_tool_and_leave_the_request_waiting():
    erased: list[str] = []
    loop = composable_loop(
        llm=backend(ask("janitor")),
        tools=parent_tools(MemoryCheckpointStore(), erased),
        task="tidy",
    )
    problems: list[str] = []
    steps: list[Step] = []
    for step in loop:
        steps.append(step)
        request = step.approval
        if request is not None and not request.decided:
            with pytest.raises(ApprovalError) as bad:
                request.approve(args={"topic": 12, "colour": "red"})
            problems.append(str(bad.value))
            assert not request.decided and request.edited_args is None  # nothing lost
            request.approve(args={"topic": "bats"})
    assert len(problems) == 1
    assert "edited arguments for erase (in sub-agent janitor, step 1) are invalid" in problems[0]
    assert "colour" in problems[0]
    assert erased == ["bats"]
    child = steps[-2].child
    assert child is not None and child.steps[0].tool_call is not None
    assert child.steps[0].tool_call.args == {"topic": "bats", "keep_backup": True}
    assert child.steps[0].original_args == {"topic": "owls"}  # the model's call, on record


def test_resume_with_edited_args_runs_the_child_s_call_with_them():
    children, erased = MemoryCheckpointStore(), []
    parents, _ = paused_parent(parent_tools(children, erased))
    run = resume(
        parents,
        llm=backend(ask("janitor")),
        tools=parent_tools(children, erased),
        decision=Decision.approve(args={"topic": "bats"}),
    )
    rest = list(run)
    assert erased == ["bats"]
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    child = rest[0].child
    assert child is not None and child.steps[0].tool_call is not None
    assert child.steps[0].tool_call.args == {"topic": "bats", "keep_backup": True}
    assert rest[0].tool_call is not None and rest[0].tool_call.args == {
        "task": "erase the owl notes"
    }  # the parent's own call is not touched by the child's edits


def test_resume_with_bad_edited_args_refuses_before_anything_runs_and_keeps_the_pause():
    children, erased = MemoryCheckpointStore(), []
    parents, _ = paused_parent(parent_tools(children, erased))
    with pytest.raises(ApprovalError, match=r"edited arguments for erase \(in sub-agent janitor"):
        resume(
            parents,
            llm=backend(ask("janitor")),
            tools=parent_tools(children, erased),
            decision=Decision.approve(args={"task": "the parent's schema is not the one"}),
        )
    assert erased == []
    run = resume(  # the checkpoint still holds the pause: decide again, correctly
        parents,
        llm=backend(ask("janitor")),
        tools=parent_tools(children, erased),
        decision=Decision.approve(args={"topic": "moths"}),
    )
    list(run)
    assert erased == ["moths"]


def lead_tools(store: MemoryCheckpointStore, erased: list[str]) -> BaseToolRegistry:
    """``lead`` is a sub-agent whose one tool is the ``janitor`` sub-agent: two deep."""
    inner = BaseToolRegistry()
    inner.register(janitor(store, erased))
    tools = BaseToolRegistry()
    tools.register(
        subagent(
            "lead",
            "Lead the tidying.",
            llm=lambda: backend(ask("janitor")),
            tools=inner,
            checkpoint=store,
        )
    )
    return tools


def test_two_deep_the_parent_decides_the_innermost_call_with_edits():
    store, erased = MemoryCheckpointStore(), []
    parents, waiting = paused_parent(lead_tools(store, erased), agent="lead")
    request = waiting.approval
    assert request is not None and request.nested is not None
    assert request.nested.path == ("lead", "janitor")
    assert (request.call_tool, request.call_args) == ("erase", OWLS)
    assert request.reason.startswith("sub-agent lead > janitor asks: erase")
    with pytest.raises(ApprovalError, match=r"erase \(in sub-agent lead > janitor"):
        resume(
            parents,
            llm=backend(ask("lead")),
            tools=lead_tools(store, erased),
            decision=Decision.approve(args={"topic": None}),
        )
    run = resume(
        parents,
        llm=backend(ask("lead")),
        tools=lead_tools(store, erased),
        decision=Decision.approve(args={"topic": "bats"}),
    )
    rest = list(run)
    assert erased == ["bats"]
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    lead = rest[0].child
    assert lead is not None and lead.steps[0].child is not None
    assert [s.tool for s in lead.steps[0].child.steps] == ["erase", "done"]


def test_approving_always_is_remembered_by_the_child_not_as_the_parent_s_tool():
    erased: list[str] = []
    state = DefaultState()
    loop = composable_loop(
        llm=backend(ask("janitor")),
        tools=parent_tools(MemoryCheckpointStore(), erased),
        task="tidy",
        state=state,
    )
    steps: list[Step] = []
    for step in loop:
        steps.append(step)
        if step.approval is not None and not step.approval.decided:
            step.approval.approve(scope="always")
    assert erased == ["owls"]
    assert "janitor" not in state.approval_memory  # janitor calls still ask when they should
    child = steps[-2].child
    assert child is not None and child.steps[0].approval is not None
    assert child.steps[0].approval.scope == "always"
