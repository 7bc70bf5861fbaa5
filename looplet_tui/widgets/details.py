"""``StepDetails``: the tabs that explain one step (Prompt, Response, Tool call, Result).

Each tab is a ``DetailPane``, a scrollable pane holding one renderable; the renderables come from
``looplet_tui.render``.  Panes redraw only when the row or its revision changes, so a run that
streams or steps fast does not rebuild a long prompt on every update.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from looplet_core import Step
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
    """The prompt tab; long messages are folded until ``folded`` is turned off (key ``f``)."""

    folded: reactive[bool] = reactive(True)
    """Long messages show their first lines only."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._messages: tuple[object, ...] | None = None

    def show_prompt(self, step: Step | None) -> None:
        self._messages = step.prompt if step is not None else None
        self.show(render.prompt_renderable(step.prompt if step else None, folded=self.folded))
        if step is not None and step.prompt:
            self.scroll_end(animate=False)

    def watch_folded(self) -> None:
        if self.is_mounted:
            prompt = self._messages
            self.show(render.prompt_renderable(prompt, folded=self.folded))  # type: ignore[arg-type]


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
            for name, pane in panes.items():
                if name == "prompt":
                    self.prompt_pane.show_prompt(None)
                pane.show(Text(note, style="dim italic"))
            return
        step = row.step if isinstance(row, Live) else row
        self.prompt_pane.show_prompt(step)
        panes["response"].show(render.response_renderable(row, timings=self.timings))
        panes["tool"].show(render.tool_call_renderable(step))
        if isinstance(row, Live) and step.tool_result.data is None and step.tool_result.ok:
            panes["result"].show(Text("Not run yet.", style="dim italic"))
        else:
            panes["result"].show(render.result_renderable(step, timings=self.timings))
