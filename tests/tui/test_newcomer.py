"""What a newcomer meets in the debugger: honest numbers and words (issue 20's findings)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_the_debuggers_header_shows_the_answer_text() -> None:
    from looplet_core.step import LoopResult, StopReason
    from looplet_tui.live.history import RunHistory
    from looplet_tui.widgets.header import describe_run

    run = RunHistory(window=None, tool_schemas=[], clock=lambda: 0.0, on_change=None)
    run.result = LoopResult(
        StopReason.DONE, final_answer={"answer": "Wrote fizzbuzz.py."}, message="done"
    )
    line = describe_run(run)
    assert line.endswith("answer: Wrote fizzbuzz.py.") and "{" not in line


def test_a_pause_at_pre_dispatch_is_not_the_steps_time() -> None:
    import time

    from looplet_tui.live.breakpoints import Phase
    from tests.tui.helpers import GREET3, start

    run = start(GREET3)
    run.wait_paused()
    run.controller.next_phase()  # to pre_dispatch of step 1
    run.wait(
        lambda: (p := run.controller.pause_point) is not None and p.phase is Phase.PRE_DISPATCH
    )
    time.sleep(0.5)  # the person reads the call
    run.controller.next_phase()  # post_dispatch
    run.wait(
        lambda: (p := run.controller.pause_point) is not None and p.phase is Phase.POST_DISPATCH
    )
    time.sleep(0.3)
    run.controller.resume()
    run.join()
    first = run.state.steps[0]
    assert first.hook_ms >= 800  # both pauses are kept, apart from the step's own time
    assert first.elapsed_ms < 500  # a scripted model and a trivial tool: far below the pauses
    wall = (first.finished_at - first.started_at) * 1000
    assert abs(first.elapsed_ms + first.hook_ms - wall) < 1


async def test_help_in_a_replay_lists_the_replays_keys_each_once(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from looplet_tui.screens.help import HelpScreen
    from tests.tui.pilot import SIZE, settled
    from tests.tui.scenarios import make_replay

    app = make_replay(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.table())
        text = console.export_text()
        assert "Keys of the replay" in str(app.screen.query_one(".title").render())
        for phrase in ("Play or pause", "Step back", "Go to step", "Re-run live", "Next match"):
            assert phrase in text, phrase
        for live_only in ("Next phase", "Continue: run until"):
            assert live_only not in text, live_only
        keys = [key for shown, _ in app.screen.rows for key in shown.split(", ")]
        assert len(keys) == len(set(keys)), keys
        assert {"space", "c", "p", "←", "→", "+", "-", ":", "]", "["} <= set(keys)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_why_it_stopped_and_the_keys_to_leave_or_ask_always_show(
    size: tuple[int, int],
) -> None:
    from tests.tui.helpers import call
    from tests.tui.pilot import app_for, screen_text, settled, until

    script = [call("rm", path="/tmp/a"), call("done", answer="ok")]
    app = app_for(script, start_paused=False)
    app.session.title = "a title long enough to push everything else off the line " * 2
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the approval")
        await settled(pilot, app)
        lines = screen_text(app).splitlines()
        assert lines[1].strip().startswith("step 1 waits for approval of rm: a approve · d deny")
        footer = lines[-1]
        for key in ("? Keys", "q Quit", "a Approve", "d Deny", "e Edit"):
            assert key in footer, (key, footer)
        await pilot.press("a")
        await until(pilot, lambda: app.controller.finished, "the end")
        await settled(pilot, app)
        footer = screen_text(app).splitlines()[-1]
        assert "? Keys" in footer and "q Quit" in footer


async def test_a_dialogs_footer_lists_its_own_keys_not_the_debuggers() -> None:
    from looplet_tui.screens.deny_message import DenyMessageScreen
    from tests.tui.helpers import call
    from tests.tui.pilot import SIZE, app_for, screen_text, settled, until

    app = app_for([call("rm", path="/tmp/a"), call("done", answer="ok")], start_paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the approval")
        await settled(pilot, app)
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, DenyMessageScreen)
        footer = screen_text(app).splitlines()[-1]
        for behind in ("n Next", "s Phase", "c Continue", "a Approve", "B Breakpoints"):
            assert behind not in footer, (behind, footer)
        app.controller.cancel()


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_the_focused_field_of_the_breakpoints_form_is_marked_and_named(
    size: tuple[int, int],
) -> None:
    from textual.widgets import Input

    from tests.tui.helpers import GREET3
    from tests.tui.pilot import app_for, screen_text, settled

    app = app_for(GREET3)
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        await pilot.press("B")
        await pilot.pause()
        tool, args = (
            app.screen.query_one("#bp-tool", Input),
            app.screen.query_one("#bp-args", Input),
        )
        assert app.focused is tool  # the form opens on the tool field
        await pilot.press(*"save_*", "tab")
        await pilot.pause()
        assert app.focused is args and tool.value == "save_*"
        marked, plain = args.styles.border_top, tool.styles.border_top
        assert marked != plain  # the focused field's border differs from the others'
        assert marked[1].hex == app.current_theme.to_color_system().generate()["accent"]
        text = screen_text(app)
        assert "tool glob" in text and "args regex" in text  # names stay once typed into
        assert "in the list: space enable/disable · x remove" in text
        app.controller.cancel()


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_the_gauge_and_the_prompt_tab_count_alike_before_and_after_a_reply(
    size: tuple[int, int],
) -> None:
    import re

    from tests.tui.pilot import demo_app, screen_text, settled, until

    def counts(text: str) -> tuple[dict[str, int], dict[str, int]]:
        prompt: dict[str, int] = {}
        for role, n in re.findall(r" (SYSTEM|USER|ASSISTANT|TOOL)\s+#\d+\s+~(\d+) tok", text):
            prompt[role] = prompt.get(role, 0) + int(n)
        legend = {role: int(n) for role, n in re.findall(r"■(\w+) ?(\d+)", text)}
        return prompt, legend

    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        for moment in ("before the first reply", "after it"):
            await pilot.press("1")
            await settled(pilot, app)
            text = screen_text(app)
            prompt, legend = counts(text)
            assert prompt["SYSTEM"] == legend["sys"], (moment, prompt, legend)
            assert prompt["USER"] == legend["user"], (moment, prompt, legend)
            assert "asst" not in legend  # no assistant message yet: no assistant tokens
            legend_lines = [line for line in text.splitlines() if "■" in line]
            assert len(legend_lines) == 1, legend_lines  # the legend never wraps
            assert " 1 step" in text and " 1 steps" not in text
            if moment == "before the first reply":
                await pilot.press("n")
                await until(pilot, lambda: app.controller.steps_done == 1, "step 1")
                await settled(pilot, app)
        app.controller.cancel()


async def test_the_response_tab_lists_every_failed_attempt_of_a_call() -> None:
    from looplet_core import LoopConfig, TransientBackendError
    from tests.tui.helpers import call
    from tests.tui.pilot import app_for, screen_text, settled, until

    app = app_for(
        [TransientBackendError("503 the engine is overloaded"), call("done", answer="ok")],
        start_paused=False,
        config=LoopConfig(retry_backoff=0.01),
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.controller.finished, "the end", timeout=30)
        await settled(pilot, app)
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "Failed attempts (1)" in text
        assert "1. TransientBackendError" in text and "503 the engine is overloaded" in text
        assert "then waited 0.01 s" in text  # the backoff after it


def test_a_model_named_by_its_file_path_is_shown_by_its_file_name_and_fits() -> None:
    from looplet_tui.widgets.header import _short_model

    path = "/root/.cache/looplet/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert _short_model(path) == "SmolLM2-135M-Instruct.Q4_1.…"
    assert _short_model("gpt-4o-mini") == "gpt-4o-mini"
    assert len(_short_model("x" * 80)) == 28
