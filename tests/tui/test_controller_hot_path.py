"""What the controller's per-step shortcuts rely on (a run going flat out takes each of them
thousands of times a second): the live row is updated in place but always announced, events that
change nothing shown announce nothing, and a sample is replaced only by other stats."""

from __future__ import annotations

from typing import Any

from looplet_core import Event, EventKind, LoopConfig, Prompt, ToolCall
from looplet_tui.live.breakpoints import Phase
from looplet_tui.live.controller import DebugController
from tests.tui.helpers import call, start

LONG = 30.0


def greets(n: int) -> list[Any]:
    return [call("greet", name=str(i)) for i in range(n)] + [call("done", answer="ok")]


class Watched(DebugController):
    """Records what the UI would see of the live row around each hook."""

    def __init__(self) -> None:
        super().__init__(poll=0.01, start_paused=False)
        self.rows: list[tuple[int, object, int, Phase | None, str]] = []

    def _row(self) -> None:
        live = self.live
        assert live is not None
        self.rows.append((live.step.number, live, live.revision, live.phase, live.activity))

    def pre_prompt(self, state: Any, log: Any, ctx: Prompt, step: int) -> Any:
        out = super().pre_prompt(state, log, ctx, step)
        self._row()
        return out

    def pre_dispatch(self, state: Any, log: Any, tc: ToolCall, step: int) -> Any:
        out = super().pre_dispatch(state, log, tc, step)
        self._row()
        live = self.live
        assert live is not None and live.step.tool_call is tc
        return out


def test_the_live_row_takes_the_call_in_place_with_a_new_revision() -> None:
    ctl = Watched()
    run = start(greets(20), ctl, config=LoopConfig(max_steps=30))
    run.join(LONG)
    assert ctl.finished and ctl.steps_done == 21
    by_step: dict[int, list[tuple[int, object, int, Phase | None, str]]] = {}
    for row in ctl.rows:
        by_step.setdefault(row[0], []).append(row)
    for number, (prompted, dispatched) in by_step.items():
        assert prompted[1] is dispatched[1], number  # the same row, changed in place
        assert dispatched[2] > prompted[2]  # ... with a revision the views see
        assert (prompted[3], dispatched[3]) == (Phase.PRE_PROMPT, Phase.PRE_DISPATCH)
        tool = "done" if number == 21 else "greet"
        assert dispatched[4] == f"about to run {tool}"


def test_each_sample_is_the_context_its_step_was_recorded_with() -> None:
    """A sample is replaced only when the recorded step's stats are other than the prompt's
    (the backend's measured figures after the call): it must still end up as the step's."""
    ctl = Watched()
    run = start(greets(20), ctl, config=LoopConfig(max_steps=30))
    run.join(LONG)
    assert [s.step for s in ctl.samples] == list(range(1, 22))
    for sample in ctl.samples:
        step = ctl.step(sample.step)
        assert step is not None and step.context is not None
        assert sample.stats is step.context


def test_an_acknowledging_ui_is_told_of_every_phase_of_every_step() -> None:
    """The phase shortcut announces only what it changed: each phase the hooks show must still
    reach a UI that reads every change at once."""
    ctl = DebugController(poll=0.01, start_paused=False)
    seen: list[tuple[int, Phase | None, str]] = []

    def read() -> None:
        ctl.acknowledge()
        live = ctl.live
        if live is not None:
            seen.append((live.step.number, live.phase, live.activity))

    ctl.on_change = read
    run = start(greets(30), ctl, config=LoopConfig(max_steps=40))
    run.join(LONG)
    assert ctl.finished and ctl.steps_done == 31
    for number in range(1, 32):
        shown = {(phase, activity) for n, phase, activity in seen if n == number}
        tool = "done" if number == 31 else "greet"
        assert {
            (Phase.PRE_PROMPT, "about to call the model"),
            (Phase.PRE_DISPATCH, f"about to run {tool}"),
            (Phase.POST_DISPATCH, f"{tool} returned"),
        } <= shown, number


def test_events_that_change_nothing_shown_announce_nothing() -> None:
    ctl = DebugController(poll=0.01, start_paused=False)
    notices: list[str] = []
    ctl.on_change = lambda: notices.append(ctl.model)

    def send(kind: EventKind, **data: Any) -> int:
        ctl.acknowledge()
        before = len(notices)
        ctl.on_event(Event(kind, "run", 1, data))
        return len(notices) - before

    assert send(EventKind.LLM_END, call={"model": "m-1"}) == 1
    assert ctl.model == "m-1"
    assert send(EventKind.LLM_END, call={"model": "m-1"}) == 0
    assert send(EventKind.LLM_END, call={}) == 0  # no model named: the one shown stays
    assert ctl.model == "m-1"
    assert send(EventKind.TOOL_END, tool="greet") == 0
    assert send(EventKind.STEP, status="ok", tool="greet") == 0
    assert send(EventKind.LLM_END, call={"model": "m-2"}) == 1
    assert notices == ["m-1", "m-2"]
    assert send(EventKind.RUN_START, max_steps=9) == 1
    assert ctl.max_steps == 9
