"""``RerunScreen`` (``R`` in a replay): re-run live from a recorded step, choosing what is real.

The model can be the recorded one (its replies, in order) or the agent's (``--agent``); so can the
tools.  Recorded tools answer from the trace and touch nothing; the agent's tools really run, which
the dialog says, because the world outside is not the one the recording saw.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from looplet_tui.replay.rerun import Source

__all__ = ["CHOICES", "RerunScreen"]

CHOICES: tuple[tuple[Source, Source, str], ...] = (
    ("agent", "recorded", "your model (--agent), recorded tool results: nothing outside changes"),
    ("recorded", "agent", "recorded model replies, your tools (--agent): tools really run"),
    ("agent", "agent", "your model and your tools (--agent): a new live run from here"),
    ("recorded", "recorded", "recorded model and tool results: the loop and hooks run again"),
)


class RerunScreen(ModalScreen[tuple[Source, Source] | None]):
    """Returns ``(model, tools)`` sources, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Back to the replay"),
    ]

    def __init__(self, step: int, *, has_agent: bool) -> None:
        super().__init__()
        self.step = step
        self.has_agent = has_agent

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(f"Re-run live from step {self.step}", classes="title", markup=False)
            yield OptionList(
                *(
                    Option(text, id=f"{model}:{tools}", disabled=not self._allowed(model, tools))
                    for model, tools, text in CHOICES
                ),
                id="rerun-choices",
            )
            hint = (
                "The run starts from the prompt the model saw at this step; the replay is left."
                if self.has_agent
                else "Start the replay with --agent FILE[:factory] to use your model or tools."
            )
            yield Static(hint, classes="hint", markup=False)

    def _allowed(self, model: Source, tools: Source) -> bool:
        return self.has_agent or (model, tools) == ("recorded", "recorded")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.focus()
        choices.highlighted = next(i for i, (m, t, _) in enumerate(CHOICES) if self._allowed(m, t))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        for model, tools, _ in CHOICES:
            if event.option.id == f"{model}:{tools}":
                self.dismiss((model, tools))

    def action_cancel(self) -> None:
        self.dismiss(None)
