"""One run's checkpoints as an append-only log: ``<run_id>/checkpoints.log``.

Why a log: one file per checkpoint costs a create, a write, a link and an unlink per step (most
of a checkpoint's price on tmpfs), and resuming reads a thousand files.  Appending a record to an
open file is one write, and resuming is one sequential read of one file.

The file starts with the line ``looplet.checkpoint-log 1``.  Each record is then one line::

    <seq> <length> <crc32> <checkpoint JSON>\\n

``seq`` is the checkpoint's number (decimal), ``length`` the JSON's size in bytes, ``crc32`` the
CRC-32 (8 hex digits) of ``"<seq> <length> "`` followed by the JSON.  The JSON is one line (its
encoder escapes every control character), so a newline only ever ends a record.

Crash safety: a record is one ``write`` at the end of the file.  A process killed mid-write
leaves a *torn tail*: a partial last line, which fails its length or checksum.  A scan never
takes it for a record and never loses the records before it; the next writer starts its record
on a fresh line, so the torn bytes stay behind as a damaged line that numbering explains:
records are numbered 1, 2, 3, ... with no gaps, so a damaged line followed by the next number is
a write that never completed (skipped), while a gap in the numbers means real records were lost
(each missing number reads as a ``CheckpointError`` naming the file and the byte offset).

Writers of one log take an exclusive ``flock`` around each append (where ``fcntl`` exists; on
other systems one writer per run is assumed), so two processes never interleave records and
never give two records one number.
"""

from __future__ import annotations

import contextlib
import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from looplet_core.errors import CheckpointError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, one writer per run
    fcntl = None

__all__ = ["LOG_NAME", "MAGIC", "Damage", "LogIndex", "RunLog", "frame", "fsync_dir"]

LOG_NAME = "checkpoints.log"
MAGIC = b"looplet.checkpoint-log 1\n"
_APPEND = os.O_RDWR | os.O_APPEND | getattr(os, "O_BINARY", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)


def frame(seq: int, payload: bytes) -> bytes:
    """One record line: header, checksum, payload, newline."""
    head = b"%d %d " % (seq, len(payload))
    return b"%s%08x %s\n" % (head, zlib.crc32(payload, zlib.crc32(head)), payload)


@dataclass(frozen=True, slots=True)
class Damage:
    """A stretch of the log that is not a record: where it starts and what is wrong with it."""

    offset: int
    problem: str


@dataclass(slots=True)
class LogIndex:
    """What scanning a log found: each record's place by number, the numbers whose records are
    damaged, and where the next scan continues (just after the last good record).

    Only bytes after ``end`` are ever scanned again, so following a growing log reads each
    record once.  A damaged stretch after the last good record is not judged until a record
    follows it: it may be a write still in progress, or a torn tail.
    """

    path: str
    records: dict[int, tuple[int, int]] = field(default_factory=dict[int, tuple[int, int]])
    """seq -> (offset of its JSON, length of its JSON)."""
    damaged: dict[int, Damage] = field(default_factory=dict[int, Damage])
    end: int = 0
    last_seq: int = 0
    inode: tuple[int, int] = (0, 0)

    def feed(self, data: bytes | memoryview, base: int) -> None:
        """Scan ``data``, the file's bytes from offset ``base`` (``== self.end``) to its end."""
        view = memoryview(data)
        raw = bytes(view) if isinstance(data, memoryview) else data
        pos = 0
        if base == 0:
            if not raw.startswith(MAGIC):
                raise CheckpointError(
                    f"{self.path}: not a looplet checkpoint log (it does not start with "
                    f"{MAGIC.decode().strip()!r}); move it out of the run's directory"
                )
            pos = len(MAGIC)
            self.end = base + pos
        first_damage: Damage | None = None
        while True:
            nl = raw.find(b"\n", pos)
            if nl < 0:
                return  # a partial line: a write in progress or a torn tail, judged later
            seq, start, problem = _check(raw, view, pos, nl)
            if problem:
                first_damage = first_damage or Damage(base + pos, problem)
            elif seq <= self.last_seq:
                first_damage = first_damage or Damage(
                    base + pos, f"record {seq} comes after record {self.last_seq}"
                )
            else:
                for missing in range(self.last_seq + 1, seq):
                    self.damaged[missing] = first_damage or Damage(
                        base + pos, f"no record {missing} before record {seq}"
                    )
                self.records[seq] = (base + start, nl - start)
                self.last_seq = seq
                self.end = base + nl + 1
                first_damage = None
            pos = nl + 1

    def locate(self, seq: int) -> tuple[int, int]:
        """Where record ``seq``'s JSON is; a ``CheckpointError`` if it is damaged or absent."""
        found = self.records.get(seq)
        if found is not None:
            return found
        damage = self.damaged.get(seq)
        if damage is not None:
            raise CheckpointError(
                f"{self.path}: checkpoint {seq} is damaged at byte {damage.offset} "
                f"({damage.problem}); the records before and after it are intact: resume from "
                "an earlier checkpoint, or restore the file from a backup"
            )
        raise CheckpointError(f"{self.path}: no such checkpoint (record {seq})")

    def seqs(self) -> list[int]:
        """Every number written, damaged ones included (their ``locate`` explains)."""
        return list(range(1, self.last_seq + 1)) if self.damaged else list(self.records)


def _check(raw: bytes, view: memoryview, pos: int, nl: int) -> tuple[int, int, str]:
    """(seq, where its JSON starts, "") for a sound record line ``raw[pos:nl]``, else
    (0, 0, what is wrong)."""
    s1 = raw.find(b" ", pos, nl)
    s2 = raw.find(b" ", s1 + 1, nl) if s1 >= 0 else -1
    s3 = raw.find(b" ", s2 + 1, nl) if s2 >= 0 else -1
    if s3 < 0:
        return 0, 0, "not a record line (truncated or corrupt)"
    seq_text, length_text, crc_text = raw[pos:s1], raw[s1 + 1 : s2], raw[s2 + 1 : s3]
    if not (seq_text.isdigit() and length_text.isdigit() and len(crc_text) == 8):
        return 0, 0, "not a record line (truncated or corrupt)"
    if int(length_text) != nl - s3 - 1:
        return 0, 0, f"length {int(length_text)} but {nl - s3 - 1} bytes (truncated or corrupt)"
    try:
        expected = int(crc_text, 16)
    except ValueError:
        return 0, 0, "not a record line (truncated or corrupt)"
    if zlib.crc32(view[s3 + 1 : nl], zlib.crc32(view[pos : s2 + 1])) != expected:
        return 0, 0, "checksum mismatch (corrupt)"
    return int(seq_text), s3 + 1, ""


class RunLog:
    """One run's log as one store sees it: the index of what is in it, and (once this store
    has written to it) an open descriptor to append to."""

    def __init__(self, path: str, *, durable: bool) -> None:
        self.path = path
        self.durable = durable
        self.index = LogIndex(path)
        self._fd: int | None = None

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> LogIndex:
        """The index, brought up to date with the file (one ``stat`` when nothing changed)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.index = LogIndex(self.path)
            return self.index
        self._catch_up(st)
        return self.index

    def _catch_up(self, st: os.stat_result, fd: int | None = None) -> None:
        index = self.index
        if (st.st_dev, st.st_ino) != index.inode or st.st_size < index.end:
            index = self.index = LogIndex(self.path, inode=(st.st_dev, st.st_ino))
        if st.st_size > index.end:
            index.feed(self._read(index.end, st.st_size - index.end, fd), index.end)

    def _read(self, offset: int, size: int, fd: int | None = None) -> bytes:
        if fd is not None:
            return _pread(fd, size, offset)
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def contents(self) -> tuple[LogIndex, bytes]:
        """The whole file in one read, and the index brought up to date with those bytes: only
        what was appended since the last scan is scanned (a resume lists the run, which scans
        it, then loads it: the records are not checked twice).  A log replaced or cut short
        since is scanned afresh."""
        with open(self.path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        index = self.index
        if (st.st_dev, st.st_ino) != index.inode or len(data) < index.end:
            index = self.index = LogIndex(self.path, inode=(st.st_dev, st.st_ino))
        if len(data) > index.end:
            index.feed(data[index.end :] if index.end else data, index.end)
        return index, data

    def payload(self, seq: int) -> bytes:
        offset, length = self.refresh().locate(seq)
        data = self._read(offset, length)
        if len(data) != length:
            raise CheckpointError(f"{self.path}: record {seq} was cut short since it was indexed")
        return data

    # -- writing ----------------------------------------------------------------------------

    def append(self, encode: Callable[[int], bytes]) -> int:
        """Append ``encode(seq)`` as the record after the newest one; returns its ``seq``.

        Under the lock the file's size is checked against the index: if another writer appended
        (or a write was torn) the new bytes are scanned first, so the number is always the next
        one and a torn tail is closed with a newline before the record starts."""
        fd = self._fd if self._fd is not None else self._open()
        _lock(fd)
        try:
            st = os.fstat(fd)
            if st.st_nlink == 0:  # the log was deleted or replaced since it was opened
                _unlock(fd)
                self.close()
                fd = self._open()
                _lock(fd)
                st = os.fstat(fd)
            index = self.index
            if st.st_size != index.end or (st.st_dev, st.st_ino) != index.inode:
                self._catch_up(st, fd)
                index = self.index
            size = st.st_size
            seq = index.last_seq + 1
            payload = encode(seq)
            record = frame(seq, payload)
            if size > index.end and _pread(fd, 1, size - 1) != b"\n":
                record = b"\n" + record  # after a torn tail: start on a line of its own
            _write_all(fd, record)
            if self.durable:
                os.fsync(fd)
            index.records[seq] = (size + len(record) - 1 - len(payload), len(payload))
            index.last_seq = seq
            index.end = size + len(record)
            return seq
        finally:
            _unlock(fd)

    def _open(self) -> int:
        try:
            fd = os.open(self.path, _APPEND)
        except FileNotFoundError:
            self._create()
            fd = os.open(self.path, _APPEND)
        self._fd = fd
        return fd

    def _create(self) -> None:
        """Publish a log holding only its first line: a reader never meets a log without it.
        If another writer made it first, this one appends to theirs."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)  # again, if it was removed
        publish_new(self.path, MAGIC, durable=self.durable)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def publish_new(path: str, data: bytes, *, durable: bool) -> bool:
    """Create ``path`` holding ``data``, whole or not at all: written to a temporary file, then
    hard-linked to its name, which fails if the name exists (so two writers never clobber each
    other).  False when ``path`` already existed.  Without hard links, a rename (one writer per
    run assumed there).  ``durable``: the data and the new name are fsynced."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    # A bare descriptor, not a buffered file object: the file store does this once a step.
    fd = os.open(tmp, _CREATE | os.O_TRUNC, 0o666)
    try:
        _write_all(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links
            if os.path.exists(path):
                return False
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    if durable:
        fsync_dir(folder)
    return True


def fsync_dir(directory: str) -> None:
    """Make a new name in ``directory`` durable.  Not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pread(fd: int, size: int, offset: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        if hasattr(os, "pread"):
            chunk = os.pread(fd, size, offset)
        else:  # Windows
            os.lseek(fd, offset, os.SEEK_SET)
            chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)
