"""``PromptView``: the exact messages the model saw, newest last, drawn a window at a time.

Prompts grow with the run: at step 1,000 the model may have been sent 2,000 messages, and the
next step's prompt is the same 2,000 plus two.  Laying all of that out for every step made
stepping slower the longer the run.  So this view:

* renders each message to lines once per width and fold setting, keyed by the message itself
  (messages are immutable and shared between the prompts of a run);
* lays out only a window of the newest messages (``WINDOW``), and loads earlier ones a window at
  a time when you scroll to the top (``home`` loads them all), keeping your place;
* is a Line API widget: only the rows on screen are drawn.

So a new prompt costs its new messages, whatever the length of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypeVar, cast

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import Reactive, reactive
from textual.strip import Strip
from textual.widget import Widget

from looplet_core import LoopletError, Message
from looplet_tui.live.context import PromptTokens, message_tokens
from looplet_tui.text import render
from looplet_tui.text.toolview import Views
from looplet_tui.widgets.lineview import LineView

__all__ = ["RUNNING_WINDOW", "WINDOW", "PromptView"]

_K = TypeVar("_K")

WINDOW = 150
"""Messages laid out at first (the newest); scrolling to the top loads this many more."""
RUNNING_WINDOW = 20
"""Messages laid out for a prompt that is replaced many times a second (a run going flat out):
each redraw then renders a few dozen new messages, not hundreds."""
_CACHE_LIMIT = 500
"""Messages whose token counts are kept."""
_SLACK = WINDOW // 3
"""Messages whose laid-out lines are kept beyond the window laid out (``WINDOW``, more once
scrolled up), the least recently shown forgotten first.  Textual's strips cache what is
derived from them once drawn (tens of KB a message), and stepping through a replay shows two
new messages a step, so this caps what stepping keeps; the next step's window is the last
one's slid by two messages, all of them still held.  It was 500 messages, forgotten all at
once when full."""
SUM_LIMIT = 2_000
"""Above this many messages the prompt's token figure is the loop's, not summed here."""
"""Rendered messages kept (each entry pins its message, so an id cannot be reused meanwhile)."""


class PromptView(LineView, can_focus=True):
    """The prompt of the selected step; ``folded`` shortens long messages (key ``f``).

    A new prompt opens scrolled to its end, where the newest messages are; the same prompt shown
    again (the step streamed, or was selected again) keeps where you scrolled to.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "load_all", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    PromptView {
        padding: 0 1;
        overflow-x: hidden;
        scrollbar-gutter: stable;  /* the same width with or without a scrollbar: no re-wrap */
    }
    """

    folded: reactive[bool] = reactive(True)
    """Long messages show their first lines only."""
    raw: reactive[bool] = reactive(False)
    """Tool calls and tool messages as their exact JSON, not drawn for reading."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: Views = {}
        """The views the run's tools declared, by tool name: how their calls are drawn."""
        self._messages: Sequence[Message] | None = None
        self._note = ""
        self._shown = False
        self._to_end = False
        self._window = WINDOW
        self._lines: list[Strip] = []
        self._width = 0
        self._cache: dict[tuple[int, bool, bool, int], tuple[Message, list[Strip]]] = {}
        self._tokens: dict[int, tuple[Message, int]] = {}
        self._heads: dict[tuple[int, int, int, int], tuple[Message, list[Strip]]] = {}
        self._totals = PromptTokens(self._count)
        self._known_tokens: int | None = None
        self._scale = 1.0  # the loop's calibration of this step: known tokens / our estimate

    @property
    def hidden_above(self) -> int:
        """Messages of the prompt not laid out yet (above the first one shown)."""
        return max(0, len(self._messages or ()) - self._window)

    def show_prompt(
        self,
        messages: Sequence[Message] | None,
        note: str = "",
        *,
        window: int = WINDOW,
        tokens: int | None = None,
    ) -> None:
        """Show ``messages`` (None: no prompt was recorded), or ``note`` instead of a prompt.

        ``window`` is how many of the newest messages to lay out at first.  ``tokens`` is the
        loop's own count of the messages' tokens, when it recorded one: a prompt longer than
        ``SUM_LIMIT`` messages shows it instead of re-estimating every message on each step.
        """
        if (
            self._shown
            and messages is self._messages
            and note == self._note
            and tokens == self._known_tokens  # the server's count arrived: the counts change
            and (window <= self._window)
        ):
            return
        self._known_tokens = tokens
        self._messages, self._note, self._shown = messages, note, True
        self._to_end = bool(messages) and not note
        self._window = window
        self._rebuild()

    # -- layout ---------------------------------------------------------------------------------

    def _rebuild(self, *, keep_end: bool = True) -> None:
        # Reading the newest messages stays that way through a re-layout (a narrower pane wraps
        # into more lines), unless the re-layout is for loading earlier ones.
        at_end = keep_end and bool(self._lines) and self.scroll_y >= self.max_scroll_y
        width = self.scrollable_content_region.width
        self._width = width
        if width <= 0:  # not laid out yet (a hidden tab): on_resize / on_show come back here
            self._lines = []
            return
        try:
            self._lines = self._layout(width)
        except LoopletError as exc:  # a recorded prompt read lazily can turn out corrupt
            problem = Text(f"Cannot read this prompt: {exc}", style="red")
            self._lines = self._to_strips(problem, width)
        settled = self._set_height(Size(width, len(self._lines)))
        self.refresh()
        if (self._to_end or at_end) and self.size.height:
            if settled:  # the scroll range is the new one already: go to its end in this frame
                self.scroll_end(animate=False, immediate=True)
                self._to_end = False
                return
            # After the layout: only then does the new height count.  Until that scroll has
            # happened the pane still owes it, so a re-layout in between (the scrollbar
            # appearing narrows the pane) schedules it again instead of forgetting it.
            self._to_end = True
            self.call_after_refresh(self._scroll_to_end, 10)

    def _set_height(self, size: Size) -> bool:
        """Make the scrollable size ``size``; True if the scroll range is already the new one.

        ``virtual_size`` is a layout reactive: setting it re-lays out the whole screen, on every
        step shown.  Unless the scrollbar appears or goes (the gutter is stable, so the width
        stays), a new height only needs the scrollbar told and a repaint, and the range is
        right at once; after a layout it is right only once the layout has run.
        """
        old = self.virtual_size
        height = self.scrollable_content_region.height
        if old.width != size.width or (old.height > height) != (size.height > height):
            self.virtual_size = size
            return False
        self.set_reactive(cast("Reactive[Size]", Widget.virtual_size), size)
        self._scroll_update(size)  # Textual's own step after a size change, without the layout
        return True

    def _scroll_to_end(self, tries: int) -> None:
        """Scroll to the newest line once the new height is laid out.

        On a busy app the refresh that applies ``virtual_size`` can come after the one this
        was scheduled for; scrolling then would stop at 0 and lose the end, so it waits a few
        more refreshes for the scroll range to appear (lines taller than the pane, no range).
        """
        if tries > 0 and self.max_scroll_y <= 0 and len(self._lines) > self.size.height > 0:
            self.call_after_refresh(self._scroll_to_end, tries - 1)
            return
        self.scroll_end(animate=False, immediate=True)
        self._to_end = False

    def _layout(self, width: int) -> list[Strip]:
        messages = self._messages
        if self._note or not messages:
            head: RenderableType = (
                Text(self._note, style="dim italic")
                if self._note
                else render.prompt_renderable(messages, folded=self.folded)
            )
            return self._to_strips(head, width)
        else:
            self._scale = 1.0
            if self._known_tokens is not None and len(messages) > SUM_LIMIT:
                tokens = self._known_tokens
            else:
                tokens = self._totals.total(messages)
                if self._known_tokens and tokens:  # per message as the gauge counts: they add up
                    self._scale, tokens = self._known_tokens / tokens, self._known_tokens
            head = render.prompt_summary(len(messages), tokens, self.folded)
            if self.hidden_above:
                head.append(
                    f"… {self.hidden_above:,} earlier messages: scroll up for more, home for all\n",
                    style="dim italic",
                )
            lines = self._to_strips(head, width)
            first = self.hidden_above
            for index in range(first, len(messages)):
                lines += self._message_lines(index + 1, messages[index], width)
            return lines

    def _count(self, message: Message) -> int:
        cached = self._tokens.get(id(message))
        if cached is not None and cached[0] is message:
            return cached[1]
        if len(self._tokens) >= _CACHE_LIMIT:  # forget the oldest half: the window is newest
            for stale in list(self._tokens)[: _CACHE_LIMIT // 2]:
                del self._tokens[stale]
        count = message_tokens(message)
        self._tokens[id(message)] = (message, count)
        return count

    def _message_lines(self, index: int, message: Message, width: int) -> list[Strip]:
        """The message's lines: its head (place and count change per step) drawn each time,
        its body laid out once per width and fold setting, however many prompts hold it."""
        tokens = round(self._count(message) * self._scale)
        place = (id(message), index, tokens, width)
        held = _recent(self._heads, place, message)
        if held is not None:
            head = held
        else:  # the same place and count on the next step's prompt: drawn once, not per redraw
            head = self._to_strips(render.message_head(index, message, tokens), width)
            _keep(self._heads, place, (message, head), self._window + _SLACK)
        key = (id(message), self.folded, self.raw, width)
        cached = _recent(self._cache, key, message)
        if cached is not None:
            return head + cached
        shown = render.message_body(message, folded=self.folded, raw=self.raw, views=self.views)
        body = self._to_strips(shown, width)
        _keep(self._cache, key, (message, body), self._window + _SLACK)
        return head + body

    def _to_strips(self, renderable: RenderableType, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update_width(width)
        return [Strip(line) for line in console.render_lines(renderable, options, pad=False)]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width, style = self.line_width, self.line_style
        if index >= len(self._lines):
            return Strip.blank(width, style)
        # Drawn from a copy: a Strip keeps what is derived from it (styled, cropped, offset:
        # three Strips a line, each with seven caches of its own), and the laid-out lines are
        # held for many steps, so deriving from them directly kept ~20 KB for every line ever
        # on screen.  The copy and what comes of it go when the frame is drawn.
        line = self._lines[index]
        strip = Strip(list(line), line.cell_length).apply_style(style)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    # -- loading earlier messages ---------------------------------------------------------------

    def _load_more(self, count: int) -> None:
        """Lay out ``count`` more earlier messages, keeping the same lines in view."""
        before = len(self._lines)
        self._window += count
        self._rebuild(keep_end=False)
        self.scroll_to(y=self.scroll_y + len(self._lines) - before, animate=False, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < 1 and old_value >= new_value and self.hidden_above and self._lines:
            self.call_later(self._load_more, WINDOW)

    def action_load_all(self) -> None:
        if self.hidden_above:
            self._window = len(self._messages or ())
            self._rebuild(keep_end=False)
        self.call_after_refresh(self.scroll_home, animate=False, immediate=True)

    # -- events ---------------------------------------------------------------------------------

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._width:
            self._rebuild()

    def on_show(self) -> None:
        """A prompt set while its tab was hidden is laid out (and scrolled) once it shows."""
        if self.scrollable_content_region.width != self._width or self._to_end:
            self.call_after_refresh(self._rebuild)

    def watch_folded(self) -> None:
        if self.is_mounted:
            self._rebuild()

    def watch_raw(self) -> None:
        if self.is_mounted:
            self._rebuild()


_Held = tuple[Message, list[Strip]]


def _recent(cache: dict[_K, _Held], key: _K, message: Message) -> list[Strip] | None:
    """``key``'s lines if they are ``message``'s, moved to the newest end (least recently used
    go first); None when not held."""
    held = cache.pop(key, None)
    if held is None or held[0] is not message:
        return None
    cache[key] = held
    return held[1]


def _keep(cache: dict[_K, _Held], key: _K, held: _Held, limit: int) -> None:
    """Hold ``held`` as the newest, forgetting the least recently used past ``limit``."""
    cache[key] = held
    while len(cache) > limit:
        del cache[next(iter(cache))]
