"""Every hook decision has one effect, recorded on the step; a raising hook is a clear stop."""

from __future__ import annotations

import re
from typing import Any

from looplet_core import (
    Allow,
    Continue,
    Deny,
    ErrorKind,
    Event,
    EventKind,
    InjectContext,
    LoopConfig,
    StepStatus,
    Stop,
    StopReason,
    ToolResult,
)

from .helpers import assert_pairing_valid, make_tools, run

DONE = {"tool": "done", "args": {"answer": "x"}}
EMAIL = re.compile(r"[\w.]+@[\w.]+")


class RedactPII:
    def pre_prompt(self, state, log, ctx, step):
        return ctx.map_text(lambda text: EMAIL.sub("[email]", text))


class RetryFlakyTool:
    def pre_dispatch(self, state, log, tc, step):
        if tc.tool == "search" and state.last_error:
            return Deny("retry with backoff", retry=True)
        return None


def test_pre_prompt_edit_changes_the_request_but_not_the_history():
    steps, _, llm, state = run([DONE], hooks=[RedactPII()], task="Mail bob@example.com")
    assert "[email]" in llm.requests[0].messages[1].content
    assert "bob@example.com" not in llm.requests[0].messages[1].content
    assert "bob@example.com" in state.conversation[1].content
    assert steps[0].decisions[0].hook == "RedactPII"
    assert steps[0].decisions[0].decision == "edit"


def test_pre_prompt_inject_context_stays_in_the_history():
    class Remind:
        def pre_prompt(self, state, log, ctx, step):
            return InjectContext("Remember: be brief.") if step == 1 else None

    script = [{"tool": "greet", "args": {"name": "A"}}, DONE]
    _, _, llm, _ = run(script, hooks=[Remind()])
    assert llm.requests[0].messages[-1].content == "Remember: be brief."
    assert any(m.content == "Remember: be brief." for m in llm.requests[1].messages)


def test_pre_prompt_stop_ends_the_run_before_the_model_is_called():
    class Halt:
        def pre_prompt(self, state, log, ctx, step):
            return Stop("budget policy")

    steps, result, llm, _ = run([DONE], hooks=[Halt()])
    assert steps == [] and llm.requests == []
    assert result.stop_reason is StopReason.HOOK_STOP
    assert result.message == "budget policy"


def test_allow_with_args_rewrites_the_call_and_keeps_the_original():
    calls: list = []

    class Polite:
        def pre_dispatch(self, state, log, tc, step):
            if tc.tool == "greet":
                return Allow(args={"name": tc.args["name"].title()})
            return None

    script = [{"tool": "greet", "args": {"name": "alice"}}, DONE]
    steps, _, _, _ = run(script, tools=make_tools(calls=calls), hooks=[Polite()])
    assert calls[0] == ("greet", {"name": "Alice"})
    assert steps[0].tool_call.args == {"name": "Alice"}
    assert steps[0].original_args == {"name": "alice"}
    assert (steps[0].decisions[0].hook, steps[0].decisions[0].decision) == ("Polite", "rewrite")


def test_allow_with_invalid_args_is_a_validation_error_naming_the_hook():
    class Broken:
        def pre_dispatch(self, state, log, tc, step):
            return Allow(args={"nam": "x"}) if tc.tool == "greet" else None

    calls: list = []
    script = [{"tool": "greet", "args": {"name": "a"}}, DONE]
    steps, _, _, _ = run(script, tools=make_tools(calls=calls), hooks=[Broken()])
    assert calls == []
    assert steps[0].tool_result.error_kind is ErrorKind.VALIDATION
    assert "Broken" in (steps[0].tool_result.error or "")


def test_deny_skips_the_tool_and_tells_the_model_not_to_repeat():
    calls: list = []

    class NoGreeting:
        def pre_dispatch(self, state, log, tc, step):
            return Deny("greetings are off") if tc.tool == "greet" else None

    script = [{"tool": "greet", "args": {"name": "a"}}, DONE]
    steps, result, llm, _ = run(script, tools=make_tools(calls=calls), hooks=[NoGreeting()])
    assert calls == []
    assert steps[0].status is StepStatus.DENIED
    assert steps[0].tool_result.error_kind is ErrorKind.PERMISSION
    assert "Do not repeat" in llm.requests[1].messages[-1].content
    assert result.stop_reason is StopReason.DONE


def test_deny_with_retry_asks_model_again_and_skips_the_rest_of_the_reply():
    calls: list = []
    script = [
        {"tool": "boom"},
        [{"tool": "search", "args": {"query": "q"}}, {"tool": "greet", "args": {"name": "b"}}],
        {"tool": "search", "args": {"query": "q"}},
        DONE,
    ]
    steps, _, llm, _ = run(script, tools=make_tools(calls=calls), hooks=[RetryFlakyTool()])
    assert [s.tool for s in steps] == ["boom", "search", "search", "done"]
    assert steps[1].status is StepStatus.DENIED
    assert ("greet", {"name": "b"}) not in calls  # the queued call was skipped
    retry_request = list(llm.requests[2].messages)
    assert "You may call it again" in retry_request[-2].content
    assert "earlier call in this reply was denied" in retry_request[-1].content
    assert_pairing_valid(retry_request)
    assert calls[-1] == ("search", {"query": "q"})  # the retried call ran once allowed


def test_stop_in_pre_dispatch_does_not_run_the_tool_and_ends_the_run():
    calls: list = []

    class Guard:
        def pre_dispatch(self, state, log, tc, step):
            return Stop("dangerous")

    script = [{"tool": "greet", "args": {"name": "a"}}]
    steps, result, _, state = run(script, tools=make_tools(calls=calls), hooks=[Guard()])
    assert calls == []
    assert steps[0].status is StepStatus.DENIED
    assert result.stop_reason is StopReason.HOOK_STOP
    assert_pairing_valid(list(state.conversation))


def test_post_dispatch_can_replace_the_result_the_model_sees():
    class Shorten:
        def post_dispatch(self, state, log, tc, result, step):
            if isinstance(result.data, list):
                return result.data[:2]
            return None

    script = [{"tool": "search", "args": {"query": "q"}}, DONE]
    steps, _, llm, _ = run(script, hooks=[Shorten()])
    assert steps[0].tool_result.data == ["q-0", "q-1"]
    assert llm.requests[1].messages[-1].content == '["q-0", "q-1"]'
    assert steps[0].decisions[0].decision == "replace_result"


def test_post_dispatch_can_turn_a_result_into_an_error():
    class Reject:
        def post_dispatch(self, state, log, tc, result, step):
            if tc.tool == "greet":
                return ToolResult(error="result looked wrong", error_kind=ErrorKind.EXECUTION)
            return None

    script = [{"tool": "greet", "args": {"name": "a"}}, DONE]
    steps, _, _, _ = run(script, hooks=[Reject()])
    assert steps[0].status is StepStatus.ERROR


def test_post_dispatch_injection_waits_until_all_results_of_the_reply_are_in():
    class Note:
        def post_dispatch(self, state, log, tc, result, step):
            return InjectContext(f"note after {tc.args.get('name')}")

    script = [
        [{"tool": "greet", "args": {"name": "a"}}, {"tool": "greet", "args": {"name": "b"}}],
        DONE,
    ]
    _, _, llm, _ = run(script, hooks=[Note()])
    sent = list(llm.requests[1].messages)
    assert_pairing_valid(sent)
    assert [m.content for m in sent[-2:]] == ["note after a", "note after b"]


def test_check_done_continue_rejects_done_and_tells_the_model_why():
    class NeedTwoGreetings:
        def check_done(self, state, log, step):
            if log.last.status is StepStatus.DONE and len(log.by_tool("greet")) < 2:
                return Continue("greet both people first")
            return None

    script = [
        {"tool": "greet", "args": {"name": "a"}},
        DONE,
        {"tool": "greet", "args": {"name": "b"}},
        DONE,
    ]
    steps, result, llm, _ = run(script, hooks=[NeedTwoGreetings()])
    assert steps[1].status is StepStatus.DENIED
    assert "greet both people first" in llm.requests[2].messages[-1].content
    assert [s.tool for s in steps] == ["greet", "done", "greet", "done"]
    assert result.stop_reason is StopReason.DONE


def test_check_done_stop_ends_the_run_after_the_step():
    class OneStep:
        def check_done(self, state, log, step):
            return Stop("one is enough")

    script = [{"tool": "greet", "args": {"name": "a"}}, DONE]
    steps, result, _, _ = run(script, hooks=[OneStep()])
    assert len(steps) == 1
    assert result.stop_reason is StopReason.HOOK_STOP
    assert result.message == "one is enough"


def test_hook_that_raises_is_an_error_step_naming_the_hook_and_the_run_stops():
    class Faulty:
        def pre_dispatch(self, state, log, tc, step):
            raise RuntimeError("oops")

    calls: list = []
    script = [{"tool": "greet", "args": {"name": "a"}}, DONE]
    steps, result, _, state = run(script, tools=make_tools(calls=calls), hooks=[Faulty()])
    assert calls == []
    assert steps[-1].tool_result.error_kind is ErrorKind.HOOK
    assert "Faulty.pre_dispatch raised RuntimeError: oops" in (steps[-1].tool_result.error or "")
    assert result.stop_reason is StopReason.HOOK_ERROR
    assert_pairing_valid(list(state.conversation))


def test_hook_raising_in_pre_prompt_or_check_done_stops_with_hook_error():
    class BadPrompt:
        def pre_prompt(self, state, log, ctx, step):
            raise KeyError("k")

    class BadDone:
        def check_done(self, state, log, step):
            raise ValueError("v")

    for hook, where in ((BadPrompt(), "pre_prompt"), (BadDone(), "check_done")):
        steps, result, _, state = run(
            [{"tool": "greet", "args": {"name": "a"}}, DONE], hooks=[hook]
        )
        assert result.stop_reason is StopReason.HOOK_ERROR
        assert where in result.message
        assert steps[-1].tool_result.error_kind is ErrorKind.HOOK
        assert_pairing_valid(list(state.conversation))


def test_on_event_hook_that_raises_stops_the_run():
    class BadObserver:
        def on_event(self, event):
            if event.kind is EventKind.TOOL_END:
                raise RuntimeError("observer broke")

    _, result, _, _ = run([{"tool": "greet", "args": {"name": "a"}}, DONE], hooks=[BadObserver()])
    assert result.stop_reason is StopReason.HOOK_ERROR
    assert "BadObserver.on_event" in result.message


def test_events_cover_the_run_lifecycle_in_order():
    seen: list[Event] = []

    class Recorder:
        def on_event(self, event):
            seen.append(event)

    run([{"tool": "greet", "args": {"name": "a"}}, DONE], hooks=[Recorder()])
    kinds = [e.kind.value for e in seen]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert kinds.index("llm_start") < kinds.index("llm_end") < kinds.index("tool_start")
    assert kinds.index("tool_start") < kinds.index("tool_end") < kinds.index("step")


def test_streamed_text_arrives_as_llm_delta_events():
    deltas: list[str] = []

    class Recorder:
        def on_event(self, event):
            if event.kind is EventKind.LLM_DELTA:
                deltas.append(event.data["text"])

    from looplet_core import DefaultState, MockLLMBackend, composable_loop

    llm = MockLLMBackend(["thinking out loud", DONE], stream_chunk=4)
    list(
        composable_loop(
            llm=llm,
            tools=make_tools(),
            task="t",
            hooks=[Recorder()],
            config=LoopConfig(stream=True),
            state=DefaultState(),
        )
    )
    assert "".join(deltas) == "thinking out loud"
    assert len(deltas) == 5


def test_hook_methods_are_looked_up_once_per_run():
    lookups: dict[str, int] = {}

    class Counting:
        def __getattribute__(self, name: str) -> Any:
            lookups[name] = lookups.get(name, 0) + 1
            return object.__getattribute__(self, name)

        def pre_dispatch(self, state, log, tc, step):
            return None

    script = [{"tool": "greet", "args": {"name": str(i)}} for i in range(10)] + [DONE]
    run(script, hooks=[Counting()])
    assert lookups["pre_dispatch"] == 1


def test_hooks_compose_in_order_and_each_sees_the_previous_rewrite():
    seen: list[dict] = []

    class Upper:
        def pre_dispatch(self, state, log, tc, step):
            return Allow(args={"name": tc.args["name"].upper()}) if tc.tool == "greet" else None

    class Spy:
        def pre_dispatch(self, state, log, tc, step):
            seen.append(dict(tc.args))

    run([{"tool": "greet", "args": {"name": "ann"}}, DONE], hooks=[Upper(), Spy()])
    assert seen[0] == {"name": "ANN"}
