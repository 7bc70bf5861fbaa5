"""The Tool call tab's approval record, and the approval card, name every sub-agent down to the
call: an inline request two deep reads ``in sub-agent lead > janitor``, not only ``lead``."""

from __future__ import annotations

from rich.console import Console

from looplet_core import ApprovalRequest, Step, ToolCall
from looplet_tui.text.render import tool_call_renderable


def text_of(renderable: object) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_recorded_inline_approval_names_the_whole_path() -> None:
    request = ApprovalRequest(
        step=1,
        tool="erase",
        args={"topic": "owls"},
        extra={"subagent": "janitor", "subagent_path": ["lead", "janitor"]},
    )
    request.approve(by="policy")
    step = Step(number=1, tool_call=ToolCall("erase", {"topic": "owls"}, "c1"), approval=request)
    text = text_of(tool_call_renderable(step))
    assert "approve  in sub-agent lead > janitor  decided by policy (once)" in text


def test_a_run_s_own_approval_names_no_sub_agent() -> None:
    request = ApprovalRequest(step=1, tool="rm", args={"path": "x"})
    step = Step(number=1, tool_call=ToolCall("rm", {"path": "x"}, "c1"), approval=request)
    assert "sub-agent" not in text_of(tool_call_renderable(step))
