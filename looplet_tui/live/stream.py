"""``StreamedText``: a reply as it streams in, kept in the pieces it came in.

Kept as one string, a streamed reply is copied whole on every delta (``text += delta``): a 5 MB
reply in 1 KB deltas copies about 12 GB before it ends, and the debugger's live view, which drew
the whole text each frame, grew with it.  Here a delta is appended to a list (no copy of what came
before), the live view asks for the tail it has room for (work bounded by the screen, not by the
reply), and the whole text is joined only when someone asks for it, then kept until the next delta.

Tiny deltas (a token each, as most providers send them) are merged into the last piece until it
holds ``PIECE`` characters, so the pieces cost a few bytes per kilobyte rather than per token,
and a piece never costs more than ``PIECE`` characters of copying to extend.

One writer (the worker thread, under the history's lock) and readers on the UI thread that take
no lock: every piece is an immutable ``(text, end)`` pair (``end`` is the length of the whole text
up to and including it), pieces before the last are never replaced, and a list append or item
store is atomic in CPython.  So a reader that reads the length of the list, then its last pair,
sees the text exactly as it was at one moment, never a torn one.
"""

from __future__ import annotations

__all__ = ["PIECE", "StreamedText"]

PIECE = 1024
"""Characters below which a piece takes the next delta into itself instead of a new piece."""


class StreamedText:
    """Text that grows at its end: append, length and tail in time that does not grow with it."""

    __slots__ = ("_joined", "_pieces")

    def __init__(self, text: str = "") -> None:
        self._pieces: list[tuple[str, int]] = [(text, len(text))] if text else []
        self._joined: tuple[int, str] = (len(text), text)
        """The whole text as last joined, with its length (the text only ever grows)."""

    def append(self, delta: str) -> None:
        """Add ``delta`` at the end; an empty one changes nothing."""
        if not delta:
            return
        pieces = self._pieces
        if pieces:
            last, end = pieces[-1]
            if len(last) < PIECE:  # merged in: one item store, atomic for a reader
                pieces[-1] = (last + delta, end + len(delta))
                return
            pieces.append((delta, end + len(delta)))
        else:
            pieces.append((delta, len(delta)))

    def __len__(self) -> int:
        pieces = self._pieces
        n = len(pieces)
        return pieces[n - 1][1] if n else 0

    @property
    def pieces(self) -> int:
        """How many pieces the text is kept in (about one per ``PIECE`` characters or delta)."""
        return len(self._pieces)

    def tail(self, limit: int) -> tuple[str, int]:
        """The last ``limit`` characters (all of them if fewer), and how many come before them.

        Reads only the pieces that hold the tail: the cost is ``limit``, not the text's length.
        """
        pieces = self._pieces
        n = len(pieces)
        if n == 0 or limit <= 0:
            return "", len(self)
        text, end = pieces[n - 1]  # read once: the writer may extend the last piece meanwhile
        parts: list[str] = []
        need = limit
        i = n - 1
        while True:
            if len(text) >= need:
                parts.append(text[len(text) - need :])
                need = 0
                break
            parts.append(text)
            need -= len(text)
            i -= 1
            if i < 0:
                break
            text = pieces[i][0]
        parts.reverse()
        shown = "".join(parts)
        return shown, end - len(shown)

    def __str__(self) -> str:
        """The whole text, joined once per length it reaches (asking twice costs one join)."""
        pieces = self._pieces
        n = len(pieces)
        if n == 0:
            return ""
        text, end = pieces[n - 1]
        length, joined = self._joined
        if length != end:
            joined = "".join([piece for piece, _ in pieces[: n - 1]] + [text])
            self._joined = (end, joined)
        return joined

    def __repr__(self) -> str:
        return f"StreamedText({len(self):,} characters in {self.pieces} pieces)"
