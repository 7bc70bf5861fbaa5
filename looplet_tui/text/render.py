"""What the detail tabs show for a step, as Rich renderables: prompt, response, tool call, result.

Pure functions of a ``Step`` (no Textual), so they are tested directly and reused by the
screenshot script.  Every piece of model or tool text goes through ``safe_text``: a reply that
contains ``[bold]`` or an ANSI escape is shown as those characters, never obeyed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from looplet_core import HookDecision, LLMCall, Message, Step
from looplet_tui.live.context import message_tokens
from looplet_tui.live.runstate import Live
from looplet_tui.live.stream import StreamedText
from looplet_tui.text.safe import MAX_SHOWN, clean, literal
from looplet_tui.text.toolview import (
    Views,
    call_renderable,
    filled_in,
    parse_result,
    result_value_renderable,
)
from looplet_tui.text.values import BLOCK_FOLD, value_renderable

__all__ = [
    "FOLD_CHARS",
    "FOLD_LINES",
    "LIVE_SHOWN",
    "ROLE_STYLES",
    "compact_json",
    "json_text",
    "message_body",
    "message_head",
    "message_renderable",
    "missing_prompt",
    "prompt_renderable",
    "prompt_summary",
    "response_renderable",
    "result_renderable",
    "tool_call_renderable",
]

ROLE_STYLES = {
    "system": "magenta",
    "user": "green",
    "assistant": "cyan",
    "tool": "yellow",
    "tools": "blue",
}
FOLD_LINES = 12
"""Messages longer than this many lines (or FOLD_CHARS characters) are folded..."""
FOLD_CHARS = 1200
_FOLD_KEEP = 6
"""...to their first lines, with a note saying how much is hidden and how to unfold."""
_HEADING = "bold underline"
_JSON = JSONHighlighter()


_MAX_DEPTH = 40
"""Deeper JSON is shown as ``"…"``: a 5,000-deep value must not blow the stack or the screen."""


def _clip(value: Any, depth: int = 0) -> Any:
    if depth >= _MAX_DEPTH and isinstance(value, dict | list | tuple):
        return f"… nested deeper than {_MAX_DEPTH} levels"
    if isinstance(value, dict):
        return {str(k): _clip(v, depth + 1) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [_clip(v, depth + 1) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _dumps(value: Any, indent: int | None) -> str:
    try:
        return json.dumps(_clip(value), indent=indent, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__} that cannot be shown as JSON>"


def _highlighted(dumped: str) -> Text:
    text = literal(dumped)
    return _JSON(text) if len(dumped) <= MAX_SHOWN else text


def json_text(value: Any) -> Text:
    """Pretty, highlighted JSON of ``value``; strings inside stay literal."""
    return _highlighted(_dumps(value, 2))


def compact_json(value: Any) -> Text:
    """``value`` as one line of highlighted JSON (it wraps, never folds into a tall block)."""
    return _highlighted(_dumps(value, None))


def _heading(title: str) -> Text:
    return Text(title, style=_HEADING)


def _note(text: str) -> Text:
    return Text(text, style="dim italic")


# -- prompt ---------------------------------------------------------------------------------------


def _fold(content: str) -> tuple[str, str]:
    lines = content.split("\n")
    if len(lines) <= FOLD_LINES and len(content) <= FOLD_CHARS:
        return content, ""
    kept = "\n".join(lines[:_FOLD_KEEP])[: FOLD_CHARS // 2]
    hidden_lines = max(0, len(lines) - _FOLD_KEEP)
    return kept, f"… {hidden_lines} more lines, {len(content) - len(kept):,} more chars (f unfolds)"


def message_renderable(
    index: int, message: Message, *, folded: bool, tokens: int | None = None
) -> RenderableType:
    """One message by role: its head line, then its body."""
    return Group(message_head(index, message, tokens), message_body(message, folded=folded))


def message_head(index: int, message: Message, tokens: int | None = None) -> Text:
    """The message's role, place and size; ``tokens`` is its count as the step's gauge has it
    (the loop's estimate scaled by what the server reported), else the loop's plain estimate.

    Kept apart from the body because it changes from step to step (the place, the scale) while
    the body does not, so a view can lay the body out once.
    """
    style = ROLE_STYLES.get(message.role, "")
    head = Text()
    head.append(f" {message.role.upper()} ", style=f"bold reverse {style}")
    count = message_tokens(message) if tokens is None else tokens
    detail = f"  #{index}  ~{count} tok"
    if message.name:
        detail += f"  {clean(message.name)}"
    if message.tool_call_id:
        detail += f"  ← {clean(message.tool_call_id)}"
    head.append(detail, style="dim")
    return head


def message_body(
    message: Message, *, folded: bool, raw: bool = False, views: Views | None = None
) -> RenderableType:
    """The message's reasoning, content and tool calls, literal, with a blank line after.

    Tool calls are drawn for reading (``toolview``) and a tool message's JSON content laid out
    by name, unless ``raw``: then both are the exact JSON.
    """
    style = ROLE_STYLES.get(message.role, "")
    parts: list[RenderableType] = []
    if message.reasoning:
        parts.append(literal(message.reasoning, "dim italic"))
    value = parse_result(message.content) if message.role == "tool" and not raw else None
    if isinstance(value, dict | list):
        parts.append(value_renderable(value, fold=FOLD_LINES if folded else None))
    else:
        content, hidden = _fold(message.content) if folded else (message.content, "")
        if content:
            parts.append(literal(content))
        if hidden:
            parts.append(_note(hidden))
    for call in message.tool_calls:
        line = Text("→ ", style=style)
        line.append(clean(call.tool), style="bold")
        if raw:
            line.append(" ")
            line.append_text(literal(_dumps(call.args, None)))
        if call.id:
            line.append(f"  {clean(call.id)}", style="dim")
        parts.append(line)
        if not raw:
            fold = FOLD_LINES if folded else None
            parts.append(
                Padding(call_renderable(call.tool, call.args, views, fold=fold), (0, 0, 0, 2))
            )
    parts.append(Text(""))
    return Group(*parts)


def prompt_summary(count: int, tokens: int, folded: bool) -> Text:
    """The line above a prompt: how many messages, about how many tokens, whether folded."""
    fold = " · long messages folded (f)" if folded else ""
    return Text(f"{count} messages · ~{tokens:,} tokens{fold}\n", style="dim")


def missing_prompt(step: Step, *, replay: bool) -> str:
    """Why ``step`` has no prompt to show, in the words of where it came from.

    A run the debugger watches keeps every prompt, so there a step without one was restored from
    a checkpoint (which keeps the conversation, not each step's prompt): a resumed run's history,
    the history a fork starts from, or the call a fork made again without asking the model.
    """
    if replay:
        return (
            f"The trace holds no prompt for step {step.number}: its run was recorded with "
            "LoopConfig(record_prompts=False), or this step was restored from a checkpoint."
        )
    forked = any(d.phase == "fork" for d in step.decisions) or step.branch_id != "main"
    where = "the fork's checkpoint" if forked else "a checkpoint"
    return (
        f"Step {step.number} was restored from {where}, which keeps the conversation, not each "
        "step's prompt; no model call was made for it here. The next step's Prompt tab shows "
        "what the model read, this step's call and result included."
    )


def prompt_renderable(messages: Sequence[Message] | None, *, folded: bool = True) -> RenderableType:
    """The exact messages the model saw, by role, each with its (estimated) token count."""
    if messages is None:
        return _note(
            "No prompt recorded for this step (the run did not keep prompts, or the "
            "step came from a recording without them)."
        )
    if not messages:
        return _note("The prompt is empty.")
    tokens = sum(message_tokens(m) for m in messages)
    return Group(
        prompt_summary(len(messages), tokens, folded),
        *(message_renderable(i, m, folded=folded) for i, m in enumerate(messages, 1)),
    )


# -- response -------------------------------------------------------------------------------------


LIVE_SHOWN = 16_000
"""Characters of each streaming text (reply, reasoning) the live Response tab lays out when its
caller names no room: about what a 200 × 80 pane holds, so the newest text fills the pane."""


def response_renderable(
    row: Step | Live,
    *,
    timings: bool = True,
    raw: bool = False,
    views: Views | None = None,
    folded: bool = True,
    tail: int = LIVE_SHOWN,
) -> RenderableType:
    """The model's reply behind the step: text, reasoning, tool calls; live while it streams.

    Of a reply still streaming, only the last ``tail`` characters of its text and of its
    reasoning are drawn (the newest, which is what a person watches), with a line counting the
    rest: a frame then costs the same at 5 MB as at 5 KB."""
    if isinstance(row, Live):
        parts: list[RenderableType] = [_note(f"step {row.step.number}: {clean(row.activity)}")]
        if row.reasoning:
            parts += [_heading("Reasoning"), *_streamed(row.reasoning, tail, "dim italic")]
        if row.text:
            parts += [_heading("Text (streaming)"), *_streamed(row.text, tail, "", "▍")]
        if row.step.llm_call is not None and not row.text:
            shown = response_renderable(
                row.step, timings=timings, raw=raw, views=views, folded=folded
            )
            return Group(*parts, Text(""), shown)
        return Group(*parts)
    call = row.llm_call
    if call is None:
        return _note("No model call is recorded for this step.")
    facts = [f"call {call.index}"]
    if call.model:
        facts.append(clean(call.model))
    if call.usage is not None:
        measured = "" if call.usage.measured else " (est.)"
        facts.append(f"{call.usage.input_tokens} in / {call.usage.output_tokens} out{measured}")
    if timings:
        facts.append(f"{call.latency_ms:.0f} ms")
    if call.stop_reason:
        facts.append(f"stop: {clean(call.stop_reason)}")
    if call.attempts > 1:
        facts.append(f"{call.attempts} attempts")
    parts = [Text(" · ".join(facts), style="dim"), Text("")]
    if call.failures:
        parts += [*_attempts(call, timings=timings), Text("")]
        if call.failed:
            return Group(*parts, _note("No answer: every attempt failed."))
    if call.reasoning:
        parts += [_heading("Reasoning"), literal(call.reasoning, "dim italic"), Text("")]
    parts += [_heading("Text"), literal(call.text) if call.text else _note("(no text)"), Text("")]
    if call.tool_calls:
        parts.append(_heading(f"Tool calls ({len(call.tool_calls)})"))
        for tc in call.tool_calls:
            mine = row.tool_call is not None and tc.id == row.tool_call.id
            line = Text("▶ " if mine else "  ", style="bold")
            line.append(clean(tc.tool), style="bold cyan")
            if tc.id:
                line.append(f"  {clean(tc.id)}", style="dim")
            if mine:
                line.append("  (this step)", style="dim")
            parts += [line, _args(tc.tool, tc.args, raw, views, BLOCK_FOLD if folded else None)]
            if tc.parse_error:
                parts.append(literal(f"unparseable arguments: {tc.parse_error}", "red"))
    return Group(*parts)


def _streamed(text: StreamedText, limit: int, style: str, cursor: str = "") -> list[Text]:
    """The tail of a streaming text, literal, after a line counting what came before it."""
    tail, before = text.tail(limit)
    body = literal(tail + cursor, style, limit=len(tail) + len(cursor))
    if not before:
        return [body]
    return [Text(f"… {before:,} earlier characters not shown", style="dim italic"), body]


def _attempts(call: LLMCall, *, timings: bool) -> list[RenderableType]:
    """Every failed attempt: its number, what failed, the HTTP status, how long, the wait after."""
    rows: list[RenderableType] = [_heading(f"Failed attempts ({len(call.failures)})")]
    for failure in call.failures:
        line = Text(f"{failure.attempt}. ", style="bold")
        line.append(clean(failure.kind), style="bold red")
        if failure.status is not None:
            line.append(f"  HTTP {failure.status}", style="red")
        if timings:
            line.append(f"  {failure.latency_ms:.0f} ms", style="dim")
        if failure.wait_s is not None:
            line.append(f"  then waited {failure.wait_s:g} s", style="dim")
        rows += [line, literal(failure.error)]
    return rows


# -- tool call ------------------------------------------------------------------------------------


def _args(
    tool: str, args: dict[str, Any], raw: bool, views: Views | None, fold: int | None
) -> RenderableType:
    """A call's arguments: the exact JSON when ``raw``, else drawn for reading."""
    return json_text(args) if raw else call_renderable(tool, args, views, fold=fold)


def tool_call_renderable(
    step: Step, *, raw: bool = False, views: Views | None = None, folded: bool = True
) -> RenderableType:
    """Effective arguments, the model's own when a hook rewrote them, and every decision.

    The arguments are drawn for reading (a command, code, a diff), or as exact JSON when
    ``raw``; ``folded`` shortens long blocks."""
    tc = step.tool_call
    if tc is None:
        return _note("This step has no tool call: the model's reply held no usable call.")
    parts: list[RenderableType] = [
        Text.assemble(
            ("Tool ", "bold"), (clean(tc.tool), "bold cyan"), (f"  {clean(tc.id)}", "dim")
        )
    ]
    fold = BLOCK_FOLD if folded else None
    how = "raw JSON, r for readable" if raw else "r for raw JSON"
    parts += [
        Text(""),
        Text.assemble(("Arguments (as run)", _HEADING), (f"  {how}", "dim")),
        _args(tc.tool, tc.args, raw, views, fold),
    ]
    original = step.original_args
    added = filled_in(original, tc.args) if original is not None else ()
    if original is not None and added is None:
        parts += [
            Text(""),
            _heading("Arguments the model sent (rewritten)"),
            _args(tc.tool, original, raw, views, fold),
        ]
    elif added:
        parts.append(_note(f"defaults filled in: {', '.join(clean(k) for k in added)}"))
    approval = step.approval
    if approval is not None:
        state = approval.decision.value if approval.decision else "waiting"
        parts += [
            Text(""),
            _heading("Approval"),
            Text.assemble(
                ("⚠ dangerous  " if approval.dangerous else "", "bold red"),
                (f"{state}", "bold"),
                (
                    "  in sub-agent " + " > ".join(clean(n) for n in approval.asked_in)
                    if approval.asked_in
                    else "",
                    "bold",
                ),
                (
                    f"  asked by {clean(approval.requested_by)}" if approval.requested_by else "",
                    "dim",
                ),
                (
                    f"  decided by {clean(approval.decided_by)} ({approval.scope})"
                    if approval.decided_by
                    else "",
                    "dim",
                ),
            ),
        ]
        if approval.reason:
            parts.append(literal(approval.reason))
        if approval.message:
            parts.append(literal(f"message to the model: {approval.message}"))
    if step.batch is not None:
        b = step.batch
        parts += [
            Text(""),
            _heading("Batch"),
            Text(
                f"call {b.index + 1} of {b.size} of one reply, run at the same time as the others"
            ),
        ]
    child = step.child
    if child is not None:
        reason = child.stop_reason.value + (f": {child.message}" if child.message else "")
        n = len(child.steps)
        parts += [
            Text(""),
            _heading("Sub-agent"),
            literal(
                f"{child.agent} ran {n} step{'s' if n != 1 else ''} and stopped {reason}; "
                f"{child.usage.total_tokens} tokens. Enter on this step in the timeline opens them."
            ),
        ]
    parts += [Text(""), _heading(f"Hook decisions ({len(step.decisions)})")]
    if step.decisions:
        table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
        for column in ("hook", "phase", "decision", "detail"):
            table.add_column(column, overflow="fold")
        for d in step.decisions:
            table.add_row(
                literal(d.hook, "bold"),
                Text(d.phase),
                literal(d.decision, "cyan"),
                literal(d.detail),
            )
        parts.append(table)
        parts += [part for d in step.decisions if d.before or d.after for part in _change(d)]
    else:
        parts.append(_note("No hook changed or questioned this call."))
    return Group(*parts)


def _edited_by(decision: HookDecision) -> str:
    """Who made a change, as the tabs say it: "edited in the debugger" or "changed by HOOK"."""
    if decision.hook == "debugger":
        return "edited in the debugger"
    return f"changed by {decision.hook}"


def _change(decision: HookDecision) -> list[RenderableType]:
    """A decision's before and after texts, under a line naming who changed what."""
    what = decision.detail or decision.decision
    head = literal(f"{_edited_by(decision)} ({decision.phase}): {what}", "bold yellow", limit=200)
    out: list[RenderableType] = [Text(""), head]
    for label, text, style in (
        ("before", decision.before, "red"),
        ("after", decision.after, "green"),
    ):
        block = Text(f"{label}:", style=f"bold {style}")
        out.append(block)
        out.append(Padding(literal(text or "(nothing)", style, limit=_CHANGE_SHOWN), (0, 0, 0, 2)))
    return out


_CHANGE_SHOWN = 2_000
"""Characters of an edit's before/after the Tool call tab shows (the record keeps up to 4,000)."""


# -- result ---------------------------------------------------------------------------------------


def result_renderable(
    step: Step,
    *,
    timings: bool = True,
    raw: bool = False,
    views: Views | None = None,
    folded: bool = True,
) -> RenderableType:
    """The tool's result for reading (JSON laid out by name, output as blocks), or as exact
    JSON (or text) when ``raw``; or its error with the error's kind."""
    result = step.tool_result
    took = f" · {result.elapsed_ms:.0f} ms" if timings and result.elapsed_ms else ""
    if result.error is not None:
        kind = result.error_kind.value if result.error_kind else "error"
        parts: list[RenderableType] = [
            Text.assemble((f"✗ {kind} error", "bold red"), (took, "dim")),
            Text(""),
            literal(result.error),
        ]
        if result.traceback:
            parts += [Text(""), _heading("Traceback"), literal(result.traceback, "dim")]
        return Group(*parts)
    data = result.data
    how = "  raw, r for readable" if raw else "  r for raw"
    head = Text.assemble(
        ("✓ ", "bold green"), (type(data).__name__, "dim"), (took, "dim"), (how, "dim")
    )
    if not raw:
        fold = BLOCK_FOLD if folded else None
        tool = step.tool_call.tool if step.tool_call is not None else None
        return Group(head, Text(""), result_value_renderable(tool, data, views, fold=fold))
    if isinstance(data, str):
        try:
            parsed = json.loads(data)
        except ValueError:
            return Group(head, Text(""), literal(data))
        if isinstance(parsed, dict | list):
            return Group(head, Text(""), json_text(parsed))
        return Group(head, Text(""), literal(data))
    return Group(head, Text(""), json_text(data))
