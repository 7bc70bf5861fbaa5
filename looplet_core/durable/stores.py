"""Checkpoint stores: ``MemoryCheckpointStore`` for tests and the debugger, ``FileCheckpointStore``
(the embedded default) for runs that must survive the process.

``FileCheckpointStore(dir)`` keeps each run in ``dir/<run_id>/``, in one of two layouts:

* ``layout="log"`` (the default for new runs): one append-only file, ``checkpoints.log``, a
  framed and checksummed record per checkpoint (``runlog``).  A save is one ``write``; resuming
  is one read; a torn last record (a crash mid-write) is detected and skipped.
* ``layout="files"``: one file per checkpoint, ``<seq>.json`` (six digits).  A write goes to a
  temporary file, is fsynced, then published under its final name with an atomic, no-clobber
  rename (a hard link, then the temporary name is removed) and the directory is fsynced: a crash
  leaves either the whole checkpoint or none of it, and two writers of one run cannot overwrite
  each other's checkpoint (the loser takes the next number).

A run keeps the layout it was started in: runs written by earlier versions (``*.json``) are
read, resumed and forked in place, whatever ``layout`` says.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Literal

from looplet_core.durable.chainfold import FoldedChain
from looplet_core.durable.checkpoints import (
    Checkpoint,
    checkpoint_id,
    follow_parents,
    parse_checkpoint_id,
)
from looplet_core.durable.logfold import fold_log
from looplet_core.durable.runlog import LOG_NAME, MAGIC, RunLog, fsync_dir, publish_new
from looplet_core.errors import CheckpointError, ConfigError

__all__ = ["FileCheckpointStore", "MemoryCheckpointStore"]


class MemoryCheckpointStore:
    """Checkpoints in a dict, held as JSON text so they are as isolated (and as JSON-only) as
    files.  Thread-safe."""

    def __init__(self) -> None:
        self._docs: dict[str, str] = {}
        self._runs: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        with self._lock:
            ids = self._runs.pop(checkpoint.run_id, [])
            self._runs[checkpoint.run_id] = ids  # re-inserted: runs() lists by last write
            seq = parse_checkpoint_id(ids[-1])[1] + 1 if ids else 1
            cid = checkpoint_id(checkpoint.run_id, seq)
            saved = checkpoint.saved_as(seq, cid, f"memory:{cid}")
            self._docs[cid] = saved.to_json()
            ids.append(cid)
            return saved

    def get(self, checkpoint_id: str) -> Checkpoint:
        text = self._docs.get(checkpoint_id)
        if text is None:
            raise CheckpointError(f"memory:{checkpoint_id}: no such checkpoint")
        return Checkpoint.from_json(text, f"memory:{checkpoint_id}")

    def list(self, run_id: str) -> list[str]:
        with self._lock:
            return list(self._runs.get(run_id, ()))

    def runs(self) -> list[str]:
        with self._lock:
            return [run for run, ids in self._runs.items() if ids]

    def __repr__(self) -> str:
        return f"MemoryCheckpointStore({len(self._docs)} checkpoints)"


Layout = Literal["log", "files"]
_LAYOUTS = ("log", "files")


class FileCheckpointStore:
    """Checkpoints as files under ``directory`` (created on first write).

    ``durable=False`` skips the fsyncs: several times faster, but a power cut (not a crash of the
    process) may lose the last few checkpoints.  ``layout`` is how new runs are written (see the
    module docstring); existing runs keep theirs.  The store keeps each log it writes to open:
    ``close()`` (or ``with``) lets go of them, as dropping the store does.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        durable: bool = True,
        layout: Layout = "log",
    ) -> None:
        if layout not in _LAYOUTS:
            raise ConfigError(
                f"FileCheckpointStore(layout=...) is 'log' (one append-only file per run, the "
                f"default) or 'files' (one file per checkpoint), got {layout!r}"
            )
        self.directory = Path(directory)
        self.durable = durable
        self.layout: Layout = layout
        self._root = os.fspath(self.directory)
        self._next: dict[str, int] = {}
        self._logs: dict[str, RunLog] = {}
        self._per_file: set[str] = set()
        self._lock = threading.Lock()
        weakref.finalize(self, _close_logs, self._logs)

    def close(self) -> None:
        """Close the logs this store appends to (it reopens them if used again)."""
        with self._lock:
            _close_logs(self._logs)

    def __enter__(self) -> FileCheckpointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- which layout a run is in -----------------------------------------------------------

    def _log(self, run_id: str, *, writing: bool = False) -> RunLog | None:
        """The run's log, or None when the run is in the per-file layout (or, when reading,
        has nothing yet and new runs are per-file)."""
        log = self._logs.get(run_id)
        if log is not None:
            return log
        if run_id in self._per_file:
            return None
        run_dir = os.path.join(self._root, run_id)
        path = os.path.join(run_dir, LOG_NAME)
        if not os.path.exists(path):
            if self._seqs(Path(run_dir)):  # written per file (by this layout or an old version)
                self._per_file.add(run_id)
                return None
            if self.layout == "files" or not writing:
                return None
            os.makedirs(run_dir, exist_ok=True)
            if self.durable:
                fsync_dir(self._root)
        log = self._logs[run_id] = RunLog(path, durable=self.durable)
        return log

    # -- writing ----------------------------------------------------------------------------

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        run_id = checkpoint.run_id
        checkpoint_id(run_id, 0)  # refuses run ids that are not safe directory names
        with self._lock:
            try:
                log = self._log(run_id, writing=True)
                if log is None:
                    return self._put_file(checkpoint)
                saved: list[Checkpoint] = []

                def encode(seq: int) -> bytes:
                    cp = checkpoint.saved_as(seq, checkpoint_id(run_id, seq), _source(log, seq))
                    saved.append(cp)
                    # A lone surrogate (a tool read a non-UTF-8 file name) is written as its
                    # JSON escape: the file stays UTF-8 and reads back to the same string.
                    return cp.to_json().encode("utf-8", "backslashreplace")

                log.append(encode)
            except OSError as exc:
                where = os.path.join(self._root, run_id)
                raise CheckpointError(f"{where}: cannot write a checkpoint: {exc}") from exc
            return saved[-1]

    def _put_file(self, checkpoint: Checkpoint) -> Checkpoint:
        run_id = checkpoint.run_id
        run_dir = os.path.join(self._root, run_id)
        seq = self._next.get(run_id)
        if seq is None or not os.path.isdir(run_dir):  # first write (or it was removed)
            os.makedirs(run_dir, exist_ok=True)
        seq = seq or self._last_seq(run_id) + 1
        while True:
            cid = checkpoint_id(run_id, seq)
            path = os.path.join(run_dir, f"{seq:06d}.json")
            saved = checkpoint.saved_as(seq, cid, path)
            data = saved.to_json().encode("utf-8", "backslashreplace")
            if publish_new(path, data, durable=self.durable):
                break
            seq += 1  # another writer took this number
        self._next[run_id] = seq + 1
        return saved

    # -- reading ----------------------------------------------------------------------------

    def get(self, checkpoint_id: str) -> Checkpoint:
        run_id, seq = parse_checkpoint_id(checkpoint_id)
        with self._lock:
            log = self._log(run_id)
            if log is None:
                if self.layout == "log" and run_id not in self._per_file:  # nothing written
                    where = os.path.join(self._root, run_id, LOG_NAME)
                    raise CheckpointError(f"{where}: no such checkpoint (record {seq})")
                return self._get_file(checkpoint_id)
            try:
                data = log.payload(seq)
            except FileNotFoundError:
                raise CheckpointError(f"{log.path}: no such checkpoint (record {seq})") from None
            except OSError as exc:
                raise CheckpointError(f"{log.path}: cannot read: {exc}") from exc
        return self._decode(data, _source(log, seq), checkpoint_id)

    @staticmethod
    def _decode(data: bytes, source: str, checkpoint_id: str) -> Checkpoint:
        cp = Checkpoint.from_json(data, source)
        if cp.id != checkpoint_id:
            raise CheckpointError(f"{source}: holds checkpoint {cp.id!r}, not {checkpoint_id!r}")
        return cp

    def _get_file(self, checkpoint_id: str) -> Checkpoint:
        path = self._path(checkpoint_id)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no such checkpoint") from None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read: {exc}") from exc
        return self._decode(data, path, checkpoint_id)

    def history(self, checkpoint_id: str) -> list[Checkpoint]:
        """The chain from the run's root to ``checkpoint_id``: from a log, one read of it."""
        run_id, _ = parse_checkpoint_id(checkpoint_id)
        with self._lock:
            log = self._log(run_id)
            if log is None:
                read = None
            else:
                try:
                    read = log.contents()
                except FileNotFoundError:
                    where = f"{log.path}: no such checkpoint ({checkpoint_id})"
                    raise CheckpointError(where) from None
                except OSError as exc:
                    raise CheckpointError(f"{log.path}: cannot read: {exc}") from exc
        if log is None or read is None:
            return follow_parents(self.get, checkpoint_id)
        index, data = read

        def get(cid: str) -> Checkpoint:
            other, seq = parse_checkpoint_id(cid)
            if other != run_id:
                return self.get(cid)
            offset, length = index.locate(seq)
            return self._decode(data[offset : offset + length], _source(log, seq), cid)

        return follow_parents(get, checkpoint_id)

    def fold(self, checkpoint_id: str) -> FoldedChain | None:
        """The chain to ``checkpoint_id`` folded from one read of its run's log, most records
        read only in the parts the fold needs (``logfold``); None sends ``load`` down the full
        path (a run in the per-file layout, an unreadable log, anything irregular)."""
        run_id, _ = parse_checkpoint_id(checkpoint_id)
        with self._lock:
            log = self._log(run_id)
            if log is None:
                return None
            try:
                index, data = log.contents()
            except OSError:
                return None
        return fold_log(index, data, checkpoint_id, lambda seq: _source(log, seq))

    def list(self, run_id: str) -> list[str]:
        with self._lock:
            log = self._log(run_id)
            if log is None:
                seqs = self._seqs(self.directory / run_id)
            else:
                try:
                    seqs = log.refresh().seqs()
                except OSError as exc:
                    raise CheckpointError(f"{log.path}: cannot read: {exc}") from exc
        return [checkpoint_id(run_id, seq) for seq in seqs]

    def _path(self, checkpoint_id: str) -> str:
        run_id, seq = parse_checkpoint_id(checkpoint_id)
        return os.path.join(self._root, run_id, f"{seq:06d}.json")  # resume reads 1000s of these

    def _last_seq(self, run_id: str) -> int:
        seqs = self._seqs(self.directory / run_id)
        return seqs[-1] if seqs else 0

    @staticmethod
    def _seqs(run_dir: Path) -> list[int]:
        try:
            names = os.listdir(run_dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())

    def runs(self) -> list[str]:
        """Run ids, least recently written first (by the mtime of their log, or of their
        newest checkpoint file)."""
        found: list[tuple[float, str]] = []
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(entry.path, LOG_NAME))
            except FileNotFoundError:
                seqs = self._seqs(Path(entry.path))
                if seqs:
                    newest = Path(entry.path) / f"{seqs[-1]:06d}.json"
                    found.append((newest.stat().st_mtime, entry.name))
                continue
            if st.st_size > len(MAGIC):  # holds at least the start of a record
                found.append((st.st_mtime, entry.name))
        return [name for _, name in sorted(found)]

    def __repr__(self) -> str:
        return f"FileCheckpointStore({str(self.directory)!r})"


def _source(log: RunLog, seq: int) -> str:
    """Where a record is, for error messages: the log's path and the record's number."""
    return f"{log.path}, record {seq}"


def _close_logs(logs: dict[str, RunLog]) -> None:
    for log in logs.values():
        log.close()
