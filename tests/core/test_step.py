"""Step's printed forms and JSON round trip."""

from __future__ import annotations

import json

import pytest

from looplet_core import (
    ApprovalError,
    ApprovalRequest,
    ErrorKind,
    LoopResult,
    Step,
    StepStatus,
    StopReason,
    ToolCall,
    ToolResult,
)

from .helpers import run


def make_step(data=None, args=None, **kw) -> Step:
    return Step(
        number=1,
        tool_call=ToolCall("search", args if args is not None else {"query": "cats"}, "c1"),
        tool_result=ToolResult(data=data),
        elapsed_ms=182.4,
        **kw,
    )


def test_pretty_matches_the_seed_for_a_list_result():
    step = make_step(list(range(12)))
    assert step.pretty() == "#1 ✓ search(query='cats') → 12 items [182ms]"


@pytest.mark.parametrize(
    ("data", "summary"),
    [
        ({"a": 1}, "1 key"),
        ({"a": 1, "b": 2}, "2 keys"),
        ([1], "1 item"),
        ("short text", "short text"),
        (None, "None"),
        (7, "7"),
    ],
)
def test_pretty_summarises_results_by_type(data, summary):
    assert make_step(data).pretty().endswith(f"→ {summary} [182ms]")


def test_pretty_shortens_long_values_with_an_ellipsis():
    step = make_step("x" * 500, args={"query": "y" * 200})
    line = step.pretty()
    assert "…" in line and len(line) < 140


def test_pretty_shows_errors_and_approval_pauses():
    failed = make_step()
    failed.tool_result = ToolResult(error="ValueError: kaboom", error_kind=ErrorKind.EXECUTION)
    failed.status = StepStatus.ERROR
    assert failed.pretty() == "#1 ✗ search(query='cats') → execution: ValueError: kaboom [182ms]"
    paused = make_step(
        status=StepStatus.AWAITING_APPROVAL,
        approval=ApprovalRequest(1, "search", {"query": "cats"}, reason="risky"),
    )
    assert paused.pretty() == "#1 ⏸ search(query='cats') → awaiting approval: risky [182ms]"


def test_non_string_args_are_rendered_as_json():
    step = make_step([], args={"n": 3, "tags": ["a", "b"], "flag": True})
    assert 'search(n=3, tags=["a", "b"], flag=true)' in step.pretty()


def test_rich_rendering_keeps_markup_and_escapes_literal():
    from rich.console import Console

    step = make_step("[bold red]not markup[/] \x1b[31mred\x1b[0m", args={"query": "[link=x]y"})
    console = Console(width=200, record=True, color_system=None)
    console.print(step)
    text = console.export_text()
    assert "[bold red]not markup[/]" in text
    assert "[link=x]y" in text


def test_steps_and_results_round_trip_through_json():
    steps, result, _, _ = run(
        [
            {"tool": "search", "args": {"query": "q"}},
            {"tool": "boom"},
            {"tool": "done", "args": {"answer": "a"}},
        ],
    )
    for step in steps:
        again = Step.from_dict(json.loads(json.dumps(step.to_dict())))
        assert again.to_dict() == step.to_dict()
    again_result = LoopResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again_result.stop_reason is StopReason.DONE
    assert [s.pretty() for s in again_result.steps] == [s.pretty() for s in steps]


def test_approval_cannot_be_decided_twice():
    request = ApprovalRequest(1, "delete_rows", {"where": "x"})
    request.approve()
    with pytest.raises(ApprovalError, match="already decided"):
        request.deny("no")


def test_pretty_survives_arguments_nested_past_the_recursion_limit():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    step = make_step([], args={"tree": deep})
    assert "nested too deep" in step.pretty()


def test_answer_text_shows_a_done_tools_answer_as_text_not_as_a_dict() -> None:
    from looplet_core.step import LoopResult, StopReason, answer_text

    done = LoopResult(StopReason.DONE, final_answer={"answer": "Wrote fizzbuzz.py."})
    assert done.answer_text == "Wrote fizzbuzz.py."
    assert answer_text("42") == "42"
    assert answer_text(None) == ""
    assert answer_text({"rows": 6, "saved": "out.csv"}) == '{"rows": 6, "saved": "out.csv"}'
    assert answer_text({"n": 3}) == '{"n": 3}'  # a lone non-string value stays data
    assert answer_text(["é"]) == '["é"]'


def test_time_a_hook_or_approver_holds_a_step_is_kept_apart_from_its_time() -> None:
    import time

    from looplet_core import AskApproval, LoopConfig
    from tests.core.helpers import run

    class Slow:
        def pre_dispatch(self, state, log, tc, step):  # type: ignore[no-untyped-def]
            time.sleep(0.2)
            return AskApproval("look first") if step == 1 else None

    def approver(request):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        request.approve()

    script = [
        {"tool": "greet", "args": {"name": "Ann"}},
        {"tool": "done", "args": {"answer": "ok"}},
    ]
    steps, *_ = run(script, hooks=[Slow()], config=LoopConfig(approver=approver))
    first = steps[0]
    assert first.hook_ms >= 400 and first.elapsed_ms < 200
    assert first.to_dict()["hook_ms"] == first.hook_ms
    assert type(first).from_dict(first.to_dict()).hook_ms == first.hook_ms
