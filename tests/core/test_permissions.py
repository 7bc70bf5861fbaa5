"""PermissionHook: each rule kind, precedence, the default, and "ask" prompting exactly once."""

from __future__ import annotations

import re
from typing import Any

import pytest

from looplet_core import (
    ApprovalHook,
    ApprovalRequest,
    ConfigError,
    DefaultState,
    LoopConfig,
    PermissionHook,
    StepStatus,
    ToolCall,
    composable_loop,
)
from looplet_core.approvals.permissions import allow, ask, deny
from tests.core.durable_helpers import Reply, backend, durable_tools


def decide(hook: PermissionHook, tool: str, **args: Any) -> str:
    return hook.decide(ToolCall(tool, args))[0]


def test_tool_name_globs_match_with_fnmatch():
    hook = PermissionHook([allow("read_*", "list_?"), deny("rm")], default="deny")
    assert decide(hook, "read_file") == "allow"
    assert decide(hook, "list_x") == "allow"
    assert decide(hook, "list_xy") == "deny"
    assert decide(hook, "rm") == "deny"


def test_argument_regex_must_match_the_whole_value():
    hook = PermissionHook([allow("write", args={"path": r"/tmp/.*"})], default="deny")
    assert decide(hook, "write", path="/tmp/a.txt") == "allow"
    assert decide(hook, "write", path="/etc/passwd#/tmp/") == "deny"
    assert decide(hook, "write") == "deny"  # the named argument is missing


def test_non_string_arguments_are_matched_as_json():
    hook = PermissionHook(
        [deny("count", args={"i": r"[0-9]{3,}"}), allow("count", args={"i": re.compile(r"\d+")})],
        default="ask",
    )
    assert decide(hook, "count", i=7) == "allow"
    assert decide(hook, "count", i=1234) == "deny"


def test_callable_matchers_on_an_argument_and_on_the_call():
    hook = PermissionHook(
        [
            deny("delete", args={"target": lambda v: v.startswith("prod")}),
            ask(when=lambda tc: len(tc.args) > 1),
        ],
        default="allow",
    )
    assert decide(hook, "delete", target="prod-db") == "deny"
    assert decide(hook, "delete", target="tmp") == "allow"
    assert decide(hook, "note", a=1, b=2) == "ask"


def test_precedence_is_deny_then_ask_then_allow_whatever_the_order():
    rules = [allow("*"), ask("delete*"), deny("delete", args={"target": "prod"})]
    for ordered in (rules, rules[::-1]):
        hook = PermissionHook(ordered)
        assert decide(hook, "delete", target="prod") == "deny"
        assert decide(hook, "delete", target="tmp") == "ask"
        assert decide(hook, "count", i=1) == "allow"


@pytest.mark.parametrize("default", ["allow", "deny", "ask"])
def test_the_default_decides_when_no_rule_matches(default: Any):
    hook = PermissionHook([allow("count")], default=default)
    assert decide(hook, "note", text="x") == default
    assert PermissionHook().default == "ask"


def test_bad_rules_fail_when_built():
    with pytest.raises(ConfigError, match="not a regex"):
        allow("x", args={"a": "(unclosed"})
    with pytest.raises(ConfigError, match="default must be"):
        PermissionHook(default="maybe")  # type: ignore[arg-type]


PLAN: list[Reply] = [
    {"tool": "count", "args": {"i": 1}},
    {"tool": "note", "args": {"text": "secret plan"}},
    {"tool": "delete", "args": {"target": "prod"}},
    {"tool": "done", "args": {"answer": "x"}},
]


def run(hooks: list[object], approver: Any = None) -> tuple[list[Any], list[Any]]:
    calls: list[Any] = []
    steps = list(
        composable_loop(
            llm=backend(PLAN),
            tools=durable_tools(calls),
            task="t",
            config=LoopConfig(approver=approver),
            state=DefaultState(),
            hooks=hooks,
        )
    )
    return steps, calls


def test_every_decision_is_on_the_step_with_the_rule_that_made_it():
    hook = PermissionHook(
        [
            allow("count", "done"),
            ask("note"),
            deny("delete", args={"target": "prod"}, reason="production is off limits"),
        ],
        name="perms",
    )
    steps, calls = run([hook], approver=lambda r: r.approve())
    allow_d, ask_d, deny_d = (s.decisions[0] for s in steps[:3])
    assert (allow_d.hook, allow_d.decision) == ("perms", "allow")
    assert (ask_d.hook, ask_d.decision) == ("perms", "ask_approval")
    assert "ask note" in ask_d.detail
    assert (deny_d.hook, deny_d.decision) == ("perms", "deny")
    assert "production is off limits" in deny_d.detail and "deny delete" in deny_d.detail
    assert steps[2].status is StepStatus.DENIED
    assert not any(c[0] == "delete" for c in calls)


def test_deny_tells_the_model_which_rule_refused():
    hook = PermissionHook([deny("delete", reason="never")], default="allow")
    llm = backend(PLAN)
    list(
        composable_loop(
            llm=llm,
            tools=durable_tools(),
            task="t",
            config=LoopConfig(approver=lambda r: r.approve()),
            hooks=[hook],
        )
    )
    told = llm.requests[3].messages[-1]
    assert told.role == "tool" and "never" in told.content and "deny delete" in told.content


def test_ask_prompts_exactly_once_even_when_several_things_ask():
    seen: list[ApprovalRequest] = []

    def approver(request: ApprovalRequest) -> None:
        seen.append(request)
        request.approve()

    hooks: list[object] = [PermissionHook([ask("delete")], default="allow"), ApprovalHook("delete")]
    steps, calls = run(hooks, approver=approver)  # delete also has requires_approval=True
    assert len(seen) == 1
    assert [c[0] for c in calls].count("delete") == 1
    assert [d.phase for d in steps[2].decisions].count("approval") == 1


def test_ask_with_a_remembered_always_does_not_prompt_again():
    seen: list[str] = []

    def approver(request: ApprovalRequest) -> None:
        seen.append(request.tool)
        request.approve(scope="always")

    plan: list[Reply] = [{"tool": "note", "args": {"text": str(i)}} for i in range(3)]
    plan.append({"tool": "done", "args": {"answer": "x"}})
    list(
        composable_loop(
            llm=backend(plan),
            tools=durable_tools(),
            task="t",
            config=LoopConfig(approver=approver),
            hooks=[PermissionHook([ask("note")], default="allow")],
        )
    )
    assert seen == ["note"]


def test_deny_rules_win_over_a_remembered_approval():
    state = DefaultState(approval_memory={"delete": "approve"})
    calls: list[Any] = []
    steps = list(
        composable_loop(
            llm=backend(PLAN),
            tools=durable_tools(calls),
            task="t",
            state=state,
            hooks=[PermissionHook([deny("delete")], default="allow")],
        )
    )
    assert steps[2].status is StepStatus.DENIED and not any(c[0] == "delete" for c in calls)
