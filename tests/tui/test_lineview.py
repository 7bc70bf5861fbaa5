"""LineView draws what Textual's ScrollView draws, with fewer repaints: the style read once per
render pass, and a scrollbar that repaints only when its thumb is drawn differently."""

from __future__ import annotations

import itertools

from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBarRender
from textual.strip import Strip

from looplet_tui.widgets.lineview import LineView, SteadyScrollBar, thumb_ends


def test_equal_thumb_ends_draw_equal_bars() -> None:
    drawn: dict[tuple[object, ...], list[Segment]] = {}
    for size, virtual, window, eighths, vertical in itertools.product(
        (1, 5, 27), (1, 5, 27, 28, 60, 301, 1000), (0, 1, 5, 27), range(0, 8 * 80, 3), (True, False)
    ):
        position = min(eighths / 8, max(0, virtual - window))
        shown = 0 if window >= virtual else window  # as ScrollBar._render_bar passes it
        segments = ScrollBarRender.render_bar(size, virtual, shown, position, 1, vertical).segments
        key = (*thumb_ends(size, virtual, shown, position, vertical=vertical), vertical)
        assert drawn.setdefault(key, segments) == segments, key
    assert len(drawn) > 500  # the sweep drew thumbs of many sizes at many places


class Lines(LineView):
    """``count`` numbered lines: the widget under test."""

    DEFAULT_CSS = "Lines { width: 1fr; }"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.virtual_size = Size(20, count)

    def grow(self, count: int) -> None:
        self.count = count
        self.virtual_size = Size(20, count)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        text = f"line {index}" if index < self.count else ""
        return _text(text, self.line_width, self.line_style)


class Plain(ScrollView):
    """The same lines drawn by Textual's own ScrollView, to compare against."""

    DEFAULT_CSS = "Plain { width: 1fr; }"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.virtual_size = Size(20, count)

    def grow(self, count: int) -> None:
        self.count = count
        self.virtual_size = Size(20, count)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        text = f"line {index}" if index < self.count else ""
        width = self.scrollable_content_region.width
        return _text(text, width, self.rich_style)


def _text(text: str, width: int, style: Style) -> Strip:
    return Strip([Segment(text.ljust(width)[:width], style)], width)


class Pair(App[None]):
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Lines(40)
            yield Plain(40)


def _halves(app: Pair) -> tuple[list[object], list[object]]:
    """Each widget's part of every screen line, as segments (text and style)."""
    lines, plain = app.query_one(Lines), app.query_one(Plain)
    left, right = [], []
    for strip in app.screen._compositor.render_strips():  # pyright: ignore[reportPrivateUsage]
        left.append(list(strip.crop(lines.region.x, lines.region.right)))
        right.append(list(strip.crop(plain.region.x, plain.region.right)))
    return left, right


async def test_a_line_view_draws_what_a_scroll_view_draws_as_it_scrolls_and_grows() -> None:
    app = Pair()
    async with app.run_test(size=(60, 12)) as pilot:
        lines, plain = app.query_one(Lines), app.query_one(Plain)
        assert isinstance(lines.vertical_scrollbar, SteadyScrollBar)
        steps = [("scroll", y) for y in (0, 1, 2, 5, 13, 28, 29, 0)]
        steps += [("grow", n) for n in (41, 42, 60, 300, 301, 302)]
        steps += [("scroll", y) for y in (100, 101, 290, 300)]
        for kind, value in steps:
            for widget in (lines, plain):
                if kind == "grow":
                    widget.grow(value)
                    widget.scroll_end(animate=False, immediate=True)
                else:
                    widget.scroll_to(y=value, animate=False, immediate=True)
            await pilot.pause()
            left, right = _halves(app)
            assert left == right, (kind, value)
        lines.focus()  # a new style for the widget (focus): drawn with it, as the plain one is
        plain.focus()
        await pilot.pause()
        app.theme = "textual-light"
        await pilot.pause()
        left, right = _halves(app)
        assert left == right


async def test_the_scrollbar_repaints_only_when_its_thumb_is_drawn_differently() -> None:
    app = Pair()
    async with app.run_test(size=(60, 12)) as pilot:
        lines = app.query_one(Lines)
        bar = lines.vertical_scrollbar
        renders = 0
        render = bar.render

        def counting() -> object:
            nonlocal renders
            renders += 1
            return render()

        bar.render = counting  # type: ignore[method-assign]
        lines.grow(2000)
        lines.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert renders >= 1  # the thumb moved to the end: drawn
        before = renders
        lines.grow(2001)  # at this length a line more moves the thumb by under an eighth
        lines.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert renders == before
        lines.scroll_to(y=0, animate=False, immediate=True)  # the thumb moves to the top
        await pilot.pause()
        assert renders > before
