"""``RunDiffScreen``: two runs side by side (``looplet-tui diff TRACE_A TRACE_B``).

The table aligns the runs step by step; the first divergence is highlighted and selected when the
screen opens; the pane below lists, for the selected pair, tool, arguments, status and result of
both runs with the fields that differ marked, the arguments and results drawn for reading (a
command, code, a diff; ``looplet_tui.text.toolview``).  What counts as a difference is
looplet_core's rule (``compare_steps``), computed in ``looplet_tui.rundiff.align``; this module
only draws it.  The steps of sub-agent runs are rows under the step that ran them, numbered by
their path (``#2›1``) and indented, so a divergence inside a child is found and selected like
any other.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from looplet_core import Step
from looplet_tui.rundiff.align import RunComparison, StepPair, field_diffs
from looplet_tui.text.safe import literal
from looplet_tui.text.toolview import call_renderable, result_value_renderable

__all__ = ["RunDiffApp", "RunDiffScreen", "pair_renderable"]

_CELL = 200
"""Characters of a step shown in a table cell; the pane below shows the rest."""


def _cell(step: Step | None, width: int, depth: int = 0) -> Text:
    """One run's step in a cell ``width`` wide, indented two spaces per sub-agent level: what
    does not fit ends in an ellipsis, so a cut result never reads as a whole one (the pane below
    shows it all)."""
    indent = Text("  " * depth)
    if step is None:
        return indent + Text("(ended)", style="dim italic")
    mark = "✓ " if step.ok else "✗ "
    text = literal(f"{step.call_text()} → {step.outcome_text()}", limit=_CELL)
    cell = indent + Text(mark, style="green" if step.ok else "red") + text
    cell.truncate(width, overflow="ellipsis")
    return cell


PAIR_FOLD = 20
"""Lines of a command, code, diff or output block shown per side before folding the rest."""

_STEP, _MARK = 5, 1
"""Widths of the step number and the agree mark columns."""


def pair_renderable(pair: StepPair, label_a: str = "A", label_b: str = "B") -> RenderableType:
    """What differs in one pair: every compared field of both runs, differences marked ``≠``."""
    where = f"step {pair.label[1:]}"
    if pair.agents:
        where += f" of sub-agent {' › '.join(pair.agents)}"
    if pair.divergence is None:
        head = literal(f"{where}: the runs agree", "green")
    else:
        head = literal(f"{where}: {pair.divergence.field} differs first", "bold yellow")
    table = Table(box=None, expand=True, pad_edge=False, show_header=True)
    table.add_column("", no_wrap=True, width=2)
    table.add_column("field", no_wrap=True, style="bold")
    table.add_column(literal(label_a, limit=60), ratio=1)
    table.add_column(literal(label_b, limit=60), ratio=1)
    for diff in field_diffs(pair):
        differs = not diff.same and not pair.agree
        style = "yellow" if differs else ""
        table.add_row(
            Text("≠" if differs else "=", style="bold yellow" if differs else "dim"),
            diff.field,
            _readable(pair.a, diff.field) or literal(diff.a, style, limit=4000),
            _readable(pair.b, diff.field) or literal(diff.b, style, limit=4000),
        )
    return Group(head, Text(""), table)


def _readable(step: Step | None, field: str) -> RenderableType | None:
    """A step's arguments or result drawn for reading (a command, code, a diff, JSON by name);
    None for the fields that are one word anyway, and for errors."""
    if step is None:
        return None
    if field == "args" and step.tool_call is not None:
        return call_renderable(step.tool_call.tool, step.tool_call.args, fold=PAIR_FOLD)
    if field == "result" and step.tool_result.error is None:
        tool = step.tool_call.tool if step.tool_call is not None else None
        return result_value_renderable(tool, step.tool_result.data, fold=PAIR_FOLD)
    return None


class RunDiffScreen(Screen[None]):
    """Two runs aligned step by step, the first divergence selected, one pair explained below.

    ``comparison`` comes from ``looplet_tui.rundiff.align.compare_traces`` (or ``compare_runs``
    for two in-memory branches).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next_difference", "Next diff", tooltip="Next step where the runs differ"),
        Binding("N,p", "previous_difference", "Prev diff", tooltip="Previous differing step"),
        Binding("f", "first_divergence", "First", tooltip="Jump to the first divergence"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("escape,q", "close", "Close", tooltip="Close the comparison"),
    ]

    DEFAULT_CSS = """
    RunDiffScreen {
        & #diff-summary { height: auto; padding: 0 1; background: $boost; }
        & #diff-table { height: 1fr; }
        & #diff-pair { height: 12; border-top: hkey $border-blurred; padding: 0 1; }
        & #diff-pair > Static { width: 1fr; }
    }
    """

    def __init__(self, comparison: RunComparison, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.comparison = comparison
        self._width = 0
        """The run columns' width the table was built for."""

    def compose(self) -> ComposeResult:
        yield Static(self._summary(), id="diff-summary")
        yield DataTable[Text](id="diff-table", cursor_type="row", zebra_stripes=False)
        with VerticalScroll(id="diff-pair"):
            yield Static(id="diff-pair-body")
        yield Footer()

    def _summary(self) -> Text:
        c = self.comparison
        text = Text("A: ", style="bold") + literal(c.label_a, limit=200)
        text += Text("\nB: ", style="bold") + literal(c.label_b, limit=200)
        first = c.first
        style = "bold yellow" if first is not None else "green"
        text += Text("\n") + Text(c.summary(), style=style)
        return text

    def on_mount(self) -> None:
        self._fill()
        self._table().focus()
        first = self.comparison.first
        self.select(self.comparison.pairs.index(first) if first is not None else 0)

    def on_resize(self) -> None:
        if self._width != self._half():
            row = self._table().cursor_row
            self._fill()
            self._table().move_cursor(row=row, scroll=True)

    def _half(self) -> int:
        """Each run's column width: the screen's width less the step and mark columns, each
        column's padding (1 each side) and a scrollbar, split in two, so both runs show side by
        side at 80 columns too."""
        return max(16, (self.size.width - self._step_width() - _MARK - 4 * 2 - 2) // 2)

    def _step_width(self) -> int:
        """The step column: ``#12`` fits in the usual five, ``#2›1›3`` widens it."""
        return max([_STEP, *(len(p.label) for p in self.comparison.pairs)])

    def _fill(self) -> None:
        """(Re)build the table for the screen's width."""
        table = self._table()
        table.clear(columns=True)
        width = self._width = self._half()
        table.add_column("step", key="step", width=self._step_width())
        table.add_column("", key="mark", width=_MARK)
        table.add_column(literal(self.comparison.label_a, limit=width), key="a", width=width)
        table.add_column(literal(self.comparison.label_b, limit=width), key="b", width=width)
        first = self.comparison.first
        for pair in self.comparison.pairs:
            is_first = pair is first
            style = "bold on dark_red" if is_first else ("yellow" if not pair.agree else "")
            mark = Text("=" if pair.agree else "≠", style=style or "dim")
            table.add_row(
                Text(pair.label, style=style),
                mark,
                _styled(_cell(pair.a, width, pair.depth), style),
                _styled(_cell(pair.b, width, pair.depth), style),
                key=str(pair.position),
            )

    def _table(self) -> DataTable[Text]:
        return self.query_one("#diff-table", DataTable)

    @property
    def selected(self) -> StepPair | None:
        """The pair under the table's cursor."""
        pairs = self.comparison.pairs
        row = self._table().cursor_row
        return pairs[row] if 0 <= row < len(pairs) else None

    def select(self, index: int) -> None:
        """Move the cursor to row ``index`` and explain that pair below."""
        if self.comparison.pairs:
            self._table().move_cursor(row=index, scroll=True)
            self._show(index)

    def _show(self, index: int) -> None:
        body = self.query_one("#diff-pair-body", Static)
        pairs = self.comparison.pairs
        if not 0 <= index < len(pairs):
            body.update(Text("Neither run has any steps.", style="dim italic"))
            return
        c = self.comparison
        body.update(pair_renderable(pairs[index], f"A: {c.label_a}", f"B: {c.label_b}"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show(event.cursor_row)

    def action_cursor(self, delta: int) -> None:
        table = self._table()
        table.move_cursor(row=max(0, table.cursor_row + delta))

    def action_next_difference(self) -> None:
        row = self._table().cursor_row
        later = [i for i in self.comparison.differing if i > row]
        if later:
            self.select(later[0])
        else:
            self.notify("No later step differs.", markup=False)

    def action_previous_difference(self) -> None:
        row = self._table().cursor_row
        earlier = [i for i in self.comparison.differing if i < row]
        if earlier:
            self.select(earlier[-1])
        else:
            self.notify("No earlier step differs.", markup=False)

    def action_first_divergence(self) -> None:
        first = self.comparison.first
        if first is None:
            self.notify("The runs do not diverge.", markup=False)
        else:
            self.select(self.comparison.pairs.index(first))

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 1 and self.app.screen_stack[0] is not self:
            self.dismiss(None)
        else:
            self.app.exit(0)


def _styled(text: Text, style: str) -> Text:
    if not style:
        return text
    styled = text.copy()
    styled.stylize(style)
    return styled


class RunDiffApp(App[int]):
    """The app ``looplet-tui diff`` runs: one ``RunDiffScreen``; ``q`` leaves."""

    TITLE = "looplet run diff"

    def __init__(self, comparison: RunComparison) -> None:
        super().__init__()
        self.comparison = comparison

    def get_default_screen(self) -> Screen[None]:
        return RunDiffScreen(self.comparison, id="run-diff")
