"""Any JSON value drawn for reading: short scalars inline, multi-line strings as blocks.

``{"exit_code": 0, "output": "1\\n2\\nFizz\\n"}`` as JSON hides the output behind ``\\n`` escapes.
Here it reads as ``exit_code 0`` and then the output, one line per line.  Every string goes through
``safe.literal``/``safe.clean``: markup stays text, escapes become visible stand-ins.  Long blocks
fold to their first lines with a note saying how much is hidden (``f`` unfolds); the raw JSON is
one key away in the panes (``r``), so nothing here needs to be exact, only readable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.syntax import Syntax
from rich.text import Text

from looplet_tui.text.safe import MAX_SHOWN, clean, literal

__all__ = [
    "BLOCK_FOLD",
    "HIGHLIGHT_CHARS",
    "INLINE_CHARS",
    "UNFOLDED_LINES",
    "block",
    "code_block",
    "fold_keep",
    "fold_lines",
    "is_inline",
    "scalar_text",
    "value_renderable",
]

BLOCK_FOLD = 40
"""A block longer than this many lines shows its first ``fold_keep(BLOCK_FOLD)`` when folded."""
UNFOLDED_LINES = 1_000
"""Lines of one block drawn even when unfolded (``f``); a note counts the rest."""
INLINE_CHARS = 80
"""A string up to this long, on one line, is shown after its key; longer ones are blocks."""
HIGHLIGHT_CHARS = 16_000
"""Code longer than this (about 400 lines) is shown plain: highlighting costs about 10 µs a
character, so a whole 2,000-line file would take most of a second to draw."""
_LINE_CHARS = 120
"""A folded block also stops at ``fold`` lines of this many characters."""
THEME = "ansi_dark"
"""Syntax colours from the terminal's own palette, so they follow its theme."""
_MAX_DEPTH = 40
_KEY = "bold"


def fold_keep(fold: int) -> int:
    """Lines kept of a block folded at ``fold`` lines: three quarters, so that unfolding a block
    just over the limit shows something worth the key (all of a short limit, as on a card)."""
    return fold * 3 // 4 if fold >= 8 else max(1, fold)


def fold_lines(text: str, fold: int | None) -> tuple[str, str]:
    """``text`` cut to its first lines when longer than ``fold`` lines, and a note saying what was
    hidden (empty when nothing was).  Unfolded (``fold`` None) it still stops at
    ``UNFOLDED_LINES`` lines of ``_LINE_CHARS`` characters: laying out more would stall the
    screen, and nobody scrolls through it in a pane."""
    note = ""
    if fold is not None:
        keep = fold_keep(fold)
        cut = _nth_newline(text, fold)
        if cut is not None:
            end = _nth_newline(text, keep)
            shown = text[: end if end is not None else len(text)]
            hidden = text.count("\n") + (0 if text.endswith("\n") else 1) - keep
            note = f"… {hidden:,} more lines, {len(text) - len(shown):,} more chars (f unfolds)"
            text = shown
        elif len(text) > fold * _LINE_CHARS:  # few lines, but long ones (a 1 MB one-liner)
            shown = text[: fold_keep(fold) * _LINE_CHARS]
            note = f"… {len(text) - len(shown):,} more chars (f unfolds)"
            text = shown
    else:
        end = _nth_newline(text, UNFOLDED_LINES)
        if end is not None:
            hidden = text.count("\n", end + 1) + (0 if text.endswith("\n") else 1)
            note = f"… {hidden:,} more lines not drawn here ({len(text):,} chars in all)"
            text = text[:end]
    limit = min(MAX_SHOWN, UNFOLDED_LINES * _LINE_CHARS)
    if len(text) > limit:
        rest = len(text) - limit
        text = text[:limit]
        note = note or f"… {rest:,} more characters not drawn here"
    return text, note


def _nth_newline(text: str, n: int) -> int | None:
    """Index of the ``n``-th line break, or None when the text has no more than ``n`` lines."""
    at = -1
    for _ in range(n):
        at = text.find("\n", at + 1)
        if at < 0:
            return None
    return at if at < len(text) - 1 else None


def _note(text: str) -> Text:
    return Text(text, style="dim italic")


def block(text: str, *, fold: int | None = BLOCK_FOLD, style: str = "") -> RenderableType:
    """A multi-line string as its lines, indented under its label, folded past ``fold``."""
    shown, note = fold_lines(text.removesuffix("\n"), fold)
    body = Text(clean(shown), style=style)
    inner: RenderableType = Group(body, _note(note)) if note else body
    return Padding(inner, (0, 0, 0, 2), expand=False)


def code_block(
    text: str, language: str, *, fold: int | None = BLOCK_FOLD, line_numbers: bool = True
) -> RenderableType:
    """``text`` highlighted as ``language`` (plain past ``HIGHLIGHT_CHARS``), folded past ``fold``.

    The text is cleaned first: a highlighter never sees, so never passes on, a terminal escape.
    """
    shown, note = fold_lines(text.removesuffix("\n"), fold)
    if len(shown) > HIGHLIGHT_CHARS or language in ("", "text"):
        if language not in ("", "text"):
            note = " · ".join(n for n in (note, f"plain: over {HIGHLIGHT_CHARS:,} chars") if n)
        body: RenderableType = Padding(literal(shown), (0, 0, 0, 2), expand=False)
    else:
        body = Syntax(
            clean(shown),
            language,
            theme=THEME,
            line_numbers=line_numbers,
            word_wrap=True,
            background_color="default",
            indent_guides=False,
        )
    return Group(body, _note(note)) if note else body


def scalar_text(value: Any) -> Text:
    """A scalar as a person writes it: strings bare (green), numbers, true/false/null."""
    if isinstance(value, str):
        return Text(clean(value), style="green")
    if value is None or isinstance(value, bool):
        return Text(json.dumps(value), style="italic magenta")
    if isinstance(value, int | float):
        return Text(json.dumps(value), style="cyan")
    return Text(clean(_compact(value)), style="")


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__}>"


def is_inline(value: Any) -> bool:
    """Whether ``value`` fits after its key on one line (a few short scalars at most)."""
    return _inline_size(value, 0) <= INLINE_CHARS


def _inline_size(value: Any, depth: int) -> int:
    """About how wide ``value`` is as one line of JSON; past the budget (a line break, a long or
    deep value) it stops counting and returns more than ``INLINE_CHARS``, so a huge value costs
    no more than a small one."""
    over = INLINE_CHARS + 1
    if isinstance(value, str):
        return over if "\n" in value else len(value) + 2
    if isinstance(value, Mapping | list | tuple):
        if depth >= 3 or len(value) > 8:  # pyright: ignore[reportUnknownArgumentType]
            return over
        items: list[Any] = (
            [*value.keys(), *value.values()] if isinstance(value, Mapping) else list(value)  # pyright: ignore[reportUnknownArgumentType,reportUnknownMemberType]
        )
        size = 2
        for item in items:
            size += _inline_size(item, depth + 1) + 2
            if size > INLINE_CHARS:
                return over
        return size
    return len(_compact(value))


def value_renderable(
    value: Any, *, fold: int | None = BLOCK_FOLD, skip: Sequence[str] = ()
) -> RenderableType:
    """``value`` for reading: a mapping as ``key value`` lines (inline ones first, then blocks),
    a list as ``- item`` lines, a multi-line string as a block; ``skip`` leaves keys out."""
    return Group(*_lines(value, fold, 0, tuple(skip)))


def _lines(value: Any, fold: int | None, depth: int, skip: tuple[str, ...]) -> list[RenderableType]:
    if depth >= _MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        return [_note(f"… nested deeper than {_MAX_DEPTH} levels")]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items() if str(k) not in skip]  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
        if not items:
            return [_note("(no arguments)" if depth == 0 else "{}")]
        inline = [(k, v) for k, v in items if is_inline(v)]
        nested = [(k, v) for k, v in items if not is_inline(v)]
        out: list[RenderableType] = []
        width = min(20, max((len(k) for k, _ in inline), default=0))
        for key, item in inline:
            line = Text(clean(key).ljust(width), style=_KEY)
            line.append("  ")
            line.append_text(scalar_text(item))
            out.append(line)
        for key, item in nested:
            out.append(_label(key, item))
            out.append(_nested(item, fold, depth))
        return out
    if isinstance(value, list | tuple):
        if not value:
            return [Text("[]")]
        out = []
        for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
            if is_inline(item):
                out.append(Text.assemble(("- ", "dim"), scalar_text(item)))
            else:
                out.append(Text(f"- [{index}]", style="dim"))
                out.append(_nested(item, fold, depth))
        return out
    if isinstance(value, str) and not is_inline(value):
        return [block(value, fold=fold)]
    return [scalar_text(value)]


def _label(key: str, value: Any) -> Text:
    line = Text(clean(key), style=_KEY)
    if isinstance(value, str):
        lines = value.count("\n") + (0 if value.endswith("\n") else 1)
        line.append(f"  {lines:,} line{'s' if lines != 1 else ''}, {len(value):,} chars", "dim")
    elif isinstance(value, Mapping | list | tuple):
        line.append(f"  {len(value):,} items", "dim")  # pyright: ignore[reportUnknownArgumentType]
    return line


def _nested(value: Any, fold: int | None, depth: int) -> RenderableType:
    if isinstance(value, str):
        return block(value, fold=fold)
    return Padding(Group(*_lines(value, fold, depth + 1, ())), (0, 0, 0, 2), expand=False)
