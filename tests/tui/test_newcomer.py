"""What a newcomer meets in the debugger: honest numbers and words (issue 20's findings)."""

from __future__ import annotations

from pathlib import Path


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
