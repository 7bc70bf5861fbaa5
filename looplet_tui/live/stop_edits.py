"""``StopEdits``: editing what a stop is about, before the run goes on.

While the run is stopped at pre_prompt, pre_dispatch or post_dispatch, a person may stage an
edit of what that phase is about (``live.edits`` parses and checks it): the prompt, the call,
the result.  The edit is applied when the run goes on, by the hook's return value wrapped in
``Edit``, so the loop applies it with its own rules and records it on the step as a decision of
"debugger", before and after included.  Inside a sub-agent the same: the ``ChildHook`` returns
the edit to the child's loop, and an edited call is checked against the sub-agent's own tool
(``BaseToolRegistry.validate_nested`` on the run's ``tools``).
"""

from __future__ import annotations

from typing import Any

from looplet_core import Deny, Edit, Message, Prompt, Stop
from looplet_tui.live.children import ChildFrame
from looplet_tui.live.edits import (
    EditError,
    EditKind,
    EditPoint,
    Scope,
    StagedEdit,
    Validate,
    call_text,
    parse_call,
    parse_prompt,
    parse_result,
    prompt_text,
    result_text,
    skip,
)
from looplet_tui.live.stepping import Editable, Stepping

__all__ = ["StopEdits"]


class StopEdits(Stepping):
    """Edits at the stop shown (any thread); the stop's thread applies the one handed to it."""

    validate: Validate | None
    """The loop's validator for edited calls (the registry's ``validate``); None accepts any
    arguments (the loop still checks them before the tool runs)."""

    def edit_target(self) -> tuple[EditKind, str] | None:
        """What the run's stop lets a person edit, and the text to start from (the staged edit's
        when there is one); None when the run is not stopped at pre_prompt, pre_dispatch or
        post_dispatch inside this process (an attached run's loop is elsewhere)."""
        with self._lock:
            target = self._stopped_target()
            if target is None:
                return None
            kind, _, original, _ = target
            staged = self._staged[-1] if self._staged else None
            if staged is not None and not isinstance(staged.value, Deny):  # a skip has no call
                return kind, staged.text
        if kind is EditKind.PROMPT:
            return kind, prompt_text(original)
        if kind is EditKind.CALL:
            return kind, call_text(original)
        return kind, result_text(original)

    @property
    def editable(self) -> EditPoint | None:
        """What the stop lets a person edit, at which step of which sub-agent, cheaply (no text
        is built): for key availability, asked on every footer refresh."""
        with self._lock:
            target = self._stopped_target()
        if target is None:
            return None
        kind, step, _, frame = target
        return EditPoint(kind, step, "" if frame is None else frame.path)

    def stage_edit(self, text: str, *, scope: Scope = "request") -> StagedEdit:
        """Check ``text`` (the editor's content) and stage it for when the run goes on.

        Raises ``EditError`` saying what is wrong (invalid JSON, arguments the tool's schema
        rejects, a message list that breaks tool-call pairing); nothing is staged then.
        ``scope`` is for a prompt: this request only, or the history from here on.
        """
        with self._lock:
            target = self._stopped_target()
        if target is None:
            raise EditError(
                "Nothing to edit here: stop at pre_prompt, pre_dispatch or post_dispatch "
                "first (s steps phase by phase)."
            )
        kind, step, original, frame = target
        if kind is EditKind.PROMPT:
            edit = parse_prompt(text, original, step, scope)
        elif kind is EditKind.CALL:
            edit = parse_call(text, original, step, self._validator(frame))
        else:
            edit = parse_result(text, original, step)
        return self._stage(edit)

    def skip_call(self, message: str) -> StagedEdit:
        """At pre_dispatch: do not run the call; the model reads ``message`` as its result."""
        with self._lock:
            target = self._stopped_target()
        if target is None or target[0] is not EditKind.CALL:
            raise EditError("Only a call about to run can be skipped: stop at pre_dispatch.")
        return self._stage(skip(message, target[2], target[1]))

    def undo_edit(self) -> StagedEdit | None:
        """Drop the newest staged edit (the one before it applies again); None if none was."""
        with self._lock:
            undone = self._staged.pop() if self._staged else None
        self._changed()
        return undone

    @property
    def staged_edit(self) -> StagedEdit | None:
        """The edit that will be applied when the run goes on."""
        with self._lock:
            return self._staged[-1] if self._staged else None

    def _stage(self, edit: StagedEdit) -> StagedEdit:
        with self._lock:
            if self._stopped_target() is None:  # the run went on while the edit was checked
                raise EditError("The run went on before the edit was made; nothing changed.")
            self._staged.append(edit)
        self._changed()
        return edit

    def _stopped_target(self) -> Editable | None:
        """Under the lock: the editable thing, if the run is stopped at its phase."""
        point, target = self.pause_point, self._editable
        if point is None or target is None or self.cancel_token.cancelled:
            return None
        return target

    def _validator(self, frame: ChildFrame | None) -> Validate | None:
        """The check of an edited call at a stop in ``frame``: the run's tools, or the
        sub-agent's, found from the run's registry by the sub-agents' names."""
        if frame is None:
            return self.validate
        tools = self.tools
        if tools is None:
            return None
        path = frame.names
        return lambda tc: tools.validate_nested(path, tc)

    def _prompt_edit(self, state: Any, ctx: Prompt, edit: StagedEdit | None) -> Stop | Edit | None:
        """What a pre_prompt (the run's or a sub-agent's) returns after its stop."""
        if self.cancel_token.cancelled:  # the model must not be called after the user quit
            return Stop(self.cancel_token.reason)
        if edit is None:
            return None
        messages: list[Message] = edit.value
        if edit.scope == "history":  # on the loop's thread, between two phases: safe
            state.conversation.replace(messages)
        return edit.as_edit(ctx.with_messages(messages))
