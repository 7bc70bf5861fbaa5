"""``ApprovalCard``: the call waiting for a decision, docked under the panes, never modal.

A modal dialog would hide exactly what you need to decide well: the prompt, the model's
reasoning, the earlier steps.  So the card only takes a few lines at the bottom; the timeline and
the tabs stay readable and scrollable, and the decision keys (a, A, d, D, e) work from anywhere.

The call is drawn the way it will run (the arguments after every hook): a shell command as a
command, a file write as its code, an edit as a diff, folded to ``CARD_FOLD`` lines (the Tool call
tab shows it all).  A call paused inside a sub-agent (``ApprovalRequest.nested``) is drawn as that
call, the sub-agent's tool and arguments, with the sub-agent named: that is the call ``e`` edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from looplet_core import ApprovalRequest
from looplet_tui.text.safe import clean
from looplet_tui.text.toolview import Views, call_renderable, filled_in

__all__ = ["CARD_FOLD", "ApprovalCard"]

CARD_FOLD = 6
"""Lines of a command, code or diff the card shows before folding the rest."""

_KEYS = (
    ("a", "approve"),
    ("A", "approve always"),
    ("d", "deny"),
    ("D", "deny with message"),
    ("e", "edit args"),
)


class ApprovalCard(Widget):
    """The first waiting approval, the queue length, and the keys that decide it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "approval-card--title",
        "approval-card--danger",
        "approval-card--key",
        "approval-card--dim",
    }

    DEFAULT_CSS = """
    ApprovalCard {
        display: none;
        height: auto;
        max-height: 16;
        border: thick $accent;
        border-title-style: bold;
        padding: 0 1;
        overflow-y: auto;
        &.-waiting { display: block; }
        &.-dangerous { border: thick $error; }
        & > .approval-card--title { text-style: bold; }
        & > .approval-card--danger { color: $text; background: $error; text-style: bold; }
        & > .approval-card--key { color: $accent; text-style: bold; }
        & > .approval-card--dim { color: $text-muted; }
    }
    """

    requests: reactive[tuple[ApprovalRequest, ...]] = reactive(())
    """Approvals waiting, oldest first; the card shows the first."""
    problem: reactive[str] = reactive("")
    """Why the last attempted decision was refused (e.g. invalid edited arguments)."""
    views: Views = MappingProxyType({})
    """The views the run's tools declared (``ToolSpec.view``), by tool name."""
    _shown: ApprovalRequest | None = None

    def watch_requests(self, requests: Sequence[ApprovalRequest]) -> None:
        self.set_class(bool(requests), "-waiting")
        first = requests[0] if requests else None
        if first is not self._shown:  # a decided call takes its hint or refusal with it
            self._shown, self.problem = first, ""
        self.set_class(bool(first and first.dangerous), "-dangerous")
        if first is not None:
            queue = f" (1 of {len(requests)})" if len(requests) > 1 else ""
            self.border_title = f"Approval needed{queue}: step {first.step}"
        self.refresh(layout=True)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def render(self) -> RenderableType:
        if not self.requests:
            return Text("")
        request = self.requests[0]
        dim = self._style("approval-card--dim")
        head = Text(no_wrap=True, overflow="ellipsis")
        if request.dangerous:
            head.append(" ⚠ DANGEROUS ", style=self._style("approval-card--danger"))
            head.append(" ")
        nested = request.nested
        tool, args = request.call_tool, request.call_args
        head.append(clean(tool), style=self._style("approval-card--title"))
        inside = request.asked_in  # the whole path, for a paused child's call or an inline one
        if inside:
            where = " in sub-agent " + " > ".join(clean(name) for name in inside)
            head.append(where, style=self._style("approval-card--title"))
        by = f"  asked by {clean(request.requested_by)}" if request.requested_by else ""
        reason = f": {clean(request.reason)}" if request.reason else ""
        head.append(by + reason, style=dim)
        keys = Text(no_wrap=True, overflow="ellipsis")
        for key, label in _KEYS:
            keys.append(f" {key} ", style=self._style("approval-card--key"))
            keys.append(f"{label} ", style=dim)
        # The keys come before the call: a long call scrolls, the keys stay in sight.
        lines: list[RenderableType] = [head, keys]
        if self.problem:
            lines.append(Text(clean(self.problem), style="bold red"))
        lines.append(call_renderable(tool, args, self.views, fold=CARD_FOLD))
        original = request.extra.get("original_args")
        if isinstance(original, dict) and nested is None:
            model_sent: dict[str, Any] = original  # pyright: ignore[reportUnknownVariableType]
            if filled_in(model_sent, request.args) is None:
                lines.append(Text("rewritten by a hook; the model sent:", style=dim))
                lines.append(call_renderable(request.tool, model_sent, self.views, fold=CARD_FOLD))
        return Group(*lines)
