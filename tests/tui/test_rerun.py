"""Re-running a replayed trace live from a step: recorded or real model, recorded or real tools.

Every trace here is written by a real ``ProvenanceSink`` around a run of a small agent file, and
every re-run is driven the way the debugger's worker drives it (``session.start`` and iterate).
The agent's tools append to ``calls.log`` beside the file, so a test can tell whether a real tool
ran.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    CancelToken,
    ErrorKind,
    LoopResult,
    ProvenanceSink,
    Step,
    StepStatus,
    StopReason,
    TraceReader,
)
from looplet_tui.cli import replay_session
from looplet_tui.replay.rerun import Source, rerun_session
from looplet_tui.session import ReplaySession, RunSession, SessionError, load_factory, run_session

AGENT = """
import json
from pathlib import Path

from looplet_core import BackendError, BaseToolRegistry, LoopConfig, MockLLMBackend, ToolSpec

LOG = Path(__file__).with_name("calls.log")


def _log(line):
    with LOG.open("a", encoding="utf-8") as handle:
        handle.write(line + "\\n")


def fail(*, why):
    _log(f"fail {why}")
    raise RuntimeError(why)


def agent(script, max_steps=20, tool_mode="native"):
    tools = BaseToolRegistry()
    greeted = []

    def greet(*, name):
        _log(f"greet {name}")
        greeted.append(name)
        times = greeted.count(name)
        return f"Hello, {name}!" if times == 1 else f"Hello again, {name} (time {times})!"

    tools.register(ToolSpec("greet", "Greet someone.", {"name": "str"}, greet))
    tools.register(ToolSpec("fail", "Always fails.", {"why": "str"}, fail))
    return {
        "llm": MockLLMBackend(script, report_usage=True),
        "tools": tools,
        "task": "greet everyone",
        "config": LoopConfig(max_steps=max_steps, tool_mode=tool_mode),
    }


def call(tool, **args):
    return {"tool": tool, "args": args}


RECORDED = [
    call("greet", name="Ada"),
    call("fail", why="boom"),
    call("greet", name="Bob"),
    [call("greet", name="Cy"), call("greet", name="Dee")],
    call("done", answer="greeted"),
]


def make_agent():
    return agent(RECORDED)


def short():
    return agent(RECORDED, max_steps=3)


def server_fails():
    return agent([call("greet", name="Ada"), BackendError("server down")])


def wanderer():
    return agent([call("greet", name="Bob"), call("greet", name="Zed"), call("done", answer="ok")])


def repeats():
    return agent([call("greet", name="Ada")] * 3 + [call("done", answer="ok")])


def asks_ada_four_times():
    return agent([call("greet", name="Ada")] * 4 + [call("done", answer="ok")])


def json_mode():
    script = [json.dumps(c) for c in RECORDED[:3]] + [json.dumps(RECORDED[4])]
    return agent(script, tool_mode="json")


def broken():
    raise RuntimeError("no API key")
"""


@pytest.fixture
def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.py"
    path.write_text(AGENT, encoding="utf-8")
    return path


def record(agent_file: Path, factory: str = "make_agent", name: str = "trace") -> Path:
    """Run ``factory`` of the agent file to its end with a ProvenanceSink writing the trace."""
    directory = agent_file.parent / name
    make, _ = load_factory(f"{agent_file}:{factory}")
    made = run_session(make(), where=factory)
    for _ in made.start(hooks=[ProvenanceSink(directory, llm=made.llm)], cancel=CancelToken()):
        pass
    log(agent_file).unlink(missing_ok=True)  # the recording's own tool calls are not the test's
    return directory


def log(agent_file: Path) -> Path:
    return agent_file.with_name("calls.log")


def logged(agent_file: Path) -> list[str]:
    file = log(agent_file)
    return file.read_text(encoding="utf-8").splitlines() if file.exists() else []


def drive(session: RunSession) -> tuple[list[Step], LoopResult]:
    """Run the session as the debugger's worker does, without the debugger."""
    steps = list(session.start(hooks=[], cancel=CancelToken()))
    assert session.state.result is not None
    return steps, session.state.result


def rerun(trace: Path, step: int, model: Source, tools: Source, agent: str | None) -> RunSession:
    return rerun_session(replay_session(trace, agent=agent), step, model=model, tools=tools)


def fingerprint(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def outcome(step: Step) -> tuple[Any, ...]:
    """What a step did, without timings: the call, its id, status and result."""
    tc = step.tool_call
    result = step.tool_result
    return (
        tc.tool if tc else None,
        tc.args if tc else None,
        tc.id if tc else None,
        step.status,
        result.data,
        result.error,
        result.error_kind,
        step.llm_call.index if step.llm_call else None,
    )


def test_recorded_model_and_tools_reproduce_the_run_from_the_step(agent_file: Path) -> None:
    trace = record(agent_file)
    before = fingerprint(trace)
    reader = TraceReader(trace)
    session = rerun(trace, 3, "recorded", "recorded", agent=None)
    assert session.title == "re-run from step 3 of trace · model: recorded · tools: recorded"
    assert [s.number for s in session.state.steps] == [1, 2]  # the history, shown first
    assert list(session.state.conversation) == reader.prompt(3)

    steps, result = drive(session)

    assert [s.number for s in steps] == [3, 4, 5, 6]  # numbering carries on from the trace
    assert [outcome(s) for s in steps] == [outcome(reader.step(n)) for n in (3, 4, 5, 6)]
    assert result.stop_reason is StopReason.DONE and result.final_answer == "greeted"
    assert result.llm_calls == 5
    assert result.usage == reader.usage  # history usage + the replayed replies' own
    assert logged(agent_file) == []  # no real tool ran
    assert fingerprint(trace) == before  # the trace is untouched


def test_recorded_model_with_the_agents_real_tools(agent_file: Path) -> None:
    trace = record(agent_file)
    reader = TraceReader(trace)
    session = rerun(trace, 2, "recorded", "agent", agent=str(agent_file))

    steps, result = drive(session)

    assert logged(agent_file) == ["fail boom", "greet Bob", "greet Cy", "greet Dee"]
    assert [s.number for s in steps] == [2, 3, 4, 5, 6]
    failed = steps[0].tool_result
    assert failed.error_kind is ErrorKind.EXECUTION and failed.traceback  # raised here, now
    assert [s.tool_result.data for s in steps[1:]] == [
        reader.step(n).tool_result.data for n in (3, 4, 5, 6)
    ]
    assert result.stop_reason is StopReason.DONE


def test_agent_model_with_recorded_tools(agent_file: Path) -> None:
    trace = record(agent_file)
    reader = TraceReader(trace)
    session = rerun(trace, 3, "agent", "recorded", agent=f"{agent_file}:wanderer")
    llm: Any = session.llm

    steps, result = drive(session)

    assert list(llm.requests[0].messages) == reader.prompt(3)  # exactly the recorded prompt
    assert list(llm.requests[0].tools) == reader.tools()  # and offered the recorded tools
    bob, zed, done = steps
    assert bob.tool_result.data == "Hello, Bob!" and bob.ok  # from the recording
    assert zed.status is StepStatus.ERROR
    assert zed.tool_result.error_kind is ErrorKind.EXECUTION
    message = zed.tool_result.error or ""
    assert 'no recorded result for greet(name="Zed")' in message
    assert "re-run with --agent to run real tools" in message
    assert message in llm.requests[2].messages[-1].content  # the model is told, too
    assert done.status is StepStatus.DONE and result.final_answer == "ok"
    assert logged(agent_file) == []


def test_recorded_errors_come_back_with_their_kind(agent_file: Path) -> None:
    trace = record(agent_file)
    session = rerun(trace, 2, "recorded", "recorded", agent=None)

    steps, _ = drive(session)

    failed, recorded = steps[0].tool_result, TraceReader(trace).step(2).tool_result
    assert failed.error_kind is ErrorKind.EXECUTION and failed.error == "RuntimeError: boom"
    assert failed.to_dict() == recorded.to_dict()  # the traceback and timing too
    assert logged(agent_file) == []


def test_recorded_tools_hand_out_each_result_once_then_repeat_the_last(agent_file: Path) -> None:
    trace = record(agent_file)
    session = rerun(trace, 4, "agent", "recorded", agent=f"{agent_file}:wanderer")
    tools: Any = session.tools

    first = tools.answer("greet", name="Bob")  # step 3: before the start, found anywhere
    second = tools.answer("greet", name="Bob")
    assert first.data == second.data == "Hello, Bob!"
    first.data = "changed"  # each answer is a copy: editing one does not change the next
    assert tools.answer("greet", name="Bob").data == "Hello, Bob!"
    assert tools.get("greet")(name="Cy").data == "Hello, Cy!"  # the spec answers the same way
    assert "done" not in tools  # the loop's own done tool needs no recorded result


def test_recorded_results_are_used_in_order_from_the_start_then_earlier(
    agent_file: Path,
) -> None:
    trace = record(agent_file, "repeats")  # greet Ada three times: three different results
    session = rerun(trace, 2, "agent", "recorded", agent=f"{agent_file}:asks_ada_four_times")

    steps, _ = drive(session)

    assert [s.tool_result.data for s in steps[:4]] == [
        "Hello again, Ada (time 2)!",  # step 2, where the re-run starts
        "Hello again, Ada (time 3)!",  # step 3
        "Hello, Ada!",  # then step 1, from before the start
        "Hello, Ada!",  # every match used: the last one again
    ]


def test_a_json_tool_mode_trace_reruns_in_json_mode(agent_file: Path) -> None:
    trace = record(agent_file, "json_mode")
    reader = TraceReader(trace)
    assert reader.tools() == []  # JSON mode offers the backend no schemas
    session = rerun(trace, 2, "recorded", "recorded", agent=None)
    assert session.config.tool_mode == "json"
    assert session.tools.names() == ["greet", "fail"]  # the tools its steps called

    steps, result = drive(session)

    assert [outcome(s) for s in steps] == [outcome(reader.step(n)) for n in (2, 3, 4)]
    assert result.stop_reason is StopReason.DONE and result.final_answer == "greeted"


def test_a_step_from_a_multi_call_reply_restarts_at_that_reply(agent_file: Path) -> None:
    trace = record(agent_file)
    session = rerun(trace, 5, "recorded", "recorded", agent=None)  # Dee, the reply's 2nd call
    assert session.title.startswith("re-run from step 4 ")
    assert list(session.state.conversation) == TraceReader(trace).prompt(4)

    steps, _ = drive(session)

    assert [(s.number, s.tool_call.args if s.tool_call else None) for s in steps[:2]] == [
        (4, {"name": "Cy"}),
        (5, {"name": "Dee"}),
    ]


def test_running_out_of_recorded_replies_ends_the_run_saying_why(agent_file: Path) -> None:
    trace = record(agent_file, "short")  # stopped by its budget of 3 steps after 3 replies
    session = rerun(trace, 2, "recorded", "agent", agent=str(agent_file))  # budget 20

    steps, result = drive(session)

    assert [s.number for s in steps] == [2, 3, 4]
    assert steps[-1].tool_result.error_kind is ErrorKind.LLM
    assert result.stop_reason is StopReason.LLM_ERROR
    assert "the recording has no model reply for call 4" in result.message
    assert "re-run with --agent" in result.message


def test_the_recorded_budget_applies_without_the_agent(agent_file: Path) -> None:
    trace = record(agent_file, "short")
    session = rerun(trace, 2, "recorded", "recorded", agent=None)

    steps, result = drive(session)

    assert [s.number for s in steps] == [2, 3]
    assert result.stop_reason is StopReason.MAX_STEPS


def test_a_recorded_model_failure_is_named_when_the_replies_run_out(agent_file: Path) -> None:
    trace = record(agent_file, "server_fails")
    session = rerun(trace, 1, "recorded", "recorded", agent=None)

    _, result = drive(session)

    assert result.stop_reason is StopReason.LLM_ERROR
    assert "the recorded run's model failed here" in result.message
    assert "server down" in result.message


def one_line(error: pytest.ExceptionInfo[SessionError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_a_step_without_a_model_reply_is_refused(agent_file: Path) -> None:
    trace = record(agent_file, "server_fails")  # step 2 is the failed call
    with pytest.raises(SessionError) as error:
        rerun(trace, 2, "recorded", "recorded", agent=None)
    assert "step 2 has no model reply to start from" in one_line(error)


def test_unknown_steps_are_refused(agent_file: Path) -> None:
    trace = record(agent_file)
    for number in (0, 7, 99):
        with pytest.raises(SessionError) as error:
            rerun(trace, number, "recorded", "recorded", agent=None)
        assert f"trace has no step {number} (it has 6 steps)" in one_line(error)


def test_the_agent_is_needed_for_its_model_or_tools(agent_file: Path) -> None:
    trace = record(agent_file)
    for model, tools in (("agent", "recorded"), ("recorded", "agent")):
        with pytest.raises(SessionError) as error:
            rerun(trace, 3, model, tools, agent=None)  # type: ignore[arg-type]
        assert "--agent path/to/agent.py[:factory]" in one_line(error)


def test_a_broken_factory_is_one_line(agent_file: Path) -> None:
    trace = record(agent_file)
    with pytest.raises(SessionError) as error:
        rerun(trace, 3, "agent", "recorded", agent=f"{agent_file}:broken")
    assert "broken raised RuntimeError: no API key" in one_line(error)


def test_a_damaged_trace_is_one_line(agent_file: Path) -> None:
    trace = record(agent_file)
    replay = replay_session(trace)
    (trace / "steps.jsonl").unlink()
    with pytest.raises(SessionError) as error:
        rerun_session(replay, 3, model="recorded", tools="recorded")
    assert "steps.jsonl: missing, so step 1's record cannot be read" in one_line(error)


def test_steps_held_in_memory_cannot_be_rerun(agent_file: Path) -> None:
    trace = record(agent_file)
    in_memory = ReplaySession(steps=list(TraceReader(trace).steps()))
    with pytest.raises(SessionError) as error:
        rerun_session(in_memory, 1, model="recorded", tools="recorded")
    assert "only a trace read from disk" in one_line(error)


def test_the_rerun_is_a_new_run_with_the_agents_settings(agent_file: Path) -> None:
    trace = record(agent_file)  # recorded with a budget of 20
    session = rerun(trace, 1, "recorded", "agent", agent=f"{agent_file}:short")
    assert session.config.max_steps == 3
    assert session.state.run_id != TraceReader(trace).run_id


async def test_the_debugger_switches_from_the_replay_to_the_rerun(agent_file: Path) -> None:
    from looplet_tui.app import DebuggerApp
    from tests.tui.pilot import FIXED_CLOCK, SIZE, until

    trace = record(agent_file)
    app = DebuggerApp(replay_session(trace), clock=lambda: FIXED_CLOCK, timings=False)
    async with app.run_test(size=SIZE) as pilot:
        replay = app.session
        assert isinstance(replay, ReplaySession)
        session = rerun_session(replay, 3, model="recorded", tools="recorded")
        app.open_session(session, start_paused=False)
        await until(pilot, lambda: app.controller.finished, "the re-run to end")
        shown = [e for e in app.controller.entries if isinstance(e, Step)]
        assert [s.number for s in shown] == [1, 2, 3, 4, 5, 6]  # history, then the re-run
        assert shown[2] is session.state.steps[2]  # step 3 is the re-run's, not the trace's
        result = app.controller.result
        assert result is not None and result.stop_reason is StopReason.DONE
