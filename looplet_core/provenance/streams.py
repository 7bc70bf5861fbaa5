"""Append-only trace streams: one file per kind of record, one line per record, written whole.

A trace writes its steps, prompts and events as lines appended to a few files that stay open for
the run (``format.py`` names them), instead of a file per step: creating a file costs several
times what appending a line does, and a long run would leave tens of thousands of them.

Each record is one ``os.write`` of a complete line (the descriptor is unbuffered), so what a
reader sees is whole lines and, if the writer died mid-write, one *torn* last line with no
newline.  The record that points at a line (a ``step`` event names its byte range in
``steps.jsonl``) is written after the line, so a torn line is never referenced.  A sink that
resumes a trace cuts a torn tail off before it appends (``StreamWriter.repaired`` says how
many bytes, and the sink logs it), so the next line does not fuse with the fragment.
``read_range`` is the reader's side: a range must be whole lines, or it is a ``TraceError``
naming the file and what is wrong, never a silent misread.
"""

from __future__ import annotations

import os
from pathlib import Path

from looplet_core.errors import TraceError

__all__ = ["StreamWriter", "read_range", "torn_tail"]

# What open(path, "ab") asks for, plus O_BINARY where it exists (Windows).
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)


class StreamWriter:
    """An open append-only stream: ``append(data)`` writes whole lines and says where."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.repaired = _cut_torn_tail(self.path)
        """Bytes of a torn last line cut off on opening (a writer that died mid-line), or 0."""
        self._fd: int | None = os.open(self.path, _APPEND, 0o666)
        self.size = os.fstat(self._fd).st_size

    def append(self, data: bytes) -> int:
        """Append ``data`` (whole lines); returns the offset it starts at."""
        fd = self._fd
        if fd is None:
            raise TraceError(f"{self.path}: written after the trace was closed")
        start = self.size
        written = os.write(fd, data)
        if written < len(data):  # a short write (a signal, a full disk): write the rest
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(fd, view) :]
        self.size = start + len(data)
        return start

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def torn_tail(path: str | os.PathLike[str]) -> int:
    """How many bytes after the last newline of ``path`` (0: it ends with a whole line)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            chunk = 1 << 16
            position = size
            while position > 0:
                start = max(0, position - chunk)
                handle.seek(start)
                data = handle.read(position - start)
                newline = data.rfind(b"\n")
                if newline >= 0:
                    return size - (start + newline + 1)
                position = start
            return size
    except FileNotFoundError:
        return 0


def _cut_torn_tail(path: str) -> int:
    torn = torn_tail(path)
    if torn:
        with open(path, "r+b") as handle:
            handle.truncate(handle.seek(0, os.SEEK_END) - torn)
    return torn


def read_range(file: Path, offset: int, length: int, what: str) -> bytes:
    """The ``length`` bytes at ``offset`` in ``file``: whole lines, or a ``TraceError``."""
    if length == 0:
        raise TraceError(f"{file}: {what} is missing (the log gives it no bytes)")
    try:
        with open(file, "rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
    except FileNotFoundError:
        raise TraceError(f"{file}: missing, so {what} cannot be read") from None
    except (OSError, ValueError, OverflowError) as exc:
        raise TraceError(f"{file}: cannot read {what} ({exc})") from exc
    if len(data) != length or not data.endswith(b"\n"):
        raise TraceError(
            f"{file}: {what} is cut off ({len(data)} of {length} bytes at offset {offset}, "
            "no line end): the file is truncated"
        )
    return data
