"""``StepDetails``: the tabs that explain one step (Prompt, Response, Tool call, Result).

Each tab is a ``DetailPane``, a scrollable pane holding one renderable; the renderables come from
``looplet_tui.render``.  Panes redraw only when the row or its revision changes, so a run that
streams or steps fast does not rebuild a long prompt on every update.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from looplet_core import Message, Step
from looplet_tui import render
from looplet_tui.runstate import Live, Marker

__all__ = ["DetailPane", "PromptPane", "StepDetails"]

Row = Step | Marker | Live

TABS = ("prompt", "response", "tool", "result")


class DetailPane(VerticalScroll, can_focus=True):
    """A scrollable pane showing one renderable (focus it to scroll with the keyboard)."""

    DEFAULT_CSS = """
    DetailPane {
        padding: 0 1;
        & > Static { width: 1fr; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Static()

    def show(self, renderable: RenderableType) -> None:
        self.query_one(Static).update(renderable)


class PromptPane(DetailPane):
    """The prompt tab; long messages are folded until ``folded`` is turned off (key ``f``).

    A new prompt opens scrolled to its end, where the newest messages are; the same prompt
    shown again (the step streamed, or was re-selected) keeps where you scrolled to.
    """

    folded: reactive[bool] = reactive(True)
    """Long messages show their first lines only."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._messages: Sequence[Message] | None = None
        self._shown = False
        self._to_end = False

    def show_prompt(self, messages: Sequence[Message] | None, note: str = "") -> None:
        if self._shown and messages is self._messages and not note:
            return
        self._messages, self._shown = messages, not note
        if note:
            self.show(Text(note, style="dim italic"))
            return
        self.show(render.prompt_renderable(messages, folded=self.folded))
        self._to_end = bool(messages)
        if self.display and self.size.height:
            self.call_after_refresh(self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        if self._to_end:
            self._to_end = False
            self.scroll_end(animate=False)

    def on_show(self) -> None:
        """A prompt set while its tab was hidden scrolls once the tab is shown."""
        self.call_after_refresh(self._scroll_to_end)

    def watch_folded(self) -> None:
        if self.is_mounted and self._shown:
            self.show(render.prompt_renderable(self._messages, folded=self.folded))


class StepDetails(Widget):
    """Prompt, Response, Tool call and Result of the selected timeline row."""

    DEFAULT_CSS = """
    StepDetails {
        height: 1fr;
        & TabbedContent { height: 1fr; }
        & TabPane { padding: 0; height: 1fr; }
    }
    """

    timings: reactive[bool] = reactive(True)
    """Show durations (off for deterministic screenshots)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="tab-prompt"):
            with TabPane("Prompt", id="tab-prompt"):
                yield PromptPane(id="pane-prompt")
            with TabPane("Response", id="tab-response"):
                yield DetailPane(id="pane-response")
            with TabPane("Tool call", id="tab-tool"):
                yield DetailPane(id="pane-tool")
            with TabPane("Result", id="tab-result"):
                yield DetailPane(id="pane-result")
            with TabPane("Diff", id="tab-diff"):
                # Imported here: the pane subclasses this module's DetailPane.
                from looplet_tui.widgets.prompt_diff import PromptDiffPane

                yield PromptDiffPane(id="pane-diff")

    def switch(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"

    @property
    def prompt_pane(self) -> PromptPane:
        return self.query_one(PromptPane)

    def show_row(self, row: Row | None, version: object) -> None:
        """Show ``row``; ``version`` changes whenever the row's content does."""
        key = (id(row), version, self.timings)
        if key == self._shown:
            return
        self._shown = key
        panes = {name: self.query_one(f"#pane-{name}", DetailPane) for name in TABS}
        if row is None or isinstance(row, Marker):
            note = row.text if isinstance(row, Marker) else "Nothing has run yet: press n or c."
            self.prompt_pane.show_prompt(None, note)
            for name, pane in panes.items():
                if name != "prompt":
                    pane.show(Text(note, style="dim italic"))
            return
        step = row.step if isinstance(row, Live) else row
        self.prompt_pane.show_prompt(step.prompt)
        panes["response"].show(render.response_renderable(row, timings=self.timings))
        panes["tool"].show(render.tool_call_renderable(step))
        if isinstance(row, Live) and step.tool_result.data is None and step.tool_result.ok:
            panes["result"].show(Text("Not run yet.", style="dim italic"))
        else:
            panes["result"].show(render.result_renderable(step, timings=self.timings))
