"""``StepDetails``: the tabs that explain one step (Prompt, Response, Tool call, Result).

The Prompt tab is a ``PromptView`` (cached per message, drawn lazily); the others are
``DetailPane``s, a scrollable pane holding one renderable from ``looplet_tui.text.render``.
Only the tab on screen is drawn when the selection changes; the others are drawn when you switch
to them, so stepping fast through a long run costs one pane per step, not four.

Calls and results are drawn for reading (``looplet_tui.text.toolview``: a command, code, a diff,
JSON laid out by name); ``raw`` shows the exact JSON instead (key ``r``), ``folded`` shortens long
blocks in every tab (key ``f``), and ``views`` holds the views the run's tools declared.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from looplet_core import Step
from looplet_tui.live.runstate import Live, Marker
from looplet_tui.text import render
from looplet_tui.text.safe import MAX_SHOWN
from looplet_tui.text.toolview import Views
from looplet_tui.widgets.detail_pane import DetailPane
from looplet_tui.widgets.prompt_diff import PromptDiffPane
from looplet_tui.widgets.prompt_view import RUNNING_WINDOW, WINDOW, PromptView

__all__ = ["StepDetails"]

Row = Step | Marker | Live

TABS = ("prompt", "response", "tool", "result")
"""The tabs drawn here, lazily; the Diff tab (``PromptDiffPane``) is fed by the app."""


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
    replay: bool = False
    """Rows come from a trace, not from a run the debugger watches (which keeps every prompt)."""
    running: bool = False
    """The run goes on unattended: the live row's prompt changes many times a second, so the
    Prompt tab lays out only its newest messages until the run stops."""

    raw: reactive[bool] = reactive(False)
    """Show calls and results as their exact JSON, not drawn for reading."""
    folded: reactive[bool] = reactive(True)
    """Long blocks and messages show their first lines only."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: Views = {}
        """The views the run's tools declared (``ToolSpec.view``), by tool name."""
        self._row: Row | None = None
        self._key: tuple[object, ...] | None = None
        self._drawn: dict[str, tuple[object, ...]] = {}

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="tab-prompt"):
            with TabPane("Prompt", id="tab-prompt"):
                yield PromptView(id="pane-prompt")
            with TabPane("Response", id="tab-response"):
                yield DetailPane(id="pane-response")
            with TabPane("Tool call", id="tab-tool"):
                yield DetailPane(id="pane-tool")
            with TabPane("Result", id="tab-result"):
                yield DetailPane(id="pane-result")
            with TabPane("Diff", id="tab-diff"):
                yield PromptDiffPane(id="pane-diff")

    @property
    def active(self) -> str:
        return (self.query_one(TabbedContent).active or "tab-prompt").removeprefix("tab-")

    def switch(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"
        self._draw(tab)

    @property
    def prompt_pane(self) -> PromptView:
        return self.query_one(PromptView)

    def show_row(self, row: Row | None, version: object) -> None:
        """Show ``row``; ``version`` changes whenever the row's content does."""
        key = (id(row), version, self.timings, self.running, self.raw, self.folded)
        if key == self._key:
            return
        self._row, self._key = row, key
        self._draw(self.active)

    def _redraw(self) -> None:
        if self._key is not None:
            self._key = (*self._key[:4], self.raw, self.folded)
            self._draw(self.active)

    def watch_raw(self, raw: bool) -> None:
        if self.is_mounted:
            self.prompt_pane.raw = raw
            self._redraw()

    def watch_folded(self, folded: bool) -> None:
        if self.is_mounted:
            self.prompt_pane.folded = folded
            self._redraw()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._draw((event.pane.id or "").removeprefix("tab-"))

    def _draw(self, tab: str) -> None:
        if tab not in TABS or self._key is None or self._drawn.get(tab) == self._key:
            return  # (the Diff tab draws itself: the app feeds it the selected row)
        self._drawn[tab] = self._key
        row = self._row
        if row is None or isinstance(row, Marker):
            note = row.text if isinstance(row, Marker) else "Nothing has run yet: press n or c."
            if tab == "prompt":
                self.prompt_pane.show_prompt(None, note)
            else:
                self._pane(tab).show(Text(note, style="dim italic"))
            return
        step = row.step if isinstance(row, Live) else row
        if tab == "prompt":
            live_prompt = row.prompt if isinstance(row, Live) else None
            window = RUNNING_WINDOW if self.running else WINDOW
            context = step.context
            tokens = (
                sum(n for role, n in context.by_role.items() if role != "tools")
                if context is not None
                else None
            )
            prompt = live_prompt if live_prompt is not None else step.prompt
            self.prompt_pane.show_prompt(
                prompt,
                "" if prompt is not None else render.missing_prompt(step, replay=self.replay),
                window=window,
                tokens=tokens,
            )
        elif tab == "response":
            pane = self._pane(tab)
            room = self._room(pane)
            shown = render.response_renderable(
                row,
                timings=self.timings,
                raw=self.raw,
                views=self.views,
                folded=self.folded,
                tail=room,
            )
            pane.show(shown)
            # Follow the end only of a text cut to its tail: a shorter one reads from the top.
            pane.follow(isinstance(row, Live) and max(len(row.text), len(row.reasoning)) > room)
        elif tab == "tool":
            shown = render.tool_call_renderable(
                step, raw=self.raw, views=self.views, folded=self.folded
            )
            self._pane(tab).show(shown)
        elif isinstance(row, Live) and step.tool_result.data is None and step.tool_result.ok:
            self._pane(tab).show(Text("Not run yet.", style="dim italic"))
        else:
            shown = render.result_renderable(
                step, timings=self.timings, raw=self.raw, views=self.views, folded=self.folded
            )
            self._pane(tab).show(shown)

    def _room(self, pane: DetailPane) -> int:
        """Characters of a streaming text the Response tab lays out: while the run goes on, as
        many as its pane could show (a row holds at most its width and a newline), so a frame
        costs the screen, not the reply; stopped, up to ``MAX_SHOWN`` to scroll back through."""
        if not self.running:
            return MAX_SHOWN
        width, height = pane.size
        return (width + 1) * height if width and height else render.LIVE_SHOWN

    def _pane(self, tab: str) -> DetailPane:
        return self.query_one(f"#pane-{tab}", DetailPane)
