"""The loop's contract, driven by the scripted backend: steps yielded and messages the model got."""

from __future__ import annotations

import pytest

from looplet_core import (
    DefaultState,
    ErrorKind,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    ScriptExhaustedError,
    StepStatus,
    StopReason,
    ToolCall,
    async_composable_loop,
    composable_loop,
)
from looplet_core.cancel import CancelToken

from .helpers import assert_pairing_valid, make_tools, run

GREET_SCRIPT = [
    {"tool": "greet", "args": {"name": "Alice"}},
    {"tool": "greet", "args": {"name": "Bob"}},
    {"tool": "done", "args": {"answer": "Greeted both."}},
]


def test_seed_first_agent_greets_then_finishes_with_answer():
    steps, result, _, _ = run(GREET_SCRIPT, task={"goal": "Greet Alice and Bob, then finish."})
    assert [s.tool for s in steps] == ["greet", "greet", "done"]
    assert [s.number for s in steps] == [1, 2, 3]
    assert steps[0].tool_result.data == {"greeting": "Hello, Alice!"}
    assert steps[0].tool_result.error is None
    assert steps[-1].status is StepStatus.DONE
    assert result.stop_reason is StopReason.DONE
    assert result.final_answer == {"answer": "Greeted both."}
    assert len(result.steps) == 3


def test_model_sees_every_tool_result_in_the_next_request():
    _, _, llm, _ = run(GREET_SCRIPT)
    second = list(llm.requests[1].messages)
    assert [m.role for m in second] == ["system", "user", "assistant", "tool"]
    assert second[-1].content == '{"greeting": "Hello, Alice!"}'
    assert second[-1].tool_call_id == second[-2].tool_calls[0].id
    assert_pairing_valid(list(llm.requests[2].messages))


def test_task_dict_goal_leads_the_first_user_message():
    _, _, llm, _ = run(GREET_SCRIPT, task={"goal": "Greet people.", "names": ["Alice", "Bob"]})
    first_user = llm.requests[0].messages[1]
    assert first_user.content == 'Greet people.\nnames: ["Alice", "Bob"]'


def test_backend_receives_tool_schemas_including_done():
    _, _, llm, _ = run(GREET_SCRIPT)
    names = [t["name"] for t in llm.requests[0].tools]
    assert "greet" in names and "done" in names


def test_several_calls_in_one_reply_become_several_steps_sharing_one_llm_call():
    script = [
        [
            {"tool": "greet", "args": {"name": "Alice"}},
            {"tool": "greet", "args": {"name": "Bob"}},
        ],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, result, llm, _ = run(script)
    assert [s.number for s in steps] == [1, 2, 3]
    assert steps[0].llm_call is steps[1].llm_call
    assert result.llm_calls == 2
    assert_pairing_valid(list(llm.requests[1].messages))


def test_max_steps_is_never_overshot_and_unrun_calls_still_get_results():
    script = [[{"tool": "greet", "args": {"name": n}} for n in ("A", "B", "C")]]
    steps, result, _, state = run(script, config=LoopConfig(max_steps=2))
    assert len(steps) == 2
    assert result.stop_reason is StopReason.MAX_STEPS
    messages = list(state.conversation)
    assert_pairing_valid(messages)
    assert "Not run" in messages[-1].content


def test_state_max_steps_also_limits_the_run():
    state = DefaultState(max_steps=1)
    llm = MockLLMBackend(GREET_SCRIPT)
    steps = list(composable_loop(llm=llm, tools=make_tools(), task="t", state=state))
    assert len(steps) == 1
    assert state.result is not None and state.result.stop_reason is StopReason.MAX_STEPS


def test_done_is_built_in_when_the_registry_has_none():
    script = [{"tool": "done", "args": {"answer": "42"}}]
    steps, result, llm, _ = run(script, tools=make_tools(with_done=False))
    assert "done" in [t["name"] for t in llm.requests[0].tools]
    assert steps[0].status is StepStatus.DONE
    assert result.final_answer == "42"


def test_generator_return_value_is_the_loop_result():
    loop = composable_loop(llm=MockLLMBackend(GREET_SCRIPT), tools=make_tools(), task="t")
    with pytest.raises(StopIteration) as stop:
        while True:
            next(loop)
    assert stop.value.value.stop_reason is StopReason.DONE


def test_usage_is_summed_from_reported_usage():
    llm = MockLLMBackend(GREET_SCRIPT, report_usage=True)
    state = DefaultState()
    list(composable_loop(llm=llm, tools=make_tools(), task="t", state=state))
    assert state.result is not None
    calls = [s.llm_call for s in state.result.steps]
    assert state.result.usage.input_tokens == sum(
        c.usage.input_tokens for c in calls if c and c.usage
    )
    assert state.result.usage.input_tokens > 0


def test_a_scripted_reply_is_not_changed_by_the_run_that_used_it():
    reply = LLMResponse(text="", tool_calls=[ToolCall("done", {"answer": "x"}, "c1")])

    def usage_of_a_run(task: str) -> int:
        llm = MockLLMBackend([reply], report_usage=True)
        steps = list(composable_loop(llm=llm, tools=make_tools(), task=task))
        call = steps[-1].llm_call
        assert call is not None and call.usage is not None
        return call.usage.input_tokens

    short = usage_of_a_run("short")
    assert reply.usage is None  # the run's usage went on a copy, not on the script's reply
    assert usage_of_a_run("a much longer task " * 20) > short  # its own count, not the first's


def test_unknown_tool_is_an_error_step_that_names_the_closest_tool_then_continues():
    script = [{"tool": "gret", "args": {"name": "A"}}, {"tool": "done", "args": {"answer": "x"}}]
    steps, result, llm, _ = run(script)
    assert steps[0].status is StepStatus.ERROR
    assert steps[0].tool_result.error_kind is ErrorKind.VALIDATION
    assert "greet" in (steps[0].tool_result.error or "")
    assert "greet" in llm.requests[1].messages[-1].content
    assert result.stop_reason is StopReason.DONE


def test_wrong_argument_type_never_reaches_the_tool():
    calls: list = []
    script = [
        {"tool": "add", "args": {"a": "one", "b": 2}},
        {"tool": "done", "args": {"answer": "x"}},
    ]
    steps, _, _, _ = run(script, tools=make_tools(calls=calls))
    assert steps[0].tool_result.error_kind is ErrorKind.VALIDATION
    assert calls == []


def test_missing_argument_is_reported_to_the_model():
    script = [{"tool": "greet", "args": {}}, {"tool": "done", "args": {"answer": "x"}}]
    steps, _, llm, _ = run(script)
    assert steps[0].tool_result.error_kind is ErrorKind.VALIDATION
    assert "name" in llm.requests[1].messages[-1].content


def test_prose_instead_of_a_call_is_a_parse_error_then_the_model_recovers():
    script = ["I think I will greet Alice.", {"tool": "done", "args": {"answer": "x"}}]
    steps, result, llm, _ = run(script)
    assert steps[0].tool_call is None
    assert steps[0].tool_result.error_kind is ErrorKind.PARSE
    last = llm.requests[1].messages[-1]
    assert last.role == "user" and "did not call a tool" in last.content
    assert result.stop_reason is StopReason.DONE


def test_empty_reply_is_a_parse_error():
    steps, _, _, _ = run(["", {"tool": "done", "args": {"answer": "x"}}])
    assert "empty" in (steps[0].tool_result.error or "")


def test_repeated_unusable_replies_stop_with_parse_error_after_the_retry_limit():
    steps, result, _, _ = run(["a", "b", "c"], config=LoopConfig(max_parse_retries=2))
    assert len(steps) == 3
    assert result.stop_reason is StopReason.PARSE_ERROR
    assert "3 times" in result.message


def test_text_reply_can_be_the_final_answer_when_configured():
    steps, result, _, _ = run(["The answer is 4."], config=LoopConfig(text_is_final=True))
    assert steps == []
    assert result.stop_reason is StopReason.FINAL_TEXT
    assert result.final_answer == "The answer is 4."


def test_invalid_json_arguments_are_sent_back_as_a_parse_error():
    script = [
        {"tool": "greet", "parse_error": "Expecting ',' at char 12"},
        {"tool": "done", "args": {"answer": "x"}},
    ]
    steps, _, llm, _ = run(script)
    assert steps[0].tool_result.error_kind is ErrorKind.PARSE
    assert "not valid JSON" in llm.requests[1].messages[-1].content
    assert_pairing_valid(list(llm.requests[1].messages))


def test_tool_that_raises_becomes_an_execution_error_with_traceback():
    script = [{"tool": "boom"}, {"tool": "done", "args": {"answer": "x"}}]
    steps, result, llm, _ = run(script)
    assert steps[0].tool_result.error_kind is ErrorKind.EXECUTION
    assert "kaboom" in (steps[0].tool_result.error or "")
    assert "Traceback" in (steps[0].tool_result.traceback or "")
    assert "kaboom" in llm.requests[1].messages[-1].content
    assert "Traceback" not in llm.requests[1].messages[-1].content
    assert result.stop_reason is StopReason.DONE


def test_tool_that_hangs_past_its_timeout_is_a_timeout_error():
    script = [{"tool": "slow", "args": {"seconds": 5}}, {"tool": "done", "args": {"answer": "x"}}]
    steps, result, _, _ = run(script)
    assert steps[0].tool_result.error_kind is ErrorKind.TIMEOUT
    assert steps[0].elapsed_ms < 3000
    assert result.stop_reason is StopReason.DONE


def test_last_error_tracks_the_most_recent_step():
    script = [{"tool": "boom"}, {"tool": "greet", "args": {"name": "A"}}]
    llm = MockLLMBackend(script)
    state = DefaultState()
    loop = composable_loop(
        llm=llm, tools=make_tools(), task="t", state=state, config=LoopConfig(max_steps=2)
    )
    next(loop)
    assert state.last_error and "kaboom" in state.last_error
    next(loop)
    assert state.last_error is None


def test_script_running_out_raises_instead_of_cycling():
    with pytest.raises(ScriptExhaustedError, match="script has 1 replies"):
        run([{"tool": "greet", "args": {"name": "A"}}])


def test_cancel_token_stops_the_run_cleanly():
    cancel = CancelToken()
    script = [[{"tool": "greet", "args": {"name": n}} for n in ("A", "B", "C")]]
    state = DefaultState()
    steps = []
    for step in composable_loop(
        llm=MockLLMBackend(script), tools=make_tools(), task="t", state=state, cancel=cancel
    ):
        steps.append(step)
        cancel.cancel("user pressed q")
    assert len(steps) == 1
    assert state.result is not None
    assert state.result.stop_reason is StopReason.CANCELLED
    assert state.result.message == "user pressed q"
    assert_pairing_valid(list(state.conversation))


def test_json_mode_parses_calls_from_text_and_sends_results_as_user_messages():
    script = [
        '```json\n{"tool": "greet", "args": {"name": "Alice"}}\n```',
        '{"tool": "done", "args": {"answer": "ok"}}',
    ]
    steps, result, llm, _ = run(script, config=LoopConfig(tool_mode="json"))
    assert [s.tool for s in steps] == ["greet", "done"]
    assert llm.requests[0].tools == []
    assert "greet" in llm.requests[0].messages[0].content  # instructions in the system prompt
    assert all(m.role != "tool" for m in llm.requests[1].messages)
    assert "Hello, Alice!" in llm.requests[1].messages[-1].content
    assert result.stop_reason is StopReason.DONE


def test_record_prompts_keeps_the_exact_messages_each_step_was_based_on():
    steps, _, llm, _ = run(GREET_SCRIPT, config=LoopConfig(record_prompts=True))
    assert steps[1].prompt == tuple(llm.requests[1].messages)
    assert steps[0].prompt is not None and len(steps[0].prompt) == 2


async def test_async_twin_yields_the_same_steps_and_sends_the_same_messages():
    sync_steps, _, sync_llm, _ = run(GREET_SCRIPT)
    llm = MockLLMBackend(GREET_SCRIPT)
    state = DefaultState()
    async_steps = [
        s
        async for s in async_composable_loop(
            llm=llm,
            tools=make_tools(),
            task="Do the thing.",
            state=state,
            config=LoopConfig(max_steps=20),
        )
    ]
    assert [s.pretty().rsplit("[", 1)[0] for s in async_steps] == [
        s.pretty().rsplit("[", 1)[0] for s in sync_steps
    ]
    assert [list(r.messages) for r in llm.requests] == [list(r.messages) for r in sync_llm.requests]
    assert state.result is not None and state.result.stop_reason is StopReason.DONE


async def test_async_loop_awaits_async_tools():
    from looplet_core import ToolSpec

    tools = make_tools()

    async def fetch(*, url: str) -> str:
        return f"<html>{url}</html>"

    tools.register(ToolSpec("fetch", "Fetch a page.", {"url": "str"}, fetch))
    llm = MockLLMBackend(
        [{"tool": "fetch", "args": {"url": "u"}}, {"tool": "done", "args": {"answer": "x"}}]
    )
    steps = [s async for s in async_composable_loop(llm=llm, tools=tools, task="t")]
    assert steps[0].tool_result.data == "<html>u</html>"


def test_cancel_while_pre_prompt_hooks_run_skips_the_model_call():
    cancel = CancelToken()

    class PauseThenQuit:
        def pre_prompt(self, state, log, ctx, step):
            if step == 2:
                cancel.cancel("quit in the debugger")

    script = [{"tool": "greet", "args": {"name": "A"}}, {"tool": "done", "args": {"answer": "x"}}]
    llm = MockLLMBackend(script)
    state = DefaultState()
    list(
        composable_loop(
            llm=llm,
            tools=make_tools(),
            task="t",
            state=state,
            cancel=cancel,
            hooks=[PauseThenQuit()],
        )
    )
    assert len(llm.requests) == 1
    assert state.result is not None and state.result.stop_reason is StopReason.CANCELLED


def test_recorded_prompts_share_the_conversation_instead_of_copying_it():
    _, _, _, state = run(GREET_SCRIPT, config=LoopConfig(record_prompts=True))
    first, second = state.steps[0].prompt, state.steps[1].prompt
    assert first is not None and second is not None
    assert len(first) == 2 and len(second) == 4
    assert second[0] is first[0]  # the same Message objects, not copies


def test_run_start_event_carries_any_task_as_json_data():
    import json

    from looplet_core import EventKind

    deep: list = []
    for _ in range(5000):
        deep = [deep]
    seen: dict = {}

    class Recorder:
        def on_event(self, event):
            if event.kind is EventKind.RUN_START:
                seen.update(event.data)

    task = {"goal": "g", "when": object(), "tree": deep}
    _, result, _, _ = run(
        [{"tool": "done", "args": {"answer": "x"}}], task=task, hooks=[Recorder()]
    )
    assert result.stop_reason is StopReason.DONE
    json.dumps(seen["task"])  # plain JSON data, however odd or deep the task was
    assert seen["task"]["goal"] == "g" and seen["task"]["when"].startswith("<object")


def test_a_scripted_model_can_go_on_after_the_replies_a_resumed_run_used() -> None:
    llm = MockLLMBackend([{"tool": "greet", "args": {"name": n}} for n in "abc"])
    llm.skip(2)
    assert llm.remaining == 1
    llm.skip(5)  # never past the end
    assert llm.remaining == 0
    with pytest.raises(ValueError, match="give 0 or more"):
        llm.skip(-1)
