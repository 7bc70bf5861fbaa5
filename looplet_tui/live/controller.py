"""``DebugController``: the debugger's brain, an ordinary looplet_core hook with no UI in it.

The loop runs on a worker thread.  The controller sits in its hook list (last, so it sees what the
other hooks decided) and, at each phase (pre_prompt, pre_dispatch, post_dispatch, check_done),
decides whether to stop there: because the user is stepping, asked to pause, or a breakpoint
matched.  Stopping means blocking the worker thread on a condition variable until the UI says go,
polling the run's ``CancelToken`` so that quitting never hangs.  Approvals block the same way.

While it is stopped at pre_prompt, pre_dispatch or post_dispatch, a person may stage an edit of
what that phase is about (``live.edits``): the prompt, the call, the result.  The edit is applied
when the run goes on, by this hook's return value wrapped in ``Edit``, so the loop applies it with
its own rules and records it on the step as a decision of "debugger", before and after included.
Inside a sub-agent the same: the ``ChildHook`` returns the edit to the child's loop, so it is
recorded on the child's step, and an edited call is checked against the sub-agent's own tool
(``BaseToolRegistry.validate_nested`` on the run's ``tools``).

Sub-agents: its ``child_hooks`` (a looplet_core hook method) puts a ``ChildHook`` in every child
loop the run starts (``live.children``), so a stop can be inside a child.  Stepping keeps to a
depth: ``n`` and ``s`` stop at the depth of the stop they start from or above (so at the run's
level they step over a whole sub-agent), ``i`` (step into) stops at the next phase at any depth,
``o`` (step out) at the next phase above the current sub-agent, which is the post_dispatch of the
parent step that ran it.  Breakpoints, ``p`` and approvals stop at any depth.

What it knows about the run (steps, the live step, context use, approvals waiting) and how the
UI is told about changes is ``RunHistory``, which it extends.  Nothing here imports Textual, so
all of it is unit tested by driving hooks from plain threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from looplet_core import (
    ApprovalRequest,
    BaseToolRegistry,
    CancelToken,
    ContextStats,
    Deny,
    Edit,
    Event,
    EventKind,
    HookDecision,
    LoopResult,
    Message,
    Prompt,
    Step,
    StepStatus,
    Stop,
    ToolCall,
    ToolResult,
)
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase, Probe
from looplet_tui.live.children import ChildFrame, ChildHook
from looplet_tui.live.context import estimate
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
from looplet_tui.live.history import RunHistory
from looplet_tui.live.runstate import Live, PausePoint, RunState
from looplet_tui.live.turns import Turns

__all__ = ["DebugController"]

_ANY_DEPTH = 1 << 30
"""The stepping depth of ``i``: deeper than any run nests."""

_Editable = tuple[EditKind, int, Any, ChildFrame | None]
"""What a stop lets a person edit: the kind, the step, the value as the loop has it, and the
sub-agent's frame (None for the run itself)."""


class _Mode(StrEnum):
    STEP = "step"  # stop after the next step is recorded (check_done)
    PHASE = "phase"  # stop at the next phase, whatever it is
    CONTINUE = "continue"  # stop only at breakpoints and approvals
    PAUSE = "pause"  # stop at the next phase: the user pressed p, or the run starts paused


class DebugController(RunHistory):
    """Pauses, steps and breakpoints for one run, plus what the UI shows about it.

    Hand it to the loop as the last hook; call ``request_approval`` from the thread that iterates
    the loop when a step waits for approval, and ``finish`` / ``fail`` when the loop ends.  The
    UI-side commands (``next_step``, ``next_phase``, ``resume``, ``pause``, ``cancel``,
    ``approve``, ``deny``) may be called from any thread.

    ``window`` is the context window in tokens (for percentages when the loop reports none);
    ``clock`` is injectable so screenshots and tests show a fixed elapsed time.
    """

    name = "debugger"

    def __init__(
        self,
        *,
        start_paused: bool = True,
        cancel: CancelToken | None = None,
        breakpoints: BreakpointSet | None = None,
        window: int | None = None,
        tool_schemas: Sequence[Any] = (),
        validate: Validate | None = None,
        tools: BaseToolRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll: float = 0.05,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(window=window, tool_schemas=tool_schemas, clock=clock, on_change=on_change)
        self.cancel_token = cancel or CancelToken()
        self.breakpoints = breakpoints if breakpoints is not None else BreakpointSet()
        self.poll = poll
        self._mode = _Mode.PAUSE if start_paused else _Mode.CONTINUE
        self._released = False
        self._arrived = False
        self._prompt_decisions: list[HookDecision] = []
        """``pre_prompt`` decisions of earlier hooks, for the live step: the loop only puts
        them on the step when it is recorded, after the run may have paused inside it."""
        self.validate = validate
        """The loop's validator for edited calls (the registry's ``validate``); None accepts any
        arguments (the loop still checks them before the tool runs)."""
        self.tools = tools
        """The run's tools: an edited call inside a sub-agent is checked against the
        sub-agent's tool (``validate_nested``), and a call of a sub-agent that starts in a
        batch holds later stops until its loop is seen (``_arrive``)."""
        self._editable: _Editable | None = None
        """What the stop lets a person edit: set when the run stops there, for that stop only
        (sub-agents side by side each reach phases; only the stop shown is editable)."""
        self._staged: list[StagedEdit] = []
        """Edits staged at the current stop, newest last: the newest is applied, undo pops."""
        self.frames: list[ChildFrame] = []
        """The sub-agents' loops running now, in the order they started (a child's own child
        after it).  Replaced, never changed in place, so the UI can hold the list it read."""
        self._target = 0
        """The deepest sub-agent level at which ``n`` and ``s`` stop (0: the run itself)."""
        self._depth = 0
        """How deep the stop shown is, or the run was at its last phase point (0: in the run,
        1: in a sub-agent)."""
        self._stop: object | None = None
        """The ticket of the stop shown now: its thread waits until ``_go`` takes it away."""
        self._handed: dict[object, StagedEdit | None] = {}
        """The edit staged at a stop the run has left, for that stop's thread to apply."""
        self._turns = Turns()
        """Sub-agents side by side: whose stop comes first (``live.turns``)."""

    # -- commands (any thread) --------------------------------------------------------------------

    def next_step(self) -> None:
        """``n``: run until the next step has been recorded, at this depth or above: a
        sub-agent's steps do not count (it is stepped over), unless the stop is inside it."""
        self._go(_Mode.STEP)

    def next_phase(self) -> None:
        """``s``: run until the next phase, at this depth or above."""
        self._go(_Mode.PHASE)

    def step_into(self) -> None:
        """``i``: run until the next phase at any depth: at a sub-agent call's pre_dispatch,
        that is the sub-agent's first step (its pre_prompt); elsewhere it is ``s``."""
        self._go(_Mode.PHASE, _ANY_DEPTH)

    def step_out(self) -> bool:
        """``o``: inside a sub-agent, run until it has ended and stop at the parent step that
        ran it (its post_dispatch).  False, and nothing happens, at the run's own level."""
        with self._lock:
            depth = self._depth
        if depth == 0:
            return False
        self._go(_Mode.PHASE, depth - 1)
        return True

    @property
    def depth(self) -> int:
        """How deep the run is (or was at its last phase point): 0 in the run itself."""
        with self._lock:
            return self._depth

    def resume(self) -> None:
        """``c``: run until a breakpoint, an approval, or the end."""
        self._go(_Mode.CONTINUE)

    def pause(self) -> None:
        """``p``: stop at the next phase reached (a busy model or tool finishes first)."""
        with self._lock:
            self._mode = _Mode.PAUSE
        self._changed()

    def cancel(self, reason: str = "cancelled in the debugger") -> None:
        """``q``: cancel the run and wake the worker wherever it waits; never blocks."""
        self.cancel_token.cancel(reason)
        with self._lock:
            self._cond.notify_all()
        self._changed()

    def _go(self, mode: _Mode, target: int | None = None) -> None:
        with self._lock:
            self._mode = mode
            self._target = self._depth if target is None else target
            if self.pause_point is not None:  # running again from this instant, not on wake-up
                self.pause_point = None
                self.run_state = RunState.RUNNING
            if self._stop is not None:  # its thread takes the edit (another stop may be next)
                self._handed[self._stop] = self._staged[-1] if self._staged else None
                self._stop = None
                self._editable, self._staged = None, []
            self._released = True
            self._cond.notify_all()
        self._changed()

    def approve(
        self,
        request: ApprovalRequest | None = None,
        *,
        args: dict[str, Any] | None = None,
        always: bool = False,
    ) -> None:
        """Approve ``request`` (default: the first waiting), optionally with edited ``args``.

        Invalid ``args`` raise ``ApprovalError`` and leave the request waiting, so the editor can
        show the problem and let the user fix it.
        """
        target = self._waiting(request)
        target.approve(args, by="debugger", scope="always" if always else "once")
        self._decided()

    def deny(
        self, request: ApprovalRequest | None = None, message: str = "", *, always: bool = False
    ) -> None:
        """Deny ``request`` (default: the first waiting); ``message`` is what the model is told."""
        target = self._waiting(request)
        target.deny(message, by="debugger", scope="always" if always else "once")
        self._decided()

    def _waiting(self, request: ApprovalRequest | None) -> ApprovalRequest:
        with self._lock:
            if request is None:
                if not self.approvals:
                    raise LookupError("no approval is waiting")
                return self.approvals[0]
            return request

    def _decided(self) -> None:
        with self._lock:
            self._cond.notify_all()

    # -- edits at a stop (any thread) -------------------------------------------------------------

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

    def _stopped_target(self) -> _Editable | None:
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

    # -- the hook ---------------------------------------------------------------------------------

    def pre_prompt(self, state: Any, log: Any, ctx: Prompt, step: int) -> Stop | Edit | None:
        self._attach(state)
        if not self.tool_schemas:
            self.tool_schemas = list(ctx.tools)
        stats = self._prompt_stats(ctx)
        prompt = ctx.messages  # the loop's immutable view: kept, not copied
        with self._lock:
            self._last_prompt, self._last_context = prompt, stats
            decisions, self._prompt_decisions = self._prompt_decisions, []
            self.live = Live(
                Step(number=step, context=stats, decisions=decisions),
                prompt,
                Phase.PRE_PROMPT,
                "about to call the model",
            )
            self._sample(step, stats)
        if self._passes(Phase.PRE_PROMPT):
            return None
        probe = Probe(Phase.PRE_PROMPT, step, context_percent=self._last_percent)
        edit = self._arrive(probe, editable=(EditKind.PROMPT, step, prompt, None))
        return self._prompt_edit(state, ctx, edit)

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

    def _prompt_stats(self, ctx: Prompt) -> ContextStats | None:
        """The prompt's context use: the loop's figures, else an estimate; against ``window``
        when the loop knows no window."""
        stats = ctx.stats
        if stats is None and ctx.messages:
            stats = estimate(ctx.messages, ctx.tools, self.window)
        if stats is not None and stats.window is None and self.window is not None:
            stats = ContextStats(
                stats.by_role, stats.total, self.window, stats.measured, stats.tier
            )
        return stats

    def on_event(self, event: Event) -> None:
        """The history's events, and the ``pre_prompt`` hook decisions (a compaction, a rewrite)
        made before this hook's own ``pre_prompt``: the live step keeps them, so its prompt
        diff can name who changed the prompt while the run is paused inside the step."""
        super().on_event(event)
        self._calls(None, event)
        if event.kind is EventKind.DECISION and event.data.get("phase") == "pre_prompt":
            with self._lock:
                self._prompt_decisions.append(HookDecision.from_dict(event.data))

    def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> Edit | None:
        self._attach(state)
        live = self.live
        provisional = Step(
            number=step,
            tool_call=tc,
            context=self._last_context,
            llm_call=getattr(state, "current_call", None),
            decisions=list(live.step.decisions) if live and live.step.number == step else [],
        )
        self._set_live(provisional, Phase.PRE_DISPATCH, f"about to run {tc.tool}")
        if self._passes(Phase.PRE_DISPATCH):
            return None
        probe = Probe(
            Phase.PRE_DISPATCH, step, tc.tool, tc.args, context_percent=self._last_percent
        )
        # After a cancel the loop's registry refuses to start the tool (a "cancelled" result).
        edit = self._arrive(probe, editable=(EditKind.CALL, step, tc, None))
        return None if edit is None else edit.as_edit()

    def post_dispatch(
        self, state: Any, log: Any, tc: ToolCall, result: ToolResult, step: int
    ) -> Edit | None:
        self._drop_frames(step)  # a sub-agent that ended without a word (its loop raised)
        with self._lock:
            live = self.live
            if live is not None:
                live.step.tool_result = result
                live.phase, live.activity = Phase.POST_DISPATCH, f"{tc.tool} returned"
                live.revision += 1
        self._changed()
        if self._passes(Phase.POST_DISPATCH):
            return None
        probe = Probe(
            Phase.POST_DISPATCH,
            step,
            tc.tool,
            tc.args,
            failed=not result.ok,
            context_percent=self._last_percent,
        )
        edit = self._arrive(probe, editable=(EditKind.RESULT, step, result, None))
        return None if edit is None else edit.as_edit()

    def check_done(self, state: Any, log: Sequence[Step], step: int) -> None:
        recorded = log[-1] if log and log[-1].number == step else None
        if recorded is None:
            return
        self.record(recorded)
        if self._passes(Phase.CHECK_DONE):
            return
        failed = recorded.status is StepStatus.ERROR
        args = recorded.tool_call.args if recorded.tool_call else None
        self._arrive(
            Probe(
                Phase.CHECK_DONE,
                step,
                recorded.tool,
                args,
                failed=failed,
                context_percent=self._last_percent,
            )
        )

    # -- the hook inside sub-agents (their threads; see live.children) ----------------------------

    def child_hooks(self, agent: str, step: int) -> list[object]:
        """looplet_core asks this when a call of step ``step`` starts the sub-agent ``agent``'s
        loop: the debugger follows that loop with a ``ChildHook``."""
        return [self.child_started(agent, step)]

    def child_started(self, agent: str, step: int, parent: ChildFrame | None = None) -> ChildHook:
        frame = ChildFrame(agent, step, parent)
        with self._lock:
            self.frames = [*self.frames, frame]
            self._turns.started(parent, step)
        self._changed()
        return ChildHook(self, frame)

    def child_ended(self, frame: ChildFrame) -> None:
        """The sub-agent's loop ended: its steps go on as the parent step's ``child``."""
        with self._lock:
            if frame not in self.frames:
                return
            self.frames = [f for f in self.frames if f is not frame]
            self._cond.notify_all()  # a stop waiting for this sub-agent may be next
        self._changed()

    def _drop_frames(self, step: int) -> None:
        """The run's step ``step`` is past its call: no sub-agent of it runs any more."""
        if not self.frames:  # (replaced, never changed in place: an unlocked look is safe)
            return
        with self._lock:
            if not any(f.parent is None and f.parent_step == step for f in self.frames):
                return
            gone = {id(f) for f in self.frames if f.parent is None and f.parent_step == step}
            kept: list[ChildFrame] = []
            for frame in self.frames:  # a child's own children go with it (they start later)
                if id(frame) in gone or (frame.parent is not None and id(frame.parent) in gone):
                    gone.add(id(frame))
                else:
                    kept.append(frame)
            self.frames = kept
            self._cond.notify_all()
        self._changed()

    def child_pre_prompt(
        self, frame: ChildFrame, state: Any, ctx: Prompt, step: int
    ) -> Stop | Edit | None:
        stats = self._prompt_stats(ctx)
        with self._lock:
            frame.context = stats
            if not frame.tool_schemas:
                frame.tool_schemas = list(ctx.tools)
            frame.live = Live(
                Step(number=step, context=stats),
                ctx.messages,
                Phase.PRE_PROMPT,
                "about to call the model",
            )
            frame.revision += 1
        percent = stats.percent if stats is not None else None
        probe = Probe(Phase.PRE_PROMPT, step, context_percent=percent)
        edit = self._arrive(probe, frame, (EditKind.PROMPT, step, ctx.messages, frame))
        return self._prompt_edit(state, ctx, edit)

    def child_pre_dispatch(
        self, frame: ChildFrame, state: Any, tc: ToolCall, step: int
    ) -> Edit | None:
        with self._lock:
            old = frame.live
            live = Live(
                Step(
                    number=step,
                    tool_call=tc,
                    context=frame.context,
                    llm_call=getattr(state, "current_call", None),
                ),
                old.prompt if old is not None else None,
                Phase.PRE_DISPATCH,
                f"about to run {tc.tool}",
            )
            if old is not None and old.step.number == step:  # keep what streamed in
                live.text, live.reasoning = old.text, old.reasoning
            frame.live = live
            frame.revision += 1
        percent = frame.context.percent if frame.context is not None else None
        probe = Probe(Phase.PRE_DISPATCH, step, tc.tool, tc.args, context_percent=percent)
        edit = self._arrive(probe, frame, (EditKind.CALL, step, tc, frame))
        return None if edit is None else edit.as_edit()

    def child_post_dispatch(
        self, frame: ChildFrame, tc: ToolCall, result: ToolResult, step: int
    ) -> Edit | None:
        with self._lock:
            if frame.live is not None:
                frame.live.step.tool_result = result
                frame.live.activity = f"{tc.tool} returned"
                frame.live.revision += 1
            frame.revision += 1
        percent = frame.context.percent if frame.context is not None else None
        probe = Probe(
            Phase.POST_DISPATCH,
            step,
            tc.tool,
            tc.args,
            failed=not result.ok,
            context_percent=percent,
        )
        edit = self._arrive(probe, frame, (EditKind.RESULT, step, result, frame))
        return None if edit is None else edit.as_edit()

    def child_step(self, frame: ChildFrame, step: Step) -> None:
        with self._lock:
            if frame.steps and frame.steps[-1].number == step.number:
                frame.steps[-1] = step
            else:
                frame.steps.append(step)
            frame.live = None
            frame.revision += 1
        percent = frame.context.percent if frame.context is not None else None
        args = step.tool_call.args if step.tool_call else None
        failed = step.status is StepStatus.ERROR
        probe = Probe(
            Phase.CHECK_DONE, step.number, step.tool, args, failed=failed, context_percent=percent
        )
        self._arrive(probe, frame)

    def child_event(self, frame: ChildFrame, event: Event) -> None:
        """What the child's live row says it does (model, tool, streamed text), and its end."""
        kind, data = event.kind, event.data
        if kind is EventKind.RUN_END:
            self.child_ended(frame)
            return
        self._calls(frame, event)
        with self._lock:
            live = frame.live
            if live is None:
                return
            if kind is EventKind.LLM_START:
                live.activity = "calling the model"
                live.text = live.reasoning = ""
            elif kind is EventKind.LLM_DELTA:
                if data.get("kind") == "reasoning":
                    live.reasoning += str(data.get("text", ""))
                else:
                    live.text += str(data.get("text", ""))
            elif kind is EventKind.TOOL_START:
                live.activity = f"running {data.get('tool')}"
            elif kind is EventKind.TOOL_PROGRESS:
                live.activity = f"running {data.get('tool')} {data.get('message', '')}"
            else:
                return
            live.revision += 1
            frame.revision += 1
        self._changed()

    def finish(self, result: LoopResult | None) -> None:
        with self._lock:
            self.frames = []
        super().finish(result)

    def fail(self, error: BaseException | str) -> None:
        with self._lock:
            self.frames = []
        super().fail(error)

    # -- the thread that iterates the loop --------------------------------------------------------

    def request_approval(self, step: Step, *, settled: Callable[[], bool] | None = None) -> None:
        """Block the loop's thread until the UI decides ``step.approval`` or the run is cancelled.

        A cancel leaves the request undecided: the loop then ends with ``awaiting_approval`` and
        the request stays in the run's state (and checkpoint), so a resume can still decide it.
        ``settled`` (an attached run) is asked every poll whether someone else answered it; then
        the card goes away undecided here.
        """
        request = step.approval
        if request is None or request.decided:
            return
        self.record(step)
        with self._lock:
            self.approvals.append(request)
            self.run_state = RunState.AWAITING_APPROVAL
            self.live = None
        self._changed()
        with self._lock:
            while not request.decided and not self.cancel_token.cancelled:
                self._cond.wait(self.poll)
                if settled is not None and not request.decided:
                    self._cond.release()  # the check may query a database: not under the lock
                    try:
                        done = settled()
                    finally:
                        self._cond.acquire()
                    if done:
                        break
            self.approvals.remove(request)
            if not self.approvals:
                self.run_state = RunState.RUNNING
            self._bump(step.number)
        self._changed()

    @property
    def pause_requested(self) -> bool:
        """Whether ``p`` (or starting paused) asked for a stop at the next phase."""
        with self._lock:
            return self._mode is _Mode.PAUSE

    @property
    def step_requested(self) -> bool:
        """Whether the run was last let go with ``n`` or ``s`` (a step), not ``c``."""
        with self._lock:
            return self._mode in (_Mode.STEP, _Mode.PHASE)

    def hold(self, step: int, reason: str, *, settled: Callable[[], bool] | None = None) -> bool:
        """Block the calling thread, shown paused before ``step``'s call, until the UI lets the
        run go (``c``, ``n``, ``s``) or cancels: an attached run paused where it runs.
        ``settled`` is asked every poll whether the run went on anyway (continued elsewhere).
        Returns whether the UI let it go."""
        with self._lock:
            self.run_state = RunState.PAUSED
            self.pause_point = PausePoint(Phase.PRE_DISPATCH, step, reason)
            self._released = False
            self.live = None
        self._changed()
        with self._lock:
            while not self._released and not self.cancel_token.cancelled:
                self._cond.wait(self.poll)
                if settled is not None and not self._released:
                    self._cond.release()  # the check may query a database: not under the lock
                    try:
                        done = settled()
                    finally:
                        self._cond.acquire()
                    if done:
                        break
            released = self._released
            self.pause_point = None
            if not self.cancel_token.cancelled:
                self.run_state = RunState.RUNNING
        self._changed()
        return released

    # -- internals --------------------------------------------------------------------------------

    def _stop_reason(self, probe: Probe, hit: Breakpoint | None, depth: int = 0) -> str | None:
        if hit is not None:
            return f"breakpoint {hit.id}: {hit.describe()}"
        if self._mode is _Mode.PAUSE:
            return "paused" if self._arrived else "start"
        if depth > self._target:  # inside a sub-agent that n or s steps over
            return None
        if self._mode is _Mode.PHASE:
            return "stepped into" if depth > self._depth else "phase"
        if self._mode is _Mode.STEP and probe.phase is Phase.CHECK_DONE:
            return "step"
        return None

    def _passes(self, phase: Phase) -> bool:
        """Pass one of the run's own phase points (not a sub-agent's) at once, as ``_arrive``
        would, when nothing can stop it there: no breakpoint, no stop shown, not cancelled,
        and ``c`` (or ``n`` short of the step's end).  True when it was passed.

        A run going flat out passes four a step: this way it builds no ``Probe`` and takes no
        lock for them.  The unlocked reads are safe (single attribute reads); a key pressed
        meanwhile is seen at the next phase point, as it would be a moment later anyway."""
        mode = self._mode
        if not (
            (mode is _Mode.CONTINUE or (mode is _Mode.STEP and phase is not Phase.CHECK_DONE))
            and self.pause_point is None
            and not self.breakpoints
            and not self.cancel_token.cancelled
        ):
            return False
        live = self.live
        if live is not None and phase is not Phase.CHECK_DONE:
            live.phase = phase
        self._depth = 0
        self._arrived = True
        self._changed()
        return True

    def _arrive(
        self, probe: Probe, frame: ChildFrame | None = None, editable: _Editable | None = None
    ) -> StagedEdit | None:
        """A phase point (inside ``frame``'s sub-agent, if given): stop here if stepping,
        pausing or a breakpoint says so.  While stopped, ``editable`` may be edited: the edit
        staged when the run goes on is returned (None after a cancel).

        One stop is shown at a time.  Sub-agents of one batch run side by side, so two may want
        to stop at once: the stop shown is the one first in the model's order
        (``ChildFrame.order``), and a later sub-agent's stop waits its turn (``waiting``) while
        an earlier one is stopped, running or about to start; when its turn comes it is asked
        again, under the keys pressed since, whether it stops at all."""
        if self.cancel_token.cancelled:
            return None
        hit = self.breakpoints.check(probe)
        depth = 0 if frame is None else frame.depth
        stop: object | None = None
        queued = False
        with self._lock:
            live = self.live if frame is None else frame.live
            if live is not None and probe.phase is not Phase.CHECK_DONE:
                live.phase = probe.phase
            while not self.cancel_token.cancelled:
                reason = self._stop_reason(probe, hit, depth)
                if reason is None:
                    if self.pause_point is None:  # (a stop shown keeps its own depth)
                        self._depth = depth
                    break
                if self.pause_point is None and not self._turns.ahead(frame, self.frames):
                    stop = self._show_stop(probe, hit, reason, frame, editable)
                    break
                if not queued and frame is not None:
                    queued = True
                    self._queue(frame, True)
                self._cond.wait(self.poll)
            if queued and frame is not None:
                self._queue(frame, False)
            self._arrived = True
        self._changed()
        if stop is None:
            return None
        with self._lock:
            while self._stop is stop and not self.cancel_token.cancelled:
                self._cond.wait(self.poll)
            if self._stop is stop:  # cancelled while shown
                self._stop, self.pause_point = None, None
                self._editable, self._staged = None, []
            edit = self._handed.pop(stop, None)
        self._changed()
        return None if self.cancel_token.cancelled else edit

    def _show_stop(
        self,
        probe: Probe,
        hit: Breakpoint | None,
        reason: str,
        frame: ChildFrame | None,
        editable: _Editable | None,
    ) -> object:
        """Under the lock: make this phase point the stop shown; its ticket."""
        depth = 0 if frame is None else frame.depth
        self._depth = depth
        self.run_state = RunState.PAUSED
        self.pause_point = PausePoint(
            probe.phase,
            probe.step,
            reason,
            hit.id if hit else None,
            "" if frame is None else frame.path,
            depth,
        )
        self._released = False
        self._editable, self._staged = editable, []
        self._stop = object()
        return self._stop

    def _calls(self, frame: ChildFrame | None, event: Event) -> None:
        """A call starting or ending (in the run, or in ``frame``): see ``Turns``."""
        kind = event.kind
        if kind is EventKind.TOOL_END and not self._turns.starting:
            return  # no sub-agent call is starting: nothing to end
        if kind is EventKind.TOOL_START or kind is EventKind.TOOL_END:
            with self._lock:
                if self._turns.call_event(frame, event, self.tools):
                    self._cond.notify_all()

    def _queue(self, frame: ChildFrame, waits: bool) -> None:
        """Under the lock: ``frame``'s stop starts or stops waiting its turn; the header says
        which sub-agents wait (``waiting``)."""
        self.waiting = self._turns.wait(frame, waits)
        self._cond.release()  # the UI is told outside the lock, as everywhere
        try:
            self._changed()
        finally:
            self._cond.acquire()
