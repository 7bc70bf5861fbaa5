"""The edit-in-place keys (e, x, u) as actions of the debugger app.

``e`` edits what the run is stopped at: the arguments of a waiting approval (its own dialog, as
before), or at a pre_prompt / pre_dispatch / post_dispatch stop the prompt, the call or the result,
in the ``StopEditor`` under the tabs; inside a sub-agent too (the editor's title names it, and
the edit lands on the sub-agent's step).  ``x`` skips the call about to run, with a message for the
model; ``u`` drops the edit staged at this stop.  The controller checks and stages every edit;
the screen only shows text and the controller's verdict on it.
"""

from __future__ import annotations

from textual import on

from looplet_tui.app.approval_keys import ApprovalActions
from looplet_tui.live.edits import EditError, EditKind
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.stop_editor import StopEditor
from looplet_tui.widgets.timeline import StepTimeline

__all__ = ["EDIT_ACTIONS", "EditActions"]

EDIT_ACTIONS = frozenset({"edit", "skip_call", "undo_edit"})

_TAB = {EditKind.PROMPT: "prompt", EditKind.CALL: "tool", EditKind.RESULT: "result"}
"""The tab that shows what each kind of edit changes."""


class EditActions(ApprovalActions):
    """Actions that edit the stop the run is at, through the app's controller."""

    @property
    def editor(self) -> StopEditor:
        return self.main.query_one(StopEditor)

    def edit_available(self, action: str) -> bool:
        """Whether ``action`` can do anything now (``check_action``'s answer for it)."""
        ctl = self.controller
        if action == "edit":
            return bool(ctl.approvals) or ctl.editable is not None
        if action == "skip_call":
            editable = ctl.editable
            return editable is not None and editable[0] is EditKind.CALL and not ctl.approvals
        return ctl.staged_edit is not None

    def action_edit(self) -> None:
        if self.controller.approvals:
            self.action_edit_args()
            return
        target = self.controller.edit_target()
        editable = self.controller.editable
        if target is None or editable is None:
            self.notify(
                "Nothing to edit here: stop at a phase first (s steps phase by phase).",
                severity="warning",
            )
            return
        kind, text = target
        self.main.query_one(StepDetails).switch(_TAB[kind])  # the step as it is, above the edit
        self.editor.open(kind.value, editable.step, text, editable.agent)

    def action_skip_call(self) -> None:
        editable = self.controller.editable
        if editable is None or editable[0] is not EditKind.CALL:
            self.notify("Only a call about to run can be skipped (stop at pre_dispatch).")
            return
        self.main.query_one(StepDetails).switch("tool")
        self.editor.open("skip", editable.step, "", editable.agent)

    def action_undo_edit(self) -> None:
        undone = self.controller.undo_edit()
        if undone is None:
            self.notify("No edit is staged at this stop.", severity="warning")
            return
        now = self.controller.staged_edit
        left = f"; staged now: {now.note}" if now is not None else "; the step is as it was"
        self.notify(f"Undone: {undone.note}{left}", markup=False)
        self.editor.show_staged(now.note if now is not None else "")

    @on(StopEditor.Submitted)
    def _stage(self, event: StopEditor.Submitted) -> None:
        try:
            if event.mode == "skip":
                staged = self.controller.skip_call(event.text)
            else:
                staged = self.controller.stage_edit(event.text, scope=event.scope)
        except EditError as exc:
            event.editor.problem(str(exc))
            return
        event.editor.close()
        event.editor.show_staged(staged.note)
        self.main.query_one(StepTimeline).focus()
        self.notify(
            f"Staged: {staged.note}. It applies when the run goes on (n, s, c); u undoes it.",
            markup=False,
        )

    @on(StopEditor.Closed)
    def _editor_closed(self) -> None:
        self.main.query_one(StepTimeline).focus()

    def sync_editor(self) -> None:
        """On every update: an editor for a stop the run has left closes, with its text."""
        editor = self.editor
        editable = self.controller.editable
        if editor.is_open:
            kind = EditKind.CALL.value if editor.mode == "skip" else editor.mode
            shown = (kind, editor.step, editor.agent)
            if editable is None or shown != (editable.kind.value, editable.step, editable.agent):
                editor.close()
                self.notify("The run went on: the unapplied edit was dropped.", severity="warning")
        if editable is None:
            editor.show_staged("")
