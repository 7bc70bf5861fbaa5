"""The first messages of a run: the system prompt and the task, and the built-in done tool."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from looplet_core.backends.base import ToolSchema
from looplet_core.jsonsafe import clip_depth
from looplet_core.messages import Message
from looplet_core.state import LoopConfig
from looplet_core.tools.textcalls import render_tool_instructions

__all__ = ["BUILTIN_DONE_SCHEMA", "DEFAULT_SYSTEM_PROMPT", "initial_messages", "render_task"]

DEFAULT_SYSTEM_PROMPT = (
    "You complete tasks by calling tools. Read each tool result before deciding the next call. "
    "When the task is complete, call `{done}` with your final answer."
)

BUILTIN_DONE_SCHEMA: ToolSchema = {
    "name": "done",
    "description": "Finish the task and give the final answer.",
    "parameters": {
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "The final answer."}},
        "required": ["answer"],
    },
}


def render_task(task: Any) -> str:
    """A task is a string, or a dict whose ``goal`` (if any) leads and other keys follow."""
    if isinstance(task, str):
        return task
    if isinstance(task, dict):
        fields = {str(k): v for k, v in cast(dict[Any, Any], task).items()}
        lines: list[str] = []
        goal = fields.pop("goal", None)
        if goal is not None:
            lines.append(str(goal))
        for key, value in fields.items():
            rendered = value if isinstance(value, str) else _dump(value)
            lines.append(f"{key}: {rendered}")
        return "\n".join(lines)
    return _dump(task)


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except RecursionError:  # a task nested past what json can walk: keep its top levels
        return json.dumps(clip_depth(value), default=str)


def initial_messages(
    task: Any, config: LoopConfig, json_tools: Sequence[ToolSchema] | None
) -> list[Message]:
    system = config.system_prompt or DEFAULT_SYSTEM_PROMPT.format(done=config.done_tool)
    if json_tools is not None:
        system += "\n\n" + render_tool_instructions(json_tools)
    return [Message("system", system), Message("user", render_task(task))]
