"""A sub-agent is a tool that runs a loop of its own; the parent's step keeps the child's run."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import openai
import pytest

from looplet_core import (
    BaseToolRegistry,
    CancelToken,
    ChildRun,
    ConfigError,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    MemoryCheckpointStore,
    MockLLMBackend,
    ProvenanceSink,
    Step,
    StepStatus,
    StopReason,
    TraceReader,
    async_composable_loop,
    composable_loop,
    resume,
    subagent,
)
from looplet_core.backends.openai import OpenAIBackend
from looplet_core.cli import show
from tests.core.durable_helpers import backend
from tests.fakeserver import FakeOpenAIServer


def library() -> BaseToolRegistry:
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    def lookup(topic: str) -> str:
        """Look a topic up in the library."""
        return f"notes on {topic}"

    return tools


RESEARCH: list[Any] = [
    {"tool": "lookup", "args": {"topic": "owls"}},
    {"tool": "done", "args": {"answer": "owls hunt at night"}},
]


def parent_tools(child_llm: Any, **options: Any) -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(
        subagent(
            "researcher",
            "Research a topic and report what you found.",
            llm=child_llm,
            tools=library(),
            **options,
        )
    )
    return tools


def ask_researcher(task: str = "find out about owls") -> list[Any]:
    return [
        {"tool": "researcher", "args": {"task": task}},
        {"tool": "done", "args": {"answer": "reported"}},
    ]


def run_parent(tools: BaseToolRegistry, plan: list[Any], **kw: Any) -> tuple[list[Step], Any]:
    state = DefaultState()
    llm = MockLLMBackend(plan, report_usage=True)
    steps = list(composable_loop(llm=llm, tools=tools, task="study owls", state=state, **kw))
    return steps, (state, llm)


def test_the_parent_step_has_the_child_s_answer_and_its_steps():
    child_llm = MockLLMBackend(RESEARCH, report_usage=True)
    steps, (state, llm) = run_parent(parent_tools(child_llm), ask_researcher())
    first = steps[0]
    assert first.ok and first.tool_result.data == "owls hunt at night"
    child = first.child
    assert isinstance(child, ChildRun)
    assert child.agent == "researcher" and child.task == "find out about owls"
    assert child.stop_reason is StopReason.DONE and child.run_id != state.run_id
    assert [s.pretty().split(" [")[0] for s in child.steps] == [
        "#1 ✓ lookup(topic='owls') → notes on owls",
        "#2 ✓ done(answer='owls hunt at night') → owls hunt at night",
    ]
    # the child was asked with its own task and its own tools
    asked = child_llm.requests[0]
    assert asked.messages[-1].role == "user" and "find out about owls" in asked.messages[-1].content
    assert sorted(t["name"] for t in asked.tools) == ["done", "lookup"]
    # the parent's model is told the answer; the usage of both runs adds up in the parent
    told = [m for m in llm.requests[1].messages if m.role == "tool"]
    assert told[-1].content == "owls hunt at night"
    parent_own = sum(
        (s.llm_call.usage.total_tokens for s in steps if s.llm_call and s.llm_call.usage), 0
    )
    assert child.usage.total_tokens > 0
    assert state.usage.total_tokens == parent_own + child.usage.total_tokens
    assert steps[-1].status is StepStatus.DONE and state.result.stop_reason is StopReason.DONE


def test_a_child_out_of_budget_is_a_tool_error_and_the_parent_goes_on():
    looping = MockLLMBackend([{"tool": "lookup", "args": {"topic": "owls"}}] * 5)
    steps, (state, llm) = run_parent(parent_tools(looping, max_steps=2), ask_researcher())
    first = steps[0]
    assert first.status is StepStatus.ERROR
    assert first.tool_result.error is not None
    assert "sub-agent 'researcher' stopped without an answer (max_steps" in first.tool_result.error
    assert first.child is not None and len(first.child.steps) == 2
    assert first.child.stop_reason is StopReason.MAX_STEPS
    told = [m for m in llm.requests[1].messages if m.role == "tool"][-1].content
    assert "SubagentError" in told and "max_steps" in told
    assert state.result.stop_reason is StopReason.DONE  # the parent went on and finished


def test_a_child_whose_model_fails_is_a_tool_error_naming_its_reason():
    failing = MockLLMBackend([ValueError("the model fell over")])
    steps, _ = run_parent(parent_tools(failing, config=LoopConfig(llm_retries=0)), ask_researcher())
    assert steps[0].status is StepStatus.ERROR
    assert "(llm_error" in (steps[0].tool_result.error or "")
    assert steps[0].child is not None and steps[0].child.stop_reason is StopReason.LLM_ERROR


def test_cancelling_the_parent_stops_the_child_and_then_the_parent():
    cancel = CancelToken()
    reached = threading.Event()
    tools = library()

    @tools.tool
    def wait_here(topic: str, ctx: Any) -> str:
        """Block until cancelled."""
        reached.set()
        cancel.cancel("user pressed stop")  # as a person would, from the debugger
        ctx.cancel.wait(5)
        return "cancelled" if ctx.cancel.cancelled else "not cancelled"

    child_llm = MockLLMBackend(
        [
            {"tool": "wait_here", "args": {"topic": "owls"}},
            {"tool": "done", "args": {"answer": "x"}},
        ]
    )
    parent = BaseToolRegistry()
    parent.register(subagent("researcher", "Research.", llm=child_llm, tools=tools))
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=MockLLMBackend(ask_researcher()),
            tools=parent,
            task="t",
            state=state,
            cancel=cancel,
        )
    )
    assert reached.is_set()
    child = steps[0].child
    assert child is not None and child.stop_reason is StopReason.CANCELLED
    assert child.steps[0].tool_result.data == "cancelled"  # the child's tool saw the cancel
    assert steps[0].status is StepStatus.ERROR
    assert state.result.stop_reason is StopReason.CANCELLED


def test_a_child_token_cancelled_alone_leaves_the_parent_running():
    parent = CancelToken()
    child = parent.child()
    child.cancel("child only")
    assert child.cancelled and not parent.cancelled
    other = parent.child()
    parent.cancel("all")
    assert other.cancelled and other.reason == "all" and other.wait(0) is True


def test_sub_agents_nest_two_deep_and_usage_rolls_all_the_way_up():
    inner_llm = MockLLMBackend(RESEARCH, report_usage=True)
    middle_tools = BaseToolRegistry()
    middle_tools.register(subagent("researcher", "Research.", llm=inner_llm, tools=library()))
    middle_llm = MockLLMBackend(
        [
            {"tool": "researcher", "args": {"task": "owls, in depth"}},
            {"tool": "done", "args": {"answer": "owls: nocturnal hunters"}},
        ],
        report_usage=True,
    )
    top = BaseToolRegistry()
    top.register(subagent("editor", "Edit a report.", llm=middle_llm, tools=middle_tools))
    plan = [
        {"tool": "editor", "args": {"task": "write about owls"}},
        {"tool": "done", "args": {"answer": "done"}},
    ]
    steps, (state, _) = run_parent(top, plan)
    middle = steps[0].child
    assert middle is not None and middle.agent == "editor"
    inner = middle.steps[0].child
    assert inner is not None and inner.agent == "researcher" and len(inner.steps) == 2
    assert steps[0].tool_result.data == "owls: nocturnal hunters"
    assert middle.usage.total_tokens > inner.usage.total_tokens > 0
    own = sum(s.llm_call.usage.total_tokens for s in steps if s.llm_call and s.llm_call.usage)
    assert state.usage.total_tokens == own + middle.usage.total_tokens
    # the tree survives JSON
    again = Step.from_dict(json.loads(json.dumps(steps[0].to_dict())))
    assert again.child is not None and again.child.steps[0].child is not None
    assert again.child.steps[0].child.steps[1].status is StepStatus.DONE


def test_checkpoints_and_traces_keep_the_child_run(tmp_path: Path):
    store = MemoryCheckpointStore()
    tools = parent_tools(MockLLMBackend(RESEARCH))
    loop = composable_loop(
        llm=backend(ask_researcher()),
        tools=tools,
        task="study owls",
        config=LoopConfig(checkpoint=store),
        hooks=[ProvenanceSink(tmp_path / "trace")],
    )
    first = next(loop)
    loop.close()  # stop after the sub-agent's step; resume from the checkpoint
    assert first.child is not None
    resumed = resume(store, llm=backend(ask_researcher()), tools=tools)
    saved = resumed.state.steps[0]
    assert saved.child is not None and [s.tool for s in saved.child.steps] == ["lookup", "done"]
    rest = list(resumed)
    assert [s.tool for s in rest] == ["done"]
    reader = TraceReader(tmp_path / "trace")
    traced = reader.step(1)
    assert traced.child is not None and traced.child.steps[0].tool_result.data == "notes on owls"
    out = io.StringIO()
    show(str(tmp_path / "trace"), out)
    text = out.getvalue()
    assert "sub-agent researcher: done, 2 step(s)" in text
    assert "    #1 ✓ lookup(topic='owls') → notes on owls" in text


def test_two_sub_agent_calls_in_one_reply_run_side_by_side():
    gate = threading.Barrier(2, timeout=10)
    tools = BaseToolRegistry()

    @tools.tool(read_only=True)
    def lookup(topic: str) -> str:
        """Look up (both children must be here at once)."""
        gate.wait()
        return f"notes on {topic}"

    def fresh() -> MockLLMBackend:  # one model per child: the two run at the same time
        def reply(messages: Any, _tools: Any) -> Any:
            task = messages[1].content
            topic = "owls" if "owls" in task else "bats"
            if any(m.role == "tool" for m in messages):
                return {"tool": "done", "args": {"answer": f"{topic} done"}}
            return {"tool": "lookup", "args": {"topic": topic}}

        return MockLLMBackend([reply, reply])

    parent = BaseToolRegistry()
    parent.register(subagent("researcher", "R.", llm=fresh, tools=tools, read_only=True))
    plan: list[Any] = [
        [
            {"tool": "researcher", "args": {"task": "owls"}},
            {"tool": "researcher", "args": {"task": "bats"}},
        ],
        {"tool": "done", "args": {"answer": "both"}},
    ]
    steps, _ = run_parent(parent, plan, config=LoopConfig(parallel_tools=2))
    assert [s.tool_result.data for s in steps[:2]] == ["owls done", "bats done"]
    assert [s.child.task if s.child else None for s in steps[:2]] == ["owls", "bats"]
    assert all(s.batch is not None for s in steps[:2])


async def test_an_asynchronous_sub_agent_runs_in_the_async_loop():
    tools = BaseToolRegistry()

    @tools.tool
    async def lookup(topic: str) -> str:
        """Async lookup."""
        await asyncio.sleep(0)
        return f"notes on {topic}"

    parent = BaseToolRegistry()
    parent.register(
        subagent("researcher", "R.", llm=MockLLMBackend(RESEARCH), tools=tools, asynchronous=True)
    )
    state = DefaultState()
    steps = [
        s
        async for s in async_composable_loop(
            llm=MockLLMBackend(ask_researcher()), tools=parent, task="t", state=state
        )
    ]
    assert steps[0].tool_result.data == "owls hunt at night"
    assert steps[0].child is not None and len(steps[0].child.steps) == 2
    assert state.result is not None and state.result.stop_reason is StopReason.DONE


def test_parent_and_child_on_the_real_openai_sdk(fake_openai_server: FakeOpenAIServer):
    server = fake_openai_server
    server.reply(tool_calls=[("researcher", {"task": "find out about owls"})], usage=(40, 9))
    server.reply(tool_calls=[("lookup", {"topic": "owls"})], usage=(30, 6))
    server.reply(tool_calls=[("done", {"answer": "owls hunt at night"})], usage=(35, 7))
    server.reply(tool_calls=[("done", {"answer": "reported"})], usage=(50, 4))
    with openai.OpenAI(base_url=server.base_url, api_key="test-key", timeout=5.0) as client:
        llm = OpenAIBackend(client, "fake-model")
        tools = parent_tools(llm)
        state = DefaultState()
        steps = list(composable_loop(llm=llm, tools=tools, task="study owls", state=state))
    assert [s.tool for s in steps] == ["researcher", "done"]
    assert steps[0].tool_result.data == "owls hunt at night"
    assert steps[0].child is not None and [s.tool for s in steps[0].child.steps] == [
        "lookup",
        "done",
    ]
    bodies = server.requests
    assert [sorted(t["function"]["name"] for t in b["tools"]) for b in bodies] == [
        ["done", "researcher"],
        ["done", "lookup"],
        ["done", "lookup"],
        ["done", "researcher"],
    ]
    assert "find out about owls" in bodies[1]["messages"][-1]["content"]
    assert state.usage.input_tokens == 40 + 30 + 35 + 50
    assert state.usage.output_tokens == 9 + 6 + 7 + 4


def test_each_child_step_is_reported_live_as_the_call_s_progress():
    heard: list[str] = []

    class Listen:
        def on_event(self, event: Any) -> None:
            if event.kind.value == "tool_progress":
                heard.append(event.data["message"])

    seen: list[int] = []
    tools = parent_tools(MockLLMBackend(RESEARCH), on_step=lambda s: seen.append(s.number))
    run_parent(tools, ask_researcher(), hooks=[Listen()])
    assert seen == [1, 2]
    assert [h.split(" [")[0] for h in heard] == [
        "researcher step 1: #1 ✓ lookup(topic='owls') → notes on owls",
        "researcher step 2: #2 ✓ done(answer='owls hunt at night') → owls hunt at night",
    ]


def test_a_replay_with_recorded_tools_keeps_the_child_without_running_it(tmp_path: Path):
    from looplet_core.provenance.replay import replay

    child_llm = MockLLMBackend(RESEARCH)
    list(
        composable_loop(
            llm=MockLLMBackend(ask_researcher()),
            tools=parent_tools(child_llm),
            task="study owls",
            hooks=[ProvenanceSink(tmp_path)],
        )
    )
    untouched = MockLLMBackend([])  # would raise if the sub-agent ran again
    outcome = replay(tmp_path, parent_tools(untouched))
    assert outcome.divergence is None
    assert untouched.requests == []
    child = outcome.steps[0].child
    assert child is not None and [s.tool for s in child.steps] == ["lookup", "done"]


def test_the_child_keeps_prompts_when_the_parent_does_but_never_saves_them():
    steps, _ = run_parent(
        parent_tools(MockLLMBackend(RESEARCH)),
        ask_researcher(),
        config=LoopConfig(record_prompts=True),
    )
    child = steps[0].child
    assert child is not None and child.steps[0].prompt is not None
    assert "find out about owls" in child.steps[0].prompt[-1].content
    saved = steps[0].to_dict()["child"]["steps"]
    assert [s["prompt"] for s in saved] == [None, None]
    plain, _ = run_parent(parent_tools(MockLLMBackend(RESEARCH)), ask_researcher())
    assert plain[0].child is not None and plain[0].child.steps[0].prompt is None


def test_a_child_s_approval_goes_to_the_parent_s_approver_naming_the_sub_agent():
    asked: list[tuple[str, Any]] = []

    def approver(request: Any) -> None:
        asked.append((request.tool, request.extra.get("subagent")))
        request.approve(by="test")

    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(topic: str) -> str:
        """Erase notes on a topic."""
        return f"erased {topic}"

    script = [
        {"tool": "erase", "args": {"topic": "owls"}},
        {"tool": "done", "args": {"answer": "erased"}},
    ]
    parent = BaseToolRegistry()
    parent.register(subagent("janitor", "Tidy up.", llm=MockLLMBackend(script), tools=guarded))
    steps, _ = run_parent(parent, ask_janitor(), config=LoopConfig(approver=approver))
    assert asked == [("erase", "janitor")]
    child = steps[0].child
    assert child is not None and child.steps[0].tool_result.data == "erased owls"


def test_a_child_paused_at_an_approval_nobody_answers_is_an_error_in_the_parent():
    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(topic: str) -> str:
        """Erase notes on a topic."""
        return f"erased {topic}"

    script = [{"tool": "erase", "args": {"topic": "owls"}}]
    parent = BaseToolRegistry()
    parent.register(subagent("janitor", "Tidy up.", llm=MockLLMBackend(script), tools=guarded))
    steps, (state, _) = run_parent(parent, ask_janitor())
    assert steps[0].status is StepStatus.ERROR
    assert "(awaiting_approval" in (steps[0].tool_result.error or "")
    assert state.result.stop_reason is StopReason.DONE


def ask_janitor() -> list[Any]:
    return [
        {"tool": "janitor", "args": {"task": "erase the owl notes"}},
        {"tool": "done", "args": {"answer": "tidied"}},
    ]


@pytest.mark.slow
def test_a_parent_killed_inside_its_sub_agent_resumes_inside_the_child(tmp_path: Path):
    from tests.core.subagent_crash import PARENT_PLAN, parent_tools

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "tests.core.subagent_crash", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 9 and "DYING" in out.stdout, out.stderr
    log = tmp_path / "tools.log"
    assert log.read_text().splitlines() == ["note starting", "lookup a", "lookup b"]
    run = resume(
        FileCheckpointStore(tmp_path / "parent"),
        llm=backend(PARENT_PLAN),
        tools=parent_tools(tmp_path),
    )
    rest = list(run)
    # the child went on from its third step: nothing it had done ran twice
    assert log.read_text().splitlines() == [
        "note starting",
        "lookup a",
        "lookup b",
        "lookup c",
    ]
    assert [s.tool for s in rest] == ["researcher", "done"]
    child = rest[0].child
    assert child is not None and [s.number for s in child.steps] == [1, 2, 3, 4]
    assert rest[0].tool_result.data == "a, b and c looked up"
    assert run.result is not None and run.result.stop_reason is StopReason.DONE


def test_a_finished_child_is_not_run_again_when_its_call_is(tmp_path: Path):
    store = MemoryCheckpointStore()
    calls: list[str] = []
    tools = BaseToolRegistry()

    @tools.tool
    def lookup(topic: str) -> str:
        """Look up."""
        calls.append(topic)
        return f"notes on {topic}"

    def make() -> Any:
        parent = BaseToolRegistry()
        parent.register(
            subagent(
                "researcher", "R.", llm=lambda: backend(RESEARCH), tools=tools, checkpoint=store
            )
        )
        return parent

    state = DefaultState(run_id="parent000001")
    list(composable_loop(llm=MockLLMBackend(ask_researcher()), tools=make(), task="t", state=state))
    assert calls == ["owls"]
    again = DefaultState(run_id="parent000001")  # the same call of the same run, once more
    steps = list(
        composable_loop(llm=MockLLMBackend(ask_researcher()), tools=make(), task="t", state=again)
    )
    assert calls == ["owls"]  # answered from the child's checkpoints
    assert steps[0].tool_result.data == "owls hunt at night"


def test_checkpoint_with_asynchronous_is_refused_at_once():
    with pytest.raises(ConfigError, match="sync loop only"):
        subagent(
            "r",
            "R.",
            llm=MockLLMBackend([]),
            tools=library(),
            asynchronous=True,
            checkpoint=MemoryCheckpointStore(),
        )


def janitor_parent(store: MemoryCheckpointStore, erased: list[str]) -> BaseToolRegistry:
    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(topic: str) -> str:
        """Erase notes on a topic."""
        erased.append(topic)
        return f"erased {topic}"

    plan = [
        {"tool": "erase", "args": {"topic": "owls"}},
        {"tool": "done", "args": {"answer": "erased"}},
    ]
    parent = BaseToolRegistry()
    parent.register(
        subagent(
            "janitor",
            "Tidy up.",
            llm=lambda: backend(plan),
            tools=guarded,
            checkpoint=store,
        )
    )
    return parent


def test_a_checkpointed_child_paused_at_an_approval_pauses_the_parent_and_resumes_inside():
    children, parents = MemoryCheckpointStore(), MemoryCheckpointStore()
    erased: list[str] = []
    state = DefaultState()
    steps = list(
        composable_loop(
            llm=backend(ask_janitor()),
            tools=janitor_parent(children, erased),
            task="tidy",
            config=LoopConfig(checkpoint=parents),
            state=state,
        )
    )
    waiting = steps[-1]
    assert waiting.status is StepStatus.AWAITING_APPROVAL and waiting.approval is not None
    assert waiting.approval.tool == "janitor"
    assert waiting.approval.reason.startswith("sub-agent janitor asks: erase")
    assert waiting.approval.extra["subagent"]["tool"] == "erase"
    assert waiting.child is not None and waiting.child.pending is not None
    assert erased == [] and state.result.stop_reason is StopReason.AWAITING_APPROVAL
    # a new process: resume the parent with the decision; the child resumes at its paused call
    run = resume(
        parents,
        llm=backend(ask_janitor()),
        tools=janitor_parent(children, erased),
        decision="approve",
    )
    rest = list(run)
    assert erased == ["owls"]
    assert [(s.number, s.tool, s.status) for s in rest] == [
        (1, "janitor", StepStatus.OK),
        (2, "done", StepStatus.DONE),
    ]
    child = rest[0].child
    assert child is not None and [s.tool for s in child.steps] == ["erase", "done"]
    assert child.steps[0].approval is not None and child.steps[0].approval.decision is not None
    assert child.steps[0].approval.decision.value == "approve"
    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    own = sum(s.llm_call.usage.total_tokens for s in run.state.steps if s.llm_call.usage)
    assert child.usage.total_tokens > 0
    assert run.state.usage.total_tokens == own + child.usage.total_tokens  # the child once


def test_approving_the_waiting_parent_step_in_process_goes_on_inside_the_child():
    erased: list[str] = []
    loop = composable_loop(
        llm=backend(ask_janitor()),
        tools=janitor_parent(MemoryCheckpointStore(), erased),
        task="tidy",
    )
    seen: list[tuple[int, str | None, StepStatus]] = []
    last: Step | None = None
    for step in loop:
        seen.append((step.number, step.tool, step.status))  # as yielded: the step goes on
        last = step
        if step.approval is not None and not step.approval.decided:
            step.approval.approve(by="test")
    assert erased == ["owls"]
    assert seen == [
        (1, "janitor", StepStatus.AWAITING_APPROVAL),
        (1, "janitor", StepStatus.OK),
        (2, "done", StepStatus.DONE),
    ]
    assert last is not None and last.status is StepStatus.DONE


def test_denying_the_waiting_parent_step_never_runs_the_child_s_call():
    erased: list[str] = []
    loop = composable_loop(
        llm=backend(ask_janitor()),
        tools=janitor_parent(MemoryCheckpointStore(), erased),
        task="tidy",
    )
    seen: list[tuple[str | None, StepStatus]] = []
    for step in loop:
        seen.append((step.tool, step.status))
        if step.approval is not None and not step.approval.decided:
            step.approval.deny("not the owl notes")
    assert erased == []
    assert seen == [
        ("janitor", StepStatus.AWAITING_APPROVAL),
        ("janitor", StepStatus.DENIED),
        ("done", StepStatus.DONE),
    ]


class _Watcher:
    """A parent hook that follows its children: each child loop gets a watcher of its own."""

    def __init__(self, seen: list[str], path: str = "run") -> None:
        self.seen, self.path = seen, path

    def child_hooks(self, agent: str, step: int) -> list[object]:
        return [_Watcher(self.seen, f"{self.path} #{step} › {agent}")]

    def check_done(self, state: Any, log: Any, step: int) -> None:
        self.seen.append(f"{self.path} #{step} {log[-1].tool}")


def test_a_parent_hook_with_child_hooks_takes_part_in_every_child_loop_two_deep():
    inner_llm = MockLLMBackend(RESEARCH)
    middle_tools = BaseToolRegistry()
    middle_tools.register(subagent("researcher", "Research.", llm=inner_llm, tools=library()))
    middle_llm = MockLLMBackend(
        [
            {"tool": "researcher", "args": {"task": "owls, in depth"}},
            {"tool": "done", "args": {"answer": "owls: nocturnal hunters"}},
        ]
    )
    top = BaseToolRegistry()
    top.register(subagent("editor", "Edit.", llm=middle_llm, tools=middle_tools))
    plan = [
        {"tool": "editor", "args": {"task": "write about owls"}},
        {"tool": "done", "args": {"answer": "done"}},
    ]
    seen: list[str] = []
    steps, _ = run_parent(top, plan, hooks=[_Watcher(seen)])
    assert steps[-1].status is StepStatus.DONE
    assert seen == [
        "run #1 › editor #1 › researcher #1 lookup",
        "run #1 › editor #1 › researcher #2 done",
        "run #1 › editor #1 researcher",
        "run #1 › editor #2 done",
        "run #1 editor",
        "run #2 done",
    ]


def test_child_hooks_reach_a_child_in_the_async_loop_and_a_child_s_own_hooks_come_first():
    order: list[str] = []

    class Own:
        def check_done(self, state: Any, log: Any, step: int) -> None:
            order.append(f"own #{step}")

    tools = parent_tools(MockLLMBackend(RESEARCH), hooks=lambda: [Own()], asynchronous=True)

    async def go() -> None:
        llm = MockLLMBackend(ask_researcher())
        async for _ in async_composable_loop(
            llm=llm, tools=tools, task="study owls", hooks=[_Watcher(order)]
        ):
            pass

    asyncio.run(go())
    assert order[:4] == [
        "own #1",
        "run #1 › researcher #1 lookup",
        "own #2",
        "run #1 › researcher #2 done",
    ]
