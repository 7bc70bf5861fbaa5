"""Run comparison: two traces aligned side by side, the first divergence found and highlighted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from looplet_core import (
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    StopReason,
    TraceReader,
    composable_loop,
)
from looplet_tui.__main__ import main
from looplet_tui.rundiff.align import compare_runs, compare_traces, field_diffs
from looplet_tui.screens.run_diff import RunDiffApp, RunDiffScreen

from .helpers import call, make_tools

SAME = [call("greet", name="Ada"), call("greet", name="Bob")]
RUN_A = [*SAME, call("greet", name="Cy"), call("done", answer="three")]
# Parts at step 3: other arguments; step 4 calls a tool that fails; B has one step more.
RUN_B = [
    *SAME,
    call("greet", name="[bold]Zed[/]"),
    call("fail", why="no"),
    call("done", answer="x"),
]


def record(directory: Path, script: list[dict[str, Any]]) -> Path:
    llm = MockLLMBackend(script)
    loop = composable_loop(
        llm=llm,
        tools=make_tools(),
        task="greet people",
        config=LoopConfig(record_prompts=True),
        hooks=[ProvenanceSink(directory, llm=llm)],
    )
    for _ in loop:
        pass
    return directory


@pytest.fixture
def traces(tmp_path: Path) -> tuple[Path, Path]:
    return record(tmp_path / "run-a", RUN_A), record(tmp_path / "run-b", RUN_B)


def text_of(widget: Static) -> str:
    console = Console(width=200, record=True)
    console.print(widget.content)
    return console.export_text()


def test_traces_diverge_at_the_step_whose_arguments_differ(traces: tuple[Path, Path]) -> None:
    comparison = compare_traces(*traces)
    assert [pair.agree for pair in comparison.pairs] == [True, True, False, False, False]
    first = comparison.first
    assert first is not None and first.divergence is not None
    assert (first.number, first.divergence.field) == (3, "args")
    assert comparison.differing == [2, 3, 4]
    assert comparison.pairs[-1].a is None  # A had ended
    assert comparison.summary().startswith("first divergence at step 3: args differs")


def test_field_diffs_lists_every_differing_field_not_only_the_first(
    traces: tuple[Path, Path],
) -> None:
    pair = compare_traces(*traces).pairs[3]  # A: done(answer='three'), B: fail(why='no')
    diffs = {d.field: d for d in field_diffs(pair)}
    assert not diffs["tool"].same and not diffs["args"].same
    assert not diffs["status"].same and not diffs["result"].same
    assert diffs["result"].b == "execution: RuntimeError: no"


def test_identical_runs_agree_and_different_ends_are_reported(
    traces: tuple[Path, Path],
) -> None:
    a = compare_traces(traces[0], traces[0])
    assert a.first is None and a.summary() == "no divergence: 4 steps agree"
    steps = [TraceReader(traces[0]).step(1)]
    ended = compare_runs(steps, steps, stop_a=StopReason.DONE, stop_b=StopReason.MAX_STEPS)
    assert ended.summary() == "same 1 steps, different ends: A done vs B max_steps"


async def test_diff_screen_opens_at_the_first_divergence(traces: tuple[Path, Path]) -> None:
    app = RunDiffApp(compare_traces(*traces))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunDiffScreen)
        table = screen.query_one("#diff-table", DataTable)
        assert table.row_count == 5
        assert table.cursor_row == 2  # step 3, the first divergence
        summary = text_of(screen.query_one("#diff-summary", Static))
        assert "first divergence at step 3: args differs" in summary
        pair = text_of(screen.query_one("#diff-pair-body", Static))
        assert "step 3: args differs first" in pair
        assert "name  Cy" in pair and "name  [bold]Zed[/]" in pair  # readable, and literal
        assert str(table.get_cell_at(Coordinate(2, 3))).startswith("✓ greet(name='[bold]Zed[/]')")

        await pilot.press("n")
        assert table.cursor_row == 3
        assert "execution: RuntimeError: no" in text_of(screen.query_one("#diff-pair-body", Static))
        await pilot.press("k", "k", "k")
        assert table.cursor_row == 0
        assert "the runs agree" in text_of(screen.query_one("#diff-pair-body", Static))
        await pilot.press("f")
        assert table.cursor_row == 2
        await pilot.press("p")
        assert table.cursor_row == 2  # nothing earlier differs: it stays
        await pilot.press("q")
    assert app.return_value == 0


def test_cli_diff_of_a_directory_that_is_not_a_trace(
    tmp_path: Path, traces: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(traces[0]), str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("looplet-tui: ")
