"""What a timeline row is, and what it says.

``StepTimeline`` decides which row is where (filters, unfolded sub-agents) and draws it; this
module holds the row types and the text a row shows, which depends only on the row and on a
few flags of the timeline, so it can be read (and tested) without a screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from looplet_core import Step, StepStatus
from looplet_tui.live.runstate import Live, Marker
from looplet_tui.text.safe import clean

if TYPE_CHECKING:
    from looplet_tui.live.children import ChildFrame

__all__ = ["Nested", "Row", "RunningRows", "batch_mark", "inner", "row_text"]

_WRAPPED_LIMIT = 500


@dataclass(frozen=True, slots=True, eq=False)
class Nested:
    """A sub-agent's step (or its step in progress) shown under the parent step that ran it.

    ``agent`` is the path to the sub-agent (``researcher › helper``), ``depth`` how deep it is
    (1 under a step of the run)."""

    row: Step | Live
    depth: int
    agent: str


Row = Step | Marker | Live | Nested
"""A timeline row: a recorded step, a marker, the step in progress (after the steps), or a
sub-agent's step nested under its parent step."""


def inner(row: Row | None) -> Step | Marker | Live | None:
    """The step, marker or live step a row shows (a nested row's own step)."""
    return row.row if isinstance(row, Nested) else row


class RunningRows:
    """The rows of the sub-agents running now (shown after the live row), as ``Nested`` rows.

    A step gets the same row object each time it is asked for, so the app sees the selection
    did not change when the timeline redraws."""

    def __init__(self) -> None:
        self._wrapped: dict[int, Nested] = {}
        """Rows by their step's id."""

    def row(self, frames: Sequence[ChildFrame], index: int) -> Nested | None:
        """Row ``index`` of the running sub-agents' rows, in the order the frames started."""
        for frame in frames:
            steps = frame.steps
            if index < len(steps):
                return self._wrap(steps[index], frame)
            index -= len(steps)
            if frame.live is not None:
                if index == 0:
                    return self._wrap(frame.live, frame)
                index -= 1
        return None

    def _wrap(self, row: Step | Live, frame: ChildFrame) -> Nested:
        found = self._wrapped.get(id(row))
        if found is None or found.row is not row:
            if len(self._wrapped) > _WRAPPED_LIMIT:
                self._wrapped.clear()
            found = self._wrapped[id(row)] = Nested(row, frame.depth, frame.path)
        return found


_ICONS = {
    StepStatus.OK: ("✓", "ok"),
    StepStatus.DONE: ("✓", "ok"),
    StepStatus.ERROR: ("✗", "error"),
    StepStatus.DENIED: ("✗", "denied"),
    StepStatus.AWAITING_APPROVAL: ("⏸", "awaiting"),
}


def row_text(
    row: Row,
    *,
    style: Callable[[str], Style],
    opened: bool,
    marked: Callable[[str | None], bool],
    running: bool,
    running_folded: bool,
    timings: bool,
) -> Text:
    """The row as styled text; model and tool text is always literal.

    ``style`` looks up a component style by name, ``opened`` says the row's finished sub-agent is
    unfolded, ``marked`` whether a tool has a breakpoint, ``running`` whether sub-agents run
    under the live row now (and ``running_folded`` whether their rows are hidden), ``timings``
    whether a step shows its duration.
    """
    indent = ""
    indent = ""
    if isinstance(row, Nested):
        indent, row = "  " * row.depth, row.row
    if isinstance(row, Marker):
        return Text(
            f"  ⇣ {clean(row.text)}",
            style=style("step-timeline--marker"),
        )
    text = Text(no_wrap=True)
    step = row.step if isinstance(row, Live) else row
    text.append("◆" if marked(step.tool) else " ", style=style("step-timeline--breakpoint"))
    text.append(indent)
    dim = style("step-timeline--dim")
    if isinstance(row, Live):
        live = style("step-timeline--live")
        text.append(f"● #{step.number} ", style=live)
        if not indent and running:  # the call runs a sub-agent: its rows follow
            text.append("▸ " if running_folded else "▾ ", style=live)
        if step.tool_call is not None:
            text.append(clean(_summaries(step)[0]) + " ")
        text.append(clean(row.activity), style=dim)
        return text
    icon, kind = _ICONS[row.status]
    call, outcome = _summaries(row)
    text.append(f"{icon} ", style=style(f"step-timeline--{kind}"))
    text.append(f"#{row.number} ", style=dim)
    if row.batch is not None:  # one reply's calls that ran at the same time
        text.append(batch_mark(row), style=style("step-timeline--batch"))
    if row.child is not None:  # ran a sub-agent of that many steps: z unfolds them
        fold = "▾" if opened else "▸"
        text.append(f"⤷{len(row.child.steps)} {fold} ", style=style("step-timeline--child"))
    text.append(clean(call))
    text.append(" → ", style=dim)
    outcome_style = "" if row.ok else style(f"step-timeline--{kind}")
    text.append(clean(outcome), style=outcome_style)
    if timings:
        text.append(f" {row.elapsed_ms:.0f}ms", style=dim)
    return text


def batch_mark(step: Step) -> str:
    """``┌∥1/3 `` … ``└∥3/3 ``: a step's place in the batch of calls that ran at the same time,
    drawn as a bracket down the batch's rows."""
    batch = step.batch
    if batch is None:
        return ""
    last = batch.index == batch.size - 1
    edge = "┌" if batch.index == 0 else "└" if last else "│"
    return f"{edge}∥{batch.index + 1}/{batch.size} "


def _summaries(step: Step) -> tuple[str, str]:
    """The step's one-line call and outcome, even for arguments nested too deep to walk."""
    try:
        return step.call_text(), step.outcome_text()
    except RecursionError:
        return f"{step.tool}(…)", "(too deeply nested to summarise)"
