"""What a newcomer meets in the debugger: honest numbers and words (issue 20's findings)."""

from __future__ import annotations


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
