"""Make model and tool text safe to show: literal, never markup, never terminal escapes.

A debugger shows whatever a model or a tool produced, including text written to attack or confuse
the viewer: Rich markup (``[bold red]``), ANSI colour codes, OSC sequences that set the window title
or write hyperlinks, bidi overrides that reorder what you read.  ``clean`` neutralises all of that
into *visible* placeholders (``␛[31m``, ``␇``, ``<U+202E>``) rather than deleting it, because in a
debugger the fact that a reply contained an escape sequence is itself worth seeing.  ``literal``
wraps the cleaned text in ``rich.text.Text``, which never parses markup.
"""

from __future__ import annotations

from rich.text import Text

__all__ = ["MAX_SHOWN", "clean", "literal"]

MAX_SHOWN = 200_000
"""Characters of one value the panes lay out; the rest is counted, not drawn.  A 1 MB one-line
tool result must not take the screen hostage while Rich wraps it."""

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if code not in (0x09, 0x0A):  # tab and newline are layout, not control
            table[code] = chr(0x2400 + code)  # the Unicode "control pictures" block: ␀ ␇ ␛ ...
    table[0x7F] = "␡"
    for code in range(0x80, 0xA0):  # C1 controls: 0x9B is a one-byte CSI on some terminals
        table[code] = f"\\x{code:02x}"
    for code in _BIDI:
        table[code] = f"<U+{code:04X}>"
    for code in range(0xD800, 0xE000):  # lone surrogates cannot even be written to a terminal
        table[code] = f"\\u{code:04x}"
    return table


_TABLE = _table()


def clean(text: str) -> str:
    """``text`` with every control, escape and bidi character replaced by a visible stand-in.

    ``\\r\\n`` becomes ``\\n`` first (Windows line ends are layout, not an attack); a lone ``\\r``
    (which could overwrite a line on a terminal) becomes ``␍``.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_TABLE)


def literal(text: str, style: str = "", *, limit: int = MAX_SHOWN) -> Text:
    """A ``Text`` holding ``clean(text)`` exactly as written: markup-looking text stays text.

    Past ``limit`` characters the rest is replaced by a note saying how much was left out.
    """
    if len(text) <= limit:
        return Text(clean(text), style=style)
    shown = Text(clean(text[:limit]), style=style)
    shown.append(f"\n… {len(text) - limit:,} more characters not shown", style="dim italic")
    return shown
