"""``StepView``: the selected row drawn into the detail tabs, the Diff tab and the context gauge.

A mixin of the app, so ``debugger`` stays about layout.  Whatever selects a row (a redraw, the
cursor, a tab coming on screen) ends in ``_show``: a step of the run, the step in progress, a
marker, or a sub-agent's step (``show_nested``, in ``subagent_keys``).  A replayed step's prompt
is read from the trace only when the step is first shown.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

from textual.css.query import NoMatches
from textual.widgets import TabbedContent

from looplet_core import LoopletError, Step
from looplet_core import Message as ModelMessage
from looplet_tui.app.subagent_keys import SubagentActions
from looplet_tui.live.context import stats_for
from looplet_tui.live.runstate import Live, Marker
from looplet_tui.screens.child_run import ChildRunScreen
from looplet_tui.session import ReplaySession, Session
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.gauge import ContextGauge
from looplet_tui.widgets.prompt_diff import PromptDiffPane
from looplet_tui.widgets.timeline import Nested, Row, StepTimeline, inner

__all__ = ["StepView"]


class StepView(SubagentActions):
    """What the panes show for the selected row."""

    session: Session
    timings: bool
    _shown_row: Row | None
    """The row the panes show now: its own selection notice need not draw it again."""
    _live_prompt: tuple[object, tuple[ModelMessage, ...]]
    """The live row's prompt view and its copy for the Diff tab (``_with_prompt``)."""

    def on_step_timeline_selected(self, message: StepTimeline.Selected) -> None:
        if message.row is self._shown_row:
            # The redraw showed it already.  The step in progress is one object the worker keeps
            # updating: by the time this message arrives it has moved on, and drawing it here
            # would draw every redraw twice; the controller's next change notice redraws it.
            return
        if self._main_screen_up:
            with contextlib.suppress(NoMatches):  # closing: a widget is already gone
                self._show(message.row)

    def on_step_timeline_child_requested(self, message: StepTimeline.ChildRequested) -> None:
        """Enter on a step that ran a sub-agent: open the sub-agent's steps on top."""
        message.stop()
        run = message.step.run_id or "run"
        self.push_screen(ChildRunScreen(message.step, [f"run {run}"], timings=self.timings))

    def _show(self, row: Row | None) -> None:
        self._shown_row = row
        if isinstance(row, Nested):  # a sub-agent's step (app/subagent_keys.py)
            self.show_nested(row)
            return
        ctl = self.controller
        if isinstance(row, Step):
            version: object = ctl.revisions.get(row.number, 0)
        elif isinstance(row, Live):
            version = (row.revision, row.phase, row.activity)
        else:
            version = None
        if isinstance(row, Step):
            self._load_prompt(row)
        details = self.main.query_one(StepDetails)
        details.running = not (ctl.pause_point or ctl.approvals or ctl.finished)
        details.show_row(row, version)
        if details.active == "diff":  # a diff walks whole prompts: only when it is on screen
            for diff_pane in self.main.query(PromptDiffPane):
                diff_pane.show_row(inner(self._with_prompt(row)), ctl.step, self._load_prompt)
        gauge = self.main.query_one(ContextGauge)
        samples = ctl.samples
        history = self._history.update(samples)
        if history is not None:
            gauge.history = history
        self._nested_shape = None  # the gauge holds the run's history, not a sub-agent's
        if isinstance(row, Marker):
            return
        step = row.step if isinstance(row, Live) else row
        if step is None:
            gauge.stats = ctl.context()
            gauge.selected = len(samples) - 1 if samples else None
            return
        gauge.stats = (
            step.context if isinstance(row, Live) else stats_for(step, ctl.window, ctl.tool_schemas)
        )
        gauge.selected = next(
            (i for i in range(len(samples) - 1, -1, -1) if samples[i].step == step.number), None
        )

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-diff":
            self._show(self.main.query_one(StepTimeline).selected)

    def _with_prompt(self, row: Row | None) -> Row | None:
        """The live row with its prompt on its step, as the Diff tab reads it (copied once per
        prompt: the live row keeps the loop's view instead, to stay cheap while running)."""
        if not isinstance(row, Live) or row.prompt is None or row.step.prompt is not None:
            return row
        view, copied = self._live_prompt
        if view is not row.prompt:
            self._live_prompt = view, copied = row.prompt, tuple(row.prompt)
        return Live(
            replace(row.step, prompt=copied),
            row.prompt,
            row.phase,
            row.activity,
            row.text,
            row.reasoning,
            row.revision,
        )

    def _load_prompt(self, step: Step) -> None:
        """A replayed step's prompt is read from the trace when it is first shown."""
        session = self.session
        if not isinstance(session, ReplaySession) or session.load_prompt is None:
            return
        if step.prompt is None and step.llm_call is not None:
            try:
                step.prompt = session.load_prompt(step.llm_call.index)
            except (LoopletError, IndexError) as exc:
                self.notify(
                    f"Cannot read the prompt of step {step.number}: {exc}",
                    severity="error",
                    markup=False,
                )
                step.prompt = ()
