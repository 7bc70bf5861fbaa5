"""The replay's keys (scrubber, seek, search matches, filters, re-run) as actions of the app.

A mixin, like the approval keys, so ``app.py`` stays about layout and redrawing.  Everything a
replay does happens on the UI thread through ``ReplayPlayer``, except searching the whole trace,
which reads every step and prompt once and so runs on a worker thread; its matches come back as
a message.  Filters and match-stepping also work on a live run, over the steps seen so far.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual import work
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Input
from textual.worker import get_current_worker

from looplet_core import Step
from looplet_tui.app.base import DebuggerBase
from looplet_tui.live.filters import StepFilter
from looplet_tui.live.runstate import Entry
from looplet_tui.replay.player import ReplayPlayer
from looplet_tui.session import ReplaySession, RunSession, Session
from looplet_tui.widgets.scrubber import ReplayScrubber
from looplet_tui.widgets.timeline import StepTimeline

if TYPE_CHECKING:
    from looplet_tui.replay.rerun import Source
    from looplet_tui.replay.search import Hit, TraceIndex

__all__ = ["ReplayActions"]

FRAME = 1 / 30
"""Seconds between the play timer's ticks; faster speeds play several steps per tick."""
REPLAY_ONLY = {
    "play",
    "stop",
    "play_pause",
    "step_back",
    "step_forward",
    "faster",
    "slower",
    "seek",
    "rerun",
}


def count_matches(hits: Sequence[Hit]) -> str:
    """``6 matches in 3 steps``: a step matches once per place (prompt, response, result)."""
    if not hits:
        return "no match"
    steps = len({hit.step for hit in hits})
    matches = f"{len(hits)} match" + ("" if len(hits) == 1 else "es")
    return f"{matches} in {steps} step" + ("" if steps == 1 else "s")


class ReplayActions(DebuggerBase):
    """Replay and filtering actions; the app provides ``controller``, ``session`` and ``main``."""

    session: Session
    step_filter: StepFilter = StepFilter()
    hits: Sequence[Hit] = ()
    _hits_query = ""
    _index: TraceIndex | None = None
    _indexed: object = None  # the reader ``_index`` was built from
    _due = 0.0
    open_session: Callable[[Session], None]  # the app's: debug another session in place

    @property
    def player(self) -> ReplayPlayer | None:
        return self.controller if isinstance(self.controller, ReplayPlayer) else None

    class SearchDone(Message):
        """The worker searched the whole trace for ``query``."""

        def __init__(self, query: str, hits: Sequence[Hit], problems: int) -> None:
            super().__init__()
            self.query = query
            self.hits = hits
            self.problems = problems

    # -- playing ----------------------------------------------------------------------------------

    def play_tick(self) -> None:
        """The play timer: advance by the speed's share of a frame while playing."""
        player = self.player
        if player is None or not player.playing:
            self._due = 0.0
            return
        self._due += player.speed * FRAME
        steps = int(self._due)
        if steps:
            self._due -= steps
            self._guarded(lambda: player.tick(steps))

    def action_play(self) -> None:
        if self.player is not None:
            self.player.play()

    def action_stop(self) -> None:
        if self.player is not None:
            self.player.stop("paused")

    def action_play_pause(self) -> None:
        if self.player is not None:
            self.player.toggle()

    def action_step_back(self) -> None:
        if self.player is not None and not self.player.back():
            self.notify("At the first step.", severity="warning")

    def action_step_forward(self) -> None:
        player = self.player
        if player is not None:
            self._guarded(player.forward)
            if player.problem is None and player.finished and player.position == player.total:
                self.notify("At the end of the recording.", severity="warning")

    def action_faster(self) -> None:
        if self.player is not None:
            self.player.faster()

    def action_slower(self) -> None:
        if self.player is not None:
            self.player.slower()

    # -- seeking ----------------------------------------------------------------------------------

    def action_seek(self) -> None:
        seek = self.main.query_one("#seek", Input)
        if self.player is not None:
            seek.placeholder = f"go to step (1-{self.player.number_at(self.player.total)}), enter"
        seek.add_class("-open")
        seek.value = ""
        seek.focus()

    def seek_to(self, text: str) -> None:
        """The seek box was submitted: go there, or say what a step number looks like."""
        player = self.player
        if player is None:
            return
        try:
            number = int(text.strip().lstrip("#").replace(",", "").replace("_", ""))
        except ValueError:
            self.notify(f"{text!r} is not a step number", severity="warning", markup=False)
            return
        self._guarded(lambda: player.seek(number))
        self.close_box("#seek")

    def on_replay_scrubber_seek(self, message: ReplayScrubber.Seek) -> None:
        player = self.player
        if player is not None and player.total:
            position = max(1, min(message.position, player.total))
            self._guarded(lambda: player.seek(player.number_at(position)))

    def close_box(self, selector: str) -> None:
        box = self.main.query_one(selector, Input)
        if box.has_class("-open"):
            box.remove_class("-open")
            self.main.query_one(StepTimeline).focus()

    def _guarded(self, move: Callable[[], object]) -> None:
        """Run a player command; a step the trace could not give back is said in a notice (the
        player stopped short, and its header line says why too)."""
        move()
        player = self.player
        if player is not None and player.problem is not None:
            self.notify(player.problem, severity="error", markup=False)

    # -- filters ----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        from looplet_tui.screens.filter import FilterScreen

        self.push_screen(FilterScreen(self._tool_names(), self.step_filter), self._filtered)

    def _tool_names(self) -> list[str]:
        session = self.session
        if isinstance(session, ReplaySession) and session.reader is not None:
            names = [entry.tool for entry in session.reader.entries]
        elif isinstance(session, RunSession):
            names = session.tools.names()
        else:
            names = []
        names += [e.tool for e in self.controller.entries if isinstance(e, Step)]
        return list(dict.fromkeys(name for name in names if name))

    def _filtered(self, chosen: StepFilter | None) -> None:
        if chosen is None:
            return
        self.step_filter = chosen
        timeline = self.main.query_one(StepTimeline)
        timeline.set_filter(_keep(chosen) if chosen.active else None)
        player = self.player
        if player is not None:
            player.set_filter(self._replay_filter(chosen) if chosen.active else None)
        if chosen.active and not timeline.row_count:
            self.notify(f"No step so far has {chosen.describe()}.", markup=False)

    def _replay_filter(self, chosen: StepFilter) -> frozenset[int]:
        """The whole recording's matching steps, from the trace's index (no step file read)."""
        session = self.session
        if isinstance(session, ReplaySession) and session.reader is not None:
            return chosen.select((e.number, e.tool, e.status) for e in session.reader.entries)
        steps: Sequence[Step] = session.steps if isinstance(session, ReplaySession) else ()
        return chosen.select((s.number, s.tool, s.status.value) for s in steps)

    # -- search matches ---------------------------------------------------------------------------

    def search_submitted(self, query: str) -> None:
        """Enter in the search box: a replay searches the whole trace, a live run its timeline.

        Either way the box closes and the timeline takes the keys again (as Enter in less or vim
        returns to the text), so ``]`` and ``[`` move between matches instead of typing.
        """
        session = self.session
        self.close_box("#search")
        if isinstance(session, ReplaySession) and session.reader is not None and query:
            if query != self._hits_query:
                self.notify(f"Searching the trace for {query!r} …", markup=False, timeout=2)
                self._search_trace(session, query)
                return
            self.action_next_match()
            return
        if not self.main.query_one(StepTimeline).search(query):
            self.notify(f"No step matches {query!r}", severity="warning", markup=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def _search_trace(self, session: ReplaySession, query: str) -> None:
        from looplet_tui.replay.search import TraceIndex

        worker = get_current_worker()
        assert session.reader is not None
        if self._index is None or self._indexed is not session.reader:
            self._index, self._indexed = TraceIndex(session.reader), session.reader
        index = self._index
        hits = index.search(query, cancelled=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.SearchDone(query, hits, len(index.problems)))

    def on_replay_actions_search_done(self, message: SearchDone) -> None:
        self.hits, self._hits_query = message.hits, message.query
        places = sorted({hit.where for hit in message.hits})
        found = f"{count_matches(message.hits)} for {message.query!r}" + (
            f" (in {', '.join(places)})" if places else ""
        )
        if message.problems:
            found += f"; {message.problems} parts of the trace could not be read"
        self.notify(found + ("; ] next, [ previous" if message.hits else ""), markup=False)
        if message.hits:
            self._match(+1, include_current=True)

    def action_next_match(self) -> None:
        self._match(+1)

    def action_prev_match(self) -> None:
        self._match(-1)

    def _match(self, direction: int, *, include_current: bool = False) -> None:
        timeline = self.main.query_one(StepTimeline)
        if self.player is None or not self.hits:
            query = self.main.query_one("#search", Input).value
            if query and not timeline.search(query, backwards=direction < 0):
                self.notify(f"No step matches {query!r}", severity="warning", markup=False)
            return
        row = timeline.selected
        current = row.number if isinstance(row, Step) else 0
        steps = [h.step for h in self.hits]  # in step order, as the search returns them
        if direction > 0:
            at = (bisect.bisect_left if include_current else bisect.bisect_right)(steps, current)
            wrapped = at == len(steps)
        else:
            at = bisect.bisect_left(steps, current) - 1
            wrapped = at < 0
        if wrapped:
            self.notify("No more matches; wrapping around.", timeout=2)
            at = 0 if direction > 0 else -1
        hit = self.hits[at]
        self.go_to_step(hit.step)
        self.notify(f"step {hit.step} · {hit.where}: {hit.excerpt}", markup=False, timeout=4)

    def go_to_step(self, number: int) -> None:
        """Select step ``number`` in the timeline, playing the replay up to it if needed."""
        player = self.player
        played = player.number_at(player.position) if player and player.position else 0
        if player is not None and number > played:
            self._guarded(lambda: player.seek(number))
        with contextlib.suppress(NoMatches):
            self.main.query_one(StepTimeline).select_step(number)

    # -- re-running -------------------------------------------------------------------------------

    def action_rerun(self) -> None:
        from looplet_tui.screens.rerun import RerunScreen

        session = self.session
        row = self.main.query_one(StepTimeline).selected
        if not isinstance(session, ReplaySession) or not isinstance(row, Step):
            self.notify("Select a replayed step to re-run from.", severity="warning")
            return
        step = row.number

        def chosen(sources: tuple[Source, Source] | None) -> None:
            if sources is not None:
                self._rerun(session, step, *sources)

        self.push_screen(RerunScreen(step, has_agent=session.agent is not None), chosen)

    def _rerun(self, session: ReplaySession, step: int, model: Source, tools: Source) -> None:
        from looplet_tui.replay.rerun import rerun_session
        from looplet_tui.session import SessionError

        try:
            new = rerun_session(session, step, model=model, tools=tools)
        except SessionError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.open_session(new)


def _keep(chosen: StepFilter) -> Callable[[Entry], bool]:
    def keep(entry: Entry) -> bool:
        return isinstance(entry, Step) and chosen.matches(entry.tool, entry.status.value)

    return keep
