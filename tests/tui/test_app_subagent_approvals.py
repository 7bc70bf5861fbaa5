"""The debugger deciding a call paused inside a checkpointed sub-agent: the card shows and edits
the child's call, naming the sub-agent, and the child runs it with the edited arguments."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from looplet_core import (
    ApprovalError,
    BaseToolRegistry,
    MemoryCheckpointStore,
    StepStatus,
    subagent,
)
from looplet_tui.live.controller import DebugController
from looplet_tui.screens.edit_args import EditArgsScreen
from tests.core.durable_helpers import backend
from tests.tui.helpers import call, start
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until

PARENT = [call("janitor", task="tidy the notes"), call("done", answer="tidied")]


def janitor_tools(erased: list[str]) -> BaseToolRegistry:
    guarded = BaseToolRegistry()

    @guarded.tool(requires_approval=True)
    def erase(path: str) -> str:
        """Erase a file of notes."""
        erased.append(path)
        return f"erased {path}"

    child_plan = [call("erase", path="notes/owls.md"), call("done", answer="erased")]
    tools = BaseToolRegistry()
    tools.register(
        subagent(
            "janitor",
            "Tidy up.",
            llm=lambda: backend(child_plan),  # answers by where the run is: resumable
            tools=guarded,
            checkpoint=MemoryCheckpointStore(),
        )
    )
    return tools


def test_the_controller_approves_the_child_s_call_with_edited_args() -> None:
    erased: list[str] = []
    controller = DebugController(poll=0.01, start_paused=False)
    run = start(PARENT, controller, tools=janitor_tools(erased))
    run.wait(lambda: controller.approvals)
    request = controller.approvals[0]
    assert (request.call_tool, request.call_args) == ("erase", {"path": "notes/owls.md"})
    with pytest.raises(ApprovalError, match=r"erase \(in sub-agent janitor, step 1\)"):
        controller.approve(args={"task": "the parent's schema"})
    assert controller.approvals == [request] and not request.decided  # still waiting
    controller.approve(args={"path": "notes/bats.md"})
    run.join()
    assert erased == ["notes/bats.md"]
    assert run.state.steps[0].status is StepStatus.OK
    assert run.state.result is not None and run.state.result.final_answer == "tidied"


async def test_the_card_shows_and_e_edits_the_child_s_call_naming_the_sub_agent() -> None:
    erased: list[str] = []
    app = app_for(PARENT, start_paused=False, tools=janitor_tools(erased))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the child's approval")
        await settled(pilot, app)
        text = screen_text(app)
        assert "erase in sub-agent janitor" in text
        assert "notes/owls.md" in text
        assert "waits for approval of erase in sub-agent janitor" in text
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditArgsScreen)
        assert "Edit the arguments of erase in sub-agent janitor (step 1)" in screen_text(app)
        editor = app.screen.query_one(TextArea)
        assert '"path": "notes/owls.md"' in editor.text  # the child's call, not {"task": ...}
        editor.text = '{"path": "notes/bats.md", "force": true}'  # not erase's schema
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EditArgsScreen)  # refused: nothing decided
        assert "unexpected argument 'force'" in screen_text(app)
        assert not app.controller.approvals[0].decided
        editor.text = '{"path": "notes/bats.md"}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.controller.finished, "the run to end")
    assert erased == ["notes/bats.md"]
