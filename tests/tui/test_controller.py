"""DebugController without any UI: stepping, breakpoints, approvals and cancellation.

Each test runs a real loop (scripted backend) on a thread with the controller as its last hook,
exactly as the debugger's worker does, and drives it with the controller's commands.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from looplet_core import ApprovalError, LoopConfig, StopReason
from looplet_tui.live.breakpoints import Breakpoint, BreakpointSet, Phase
from looplet_tui.live.controller import DebugController
from looplet_tui.live.runstate import Marker, RunState
from tests.tui.helpers import GREET3, Run, call, make_tools, start


def ctl(**kwargs: Any) -> DebugController:
    return DebugController(poll=0.01, **kwargs)


# -- stepping -------------------------------------------------------------------------------------


def test_run_starts_paused_before_the_first_model_call() -> None:
    run = start(GREET3)
    point = run.wait_paused()
    assert (point.phase, point.step, point.reason) == (Phase.PRE_PROMPT, 1, "start")
    assert run.llm.requests == []  # the model has not been asked yet
    assert run.controller.run_state is RunState.PAUSED
    run.controller.cancel()
    run.join()


def test_next_step_stops_after_each_recorded_step() -> None:
    run = start(GREET3)
    run.wait_paused()
    for number in (1, 2, 3):
        run.controller.next_step()
        run.wait(
            lambda n=number: (
                run.controller.pause_point is not None and run.controller.pause_point.step == n
            )
        )
        point = run.controller.pause_point
        assert point is not None
        assert (point.phase, point.reason) == (Phase.CHECK_DONE, "step")
        assert run.controller.steps_done == number
    run.controller.resume()
    run.join()
    assert run.state.result is not None and run.state.result.stop_reason is StopReason.DONE
    assert run.controller.run_state is RunState.DONE


def test_next_phase_visits_every_phase_in_order() -> None:
    run = start(GREET3)
    seen = [run.wait_paused().phase]
    for _ in range(7):
        before = run.controller.pause_point
        run.controller.next_phase()
        run.wait(lambda b=before: run.controller.pause_point not in (None, b))
        point = run.controller.pause_point
        assert point is not None
        seen.append(point.phase)
    order = [Phase.PRE_PROMPT, Phase.PRE_DISPATCH, Phase.POST_DISPATCH, Phase.CHECK_DONE]
    assert seen == order * 2
    run.controller.cancel()
    run.join()


def test_continue_runs_to_the_end_without_stopping() -> None:
    run = start(GREET3)
    run.wait_paused()
    run.controller.resume()
    run.join()
    assert [s.tool for s in run.state.steps] == ["greet", "greet", "greet", "done"]
    assert run.controller.pause_point is None
    assert run.controller.run_state is RunState.DONE


def test_pause_stops_a_running_loop_at_the_next_phase() -> None:
    run = start(GREET3, ctl(start_paused=False), delay=0.05)
    run.wait(lambda: run.controller.live is not None)
    run.controller.pause()
    point = run.wait_paused()
    assert point.reason == "paused"
    steps_then = run.controller.steps_done
    time.sleep(0.1)
    assert run.controller.steps_done == steps_then  # really stopped
    run.controller.resume()
    run.join()


def test_start_unpaused_runs_straight_through() -> None:
    run = start(GREET3, ctl(start_paused=False))
    run.join()
    assert run.controller.steps_done == 4


# -- breakpoints ----------------------------------------------------------------------------------


def run_to_breakpoint(
    script: list[Any], bp: Breakpoint, **kwargs: Any
) -> tuple[Any, DebugController, Run]:
    """Run unpaused; return (pause point or None, controller, run) at the first stop."""
    run = start(script, ctl(breakpoints=BreakpointSet([bp]), start_paused=False), **kwargs)
    run.wait(lambda: run.controller.pause_point is not None or not run.thread.is_alive())
    return run.controller.pause_point, run.controller, run


def test_breakpoint_on_a_phase() -> None:
    point, controller, run = run_to_breakpoint(GREET3, Breakpoint(phase=Phase.POST_DISPATCH))
    assert point.phase is Phase.POST_DISPATCH and point.step == 1
    assert point.reason.startswith("breakpoint 1")
    controller.cancel()
    run.join()


def test_breakpoint_on_a_tool_glob_stops_before_the_tool_runs() -> None:
    script = [call("greet", name="a"), call("rm", path="/x"), call("done", answer="ok")]
    point, controller, run = run_to_breakpoint(script, Breakpoint(tool="r?"))
    assert (point.phase, point.step) == (Phase.PRE_DISPATCH, 2)
    assert controller.live.step.tool_call.tool == "rm"
    controller.cancel()
    run.join()


def test_breakpoint_on_an_argument_regex() -> None:
    point, controller, run = run_to_breakpoint(GREET3, Breakpoint(args=r'"name": "B'))
    assert (point.phase, point.step) == (Phase.PRE_DISPATCH, 2)
    controller.cancel()
    run.join()


def test_breakpoint_on_context_percent_above_n() -> None:
    config = LoopConfig(max_steps=20, context_window=2000)
    point, controller, run = run_to_breakpoint(
        GREET3, Breakpoint(context_above=10.0), config=config
    )
    assert (point.phase, point.step) == (Phase.PRE_PROMPT, 1)
    stats = controller.context()
    assert stats is not None and stats.percent is not None and stats.percent > 10.0
    controller.cancel()
    run.join()


def test_breakpoint_on_error_stops_after_the_failed_step() -> None:
    script = [call("greet", name="a"), call("fail", why="boom"), call("done", answer="x")]
    point, controller, run = run_to_breakpoint(script, Breakpoint(on_error=True))
    assert (point.phase, point.step) == (Phase.CHECK_DONE, 2)
    step = controller.step(2)
    assert step.tool_result.error_kind.value == "execution"
    controller.cancel()
    run.join()


def test_breakpoint_after_n_hits_counts_every_match() -> None:
    bp = Breakpoint(tool="greet", after=3)
    point, controller, run = run_to_breakpoint(GREET3, bp)
    assert point.step == 3
    assert bp.hits == 3
    controller.resume()
    run.join()


def test_disabled_breakpoint_neither_stops_nor_counts() -> None:
    bp = Breakpoint(tool="greet", enabled=False)
    point, _, run = run_to_breakpoint(GREET3, bp)
    run.join()
    assert point is None and bp.hits == 0


def test_breakpoint_added_while_running_applies_from_the_next_phase() -> None:
    run = start(GREET3)
    run.wait_paused()
    run.controller.breakpoints.add(Breakpoint(tool="greet"))
    run.controller.resume()
    point = run.wait_paused()
    assert (point.phase, point.step) == (Phase.PRE_DISPATCH, 1)
    run.controller.cancel()
    run.join()


def test_breakpoint_validation_and_description() -> None:
    with pytest.raises(ValueError, match="regex"):
        Breakpoint(args="(")
    with pytest.raises(ValueError, match="at least"):
        Breakpoint()
    with pytest.raises(ValueError, match="at least 1"):
        Breakpoint(tool="x", after=0)
    with pytest.raises(ValueError, match="between 0 and 100"):
        Breakpoint(context_above=120)
    assert Breakpoint(tool="rm*", after=2).describe() == "tool 'rm*' · after 2 hits · @pre_dispatch"
    assert Breakpoint(on_error=True).at is Phase.CHECK_DONE
    assert Breakpoint(context_above=50).at is Phase.PRE_PROMPT


def test_toggle_tool_adds_then_removes_only_the_plain_breakpoint() -> None:
    bps = BreakpointSet([Breakpoint(tool="rm", after=2)])
    assert bps.toggle_tool("rm") is True
    assert len(bps) == 2
    assert bps.toggle_tool("rm") is False
    assert [bp.after for bp in bps.items()] == [2]  # the conditional one survives


def test_breakpoints_save_and_load_round_trip(tmp_path: Path) -> None:
    bps = BreakpointSet(
        [
            Breakpoint(tool="rm*", args="/etc", after=2),
            Breakpoint(phase=Phase.CHECK_DONE, on_error=True, enabled=False),
            Breakpoint(context_above=80.5),
        ]
    )
    file = tmp_path / "agent.breakpoints.json"
    bps.save(file)
    loaded = BreakpointSet()
    loaded.load(file)
    assert [bp.to_dict() for bp in loaded.items()] == [bp.to_dict() for bp in bps.items()]
    file.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a looplet breakpoints file"):
        loaded.load(file)


# -- approvals ------------------------------------------------------------------------------------

RM = [call("rm", path="/tmp/x"), call("rm", path="/tmp/y"), call("done", answer="ok")]


def approval_run() -> Run:
    run = start(RM, ctl(start_paused=False))
    run.wait(lambda: run.controller.approvals)
    return run


def test_approval_waits_in_the_queue_until_approved() -> None:
    run = approval_run()
    controller = run.controller
    assert controller.run_state is RunState.AWAITING_APPROVAL
    request = controller.approvals[0]
    assert (request.tool, request.args) == ("rm", {"path": "/tmp/x"})
    time.sleep(0.05)
    assert controller.approvals == [request]  # still waiting: nothing decides for the user
    controller.approve()
    run.wait(lambda: controller.approvals and controller.approvals[0] is not request)
    assert run.steps[0].tool_result.data == "removed /tmp/x"
    controller.cancel()
    run.join()


def test_approve_always_skips_later_approvals_of_that_tool() -> None:
    run = approval_run()
    controller = run.controller
    controller.approve(always=True)
    run.join()
    assert [s.tool_result.data for s in run.state.steps][:2] == ["removed /tmp/x", "removed /tmp/y"]
    assert run.state.steps[1].decisions[-1].hook == "remembered (always)"


def test_deny_with_message_tells_the_model() -> None:
    run = approval_run()
    controller = run.controller
    controller.deny(message="never delete in /tmp")
    run.wait(lambda: len(run.llm.requests) >= 2)
    first = run.state.steps[0]
    assert first.status.value == "denied"
    assert "never delete in /tmp" in run.llm.requests[1].messages[-1].content
    controller.cancel()
    run.join()


def test_edited_args_are_validated_then_run() -> None:
    run = approval_run()
    controller = run.controller
    with pytest.raises(ApprovalError, match="invalid"):
        controller.approve(args={"path": 3.5, "extra": 1})
    assert controller.approvals  # an invalid edit leaves the request waiting
    controller.approve(args={"path": "/tmp/safe"})
    run.wait(lambda: run.state.steps and run.state.steps[0].tool_result.data)
    step = run.state.steps[0]
    assert step.tool_result.data == "removed /tmp/safe"
    assert step.original_args == {"path": "/tmp/x"}
    controller.cancel()
    run.join()


def test_approval_queue_serves_requests_in_order_from_several_threads() -> None:
    controller = ctl(start_paused=False)
    first, second = (start(RM, controller) for _ in range(2))
    first.wait(lambda: len(controller.approvals) == 2)
    queued = list(controller.approvals)
    controller.deny()
    first.wait(
        lambda: (
            (controller.approvals and controller.approvals[0] is queued[1])
            or (len(controller.approvals) == 2 and controller.approvals[0] is queued[1])
        )
    )
    assert queued[0].decision is not None and queued[1].decision is None
    controller.cancel()
    first.join()
    second.join()


def test_quitting_while_an_approval_waits_leaves_it_pending_for_resume() -> None:
    run = approval_run()
    controller = run.controller
    controller.cancel()
    run.join()
    result = run.state.result
    assert result.stop_reason is StopReason.AWAITING_APPROVAL
    assert run.state.pending_approval is not None
    assert run.state.pending_approval.decision is None


# -- cancellation ---------------------------------------------------------------------------------


def test_cancel_while_paused_unblocks_and_never_calls_the_model_again() -> None:
    run = start(GREET3)
    run.wait_paused()
    started = time.monotonic()
    run.controller.cancel()
    run.join(timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert run.llm.requests == []
    assert run.state.result is not None
    assert run.state.result.message == "cancelled in the debugger"


def test_cancel_while_paused_before_a_tool_does_not_run_it() -> None:
    script = [call("greet", name="never"), call("done", answer="x")]
    point, controller, run = run_to_breakpoint(script, Breakpoint(tool="greet"))
    assert point.phase is Phase.PRE_DISPATCH
    controller.cancel()
    run.join()
    assert run.state.result is not None
    assert run.state.result.stop_reason is StopReason.CANCELLED
    assert [s.tool_result.error_kind.value for s in run.state.steps] == ["cancelled"]


def test_cancel_while_a_tool_runs_ends_the_run_promptly() -> None:
    gate = threading.Event()
    run = start(
        [call("slow", seconds=30), call("done", answer="x")],
        ctl(start_paused=False),
        tools=make_tools(gate),
    )
    run.wait(
        lambda: (
            run.controller.live is not None
            and run.controller.live.activity.startswith("running slow")
        )
    )
    started = time.monotonic()
    run.controller.cancel()
    run.join(timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert run.state.result is not None
    assert run.state.result.stop_reason is StopReason.CANCELLED


# -- what the UI reads ----------------------------------------------------------------------------


def test_on_change_fires_once_until_acknowledged() -> None:
    calls: list[bool] = []
    controller = ctl(start_paused=False)
    controller.on_change = lambda: calls.append(controller.finished)
    run = start(GREET3, controller)
    run.join()
    # a whole run's changes collapse into one notice until it is read; its end, a stop, is
    # announced even so (a UI holding back an unread notice would show a stop a frame late)
    assert calls == [False, True]
    controller.acknowledge()
    controller.pause()
    assert calls == [False, True, True]


def test_entries_hold_steps_and_compaction_markers_in_order() -> None:
    from looplet_core import ContextBudget, ThresholdCompactHook

    long = [call("greet", name="x" * 400) for _ in range(6)] + [call("done", answer="x")]
    config = LoopConfig(
        max_steps=20, context_window=1200, context_budget=ContextBudget(warn=0.4, compact=0.5)
    )
    run = start(long, ctl(start_paused=False), config=config, hooks=[ThresholdCompactHook()])
    run.join()
    markers = [e for e in run.controller.entries if isinstance(e, Marker)]
    assert markers and markers[0].kind == "compaction"
    assert "compacted" in markers[0].text
    numbers = [e.number for e in run.controller.entries if not isinstance(e, Marker)]
    assert numbers == sorted(numbers) == list(range(1, len(numbers) + 1))
    assert len(run.controller.samples) == len(numbers)


def test_streamed_text_accumulates_on_the_live_step() -> None:
    from looplet_core import LLMResponse, ToolCall

    reply = LLMResponse(text="thinking out loud", tool_calls=[ToolCall("greet", {"name": "a"})])
    config = LoopConfig(max_steps=5, stream=True)
    run = start([reply, call("done", answer="x")], config=config)
    run.wait_paused()
    run.controller.next_phase()  # to pre_dispatch: the reply has streamed in
    run.wait(
        lambda: (
            run.controller.pause_point is not None
            and run.controller.pause_point.phase is Phase.PRE_DISPATCH
        )
    )
    assert run.controller.live is not None
    assert str(run.controller.live.text) == "thinking out loud"
    run.controller.cancel()
    run.join()


def test_controller_imports_no_ui() -> None:
    # Every module of the activities' plain-Python packages, not only the controller.
    code = (
        "import importlib, pkgutil, sys\n"
        "import looplet_tui.live, looplet_tui.replay, looplet_tui.timetravel, looplet_tui.rundiff\n"
        "for package in (looplet_tui.live, looplet_tui.replay, looplet_tui.timetravel,\n"
        "                looplet_tui.rundiff):\n"
        "    for info in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "assert 'looplet_tui.live.controller' in sys.modules\n"
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
