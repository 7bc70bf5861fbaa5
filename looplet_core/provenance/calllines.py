"""Where each model-call line of a trace's event log is, and which call it holds.

``EventLog`` keeps four numbers a line instead of the line, and reads a call index off the
line's bytes when the sink wrote it; any line that could say otherwise once parsed is left
*unsure* for the reader to parse.
"""

from __future__ import annotations

from array import array

__all__ = ["CallLines"]

_CALL_MARK = b'"call": {"index": '
"""How the sink writes a model-call line's call index (``LLMCall.to_dict`` puts it first)."""


class CallLines:
    """Where each model-call line is in the event log and which call it holds, four numbers a
    line in one flat array (32 bytes) instead of the line itself: showing one step reads and
    parses its one line, and a 10,000-call trace keeps no parsed record.

    A line's call index is read off its bytes when the sink wrote it (``_CALL_MARK``, and
    nothing on the line that could be another ``call`` or ``index`` key); any other line is
    *unsure* until the reader parses it (``EventLog._resolve``), so the answer is always the
    one parsing every line gives: a call logged twice is found at its last line.
    """

    __slots__ = ("moved", "numbers", "unsure")

    def __init__(self) -> None:
        self.numbers = array("q")
        """Per line: its line number, offset, length and call index (-1: unsure)."""
        self.moved: dict[int, int] = {}
        """Call index -> its last line, for calls whose last line is not at ``index - 1``
        (a resumed run logging a call again, a trace edited by hand)."""
        self.unsure: list[int] = []

    def __len__(self) -> int:
        return len(self.numbers) // 4

    def line_no(self, position: int) -> int:
        return self.numbers[4 * position]

    def span(self, position: int) -> tuple[int, int]:
        """Line ``position``'s offset and length in the log (without its line end)."""
        at = 4 * position + 1
        return self.numbers[at], self.numbers[at + 1]

    def end(self) -> int:
        """Where the last indexed line ends in the log."""
        return self.numbers[-3] + self.numbers[-2] if self.numbers else 0

    def add(self, lines: list[tuple[int, int, bytes]]) -> None:
        """Index ``lines`` (line number, offset, bytes) in order.  What could make a line's
        index unsure is looked for in all of them at once first (a few scans in C): when
        every line has the mark and the keys occur once a line, no line is scanned alone."""
        joined = b"\n".join(raw for _, _, raw in lines)
        marked = joined.count(_CALL_MARK) == len(lines)  # once a line: see _call_index
        clean = (
            marked
            and joined.count(b'"call"') == len(lines) == joined.count(b'"index"')
            and not _escaped(joined)
        )
        numbers = self.numbers
        for line_no, offset, raw in lines:
            position = len(numbers) // 4
            numbers.extend((line_no, offset, len(raw), -1))
            index = _call_index(raw, clean)
            if index is None:
                self.unsure.append(position)
            else:
                self.place(position, index)

    def place(self, position: int, index: int) -> None:
        """Line ``position`` holds call ``index``."""
        self.numbers[4 * position + 3] = index
        if index != position + 1:
            self.moved[index] = max(position, self.moved.get(index, -1))

    def find(self, index: int) -> int | None:
        """The last line holding call ``index`` (every unsure line placed first), or None."""
        regular = 0 < index <= len(self) and self.numbers[4 * index - 1] == index
        position = max(self.moved.get(index, -1), index - 1 if regular else -1)
        return position if position >= 0 else None


def _call_index(raw: bytes, checked: bool) -> int | None:
    """The call index of a model-call line as the sink writes it, without parsing; None when
    the line could say otherwise once parsed: another ``"call"`` or ``"index"`` on it (a tool
    argument, say), or a ``\\u`` escape that could spell a letter of either key (``checked``:
    the caller knows there is none)."""
    at = raw.find(_CALL_MARK)
    if at < 0:
        return None
    if not checked and (raw.count(b'"call"') != 1 or raw.count(b'"index"') != 1 or _escaped(raw)):
        return None
    start = at + len(_CALL_MARK)
    end = raw.find(b",", start, start + 20)
    digits = raw[start:end] if end > 0 else b""
    if not digits.isdigit() or (digits[0] == 48 and len(digits) > 1):  # 48: "0"
        return None
    return int(digits)


def _escaped(data: bytes) -> bool:
    """``data`` holds a ``\\u`` escape of a letter in ``call`` or ``index``."""
    return b"\\u00" in data and (b"\\u006" in data or b"\\u0078" in data)
