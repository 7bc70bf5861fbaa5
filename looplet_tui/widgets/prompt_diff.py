"""``PromptDiffPane``: the Prompt diff tab, how the prompt changed since the previous model call.

The diff itself is computed in ``looplet_tui.text.promptdiff`` (plain Python); this pane draws it:
the hooks that changed the prompt first (by name), then each message removed (text taken out by
compaction), rewritten (lines out and in) or added.  All model and tool text is literal.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.text import Text

from looplet_core import Message, Step
from looplet_tui.live.runstate import Live, Marker
from looplet_tui.text.promptdiff import MessageChange, PromptDiff, previous_call_step, prompt_diff
from looplet_tui.text.safe import literal
from looplet_tui.widgets.detail_pane import DetailPane

__all__ = ["PromptDiffPane", "prompt_diff_renderable"]

_SHOWN = 1500
"""Characters of one message (or of one side of a rewrite) drawn; the rest is counted."""

_MARK = {
    "added": ("+ added", "green"),
    "removed": ("− removed", "red"),
    "rewritten": ("~ rewritten", "yellow"),
}


def _who(message: Message) -> str:
    who = message.role
    if message.name:
        who += f" ({message.name})"
    return who


def _body(message: Message) -> str:
    text = message.content
    if message.tool_calls:
        calls = ", ".join(f"{c.tool}({c.args})" for c in message.tool_calls)
        text = f"{text}\ncalls {calls}" if text else f"calls {calls}"
    return text


def _change(change: MessageChange) -> RenderableType:
    label, style = _MARK[change.kind]
    head = Text(f"{label} · message {change.index} · ", style=f"bold {style}")
    head.append_text(literal(_who(change.message), f"bold {style}", limit=80))
    if change.kind == "rewritten":
        parts: list[RenderableType] = [head]
        if change.removed:
            parts.append(_lines("- ", change.removed, "red"))
        if change.added:
            parts.append(_lines("+ ", change.added, "green"))
        if not change.removed and not change.added:
            parts.append(Text("  (tool calls or metadata changed, not the text)", style="dim"))
        return Group(*parts)
    body = _body(change.message) or "(empty)"
    shown = literal(body, "strike dim" if change.kind == "removed" else "", limit=_SHOWN)
    shown.pad_left(2)
    return Group(head, shown)


def _lines(prefix: str, text: str, style: str) -> Text:
    out = Text()
    for line in literal(text, limit=_SHOWN).split("\n"):
        line.stylize(style)
        out.append(prefix, style=f"bold {style}")
        out.append_text(line)
        out.append("\n")
    out.rstrip()
    return out


def prompt_diff_renderable(diff: PromptDiff | None) -> RenderableType:
    """The diff as the tab shows it: summary, the hooks responsible, then each changed message."""
    if diff is None:
        return Text(
            "No prompt diff: this step, or the model call before it, has no recorded prompt "
            "(the debugger records prompts; a trace written without them has none).",
            style="dim italic",
        )
    parts: list[RenderableType] = [Text(diff.summary(), style="bold")]
    for cause in diff.causes:
        if cause.hook == "debugger":
            line = Text("edited in the debugger", style="bold yellow")
        else:
            line = Text("changed by ", style="yellow")
            line.append_text(literal(cause.hook, "bold yellow", limit=80))
        line.append(f" ({cause.phase}: {cause.decision}", style="yellow")
        if cause.detail:
            line.append(": ", style="yellow")
            line.append_text(literal(cause.detail, "yellow", limit=200))
        line.append(")", style="yellow")
        parts.append(line)
    if diff.previous_step is not None and not diff.changes:
        parts.append(Text("The prompt is unchanged.", style="dim italic"))
    for change in diff.changes:
        parts += [Text(""), _change(change)]
    return Group(*parts)


class PromptDiffPane(DetailPane):
    """The Prompt diff tab: the selected step's prompt against the previous model call's."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key: tuple[object, ...] | None = None

    def show_row(
        self,
        row: Step | Marker | Live | None,
        lookup: Callable[[int], Step | None],
        load: Callable[[Step], None] = lambda step: None,
    ) -> None:
        """Show ``row``'s diff; ``lookup`` finds a step by number, ``load`` reads a replayed
        step's prompt from its trace (it is read lazily)."""
        if row is None or isinstance(row, Marker):
            key: tuple[object, ...] = ("note", id(row))
            if key != self._key:
                self._key = key
                note = row.text if isinstance(row, Marker) else "Nothing has run yet."
                self.show(literal(note, "dim italic"))
            return
        step = row.step if isinstance(row, Live) else row
        previous = previous_call_step(step, lookup)
        if previous is not None:
            load(previous)
        key = (step.number, id(step.prompt), id(previous), id(previous and previous.prompt))
        if key == self._key:
            return
        self._key = key
        self.show(prompt_diff_renderable(prompt_diff(step, previous)))
        self.scroll_home(animate=False)
