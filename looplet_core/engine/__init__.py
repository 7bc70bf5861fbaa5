"""The loop's logic, written once for both the sync and the async loop.

``Engine.run()`` is a generator that never does I/O itself: it yields *effects* (``CallModel``,
``RunTool``, ``Sleep``) for a driver to carry out and send back, and ``Step``s for the driver to
hand to the caller.  ``loop.py`` has the two drivers (a plain generator and an async generator),
each a few lines, so the sync and async loops cannot drift apart.

Per step the engine does constant work apart from what the model is sent: the conversation is
appended to, never re-scanned, and the backend receives an O(1) view of it.

The engine is split by phase, each module building on the one before: ``core`` (state, events,
recording) → ``prompting`` (asking the model) and ``execution`` → ``approvals`` → ``dispatch``.

May import: ``state`` and everything below it (``tools``, ``context``, ``approvals``, ``backends``
and the loop's data); never ``loop``, ``durable``, ``provenance`` or ``runs``, which build on it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from looplet_core.engine.dispatch import Dispatch
from looplet_core.engine.effects import CallModel, Effect, EngineGen, Finish, RunTool, Sleep
from looplet_core.engine.prompting import Prompting
from looplet_core.engine.taskprompt import initial_messages
from looplet_core.errors import HookError
from looplet_core.events import EventKind
from looplet_core.jsonsafe import jsonable
from looplet_core.records import ErrorKind, HookDecision, StopReason, ToolResult
from looplet_core.step import LoopResult, StepStatus

__all__ = ["CallModel", "Effect", "Engine", "RunTool", "Sleep"]


class Engine(Prompting, Dispatch):
    """One run of the loop.  Create it, drive ``run()``, read ``state.result`` afterwards."""

    def run(self) -> Generator[Effect, Any, LoopResult]:
        st = self.state
        if st.finished and st.result is not None:
            return st.result
        resumed = len(st.conversation) > 0
        if not resumed:
            st.conversation.extend(
                initial_messages(self.task, self.config, self.schemas if self.json_mode else None)
            )
        st.result = None
        self.emit(
            EventKind.RUN_START, task=jsonable(self.task), resumed=resumed, max_steps=self.limit
        )
        self._start_clock()
        try:
            yield from self._main()
            raise AssertionError("unreachable: the main loop only ends by Finish")
        except Finish as finish:
            return self._finalize(finish)

    def _main(self) -> EngineGen:
        st = self.state
        while True:
            self._check_interrupts()
            if self._run_ends is not None:
                yield from self._check_run_deadline()
            if st.pending_approval is not None:
                yield from self._guarded(self._resume_approval(st.pending_approval))
                continue
            if not st.queue:
                self._flush_injections()
                if st.step_number >= self.limit:
                    raise Finish(StopReason.MAX_STEPS, f"step budget of {self.limit} spent")
                yield from self._guarded(self._ask_model())
                continue
            if st.step_number >= self.limit:
                raise Finish(StopReason.MAX_STEPS, f"step budget of {self.limit} spent")
            yield from self._guarded(self._dispatch(st.queue.pop(0)))
            if not st.queue:  # a reply's calls all told: is the model going round in circles?
                self._stop_if_stuck()

    def _guarded(self, gen: EngineGen) -> EngineGen:
        """Run a phase; a hook that raises becomes an error step naming it, then a clean stop."""
        self._current = None
        try:
            yield from gen
        except HookError as err:
            step = self._current or self._new_step(None)
            step.tool_result = ToolResult(error=str(err), error_kind=ErrorKind.HOOK)
            step.status = StepStatus.ERROR
            step.decisions.append(HookDecision(err.hook, err.phase, "raised", str(err.cause)))
            text = f"Internal error in hook {err.hook}.{err.phase}; the run is stopping."
            yield from self._record(step, text, hooks=False)
            raise Finish(StopReason.HOOK_ERROR, str(err)) from None

    def _finalize(self, finish: Finish) -> LoopResult:
        st = self.state
        if finish.reason is not StopReason.AWAITING_APPROVAL:
            note = f"Not run: the run ended ({finish.reason.value})."
            for tc in st.queue:
                self._append_tool_message(tc, note)
            st.queue.clear()
            self._flush_injections()
        result = LoopResult(
            stop_reason=finish.reason,
            steps=list(st.steps),
            usage=st.usage,
            final_answer=finish.answer,
            message=finish.message,
            run_id=st.run_id,
            llm_calls=st.llm_calls,
        )
        st.result = result
        for listener in self.finish_listeners:
            listener(result)
        self.emit(
            EventKind.RUN_END,
            stop_reason=finish.reason.value,
            message=finish.message,
            steps=st.step_number,
            usage=st.usage.to_dict(),
        )
        return result
