"""A sub-agent's call answered inline by the run's approver names every sub-agent down to it.

``lead`` runs ``janitor``, whose ``erase`` needs approval; neither has an approver of its own, so
the run's approver is asked.  Its request (and the record of it on the janitor's step, through
``to_dict``/``from_dict``) says the call is ``janitor``'s inside ``lead``: ``asked_in`` is the full
path, not only the outermost sub-agent as before.
"""

from __future__ import annotations

from typing import Any

from looplet_core import (
    ApprovalRequest,
    BaseToolRegistry,
    DefaultState,
    LoopConfig,
    MemoryCheckpointStore,
    StopReason,
    composable_loop,
    subagent,
)
from tests.core.durable_helpers import backend


def ask(agent: str) -> list[Any]:
    return [
        {"tool": agent, "args": {"task": "erase the owl notes"}},
        {"tool": "done", "args": {"answer": "tidied"}},
    ]


def janitor(checkpoint: MemoryCheckpointStore | None = None) -> Any:
    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(topic: str) -> str:
        """Erase notes on a topic."""
        return f"erased {topic}"

    script = [
        {"tool": "erase", "args": {"topic": "owls"}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    return subagent(
        "janitor", "Tidy up.", llm=lambda: backend(script), tools=guarded, checkpoint=checkpoint
    )


def two_deep() -> BaseToolRegistry:
    lead_tools = BaseToolRegistry()
    lead_tools.register(janitor())
    tools = BaseToolRegistry()
    tools.register(subagent("lead", "Lead.", llm=lambda: backend(ask("janitor")), tools=lead_tools))
    return tools


def run_with_approver(tools: BaseToolRegistry, script: list[Any]) -> tuple[DefaultState, list[Any]]:
    asked: list[ApprovalRequest] = []

    def approver(request: ApprovalRequest) -> None:
        asked.append(request)
        request.approve(by="policy")

    state = DefaultState()
    config = LoopConfig(max_steps=10, approver=approver)
    list(composable_loop(llm=backend(script), tools=tools, task="tidy", config=config, state=state))
    assert state.result is not None and state.result.stop_reason is StopReason.DONE
    return state, asked


def test_an_inline_request_two_deep_names_both_sub_agents() -> None:
    state, asked = run_with_approver(two_deep(), ask("lead"))
    (request,) = asked
    assert request.tool == "erase"
    assert request.asked_in == ("lead", "janitor")
    assert request.extra["subagent"] == "janitor"  # the one whose call it is, not the outer one
    assert request.extra["subagent_path"] == ["lead", "janitor"]
    assert request.nested is None  # a child's own request: its call is request.tool/args
    lead = state.steps[0].child
    assert lead is not None
    inner = lead.steps[0].child
    assert inner is not None
    recorded = inner.steps[0].approval
    assert recorded is not None and recorded.decided_by == "policy"
    assert ApprovalRequest.from_dict(recorded.to_dict()).asked_in == ("lead", "janitor")


def test_an_inline_request_one_deep_and_a_run_s_own_request() -> None:
    tools = BaseToolRegistry()
    tools.register(janitor())
    _, asked = run_with_approver(tools, ask("janitor"))
    (request,) = asked
    assert request.asked_in == ("janitor",)
    assert request.extra["subagent_path"] == ["janitor"]
    assert ApprovalRequest(step=1, tool="rm", args={}).asked_in == ()
    old_record = ApprovalRequest(step=1, tool="rm", args={}, extra={"subagent": "janitor"})
    assert old_record.asked_in == ("janitor",)  # a record made before the path was kept


def test_a_parent_s_request_for_a_paused_child_names_the_path_too() -> None:
    store = MemoryCheckpointStore()
    tools = BaseToolRegistry()
    tools.register(janitor(store))
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(ask("janitor")),
            tools=tools,
            task="tidy",
            config=LoopConfig(max_steps=10),
            state=state,
        )
    )
    waiting = steps[-1].approval
    assert waiting is not None and waiting.nested is not None
    assert waiting.asked_in == ("janitor",) == waiting.nested.path
