"""Pilot tests: editing at a stop in the running debugger (e, x, u and the editor under the tabs).

Each test stops a real run at a phase, opens the editor with ``e`` (or ``x``), changes the text in
the editor's TextArea, stages it with ``ctrl+s`` and lets the run go on with the debugger's keys;
then it checks what the loop did and what the screen says about it.
"""

from __future__ import annotations

import json
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TextArea

from looplet_core import StepStatus
from looplet_tui.app import DebuggerApp
from looplet_tui.live.breakpoints import Breakpoint, Phase
from looplet_tui.widgets.stop_editor import StopEditor
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.helpers import GREET3, call
from tests.tui.pilot import SIZE, app_for, screen_text, settled, until


async def stop_at(pilot: Pilot[Any], app: DebuggerApp, phase: Phase, step: int = 1) -> None:
    """Step phase by phase (``s``) until the run stops at ``phase`` of ``step``."""
    await settled(pilot, app)
    for _ in range(12):
        point = app.controller.pause_point
        if point is not None and (point.phase, point.step) == (phase, step):
            await settled(pilot, app)
            return
        await pilot.press("s")
        await until(pilot, lambda p=point: app.controller.pause_point not in (None, p), "a stop")
    raise AssertionError(f"never stopped at {phase} of step {step}")


def editor(app: DebuggerApp) -> StopEditor:
    return app.query_one(StopEditor)


async def type_into_editor(pilot: Pilot[Any], app: DebuggerApp, text: str) -> None:
    area = editor(app).query_one(TextArea)
    area.load_text(text)
    await pilot.pause()


async def test_e_at_pre_dispatch_edits_the_call_and_the_step_says_so() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.PRE_DISPATCH)
        await pilot.press("e")
        await pilot.pause()
        assert editor(app).is_open and isinstance(app.focused, TextArea)
        assert json.loads(editor(app).query_one(TextArea).text) == {
            "tool": "greet",
            "args": {"name": "Ada"},
        }
        assert "Edit step 1: the call" in screen_text(app)
        await type_into_editor(pilot, app, '{"tool": "greet", "args": {"name": "Zoe"}}')
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not editor(app).is_open and isinstance(app.focused, StepTimeline)
        assert "✎ staged: call edited: arguments" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: app.controller.steps_done == 1, "step 1")
        await settled(pilot, app)
        step = app.controller.step(1)
        assert step is not None and step.tool_result.data == "Hello, Zoe!"
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "edited in the debugger (pre_dispatch): call edited: arguments" in text
        assert "✎ staged" not in text  # applied: the banner went with the stop
        app.controller.cancel()


async def test_keys_typed_in_the_editor_go_to_the_text_not_to_the_debugger() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.POST_DISPATCH)
        await pilot.press("e")
        await pilot.pause()
        area = editor(app).query_one(TextArea)
        area.move_cursor(area.document.end)
        await pilot.press("space", "n", "o", "w", "c", "q")  # n, c and q are debugger keys
        await pilot.pause()
        assert area.text == "Hello, Ada! nowcq"
        assert app.controller.pause_point is not None  # nothing stepped, nothing quit
        await pilot.press("ctrl+s")
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")
        step = app.controller.step(1)
        assert step is not None and step.tool_result.data == "Hello, Ada! nowcq"


async def test_a_bad_edit_shows_why_in_the_editor_and_stages_nothing() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.PRE_DISPATCH)
        await pilot.press("e")
        await type_into_editor(pilot, app, '{"tool": "greet", "args": {"nam": "Zoe"}}')
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert editor(app).is_open  # still open, the text kept to be fixed
        assert "nam" in editor(app).query_one(TextArea).text
        assert "name" in screen_text(app)  # the schema's complaint, on screen
        assert app.controller.staged_edit is None
        await type_into_editor(pilot, app, "{oops")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Not valid JSON" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not editor(app).is_open and isinstance(app.focused, StepTimeline)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")
        step = app.controller.step(1)
        assert step is not None and step.tool_result.data == "Hello, Ada!"


async def test_x_skips_the_call_and_the_model_reads_the_message() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.PRE_DISPATCH)
        await pilot.press("x")
        await pilot.pause()
        assert "skip the call: the model reads why" in screen_text(app)
        await pilot.press("ctrl+s")  # empty: refused
        await pilot.pause()
        assert "Say why the call is skipped" in screen_text(app)
        await type_into_editor(pilot, app, "Ada left early.")
        await pilot.press("ctrl+s")
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")
        step = app.controller.step(1)
        assert step is not None and step.status is StepStatus.DENIED
        session = app.session
        assert "Ada left early." in session.llm.requests[1].messages[-1].content  # type: ignore[union-attr]


async def test_e_at_post_dispatch_edits_the_result_the_model_reads() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.POST_DISPATCH)
        await pilot.press("e")
        await type_into_editor(pilot, app, "Ada is busy.")
        await pilot.press("ctrl+s")
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")
        llm = app.session.llm  # type: ignore[union-attr]
        assert llm.requests[1].messages[-1].content == "Ada is busy."


async def test_a_prompt_edit_shows_in_the_prompt_diff_as_edited_in_the_debugger() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.PRE_PROMPT, step=2)
        await pilot.press("e")
        await pilot.pause()
        assert "this request only" in screen_text(app)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "the history from here on" in screen_text(app)
        messages = json.loads(editor(app).query_one(TextArea).text)
        messages.append({"role": "user", "content": "Only greet people named Ada."})
        await type_into_editor(pilot, app, json.dumps(messages))
        await pilot.press("ctrl+s")
        await pilot.press("n")
        await until(pilot, lambda: app.controller.steps_done == 2, "step 2")
        await settled(pilot, app)
        step = app.controller.step(2)
        assert step is not None
        assert step.prompt is not None and step.prompt[-1].content == "Only greet people named Ada."
        app.query_one(StepTimeline).select_step(2)
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "edited in the debugger (pre_prompt: rewrite_history" in text
        app.controller.cancel()


async def test_u_undoes_the_staged_edit_before_the_run_goes_on() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.POST_DISPATCH)
        await pilot.press("e")
        await type_into_editor(pilot, app, "edited")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "✎ staged" in screen_text(app)
        await pilot.press("u")
        await pilot.pause()
        assert app.controller.staged_edit is None
        assert "✎ staged" not in screen_text(app)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end")
        step = app.controller.step(1)
        assert step is not None and step.tool_result.data == "Hello, Ada!"
        assert not [d for d in step.decisions if d.hook == "debugger"]


async def test_the_edit_keys_are_offered_only_where_they_do_something() -> None:
    app = app_for(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await stop_at(pilot, app, Phase.PRE_PROMPT)
        assert app.check_action("edit", ()) and not app.check_action("skip_call", ())
        assert not app.check_action("undo_edit", ())
        await stop_at(pilot, app, Phase.PRE_DISPATCH)
        assert app.check_action("skip_call", ())
        footer = screen_text(app).splitlines()[-1]
        assert "Edit" in footer and "Skip" in footer
        await stop_at(pilot, app, Phase.CHECK_DONE)
        assert not app.check_action("edit", ())
        await pilot.press("e")  # nothing to edit: it says so, and nothing opens
        await pilot.pause()
        assert not editor(app).is_open
        app.controller.cancel()


async def test_the_editor_fits_a_small_terminal() -> None:
    tools_script = [call("greet", name="Ada"), call("done", answer="x")]
    app = app_for(tools_script)
    app.controller.breakpoints.add(Breakpoint(phase=Phase.PRE_DISPATCH))
    async with app.run_test(size=(80, 24)) as pilot:
        await stop_at(pilot, app, Phase.PRE_DISPATCH)
        await pilot.press("e")
        await pilot.pause()
        text = screen_text(app)
        assert "ctrl+s apply" in text and '"tool": "greet"' in text
        app.controller.cancel()
