"""``ApprovalCard``: the call waiting for a decision, docked under the panes, never modal.

A modal dialog would hide exactly what you need to decide well: the prompt, the model's
reasoning, the earlier steps.  So the card only takes a few lines at the bottom; the timeline and
the tabs stay readable and scrollable, and the decision keys (a, A, d, D, e) work from anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from looplet_core import ApprovalRequest
from looplet_tui.text.render import compact_json
from looplet_tui.text.safe import clean

__all__ = ["ApprovalCard"]

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
        max-height: 14;
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

    def render(self) -> Text:
        if not self.requests:
            return Text("")
        request = self.requests[0]
        dim = self._style("approval-card--dim")
        head = Text(no_wrap=True, overflow="ellipsis")
        if request.dangerous:
            head.append(" ⚠ DANGEROUS ", style=self._style("approval-card--danger"))
            head.append(" ")
        head.append(clean(request.tool), style=self._style("approval-card--title"))
        by = f"  asked by {clean(request.requested_by)}" if request.requested_by else ""
        reason = f": {clean(request.reason)}" if request.reason else ""
        head.append(by + reason, style=dim)
        lines = [head, Text.assemble(("args ", dim), compact_json(request.args))]
        original = request.extra.get("original_args")
        if isinstance(original, dict) and original != request.args:
            lines.append(Text.assemble(("model sent ", dim), compact_json(original)))
        if self.problem:
            lines.append(Text(clean(self.problem), style="bold red"))
        keys = Text(no_wrap=True, overflow="ellipsis")
        for key, label in _KEYS:
            keys.append(f" {key} ", style=self._style("approval-card--key"))
            keys.append(f"{label} ", style=dim)
        lines.append(keys)
        return Text("\n").join(lines)
