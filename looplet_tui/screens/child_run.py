"""``ChildRunScreen``: the steps of a sub-agent, opened from the step that ran it (Enter).

A sub-agent's run comes back on the parent's step as ``looplet_core.ChildRun`` (``Step.child``).
This screen shows it as the debugger shows a run: a breadcrumb naming where you are (the run,
then each sub-agent down to this one), the child's own timeline and the selected step's tabs.
Enter on a child step that ran a sub-agent of its own opens that one on top; escape goes back
up one level.  Reading only: the child has finished when its parent step is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from looplet_core import ChildRun, Step
from looplet_tui.live.runstate import Entry, Live
from looplet_tui.text.safe import clean
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.timeline import StepTimeline

__all__ = ["ChildRunScreen", "ChildSource", "crumb"]


class _NoMarks:
    revision = 0

    def marks(self, tool: str | None) -> bool:
        return False


class ChildSource:
    """A finished child run as a ``TimelineSource``: its steps, no live row, no breakpoints."""

    def __init__(self, child: ChildRun) -> None:
        self.entries: list[Entry] = list(child.steps)
        self.live: Live | None = None
        self.revisions: dict[int, int] = {}
        self.breakpoints = _NoMarks()


def crumb(step: Step) -> str:
    """How a step that ran a sub-agent reads in the breadcrumb: ``#3 researcher``."""
    agent = step.child.agent if step.child is not None else step.tool or "?"
    return f"#{step.number} {agent}"


class ChildRunScreen(Screen[None]):
    """One sub-agent's steps; ``path`` is the breadcrumb above it (the run, then each parent)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the run that started this sub-agent"),
    ]

    DEFAULT_CSS = """
    ChildRunScreen {
        layout: vertical;
        & #child-crumbs { height: 1; padding: 0 1; background: $panel; color: $text; }
        & #child-summary { height: auto; padding: 0 1; color: $text-muted; }
        & #child-task { height: auto; padding: 0 1; }
        & #child-body { height: 1fr; }
        & #child-timeline { width: 2fr; min-width: 30; border-right: solid $panel-lighten-2; }
        & StepDetails { width: 3fr; }
    }
    """

    def __init__(self, step: Step, path: Sequence[str], *, timings: bool = True) -> None:
        super().__init__()
        assert step.child is not None
        self.step = step
        self.child: ChildRun = step.child
        self.path = [*path, crumb(step)]
        self.timings = timings

    @property
    def breadcrumb(self) -> str:
        return " › ".join(self.path)

    def compose(self) -> ComposeResult:
        child = self.child
        yield Static(Text(clean(self.breadcrumb), style="bold"), id="child-crumbs")
        reason = f"{child.stop_reason.value}" + (f": {child.message}" if child.message else "")
        summary = (
            f"sub-agent {child.agent} · {len(child.steps)} steps · "
            f"stopped {reason} · {child.usage.total_tokens} tokens · escape goes back"
        )
        yield Static(Text(clean(summary)), id="child-summary")
        yield Static(Text("task: " + clean(child.task)), id="child-task")
        with Horizontal(id="child-body"):
            timeline = StepTimeline(ChildSource(child), id="child-timeline")
            timeline.timings = self.timings
            timeline.follow = False
            yield timeline
            details = StepDetails(id="child-details")
            details.timings = self.timings
            details.replay = not any(s.prompt is not None for s in child.steps)
            yield details
        yield Footer()

    def on_mount(self) -> None:
        timeline = self.query_one(StepTimeline)
        timeline.sync()
        timeline.action_first()
        timeline.focus()
        self._show(timeline.selected)

    def on_step_timeline_selected(self, message: StepTimeline.Selected) -> None:
        message.stop()
        self._show(message.row)

    def _show(self, row: object) -> None:
        if isinstance(row, Step):
            self.query_one(StepDetails).show_row(row, 0)

    def on_step_timeline_child_requested(self, message: StepTimeline.ChildRequested) -> None:
        message.stop()
        self.app.push_screen(ChildRunScreen(message.step, self.path, timings=self.timings))

    def action_back(self) -> None:
        self.dismiss(None)
