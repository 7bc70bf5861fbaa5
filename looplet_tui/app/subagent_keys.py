"""The sub-agent keys (i, o) as actions of the debugger app, and how a sub-agent's row is shown.

``i`` steps into the sub-agent about to run (the controller stops at its first step), ``o``
steps out of the one the run is stopped in (to the post_dispatch of the parent step that ran it).
``z`` (fold and unfold a sub-agent's rows) is the timeline's own key.  A nested row (a
sub-agent's step, running or finished) shows in the tabs as any step does, and the context gauge
then shows the sub-agent's own window: its prompt, not the parent's.
"""

from __future__ import annotations

from looplet_tui.app.base import DebuggerBase
from looplet_tui.live.breakpoints import Phase
from looplet_tui.live.context import stats_for
from looplet_tui.live.history import SampleTotals
from looplet_tui.live.runstate import Live
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.gauge import ContextGauge
from looplet_tui.widgets.timeline import Nested

__all__ = ["SUBAGENT_ACTIONS", "SubagentActions"]

SUBAGENT_ACTIONS = frozenset({"step_into", "step_out"})


class SubagentActions(DebuggerBase):
    """Stepping into and out of sub-agents, through the app's controller."""

    _nested_shape: tuple[int, object] | None
    """What the gauge's sub-agent history was drawn from, so it is drawn again only then (the
    app sets it to None whenever it draws the run's own history)."""
    _history: SampleTotals
    """The app's run history for the gauge: reset here, so a run row draws it again."""

    def subagent_available(self, action: str) -> bool:
        """Whether ``action`` can do anything now (``check_action``'s answer for it)."""
        ctl = self.controller
        if ctl.finished:
            return False
        if action == "step_into":  # before a call: the footer offers it only there
            point = ctl.pause_point
            return point is not None and point.phase is Phase.PRE_DISPATCH
        return ctl.depth > 0

    def action_step_into(self) -> None:
        if self.controller.finished:
            self.notify("The run has ended.", severity="warning")
            return
        self.controller.step_into()

    def action_step_out(self) -> None:
        if not self.controller.step_out():
            self.notify(
                "The run is not inside a sub-agent: i at a sub-agent's call steps into it.",
                severity="warning",
            )

    def show_nested(self, row: Nested) -> None:
        """A sub-agent's step in the tabs, and the sub-agent's own context in the gauge."""
        shown = row.row
        details = self.main.query_one(StepDetails)
        ctl = self.controller
        details.running = not (ctl.pause_point or ctl.approvals or ctl.finished)
        if isinstance(shown, Live):
            version: object = (shown.revision, shown.phase, shown.activity)
            stats = shown.step.context
            number = shown.step.number
        else:
            version = ("nested", id(shown))
            stats = stats_for(shown, ctl.window)
            number = shown.number
        details.show_row(shown, version)
        gauge = self.main.query_one(ContextGauge)
        gauge.stats = stats
        frame = next((f for f in reversed(ctl.frames) if f.path == row.agent), None)
        if frame is None:  # a finished sub-agent: no history of its own to draw
            shape: tuple[int, object] | None = (0, row.agent)
            if shape != self._nested_shape:
                gauge.history = ()
        else:
            live = frame.live
            shape = (len(frame.steps), (id(frame), live.step.number if live else None))
            if shape != self._nested_shape:  # a sample more: the history is drawn again
                contexts = [s.context for s in frame.steps]
                if live is not None:
                    contexts.append(live.step.context)
                gauge.history = tuple(c.total if c else None for c in contexts)
        self._nested_shape = shape
        self._history.reset()  # the run's history is drawn again on a row of the run
        if frame is None:
            gauge.selected = None
        elif frame.steps and frame.steps[-1].number >= number:
            gauge.selected = next(
                i for i in range(len(frame.steps) - 1, -1, -1) if frame.steps[i].number <= number
            )
        else:
            gauge.selected = len(frame.steps)  # the live step: the history's last sample
