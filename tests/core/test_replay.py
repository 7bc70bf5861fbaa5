"""Replay: recorded model replies, recorded or live tools, and the first divergence reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from looplet_core import (
    BaseToolRegistry,
    Deny,
    InjectContext,
    LoopConfig,
    MockLLMBackend,
    ReplayBackend,
    ScriptExhaustedError,
    StopReason,
    ToolSpec,
    TraceReader,
    composable_loop,
    replay_loop,
)
from looplet_core.errors import BackendError
from looplet_core.provenance.replay import replay

from .helpers import make_tools
from .trace_helpers import SCRIPT, record

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "trace_v1"


def test_recorded_replay_reproduces_the_run_without_running_any_tool(tmp_path):
    live_steps, _, _, _ = record(tmp_path)
    calls: list = []
    outcome = replay(tmp_path, make_tools(calls=calls))
    assert calls == []
    assert outcome.divergence is None and not outcome.diverged
    assert outcome.result.stop_reason is StopReason.DONE
    assert [s.call_text() for s in outcome.steps] == [s.call_text() for s in live_steps]
    assert [s.status for s in outcome.steps] == [s.status for s in live_steps]
    assert [s.tool_result.to_dict() for s in outcome.steps] == [
        s.tool_result.to_dict() for s in live_steps
    ]


def test_live_replay_runs_the_tools_and_matches_an_unchanged_recording(tmp_path):
    record(tmp_path)
    calls: list = []
    outcome = replay(tmp_path, make_tools(calls=calls), mode="live")
    assert [name for name, _ in calls] == ["greet", "add", "boom", "search"]
    assert outcome.divergence is None


def test_changed_script_reports_the_step_where_it_departs(tmp_path):
    record(tmp_path)
    changed = list(SCRIPT)
    changed[2] = {"tool": "search", "args": {"query": "dogs"}}
    calls: list = []
    outcome = replay(tmp_path, make_tools(calls=calls), llm=MockLLMBackend(changed))
    divergence = outcome.divergence
    assert divergence is not None
    assert (divergence.step, divergence.field) == (4, "args")
    assert divergence.expected == '{"query": "cats"}' and divergence.got == '{"query": "dogs"}'
    assert calls == []  # recorded mode: the unrecorded call was not run either
    assert outcome.result.stop_reason is StopReason.CANCELLED
    assert "diverged" in (outcome.steps[-1].tool_result.error or "")


def test_tool_whose_behaviour_changed_is_caught_by_a_live_replay(tmp_path):
    record(tmp_path)
    changed = ToolSpec("search", "Search.", {"query": "str"}, lambda *, query: ["only one"])
    tools = BaseToolRegistry([changed if t.name == "search" else t for t in make_tools()])
    outcome = replay(tmp_path, tools, mode="live")
    assert outcome.divergence is not None
    assert (outcome.divergence.step, outcome.divergence.field) == (4, "result")
    assert outcome.divergence.got == '["only one"]'
    assert len(outcome.steps) == 5  # live mode goes on to the end


def test_new_hook_that_denies_a_call_shows_as_a_status_divergence(tmp_path):
    record(tmp_path)

    class NoBoom:
        def pre_dispatch(self, state, log, tc, step):
            return Deny("not today") if tc.tool == "boom" else None

    outcome = replay(tmp_path, make_tools(), hooks=[NoBoom()])
    assert outcome.divergence is not None
    assert (outcome.divergence.step, outcome.divergence.field) == (3, "status")
    assert outcome.result.stop_reason is StopReason.DONE


def test_prompt_change_is_reported_before_the_model_answers(tmp_path):
    record(tmp_path)

    class Remind:
        def pre_prompt(self, state, log, ctx, step):
            return InjectContext("Remember to be brief.") if step == 1 else None

    outcome = replay(tmp_path, make_tools(), hooks=[Remind()])
    assert outcome.divergence is not None
    assert (outcome.divergence.step, outcome.divergence.field) == (1, "prompt")
    assert "Remember to be brief." in outcome.divergence.got


def test_replay_that_needs_a_reply_the_recording_lacks_reports_the_end(tmp_path):
    record(tmp_path, SCRIPT, config=LoopConfig(max_steps=1))
    outcome = replay(tmp_path, make_tools(), config=LoopConfig(max_steps=10))
    assert outcome.divergence is not None
    assert (outcome.divergence.step, outcome.divergence.field) == (2, "end")
    assert outcome.divergence.got == "another model call"
    assert "max_steps" in outcome.divergence.expected


def test_recorded_model_failure_replays_to_the_same_end(tmp_path):
    script = [{"tool": "greet", "args": {"name": "A"}}, BackendError("server on fire")]
    record(tmp_path, script)
    outcome = replay(tmp_path, make_tools())
    assert outcome.result.stop_reason is StopReason.LLM_ERROR
    assert outcome.divergence is None


def test_replay_backend_serves_recorded_replies_to_an_ordinary_loop(tmp_path):
    live_steps, _, _, _ = record(tmp_path)
    backend = ReplayBackend(TraceReader(tmp_path))
    steps = list(composable_loop(llm=backend, tools=make_tools(), task="t"))
    assert [s.call_text() for s in steps] == [s.call_text() for s in live_steps]
    assert backend.remaining == 0
    with pytest.raises(ScriptExhaustedError, match="recorded 4 model replies"):
        backend.generate([], tools=[])


def test_replay_loop_yields_steps_as_it_goes(tmp_path):
    record(tmp_path)
    loop = replay_loop(tmp_path, make_tools())
    first = next(loop)
    assert first.number == 1 and first.tool == "greet"
    rest = list(loop)
    assert len(rest) == 4


def test_frozen_fixture_replays_without_divergence():
    class Guard:
        def pre_dispatch(self, state, log, tc, step):
            return Deny("no searching today") if tc.tool == "search" else None

    outcome = replay(FIXTURE, make_tools(), hooks=[Guard()])
    assert outcome.divergence is None, outcome.divergence
    assert outcome.result.final_answer == {"answer": "Alice greeted; 2 + 3 = 5."}


def test_unknown_mode_is_refused(tmp_path):
    record(tmp_path)
    with pytest.raises(ValueError, match="mode must be"):
        replay(tmp_path, make_tools(), mode="sideways")
