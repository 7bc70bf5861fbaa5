"""``ReplayPlayer`` without a screen: the playhead, the history it leaves, breakpoints, filters."""

from __future__ import annotations

from looplet_core import (
    Event,
    EventKind,
    LoopConfig,
    MockLLMBackend,
    Step,
    StopReason,
    Usage,
    composable_loop,
)
from looplet_tui.live.breakpoints import Breakpoint, Phase
from looplet_tui.live.filters import StepFilter
from looplet_tui.live.runstate import Marker, RunState
from looplet_tui.replay.player import SPEEDS, ReplayPlayer

from .helpers import call, make_tools

SCRIPT = [
    call("greet", name="Ada"),
    call("fail", why="boom"),
    call("greet", name="Bob"),
    call("fail", why="again"),
    call("greet", name="Cy"),
    call("done", answer="ok"),
]


def recorded() -> list[Step]:
    llm = MockLLMBackend(SCRIPT, report_usage=True)
    return list(
        composable_loop(llm=llm, tools=make_tools(), task="t", config=LoopConfig(max_steps=10))
    )


def player(steps: list[Step] | None = None, **kwargs: object) -> ReplayPlayer:
    steps = steps if steps is not None else recorded()
    return ReplayPlayer(steps, **kwargs)  # type: ignore[arg-type]


def numbers(p: ReplayPlayer) -> list[int]:
    return [e.number for e in p.entries if isinstance(e, Step)]


def test_forward_back_and_seek_move_the_history_with_the_playhead() -> None:
    p = player()
    assert p.position == 0 and p.total == 6
    assert p.forward() and p.forward()
    assert numbers(p) == [1, 2] and p.steps_done == 2
    assert p.pause_point is not None and p.pause_point.step == 2
    assert p.back()
    assert numbers(p) == [1] and p.steps_done == 1
    assert not p.back()  # never back past the first step
    p.seek(5)
    assert numbers(p) == [1, 2, 3, 4, 5]
    p.seek(2)
    assert numbers(p) == [1, 2] and [s.step for s in p.samples] == [1, 2]
    p.seek(99)  # clamped to the recording
    assert p.position == 6 and p.finished and p.run_state is RunState.DONE
    assert p.back()  # stepping back from the end un-finishes the run
    assert not p.finished and p.run_state is RunState.PAUSED and p.result is None


def test_usage_and_elapsed_are_the_recordings_up_to_the_playhead() -> None:
    steps = recorded()
    p = player(steps)
    p.seek(3)
    expected = Usage()
    for step in steps[:3]:
        assert step.llm_call is not None and step.llm_call.usage is not None
        expected = expected + step.llm_call.usage
    assert p.usage == expected and p.usage.input_tokens > 0
    assert abs(p.elapsed - sum(s.elapsed_ms for s in steps[:3]) / 1000) < 1e-9
    p.back()
    assert p.usage.input_tokens < expected.input_tokens


def test_compaction_markers_come_and_go_with_the_step_after_them() -> None:
    event = Event(EventKind.COMPACTION, step=3, data={"tokens_before": 900, "tokens_after": 300})
    p = player(events=[event])
    p.seek(2)
    assert not any(isinstance(e, Marker) for e in p.entries)
    p.forward()
    kinds = [type(e).__name__ for e in p.entries]
    assert kinds == ["Step", "Step", "Marker", "Step"]
    p.back()
    assert not any(isinstance(e, Marker) for e in p.entries)
    p.forward()  # played again: the marker is back, once
    assert sum(isinstance(e, Marker) for e in p.entries) == 1


def test_playing_stops_at_a_breakpoint_then_at_the_end() -> None:
    p = player()
    p.breakpoints.add(Breakpoint(on_error=True))
    p.forward()
    p.play()
    assert p.playing and p.run_state is RunState.RUNNING
    p.tick(10)
    assert not p.playing and p.position == 2
    point = p.pause_point
    assert point is not None and (point.phase, point.step) == (Phase.CHECK_DONE, 2)
    assert point.reason.startswith("breakpoint 1")
    p.play()
    p.tick(10)
    assert p.position == 4  # the next error
    p.breakpoints.remove(1)
    p.play()
    p.tick(10)
    assert p.finished and not p.playing
    assert p.result is not None and p.result.stop_reason is StopReason.DONE


def test_a_tool_breakpoint_stops_before_the_tool_of_the_step() -> None:
    p = player()
    p.breakpoints.add(Breakpoint(tool="fail", args="again"))
    p.play()
    p.tick(10)
    point = p.pause_point
    assert point is not None and (point.phase, point.step) == (Phase.PRE_DISPATCH, 4)


def test_single_steps_never_fire_breakpoints() -> None:
    p = player()
    p.breakpoints.add(Breakpoint(on_error=True))
    for _ in range(4):
        p.forward()
    assert p.position == 4 and p.pause_point is not None
    assert p.pause_point.reason == "step"


def test_a_filter_makes_stepping_and_playing_skip_to_matching_steps() -> None:
    steps = recorded()
    p = player(steps)
    only = StepFilter(status="error").select((s.number, s.tool, s.status.value) for s in steps)
    assert only == {2, 4}
    p.set_filter(only)
    p.forward()
    assert p.position == 2  # step 1 was played on the way, not stopped at
    assert numbers(p) == [1, 2]
    p.forward()
    assert p.position == 4
    assert p.back() and p.position == 2
    assert not p.back()  # no error before step 2
    p.set_filter(None)
    p.play()
    p.tick(1)
    assert p.position == 3


def test_speeds_are_bounded() -> None:
    p = player()
    for _ in range(20):
        p.faster()
    assert p.speed == SPEEDS[-1]
    for _ in range(20):
        p.slower()
    assert p.speed == SPEEDS[0]


def test_the_player_never_blocks_and_quits_cleanly() -> None:
    p = player()
    p.next_step()  # n, s and c are the player's, on the calling thread
    p.next_phase()
    assert p.position == 2
    p.resume()
    p.pause()
    assert not p.playing
    p.cancel()
    assert p.cancel_token.cancelled


def test_filter_matches_tools_by_glob_and_steps_without_a_tool() -> None:
    assert StepFilter(tool="gr*").matches("greet", "ok")
    assert not StepFilter(tool="gr*").matches("fail", "ok")
    assert StepFilter(tool="-").matches(None, "error")
    assert not StepFilter(tool="greet", status="error").matches("greet", "ok")
    assert StepFilter().describe() == "every step" and not StepFilter().active
    assert StepFilter(tool="greet", status="ok").describe() == "tool greet and status ok"


def test_an_unknown_status_is_refused_with_the_choices() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown status 'broken'; one of ok, error"):
        StepFilter(status="broken")


def test_an_empty_recording_is_over_at_once() -> None:
    p = player([])
    assert p.finished and p.position == 0
    assert not p.forward() and not p.back()
    p.seek(3)
    assert p.position == 0 and p.finished
