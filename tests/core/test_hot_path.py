"""The invariants the per-step speed-ups of the engine rely on (issue 16).

Each test names what an optimisation assumes, so that a later change breaking the assumption
fails here instead of silently changing what a run records.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
import json
import pickle
import time
from collections import UserDict
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from looplet_core import (
    BaseToolRegistry,
    ContextMeter,
    ContextStats,
    Event,
    EventKind,
    HookDecision,
    LLMCall,
    LoopConfig,
    Message,
    MockLLMBackend,
    Step,
    StepStatus,
    ToolCall,
    ToolSpec,
    composable_loop,
)
from looplet_core.context.tokens import ROLES
from looplet_core.records import CONTEXT_ROLES
from looplet_core.tools.args import ArgsValidator

from .context_helpers import Chars4
from .helpers import make_tools, run

# -- hand-written __init__ of the frozen message classes ------------------------------------------


@pytest.mark.parametrize("cls", [Message, ToolCall, Event])
def test_the_written_out_init_takes_exactly_the_fields_in_order_with_their_defaults(cls):
    # Message, ToolCall and Event set their slots directly instead of the dataclass __init__: a
    # field added, renamed or given a new default without updating __init__ must fail here.
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for param, fld in zip(params, fields, strict=True):
        if fld.default is not dataclasses.MISSING:
            assert param.default == fld.default, fld.name
        elif fld.default_factory is not dataclasses.MISSING:
            assert param.default is not inspect.Parameter.empty, fld.name
        else:
            assert param.default is inspect.Parameter.empty, fld.name


def test_messages_and_calls_stay_frozen_equal_and_hashable_values():
    call = ToolCall("echo", {"x": "hi"}, "c1")
    message = Message("assistant", "", (call,), reasoning="why")
    assert message == Message(role="assistant", tool_calls=(call,), reasoning="why")
    assert message.tool_call_id is None and message.name is None and message.content == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.content = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.args = {}  # type: ignore[misc]
    assert dataclasses.replace(message, content="x").content == "x"
    assert hash(Message("user", "a")) == hash(Message("user", "a"))
    assert Message.from_dict(message.to_dict()) == message


def test_an_event_stays_a_frozen_value_with_its_own_data_and_the_time_it_was_made():
    before = time.time()
    first, second = Event(EventKind.STEP), Event(EventKind.STEP, "r", 2)
    assert before <= first.time <= time.time()
    assert first.data == {} and first.data is not second.data
    assert (second.run_id, second.step) == ("r", 2)
    given = Event(kind=EventKind.ERROR, run_id="r", step=1, data={"error": "x"}, time=5.0)
    assert given == Event(EventKind.ERROR, "r", 1, {"error": "x"}, 5.0)
    assert dataclasses.replace(given, step=3).step == 3 and given.step == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.step = 2  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(given)) == given
    assert repr(given).startswith("Event(kind=<EventKind.ERROR: 'error'>, run_id='r', step=1")


def test_each_call_without_args_gets_its_own_dict_and_an_explicit_none_stays_none():
    first, second = ToolCall("a"), ToolCall("a")
    assert first.args == {} and first.args is not second.args
    assert ToolCall("a", None).args is None  # type: ignore[arg-type]
    assert repr(first) == "ToolCall(tool='a', args={}, id='', parse_error=None)"


# -- events are built only for a listener, and still built for one ---------------------------------


class Heard:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def test_a_listener_still_hears_every_step_event_with_its_payload():
    # The engine skips building event payloads when no hook listens; one that listens must
    # hear the same events as before, for every step.
    heard = Heard()
    script = [{"tool": "greet", "args": {"name": n}} for n in ("a", "b")]
    script.append({"tool": "done", "args": {"answer": "ok"}})
    steps, _, _, _ = run(script, hooks=[heard])
    kinds = [e.kind.value for e in heard.events]
    for kind in ("llm_start", "llm_end", "tool_start", "tool_end", "step"):
        assert kinds.count(kind) == 3, kind
    starts = [e.data for e in heard.events if e.kind.value == "tool_start"]
    assert [s["args"] for s in starts[:2]] == [{"name": "a"}, {"name": "b"}]
    ends = [e.data for e in heard.events if e.kind.value == "tool_end"]
    assert all(e["ok"] for e in ends) and all("elapsed_ms" in e for e in ends)
    prompts = [e.data["prompt"] for e in heard.events if e.kind.value == "llm_start"]
    assert [len(p) for p in prompts] == [s.llm_call.prompt_messages for s in steps]  # type: ignore[union-attr]
    step_events = [e for e in heard.events if e.kind.value == "step"]
    assert [e.step for e in step_events] == [1, 2, 3]
    assert step_events[-1].data == {"status": "done", "tool": "done"}


class HeardSome(Heard):
    def __init__(self, kinds: Any) -> None:
        super().__init__()
        self.event_kinds = kinds


def test_a_hook_with_event_kinds_hears_only_those_and_the_others_hear_every_kind():
    some, every = HeardSome({EventKind.STEP, "run_end"}), Heard()
    script = [{"tool": "greet", "args": {"name": "a"}}, {"tool": "done", "args": {"answer": "ok"}}]
    run(script, hooks=[some, every])
    assert [e.kind.value for e in some.events] == ["step", "step", "run_end"]
    kinds = {e.kind.value for e in every.events}
    assert {"run_start", "llm_start", "llm_end", "tool_start", "tool_end", "step"} <= kinds
    assert [e for e in every.events if e.kind in (EventKind.STEP, EventKind.RUN_END)] == some.events


def test_an_event_no_hook_hears_is_not_built(monkeypatch: pytest.MonkeyPatch):
    from looplet_core.engine import core

    built: list[str] = []

    class Counting(Event):
        __slots__ = ()

        def __init__(self, kind: EventKind, *args: Any) -> None:
            built.append(kind.value)
            super().__init__(kind, *args)

    monkeypatch.setattr(core, "Event", Counting)
    script = [{"tool": "greet", "args": {"name": "a"}}, {"tool": "done", "args": {"answer": "ok"}}]
    run(script, hooks=[HeardSome([EventKind.STEP])])
    assert built == ["step", "step"]


@pytest.mark.parametrize(
    ("kinds", "error", "match"),
    [
        ("step", TypeError, "event_kinds must be a collection of EventKind"),
        (3, TypeError, "event_kinds must be a collection"),
        (
            ["step", "stepp"],
            ValueError,
            r"event_kinds holds 'stepp', which is not an event kind \(run_start",
        ),
    ],
)
def test_bad_event_kinds_say_what_was_wrong(kinds: Any, error: type[Exception], match: str):
    script = [{"tool": "done", "args": {"answer": "ok"}}]
    with pytest.raises(error, match=f"hook HeardSome: {match}"):
        run(script, hooks=[HeardSome(kinds)])


def _timeless(step: dict[str, Any]) -> dict[str, Any]:
    """A step's record without what differs between two runs: times and the run id."""
    strip = ("elapsed_ms", "started_at", "finished_at", "run_id", "llm_call", "context")
    out = {k: v for k, v in step.items() if k not in strip}
    out["tool_result"] = {k: v for k, v in step["tool_result"].items() if k != "elapsed_ms"}
    return out


def test_a_run_records_the_same_steps_with_and_without_a_listener():
    script = [{"tool": "add", "args": {"a": 1, "b": 2}}, {"tool": "done", "args": {"answer": "3"}}]
    quiet, _, quiet_llm, _ = run(script)
    loud, _, loud_llm, _ = run(script, hooks=[Heard()])
    assert [_timeless(s.to_dict()) for s in quiet] == [_timeless(s.to_dict()) for s in loud]
    assert [list(r.messages) for r in quiet_llm.requests] == [
        list(r.messages) for r in loud_llm.requests
    ]


# -- a Prompt exists only for pre_prompt hooks ---------------------------------------------------


def test_without_pre_prompt_hooks_the_model_gets_the_conversation_view_and_steps_their_prompt():
    script = [{"tool": "greet", "args": {"name": "a"}}, {"tool": "done", "args": {"answer": "ok"}}]
    steps, _, llm, state = run(script, config=LoopConfig(max_steps=5, record_prompts=True))
    assert [len(r.messages) for r in llm.requests] == [2, 4]
    for step, request in zip(steps, llm.requests, strict=True):
        assert step.prompt is request.messages  # the view itself, no copy
        assert step.llm_call is not None and step.llm_call.prompt_messages == len(request.messages)
    assert list(llm.requests[-1].messages) == list(state.conversation)[:4]


def test_a_pre_prompt_hook_still_sees_a_prompt_priced_with_the_runs_meter():
    seen: list[Any] = []

    class Look:
        def pre_prompt(self, state, log, prompt, step):
            seen.append((prompt.step, prompt.stats, prompt.meter, len(prompt.messages)))

    script = [{"tool": "greet", "args": {"name": "a"}}, {"tool": "done", "args": {"answer": "ok"}}]
    steps, _, _, _ = run(script, hooks=[Look()])
    assert [s[0] for s in seen] == [1, 2] and [s[3] for s in seen] == [2, 4]
    assert all(s[1] is not None and s[1].total > 0 for s in seen)
    assert seen[0][2] is seen[1][2] is not None
    assert [s.context for s in steps] == [s[1] for s in seen]


# -- the context meter's id map is built on the first cost query -----------------------------------


def test_a_meter_never_asked_for_costs_keeps_no_id_map_and_builds_a_right_one_when_asked():
    estimator = Chars4()
    meter = ContextMeter(estimator)
    from looplet_core.messages import Conversation

    conversation = Conversation([Message("system", "s" * 40), Message("user", "t" * 80)])
    for i in range(5):
        conversation.append(Message("assistant", f"a{i}" * 10))
        conversation.append(Message("tool", f"r{i}" * 30, tool_call_id=f"c{i}", name="read"))
        meter.measure(conversation.view(), [], conversation)
    assert meter._ids is None  # pyright: ignore[reportPrivateUsage]
    before = estimator.calls
    messages = list(conversation)
    shuffled = [*messages[::-1], Message("user", "new " * 9)]  # no identity fast path
    fresh = ContextMeter(Chars4())
    assert meter.message_costs(shuffled) == [fresh.message_tokens(m) for m in shuffled]
    assert estimator.calls == before + 1  # only the stranger was priced
    # from now on the map is kept up to date by every measure
    conversation.append(Message("user", "later " * 7))
    meter.measure(conversation.view(), [], conversation)
    held = {id(m): c for m, c in zip(meter._messages, meter._counts, strict=True)}  # pyright: ignore[reportPrivateUsage]
    assert meter._ids == held  # pyright: ignore[reportPrivateUsage]


# -- fast type checks keep the slow paths for everything else ------------------------------------


def test_a_tool_returning_a_coroutine_is_still_awaited_and_plain_values_pass_through():
    async def later(*, x: str) -> str:
        await asyncio.sleep(0)
        return x.upper()

    tools = BaseToolRegistry()
    tools.register(ToolSpec("later", "Async echo.", parameters={"x": "str"}, execute=later))
    tools.register(
        ToolSpec("plain", "Dict.", parameters={"x": "str"}, execute=lambda *, x: {"x": x})
    )
    script = [
        {"tool": "later", "args": {"x": "hi"}},
        {"tool": "plain", "args": {"x": "yo"}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, _, _, _ = run(script, tools=tools)
    assert [s.tool_result.data for s in steps[:2]] == ["HI", {"x": "yo"}]


def test_the_validator_accepts_any_mapping_and_refuses_what_is_not_one():
    check = ArgsValidator(
        {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}, tool="t"
    )
    assert check({"x": "a"}) == ({"x": "a"}, None)
    assert check(MappingProxyType({"x": "b"})) == ({"x": "b"}, None)
    assert check(UserDict({"x": "c"})) == ({"x": "c"}, None)
    args, error = check(["x"])
    assert args is None and error is not None and "must be an object" in error


def test_a_scripted_entry_that_is_a_dict_subclass_is_still_a_tool_call():
    class Entry(dict[str, Any]):
        pass

    script = [Entry(tool="greet", args={"name": "a"}), {"tool": "done", "args": {"answer": "k"}}]
    steps, _, _, _ = run(script)
    assert [s.tool for s in steps] == ["greet", "done"]
    assert steps[-1].status is StepStatus.DONE


# -- a step keeps the model's own call when checking it changed nothing ------------------------


def test_a_step_shares_the_models_call_only_when_validation_changed_nothing():
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            "pick",
            "Pick.",
            parameters={
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "count": {"type": "integer", "default": 2},
                },
                "required": ["name"],
            },
            execute=lambda *, name, count: f"{name}x{count}",
        )
    )
    script = [
        [
            {"tool": "pick", "args": {"name": "a", "count": 3}},  # valid as sent
            {"tool": "pick", "args": {"name": 7, "count": 3}},  # 7 becomes "7"
            {"tool": "pick", "args": {"name": "b"}},  # the default is filled in
        ],
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, _, _, state = run(script, tools=tools)
    sent = list(state.conversation)[2].tool_calls
    assert steps[0].tool_call is sent[0] and steps[0].original_args is None
    assert steps[1].tool_call is not sent[1]
    assert steps[1].tool_call == ToolCall("pick", {"name": "7", "count": 3}, sent[1].id)
    assert steps[1].original_args == {"name": 7, "count": 3}
    assert steps[2].tool_call == ToolCall("pick", {"name": "b", "count": 2}, sent[2].id)
    assert steps[2].original_args == {"name": "b"}
    assert [s.tool_result.data for s in steps[:3]] == ["ax3", "7x3", "bx2"]


# -- the hot path builds its records positionally: each value must land in its field ------------


def test_records_built_positionally_hold_each_value_in_its_own_field():
    seen: list[Any] = []

    def look(*, x: str, ctx: Any) -> str:
        seen.append(ctx)
        return x

    tools = BaseToolRegistry()
    tools.register(ToolSpec("look", "Look.", parameters={"x": "str"}, execute=look))
    script = [
        {"tool": "look", "args": {"x": "hi"}, "text": "let me look"},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    config = LoopConfig(max_steps=5, record_prompts=True, context_window=50_000)
    steps, _, _, state = run(script, tools=tools, config=config)
    call = steps[0].llm_call
    assert call is not None
    assert (call.index, call.text, call.reasoning, call.usage) == (1, "let me look", None, None)
    assert (call.stop_reason, call.model, call.attempts) == ("tool_calls", "scripted", 1)
    assert call.prompt_messages == 2 and call.failures == [] and call.latency_ms >= 0.0
    assert [tc.tool for tc in call.tool_calls] == ["look"]
    (ctx,) = seen
    assert (ctx.step, ctx.run_id, ctx.tool, ctx.record_prompts) == (1, state.run_id, "look", True)
    assert ctx.approval is None and ctx.approver is None and ctx.workspace is None
    assert ctx.child_runs is not None and ctx.emit is None
    context = steps[0].context
    assert context is not None and context.window == 50_000 and context.tier == "ok"
    assert context.total == sum(context.by_role.values()) and not context.measured
    result = steps[0].tool_result
    assert (result.data, result.error, result.error_kind, result.traceback) == (
        "hi",
        None,
        None,
        None,
    )
    assert result.elapsed_ms >= 0.0
    assistant, told = list(state.conversation)[2:4]
    assert (assistant.role, assistant.content, assistant.tool_call_id, assistant.name) == (
        "assistant",
        "let me look",
        None,
        None,
    )
    assert (told.role, told.content, told.tool_calls) == ("tool", "hi", ())
    assert (told.tool_call_id, told.name) == (call.tool_calls[0].id, "look")


def test_the_scripted_model_s_usage_counts_a_grown_prompt_as_the_whole_prompt() -> None:
    """The mock keeps the size of the last prompt and adds only the new messages; whatever the
    prompts (grown, shorter, rewritten, a plain list, another conversation) the figure must be
    the plain sum over the whole prompt."""
    from looplet_core.backends.mock import _PromptSize  # pyright: ignore[reportPrivateUsage]
    from looplet_core.messages import Conversation

    def plain(messages: Sequence[Message], tools: Sequence[Any]) -> int:
        schemas = len(json.dumps(list(tools), ensure_ascii=False, default=str)) if tools else 0
        chars = sum(len(m.content) + 16 * len(m.tool_calls) for m in messages)
        return (chars + schemas) // 4 + 4 * len(messages)

    tools = [{"name": "t", "description": "d", "parameters": {}}]
    size = _PromptSize()
    convo = Conversation([Message("system", "s" * 40), Message("user", "task")])
    other = Conversation([Message("user", "x" * 999)])
    seen: list[Sequence[Message]] = []
    for i in range(60):
        convo.append(Message("assistant", "a" * i, (ToolCall("t", {}, f"c{i}"),)))
        convo.append(Message("tool", "r" * (i * 7), tool_call_id=f"c{i}"))
        seen.append(convo.view())
        if i % 13 == 12:  # a compaction rewrites the history: a new storage
            convo.replace([*convo.view()[:2], Message("user", "summary " * i)])
        for prompt in (convo.view(), seen[i // 2], other.view(), list(convo.view())):
            assert size(prompt, tools) == plain(prompt, tools)
    assert plain(convo.view(), tools) > plain(convo.view(), ())


# -- list fields made on first use (looplet_core/firstuse.py) -------------------------------------


def _plain_step() -> tuple[Step, LLMCall]:
    steps, _, _, _ = run([{"tool": "greet", "args": {"name": "a"}}, _DONE])
    call = steps[0].llm_call
    assert call is not None
    return steps[0], call


_DONE = {"tool": "done", "args": {"answer": "ok"}}


def test_a_plain_run_keeps_no_list_a_step_or_model_call_was_never_asked_for():
    step, call = _plain_step()
    # the slots hold nothing (decisions, failures) or the tuple the assistant message holds
    assert Step.__dict__["decisions"].stored(step) == ()
    assert LLMCall.__dict__["failures"].stored(call) == ()
    assert type(LLMCall.__dict__["tool_calls"].stored(call)) is tuple


def test_first_use_lists_read_append_compare_and_save_as_eager_lists_did():
    step, call = _plain_step()
    eager = Step.from_dict(step.to_dict())  # from_dict builds real lists
    assert step == eager and repr(step) == repr(eager) and step.to_dict() == eager.to_dict()
    assert step.decisions == [] and step.decisions is step.decisions  # made once, then kept
    step.decisions.append(HookDecision("h", "pre_dispatch", "allow"))
    assert [d.decision for d in step.decisions] == ["allow"]
    assert step.to_dict()["decisions"] == [d.to_dict() for d in step.decisions]
    assert step != eager
    assert type(call.tool_calls) is list and call.tool_calls is call.tool_calls
    assert call.failures == [] and not call.failed and "failures" not in call.to_dict()
    assert copy.deepcopy(step) == step and dataclasses.replace(step, number=9).decisions == (
        step.decisions
    )
    assert pickle.loads(pickle.dumps(call)) == call


def test_a_model_calls_list_is_its_own_and_leaves_the_sent_message_as_it_was():
    steps, _, _, state = run([{"tool": "greet", "args": {"name": "a"}}, _DONE])
    call = steps[0].llm_call
    assert call is not None
    sent = list(state.conversation)[2]
    assert call.tool_calls == list(sent.tool_calls)
    call.tool_calls.append(ToolCall("extra"))
    call.tool_calls[0] = ToolCall("swapped")
    assert [tc.tool for tc in sent.tool_calls] == ["greet"]  # the message is untouched
    assert [c["tool"] for c in call.to_dict()["tool_calls"]] == ["swapped", "extra"]


def test_first_use_fields_take_a_list_or_a_tuple_or_nothing_given():
    assert Step(1).decisions == [] and LLMCall(1).tool_calls == [] and LLMCall(1).failures == []
    given = [HookDecision("h", "p", "d")]
    assert Step(1, decisions=given).decisions is given
    call = LLMCall(1, tool_calls=(ToolCall("a"),))  # type: ignore[arg-type]
    assert call.tool_calls == [ToolCall("a")] and type(call.tool_calls) is list
    assert Step(2) == Step(2, decisions=[]) and LLMCall(1) == LLMCall(1, failures=[])


def test_a_first_read_racing_an_append_from_another_thread_never_loses_the_append():
    import threading
    import time

    descriptor = Step.__dict__["decisions"]
    plain_set = descriptor._set
    stalled = threading.Event()

    def slow_in_reader(obj: object, value: object) -> None:
        if threading.current_thread().name == "reader":  # it made its list; stall before storing
            stalled.set()
            time.sleep(0.05)
        plain_set(obj, value)

    step = Step(1)
    descriptor._set = slow_in_reader
    try:
        thread = threading.Thread(target=lambda: step.decisions, name="reader")
        thread.start()
        stalled.wait(5)
        step.decisions.append(HookDecision("h", "approval", "approve"))  # while it stalls
        thread.join()
    finally:
        descriptor._set = plain_set
    assert [d.decision for d in step.decisions] == ["approve"]


def test_a_script_repeating_one_entry_still_gives_each_reply_its_own_call_and_args():
    # benchmarks/loop_worker.py repeats one entry object for its 10,000 replies: its figures
    # stand for a real model's only while each reply is new data, as a parsed server reply is
    entry = {"tool": "greet", "args": {"name": "a"}}
    steps, _, _, _ = run([entry, entry, _DONE])
    first, second = (s.tool_call for s in steps[:2])
    assert first is not None and second is not None
    assert first is not second and first.id != second.id
    assert first.args is not second.args and first.args is not entry["args"]
    first.args["name"] = "changed"
    assert second.args == {"name": "a"} and entry == {"tool": "greet", "args": {"name": "a"}}


# -- ContextStats.by_role kept packed in an int until read (records.py, firstuse.py) -------------

_BY_ROLE = ContextStats.__dict__["by_role"]


def _three_steps() -> list[Step]:
    greet = {"tool": "greet", "args": {"name": "a"}}
    steps, _, _, _ = run([greet, greet, _DONE])
    return steps


def test_the_meters_stats_keep_their_counts_packed_in_the_roles_order():
    assert ROLES == CONTEXT_ROLES  # else every step would keep a dict again
    for step in _three_steps():
        assert step.context is not None and type(_BY_ROLE.stored(step.context)) is int
        saved = step.context.to_dict()  # writers unpack without keeping the dict
        assert type(_BY_ROLE.stored(step.context)) is int
        by_role = step.context.by_role
        assert list(by_role) == list(CONTEXT_ROLES) and saved["by_role"] == by_role
        assert sum(by_role.values()) == step.context.total
        assert step.context.by_role is by_role  # made once, then kept


def test_compact_stats_read_compare_copy_and_save_as_dict_stats_do():
    stats = ContextStats.counted(
        dict(zip(CONTEXT_ROLES, (5, 4, 3, 2, 1), strict=True)), 15, 100, False, "ok"
    )
    eager = ContextStats.from_dict(stats.to_dict())
    assert type(_BY_ROLE.stored(eager)) is dict
    assert stats == eager and repr(stats) == repr(eager) and stats.to_dict() == eager.to_dict()
    for copied in (copy.copy(stats), copy.deepcopy(stats), pickle.loads(pickle.dumps(stats))):
        assert copied == stats
    assert dataclasses.replace(stats, total=16).by_role == stats.by_role
    assert dataclasses.asdict(stats)["by_role"] == {
        "system": 5,
        "tools": 4,
        "user": 3,
        "assistant": 2,
        "tool": 1,
    }
    stats.by_role["tool"] = 9  # a change to the dict read is kept, as on any dataclass field
    assert stats.by_role["tool"] == 9 and stats.to_dict()["by_role"]["tool"] == 9
    assert stats != eager


@pytest.mark.parametrize(
    "counts", [(0, 0, 0, 0, 0), (2**40 - 1, 0, 2**40 - 1, 1, 2**40 - 1), (7, 6_000_000, 1, 2, 3)]
)
def test_counts_from_zero_to_the_packing_limit_read_back_exactly(counts):
    by_role = dict(zip(CONTEXT_ROLES, counts, strict=True))
    stats = ContextStats.counted(by_role, sum(counts), None, False, "ok")
    assert type(_BY_ROLE.stored(stats)) is int
    assert stats.to_dict()["by_role"] == by_role and stats.by_role == by_role
    assert [type(v) for v in stats.by_role.values()] == [int] * 5


@pytest.mark.parametrize("odd", [2**40, -1, 1.5, "3"])
def test_a_count_that_cannot_be_packed_keeps_the_dict_it_came_in(odd):
    by_role: dict[str, Any] = dict(zip(CONTEXT_ROLES, (1, 2, odd, 4, 5), strict=True))
    assert ContextStats.counted(by_role, 0, None, False, "ok").by_role is by_role


def test_stats_with_other_keys_or_made_by_hand_keep_the_dict_they_were_given():
    given = {"user": 3}
    assert ContextStats.counted(given, 3, None, False, "ok").by_role is given
    reordered = dict(zip(reversed(CONTEXT_ROLES), range(5), strict=True))
    assert ContextStats.counted(reordered, 10, None, False, "ok").by_role is reordered
    more = {**dict.fromkeys(CONTEXT_ROLES, 1), "extra": 1}
    assert ContextStats.counted(more, 6, None, False, "ok").by_role is more
    assert ContextStats(given, 3).by_role is given and ContextStats().by_role == {}


def test_changing_one_steps_by_role_changes_no_other_step_and_not_the_meter():
    steps = _three_steps()
    before = [s.context.to_dict() for s in steps if s.context]
    assert steps[0].context is not None
    steps[0].context.by_role["user"] += 1000
    steps[0].context.by_role["extra"] = 1
    after = [s.context.to_dict() for s in steps if s.context]
    assert after[1:] == before[1:] and after[0] != before[0]
    meter = ContextMeter(Chars4())
    messages = [Message("system", "s" * 40), Message("user", "task")]
    first = meter.measure(messages)
    total, user = first.total, first.by_role["user"]
    first.by_role["user"] += 1000  # the meter calibrates from its own counts, not the stats'
    observed = meter.observe(total)
    assert observed is not None and observed.by_role["user"] == user and meter.ratio == 1.0


def test_a_first_read_of_by_role_racing_a_write_from_another_thread_keeps_the_write():
    import threading
    import time

    plain_set = _BY_ROLE._set
    stalled = threading.Event()

    def slow_in_reader(obj: object, value: object) -> None:
        if threading.current_thread().name == "reader":  # it made its dict; stall before storing
            stalled.set()
            time.sleep(0.05)
        plain_set(obj, value)

    stats = ContextStats.counted(dict.fromkeys(CONTEXT_ROLES, 1), 5, None, False, "ok")
    _BY_ROLE._set = slow_in_reader
    try:
        thread = threading.Thread(target=lambda: stats.by_role, name="reader")
        thread.start()
        stalled.wait(5)
        stats.by_role["user"] = 7  # while it stalls
        thread.join()
    finally:
        _BY_ROLE._set = plain_set
    assert stats.by_role["user"] == 7


def test_a_scripted_model_told_not_to_record_keeps_no_request_and_runs_the_same():
    script = [{"tool": "greet", "args": {"name": "a"}}, _DONE]
    kept = MockLLMBackend(script)
    quiet = MockLLMBackend(script, record_requests=False)
    runs = []
    for llm in (kept, quiet):
        config = LoopConfig(max_steps=5)
        steps = list(composable_loop(llm=llm, tools=make_tools(), task="t", config=config))
        runs.append([s.to_dict() for s in steps])
    assert len(kept.requests) == 2 and quiet.requests == [] and quiet.remaining == 0
    for one, other in zip(*runs, strict=True):  # the same steps, times and ids aside
        for record in (one, other):
            for key in ("elapsed_ms", "started_at", "finished_at", "run_id"):
                record.pop(key)
            record["tool_result"].pop("elapsed_ms")
            record["llm_call"].pop("latency_ms")
        assert one == other


# -- what a plain run imports, and the worker pool made on first use (tools/run.py) ---------------

_PLAIN_RUN_IMPORTS = """
import json, sys
from looplet_core import LoopConfig, MockLLMBackend, composable_loop
from looplet_core.context.estimators import HeuristicEstimator
from tests.core.helpers import make_tools
# tiktoken, where installed, brings concurrent.futures and with it both modules
config = LoopConfig(token_estimator=HeuristicEstimator())
script = [{"tool": "greet", "args": {"name": "a"}}, {"tool": "done", "args": {"answer": "ok"}}]
llm = MockLLMBackend(script)
steps = list(composable_loop(llm=llm, tools=make_tools(), task="t", config=config))
plain = [m for m in ("queue", "traceback", "difflib") if m in sys.modules]
script = [{"tool": "boom", "args": {}}, {"tool": "slow", "args": {"seconds": 0}},
          {"tool": "done", "args": {"answer": "ok"}}]
llm = MockLLMBackend(script)
failed, timed, _ = composable_loop(llm=llm, tools=make_tools(), task="t", config=config)
print(json.dumps({"plain": plain, "statuses": [s.status for s in steps],
                  "failed": [failed.tool_result.error_kind, bool(failed.tool_result.traceback)],
                  "timed": timed.status}))
"""


def test_a_plain_run_of_quick_working_tools_imports_no_queue_nor_traceback():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]  # so that the probe finds tests.core.helpers
    out = subprocess.run(
        [sys.executable, "-c", _PLAIN_RUN_IMPORTS],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    report = json.loads(out.stdout)
    assert report["plain"] == [] and report["statuses"] == ["ok", "done"]
    assert report["failed"] == ["execution", True] and report["timed"] == "ok"


def test_threads_asking_for_the_worker_pool_at_once_get_one_pool(monkeypatch):
    import threading
    import time

    from looplet_core.tools import run as tool_run

    made: list[object] = []
    plain_init = tool_run._WorkerPool.__init__

    def slow_init(self: Any) -> None:
        made.append(self)
        time.sleep(0.02)  # long enough for every other thread to ask meanwhile
        plain_init(self)

    monkeypatch.setattr(tool_run, "_made", [])
    monkeypatch.setattr(tool_run._WorkerPool, "__init__", slow_init)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(tool_run._pool())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and got == made * 4


def test_a_step_numbered_like_its_model_call_keeps_the_calls_int_and_others_their_own():
    greet = {"tool": "greet", "args": {"name": "a"}}
    script = [*[greet] * 300, [greet, greet], _DONE]  # past 256, where ints stop being shared
    steps, _, _, _ = run(script, config=LoopConfig(max_steps=400))
    numbers = [s.number for s in steps]
    assert numbers == list(range(1, 304))
    calls = [s.llm_call for s in steps]
    assert all(c is not None for c in calls)
    assert [c.index for c in calls if c] == [*range(1, 302), 301, 302]
    assert steps[299].number is steps[299].llm_call.index  # type: ignore[union-attr]
    assert steps[301].number == 302 and steps[301].llm_call.index == 301  # type: ignore[union-attr]
