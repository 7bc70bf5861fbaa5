"""Pilot tests: a batch of concurrent calls is marked in the timeline, and Enter on a step that
ran a sub-agent opens the sub-agent's steps (and its own sub-agents), escape going back."""

from __future__ import annotations

from typing import Any

from looplet_core import BaseToolRegistry, LoopConfig, MockLLMBackend, StopReason, subagent
from looplet_tui.screens.child_run import ChildRunScreen
from looplet_tui.widgets.timeline import StepTimeline
from tests.core.durable_helpers import backend
from tests.tui.helpers import call, make_tools
from tests.tui.pilot import SIZE, app_for, screen_text, until


async def test_the_calls_of_one_batch_are_bracketed_together_in_the_timeline() -> None:
    script = [
        [call("greet", name="Ada"), call("greet", name="Bob"), call("greet", name="Cy")],
        call("done", answer="greeted"),
    ]
    app = app_for(script, start_paused=False, config=LoopConfig(max_steps=20, parallel_tools=3))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.pause()
        text = screen_text(app)
        assert "#1 ┌∥1/3 greet(name='Ada')" in text
        assert "#2 │∥2/3 greet(name='Bob')" in text
        assert "#3 └∥3/3 greet(name='Cy')" in text
        assert "∥" not in next(line for line in text.splitlines() if "#4 " in line)
        result = app.controller.result
        assert result is not None and result.stop_reason is StopReason.DONE


def toasts(app: Any) -> list[str]:
    """The notifications shown so far (toasts are drawn on a layer screen_text leaves out)."""
    return [n.message for n in app._notifications]  # pyright: ignore[reportPrivateUsage]


def nested_tools() -> BaseToolRegistry:
    """researcher (a sub-agent that greets, then asks its own helper) over the usual tools."""
    helper_tools = BaseToolRegistry()
    helper_tools.register(make_tools().get("greet"))  # type: ignore[arg-type]
    helper = subagent(
        "helper",
        "Greet on request.",
        llm=MockLLMBackend([call("greet", name="Dee"), call("done", answer="helped")]),
        tools=helper_tools,
    )
    researcher_tools = BaseToolRegistry()
    researcher_tools.register(make_tools().get("greet"))  # type: ignore[arg-type]
    researcher_tools.register(helper)
    researcher_script: list[Any] = [
        call("greet", name="Eve"),
        call("helper", task="greet Dee"),
        call("done", answer="found two"),
    ]
    tools = make_tools()
    tools.register(
        subagent(
            "researcher",
            "Research.",
            llm=MockLLMBackend(researcher_script),
            tools=researcher_tools,
        )
    )
    return tools


async def test_enter_opens_a_sub_agent_s_steps_and_escape_goes_back_up() -> None:
    script = [call("researcher", task="look around"), call("done", answer="reported")]
    app = app_for(script, start_paused=False, tools=nested_tools())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.pause()
        text = screen_text(app)
        assert "#1 ⤷3 ▸ researcher(task='look around')" in text
        timeline = app.main.query_one(StepTimeline)
        timeline.select_step(1)
        timeline.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChildRunScreen), "the child screen")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChildRunScreen)
        run_id = app.controller.result.run_id if app.controller.result else ""
        assert screen.breadcrumb == f"run {run_id} › #1 researcher"
        text = screen_text(app)
        assert f"run {run_id} › #1 researcher" in text
        assert "task: look around" in text
        assert "#1 greet(name='Eve') → Hello, Eve!" in text
        assert "#2 ⤷2 ▸ helper(task='greet Dee')" in text
        # two deep: the researcher's own sub-agent
        inner_timeline = screen.query_one(StepTimeline)
        inner_timeline.select_step(2)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is not screen, "the grandchild screen")
        await pilot.pause()
        deeper = app.screen
        assert isinstance(deeper, ChildRunScreen)
        assert deeper.breadcrumb == f"run {run_id} › #1 researcher › #2 helper"
        assert "#1 greet(name='Dee') → Hello, Dee!" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the researcher")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ChildRunScreen), "back to the run")
        await pilot.pause()
        assert "#1 ⤷3 ▸ researcher(" in screen_text(app)


async def test_enter_on_a_step_without_a_sub_agent_says_so_and_stays() -> None:
    app = app_for([call("greet", name="Ada"), call("done", answer="ok")], start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end")
        timeline = app.main.query_one(StepTimeline)
        timeline.select_step(1)
        timeline.focus()
        await pilot.press("enter")
        await until(pilot, lambda: "This step ran no sub-agent." in toasts(app), "a toast")
        assert not isinstance(app.screen, ChildRunScreen)


async def test_the_research_example_opens_in_the_debugger_and_its_analyst_can_be_entered(
    monkeypatch: Any,
) -> None:
    from looplet_core.examples.research_agent import make_agent
    from looplet_tui.app import DebuggerApp
    from looplet_tui.session import run_session

    for key in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(key, raising=False)
    session = run_session(make_agent(delay=0.01), where="research_agent:make_agent")
    app = DebuggerApp(session, start_paused=False, clock=lambda: 1000.0, timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.pause()
        text = screen_text(app)
        assert "#1 ┌∥1/3 search(query='owls hunting')" in text
        assert "#4 ⤷3 ▸ analyst(" in text
        timeline = app.main.query_one(StepTimeline)
        timeline.select_step(4)
        timeline.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChildRunScreen), "the analyst")
        await pilot.pause()
        text = screen_text(app)
        assert "#1 ┌∥1/2 read_page(url='lib://owls/hunting'" in text
        assert "USER   #2" in text  # the analyst's own prompt: the task it was given
        assert "Read lib://owls/hunting and lib://owls/hearing" in text


async def test_a_replayed_trace_keeps_the_batch_and_opens_the_sub_agent(tmp_path: Any) -> None:
    from looplet_core import ProvenanceSink, composable_loop
    from looplet_core.examples.research_agent import LEAD_SCRIPT, make_agent
    from looplet_tui.app import DebuggerApp
    from looplet_tui.cli import replay_session

    agent = make_agent(delay=0)
    agent["llm"] = MockLLMBackend(LEAD_SCRIPT, report_usage=True)
    agent["hooks"] = [ProvenanceSink(tmp_path, llm=agent["llm"])]
    list(composable_loop(**agent))
    app = DebuggerApp(replay_session(tmp_path), clock=lambda: 1000.0, timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")  # play the whole recording
        await until(pilot, lambda: app.controller.steps_done == 5, "the replayed steps")
        await pilot.pause()
        text = screen_text(app)
        assert "#1 ┌∥1/3 search(query='owls hunting')" in text
        assert "#4 ⤷3 ▸ analyst(" in text
        timeline = app.main.query_one(StepTimeline)
        timeline.select_step(4)
        timeline.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChildRunScreen), "the analyst")
        await pilot.pause()
        assert "#1 ┌∥1/2 read_page(url='lib://owls/hunting'" in screen_text(app)


async def test_the_approval_card_names_the_sub_agent_whose_call_waits_and_a_approves_it() -> None:
    from looplet_core import MemoryCheckpointStore

    erased: list[str] = []
    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(topic: str) -> str:
        """Erase notes on a topic."""
        erased.append(topic)
        return f"erased {topic}"

    tools = make_tools()
    tools.register(
        subagent(
            "janitor",
            "Tidy up.",
            # a router: a resumed child gets the reply its conversation is at, not the first
            llm=lambda: backend([call("erase", topic="owls"), call("done", answer="erased")]),
            tools=guarded,
            checkpoint=MemoryCheckpointStore(),
        )
    )
    script = [call("janitor", task="erase the owl notes"), call("done", answer="tidied")]
    app = app_for(script, start_paused=False, tools=tools)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the approval card")
        await pilot.pause()
        text = screen_text(app)
        assert "sub-agent janitor asks: erase" in text
        assert erased == []
        await pilot.press("a")
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.pause()
        assert erased == ["owls"]
        assert "#1 ⤷2 ▸ janitor(" in screen_text(app)
