"""Pilot tests: the non-modal approval card and every way to decide from it."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from looplet_core import ApprovalRequest, StepStatus
from looplet_tui.app import DebuggerApp
from looplet_tui.screens.edit_args import EditArgsScreen
from looplet_tui.widgets.approval_card import ApprovalCard
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.helpers import call
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until

RM = [call("rm", path="/tmp/a"), call("rm", path="/tmp/b"), call("done", answer="ok")]


async def waiting(pilot: Pilot[Any], app: DebuggerApp, step: int) -> None:
    """Until the card shows the approval of ``step``."""
    await until(
        pilot,
        lambda: app.controller.approvals and app.controller.approvals[0].step == step,
        f"approval of step {step}",
    )
    await settled(pilot, app)


async def test_card_shows_the_call_and_leaves_the_panes_usable() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        text = screen_text(app)
        assert "AWAITING APPROVAL" in text
        assert "⚠ DANGEROUS" in text and "path  /tmp/a" in text
        assert "Approval needed: step 1" in text
        # not modal: the timeline still has focus and moves, the tabs still switch
        assert isinstance(app.focused, StepTimeline)
        await pilot.press("1")
        await pilot.pause()
        assert "SYSTEM" in screen_text(app)
        app.controller.cancel()


async def test_a_approves_and_the_tool_runs() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("a")
        await waiting(pilot, app, 2)
        step = app.controller.step(1)
        assert step is not None and step.tool_result.data == "removed /tmp/a"
        assert step.decisions[-1].hook == "debugger"
        assert "Approval needed: step 2" in screen_text(app)


async def test_shift_a_approves_this_and_every_later_call_of_the_tool() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("A")
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.pause()
        results = [app.controller.step(n).tool_result.data for n in (1, 2)]  # type: ignore[union-attr]
        assert results == ["removed /tmp/a", "removed /tmp/b"]
        assert not app.query_one(ApprovalCard).has_class("-waiting")


async def test_d_denies_and_the_model_is_told() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("d")
        await waiting(pilot, app, 2)
        step = app.controller.step(1)
        assert step is not None and step.status is StepStatus.DENIED
        await pilot.press("d")
        await until(pilot, lambda: app.controller.finished, "the end")


async def test_shift_d_denies_with_a_message_for_the_model() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press(*"use the trash instead")
        await pilot.press("enter")
        await waiting(pilot, app, 2)
        step = app.controller.step(1)
        assert step is not None and step.status is StepStatus.DENIED
        assert "use the trash instead" in (step.tool_result.error or "")
        llm = app.session.llm  # type: ignore[union-attr]
        assert "use the trash instead" in llm.requests[-1].messages[-1].content


async def test_escape_in_the_deny_dialog_decides_nothing() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("D", "x", "escape")
        await pilot.pause()
        assert app.controller.approvals and not app.controller.approvals[0].decided


async def test_e_edits_the_arguments_checks_them_and_approves() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditArgsScreen)
        editor = app.screen.query_one(TextArea)
        editor.text = '{"path": 12, "force": true'  # not even JSON
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Not valid JSON" in screen_text(app)
        editor.text = '{"path": "/tmp/a", "force": true}'  # JSON, but not the tool's schema
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "unexpected argument 'force'" in screen_text(app)
        assert isinstance(app.screen, EditArgsScreen)  # still editing: nothing was decided
        editor.text = '{"path": "/tmp/safe"}'
        await pilot.press("ctrl+s")
        await waiting(pilot, app, 2)
        step = app.controller.step(1)
        assert step is not None and step.tool_result.data == "removed /tmp/safe"
        assert step.original_args == {"path": "/tmp/a"}


async def test_card_counts_the_queue_when_several_calls_wait() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        card = app.query_one(ApprovalCard)
        extra = ApprovalRequest(step=7, tool="rm", args={"path": "/x"}, dangerous=False)
        card.requests = (*card.requests, extra)
        await pilot.pause()
        assert "Approval needed (1 of 2): step 1" in screen_text(app)


async def test_approval_keys_do_nothing_without_a_waiting_call() -> None:
    app = app_for([call("greet", name="x"), call("done", answer="ok")])
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        assert app.check_action("approve", ()) is False
        await pilot.press("a", "d", "e")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]


async def test_the_decide_first_hint_goes_with_the_call_it_was_about() -> None:
    app = app_for(RM, start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await waiting(pilot, app, 1)
        await pilot.press("n")  # stepping while a call waits: the card says what to do
        await pilot.pause()
        assert "Decide this call first" in screen_text(app)
        await pilot.press("a")  # approved: the step runs, then n's stop after it
        await until(pilot, lambda: app.controller.pause_point is not None, "the stop after it")
        await settled(pilot, app)
        assert "Decide this call first" not in screen_text(app)
        await pilot.press("c")
        await waiting(pilot, app, 2)  # the next call's card starts clean
        assert "Decide this call first" not in screen_text(app)
        app.controller.cancel()
