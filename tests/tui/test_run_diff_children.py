"""The run diff aligns sub-agent runs too: child steps are rows under the step that ran them,
and a divergence inside a child is the one the screen opens at."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from looplet_tui.rundiff.align import compare_traces
from looplet_tui.screens.run_diff import RunDiffApp, RunDiffScreen
from tests.core.subagent_helpers import two_deep


def text_of(widget: Static) -> str:
    console = Console(width=200, record=True)
    console.print(widget.content)
    return console.export_text()


def test_child_steps_are_aligned_under_their_parent_and_the_first_is_the_child_s(
    tmp_path: Path,
) -> None:
    two_deep(tmp_path / "a")
    two_deep(tmp_path / "b", second="moths")
    comparison = compare_traces(tmp_path / "a", tmp_path / "b")
    assert [(p.label, p.depth, p.agree) for p in comparison.pairs] == [
        ("#1", 0, True),
        ("#2", 0, False),  # its sub-agent run parts...
        ("#2›1", 1, False),
        ("#2›1›1", 2, True),
        ("#2›1›2", 2, False),  # ...here
        ("#2›1›3", 2, True),
        ("#2›2", 1, True),
        ("#3", 0, True),
    ]
    first = comparison.first
    assert first is not None and first.label == "#2›1›2"
    assert first.agents == ("editor", "researcher")
    assert comparison.summary().startswith(
        "first divergence at step 2 › 1 › 2 (in sub-agent editor › researcher): args differs"
    )
    same = compare_traces(tmp_path / "a", tmp_path / "a")
    assert same.first is None and len(same.pairs) == 8


async def test_the_diff_screen_opens_at_the_divergence_inside_the_sub_agent(
    tmp_path: Path,
) -> None:
    two_deep(tmp_path / "a")
    two_deep(tmp_path / "b", second="moths")
    app = RunDiffApp(compare_traces(tmp_path / "a", tmp_path / "b"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunDiffScreen)
        table = screen.query_one("#diff-table", DataTable)
        assert table.row_count == 8
        assert table.cursor_row == 4  # #2›1›2, the researcher's second lookup
        assert str(table.get_cell_at(Coordinate(4, 0))) == "#2›1›2"
        assert str(table.get_cell_at(Coordinate(4, 3))).startswith("    ✓ lookup(topic='moths')")
        pair = text_of(screen.query_one("#diff-pair-body", Static))
        assert "step 2›1›2 of sub-agent editor › researcher: args differs first" in pair
        assert "moths" in pair and "bats" in pair
        await pilot.press("p")  # the rows above that differ: the researcher's and editor's
        assert table.cursor_row == 2
        await pilot.press("n")
        assert table.cursor_row == 4
        await pilot.press("q")
