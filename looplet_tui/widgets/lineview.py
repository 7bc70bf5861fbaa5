"""``LineView``: a Line API scroll view that redraws only what changed on screen.

The timeline and the Prompt tab redraw on every step the debugger shows.  Two costs of Textual's
``ScrollView`` there were not the rows themselves:

* ``rich_style`` walks the styles of every ancestor; ``render_line`` read it once per row, which
  was most of the time those widgets took to draw.  A ``LineView`` reads it (and the content
  width) once per render pass, in ``render_lines``: the same values for every row of the pass.
* the vertical scrollbar repainted its whole height whenever the scroll range or position
  changed, although on a long run its thumb moves an eighth of a cell only every few steps.  A
  ``SteadyScrollBar`` repaints only when the bar it would draw differs from the one on screen.
"""

from __future__ import annotations

from math import ceil
from typing import Self

from rich.console import RenderableType
from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

__all__ = ["LineView", "SteadyScrollBar", "thumb_ends"]


def thumb_ends(
    size: int, virtual: int, window: int, position: float, *, vertical: bool
) -> tuple[int, ...]:
    """``(size, start, end)``: a bar of ``size`` cells with its thumb from ``start`` to ``end``
    in eighths of a cell, or ``(size,)`` with no thumb.  ``ScrollBarRender.render_bar``'s own
    arithmetic: equal values draw equal bars (tests/tui/test_lineview.py checks it)."""
    if not (window and size and virtual and size != virtual):
        return (size,)
    bars = len(ScrollBarRender.VERTICAL_BARS if vertical else ScrollBarRender.HORIZONTAL_BARS)
    thumb = max(1, window / (virtual / size))
    start = int((size - thumb) * (position / (virtual - window)) * bars)
    return (size, start, start + ceil(thumb * bars))


class SteadyScrollBar(ScrollBar):
    """A scrollbar that repaints only when it would be drawn differently.

    Textual repaints a scrollbar on every change of the scroll range or position, and
    ``Widget._scroll_update`` asks for a repaint outright.  Here a plain repaint is dropped when
    ``look()`` (the bar's length, its thumb's ends in eighths of a cell as ``ScrollBarRender``
    draws them, its thickness and its style) equals what the last render drew.  A layout, a
    region, a hover or grab (a new style), a resize or a theme change still repaints.
    """

    def __init__(self, vertical: bool = True, name: str | None = None, *, thickness: int = 1):
        super().__init__(vertical, name, thickness=thickness)
        self._drawn: tuple[tuple[int, ...], int, object] | None = None
        self._recheck = False

    def thumb(self) -> tuple[int, ...]:
        """The bar's length and its thumb's ends in eighths of a cell (``thumb_ends``)."""
        return thumb_ends(
            self.size.height if self.vertical else self.size.width,
            ceil(self.window_virtual_size),
            ceil(self.window_size if self.window_size < self.window_virtual_size else 0),
            self.position,
            vertical=self.vertical,
        )

    def look(self, renderable: RenderableType) -> tuple[tuple[int, ...], int, object]:
        """What ``renderable`` (this bar's ``render()``) draws, as a comparable value."""
        style = renderable.style if isinstance(renderable, ScrollBarRender) else renderable
        return (self.thumb(), self.thickness, style)

    def render(self) -> RenderableType:
        renderable = super().render()
        self._drawn = self.look(renderable)
        return renderable

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        drawn = self._drawn
        if (
            not repaint
            or regions
            or layout
            or recompose
            or drawn is None
            or self.parent is None
            or not self.is_attached
        ):
            return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        look = self.look(super().render())
        if look[1:] != drawn[1:] or look[0][0] != drawn[0][0]:  # a new style, thickness, length
            return super().refresh()
        if look != drawn:
            # Only the thumb moved: decide when the widget goes idle, after the whole update.
            # A step often moves it and moves it back (the range grows, then the view follows
            # its end), and a repaint asked for in between would redraw an unchanged bar.
            self._recheck = True
            self.check_idle()
        return self

    def _check_refresh(self) -> None:
        if self._recheck:
            self._recheck = False
            if self._drawn is None or self.look(super().render()) != self._drawn:
                super().refresh()
        super()._check_refresh()


class LineView(ScrollView):
    """A ``ScrollView`` whose ``render_line`` reads ``line_style`` and ``line_width`` (the
    widget's style and content width, looked up once per render pass) and whose vertical
    scrollbar is a ``SteadyScrollBar``."""

    _pass: tuple[Style, int] | None = None

    @property
    def line_style(self) -> Style:
        """The widget's rich style: this pass's, or looked up now outside a pass."""
        return self._pass[0] if self._pass is not None else self.rich_style

    @property
    def line_width(self) -> int:
        """The content's width without the scrollbar: this pass's, or now outside a pass."""
        return self._pass[1] if self._pass is not None else self.scrollable_content_region.width

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pass = (self.rich_style, self.scrollable_content_region.width)
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's own property, with a ``SteadyScrollBar``."""
        if self._vertical_scrollbar is None:
            bar = SteadyScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical
            )
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)  # pyright: ignore[reportPrivateUsage]
        return self._vertical_scrollbar
