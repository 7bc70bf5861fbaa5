"""Checkpoint stores: ``MemoryCheckpointStore`` for tests and the debugger, ``FileCheckpointStore``
(the embedded default) for runs that must survive the process.

``FileCheckpointStore(dir)`` keeps one file per checkpoint, ``dir/<run_id>/<seq>.json``.  A write
goes to a temporary file, is fsynced, then published under its final name with an atomic,
no-clobber rename (a hard link, then the temporary name is removed) and the directory is fsynced:
a crash leaves either the whole checkpoint or none of it, never a truncated file, and two writers
of one run cannot overwrite each other's checkpoint (the loser takes the next number).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import replace
from pathlib import Path

from looplet_core.durable.checkpoints import Checkpoint, checkpoint_id, parse_checkpoint_id
from looplet_core.errors import CheckpointError

__all__ = ["FileCheckpointStore", "MemoryCheckpointStore"]

# What open(path, "wb") asks for, plus O_BINARY where it exists (Windows).
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


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
            saved = replace(checkpoint, seq=seq, id=cid, source=f"memory:{cid}")
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


class FileCheckpointStore:
    """Checkpoints as JSON files under ``directory`` (created on first write).

    ``durable=False`` skips the fsyncs: several times faster, but a power cut (not a crash of the
    process) may lose the last few checkpoints.
    """

    def __init__(self, directory: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.directory = Path(directory)
        self.durable = durable
        self._root = os.fspath(self.directory)
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def _path(self, checkpoint_id: str) -> str:
        run_id, seq = parse_checkpoint_id(checkpoint_id)
        return os.path.join(self._root, run_id, f"{seq:06d}.json")  # resume reads 1000s of these

    def put(self, checkpoint: Checkpoint) -> Checkpoint:
        run_id = checkpoint.run_id
        run_dir = os.path.join(self._root, run_id)
        checkpoint_id(run_id, 0)  # refuses run ids that are not safe directory names
        with self._lock:
            try:
                seq = self._next.get(run_id)
                if seq is None or not os.path.isdir(run_dir):  # first write (or it was removed)
                    os.makedirs(run_dir, exist_ok=True)
                seq = seq or self._last_seq(run_id) + 1
                while True:
                    cid = checkpoint_id(run_id, seq)
                    path = os.path.join(run_dir, f"{seq:06d}.json")
                    saved = replace(checkpoint, seq=seq, id=cid, source=path)
                    # A lone surrogate (a tool read a non-UTF-8 file name) is written as its
                    # JSON escape: the file stays UTF-8 and reads back to the same string.
                    data = saved.to_json().encode("utf-8", "backslashreplace")
                    if self._publish(data, path):
                        break
                    seq += 1  # another writer took this number
                self._next[run_id] = seq + 1
            except OSError as exc:
                raise CheckpointError(f"{run_dir}: cannot write a checkpoint: {exc}") from exc
            return saved

    def _publish(self, data: bytes, path: str) -> bool:
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        # A bare descriptor, not a buffered file object: this runs once per step.
        fd = os.open(tmp, _CREATE, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links: rename (single writer assumed)
                if os.path.exists(path):
                    return False
                os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if self.durable:
            _fsync_dir(Path(folder))
        return True

    def get(self, checkpoint_id: str) -> Checkpoint:
        path = self._path(checkpoint_id)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no such checkpoint") from None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read: {exc}") from exc
        cp = Checkpoint.from_json(data, path)
        if cp.id != checkpoint_id:
            raise CheckpointError(f"{path}: holds checkpoint {cp.id!r}, not {checkpoint_id!r}")
        return cp

    def list(self, run_id: str) -> list[str]:
        return [checkpoint_id(run_id, seq) for seq in self._seqs(self.directory / run_id)]

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
        """Run ids, least recently written first (by their newest checkpoint file's mtime)."""
        found: list[tuple[float, str]] = []
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            seqs = self._seqs(Path(entry.path))
            if seqs:
                newest = Path(entry.path) / f"{seqs[-1]:06d}.json"
                found.append((newest.stat().st_mtime, entry.name))
        return [name for _, name in sorted(found)]

    def __repr__(self) -> str:
        return f"FileCheckpointStore({str(self.directory)!r})"


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable.  Not every platform can open a directory (Windows cannot)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
