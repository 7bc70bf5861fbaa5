"""``RunWorker``: where the debugger's run comes from and the thread that drives it.

A mixin of the app, so ``debugger`` stays about the screen: this module builds the controller a
session needs (a ``ReplayPlayer`` for a recording, a ``DebugController`` for a run of this process
or one attached to), runs the loop on a Textual thread worker, and closes an attached run's store
once nobody reads it.  The worker never touches a widget: the controller tells the app through
``on_change``, and the follower's notices go through ``call_from_thread``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from textual import work

from looplet_core import LoopletError
from looplet_tui.app.base import DebuggerBase
from looplet_tui.live.attach import debugger_name, follow
from looplet_tui.live.breakpoints import BreakpointSet
from looplet_tui.live.controller import DebugController
from looplet_tui.live.store_breakpoints import StoreBreakpointSet
from looplet_tui.replay.player import ReplayPlayer
from looplet_tui.session import AttachSession, ReplaySession, RunSession, Session

__all__ = ["RunWorker"]


class RunWorker(DebuggerBase):
    """The controller for a session, and the worker thread that runs it."""

    session: Session
    clock: Callable[[], float]
    breakpoints_problem: str
    """Why the saved breakpoints could not be read (shown when the session starts), or ``""``."""
    loop_done: threading.Event
    _store_lock: threading.Lock

    def _controller_for(self, session: Session, *, start_paused: bool) -> DebugController:
        """A controller for ``session``, with the breakpoints saved next to it (an attached
        run's are its store's: the run checks them where it runs)."""
        breakpoints = BreakpointSet()
        if isinstance(session, AttachSession):
            breakpoints = StoreBreakpointSet(session.store, session.run_id, by=debugger_name())
            try:
                breakpoints.pull()
            except LoopletError as exc:
                self.breakpoints_problem = f"Cannot read the run's breakpoints: {exc}"
        path = session.breakpoints_file
        if path is not None and path.is_file():
            try:
                breakpoints.load(path)
            except ValueError as exc:
                self.breakpoints_problem = str(exc)
        if isinstance(session, ReplaySession):
            reader = session.reader
            return ReplayPlayer(
                session.steps,
                session.events,
                result=session.result,
                numbers=[e.number for e in reader.entries] if reader else None,
                model=(reader.model or "") if reader is not None else "",
                breakpoints=breakpoints,
                window=session.window,
                clock=self.clock,
            )
        schemas = session.tools.schemas() if isinstance(session, RunSession) else ()
        return DebugController(
            start_paused=start_paused and not isinstance(session, AttachSession),
            breakpoints=breakpoints,
            window=session.window,
            tool_schemas=schemas,
            validate=session.tools.validate if isinstance(session, RunSession) else None,
            tools=session.tools if isinstance(session, RunSession) else None,
            clock=self.clock,
        )

    def _close_attached(self) -> None:
        """Close an attached run's store once its follower is done with it (the follower
        closes it itself if it is still running: it sees the cancel)."""
        session = self.session
        if isinstance(session, AttachSession):
            with self._store_lock:
                if self.loop_done.is_set():
                    session.store.close()

    @work(thread=True, exclusive=True, exit_on_error=False, name="looplet run", group="run")
    def run_loop(self, ctl: DebugController, session: Session, done: threading.Event) -> None:
        """Drive the loop (or the replay) on this thread; only the controller talks to the UI.

        Takes its controller, session and done-event as arguments rather than reading them off
        the app, so a run the user switched away from finishes against its own objects."""
        try:
            if isinstance(session, AttachSession):  # the run is another process's: follow it
                try:
                    follow(ctl, session, self._notify_from_worker)
                finally:
                    with self._store_lock:  # a run over by itself stays open to browse (t)
                        if ctl.cancel_token.cancelled:
                            session.store.close()
                        done.set()
                return
            assert isinstance(session, RunSession)  # a replay has no worker (ReplayPlayer)
            loop = session.start([ctl], ctl.cancel_token)
            ctl.watch(session.state)  # its usage so far shows now, not after the next model call
            for step in session.state.steps:  # a resumed run's history, before it continues
                ctl.record(step)
            for step in loop:
                if step.approval is not None and not step.approval.decided:
                    ctl.request_approval(step)
            ctl.finish(session.state.result)
        except Exception as exc:  # a broken agent must show on screen, not kill the debugger
            ctl.fail(exc)
        finally:
            done.set()

    def _notify_from_worker(self, text: str, severity: str) -> None:
        """For the attach follower: a toast, drawn on the UI thread (text shown literally)."""
        level = severity if severity in ("information", "warning", "error") else "information"
        with contextlib.suppress(RuntimeError):  # the app already closed
            self.call_from_thread(self.notify, text, severity=level, markup=False)  # pyright: ignore[reportArgumentType]
