"""``EventLog``: a trace's ``events.jsonl`` indexed, and its lines read back one at a time.

What opening a trace costs is this pass: step lines are parsed (small, and all at once: one
JSON array), every other line is only classified by its leading ``kind``; a model-call line is
remembered by where it is and which call it holds (``CallLines``), so reading one call's record
later reads and parses that line alone.  A live run's log is read on from where the last pass
stopped (``read``), a partial last line left for later (``torn``).

``TraceReader`` owns one and adds what is outside the log: the manifest, the step records and
prompts they point at, and sub-agent runs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from looplet_core.errors import TraceError
from looplet_core.messages import optional
from looplet_core.provenance import format as fmt
from looplet_core.provenance.calllines import CallLines
from looplet_core.records import LLMCall

__all__ = ["BAD_DATA", "EventLog", "StepEntry"]

_KIND_PREFIX = b'{"kind": "'
BAD_DATA = (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError)
"""What decoding a damaged or hostile file can raise (UnicodeDecodeError is a ValueError);
readers turn each into a TraceError naming the file."""


@dataclass(frozen=True, slots=True)
class StepEntry:
    """A step as the event log indexes it: enough to list and filter without reading its file."""

    number: int
    status: str
    tool: str | None
    error_kind: str | None
    llm_call: int | None
    elapsed_ms: float
    file: str
    child: str | None = None
    """The sub-agent the step ran (its name), if it ran one."""
    at: tuple[int, int] | None = None
    """Where the record is in ``file`` (``steps.jsonl``): offset and length; None in a
    version-1 trace, whose ``file`` is the step's own."""


class EventLog:
    """The index of one trace's event log, read on as the log grows (see the module docs)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.entries: list[StepEntry] = []
        self.moved_steps: dict[int, int] = {}
        """Step number -> its place in ``entries``, for steps not at ``number - 1``."""
        self._names: dict[str, str] = {}
        """One string object per status, tool and error name: 10,000 steps share a few."""
        self.calls = CallLines()
        self.other_lines: list[tuple[str, int, bytes]] = []
        """Lines of every other kind (run_start, compaction, ...): few, kept for ``logged``."""
        self.run_end: dict[str, Any] | None = None
        self._offset = 0
        self._line_no = 0
        self.torn: str | None = None
        """What is wrong with the log's last line when it has no line end (it is left out of
        the index until it is whole); None when the log ends with a whole line."""

    # -- indexing ---------------------------------------------------------------------------------

    def read(self, *, final: bool) -> None:
        """Index what was appended since the last read (``final``: the run ended, so a line
        without its line end is a truncated file, not one being written)."""
        with open(self.file, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.torn = None
        if end < len(data):
            line = self._line_no + data.count(b"\n", 0, end) + 1
            if final:
                raise TraceError(f"{self.file}: line {line} is cut off: the file is truncated")
            self.torn = (
                f"{self.file}: line {line} has no line end ({len(data) - end} bytes): "
                "it is being written, or the writer stopped mid-line; it is left out until "
                "it is whole"
            )
        base = self._offset
        self._offset += end
        steps: list[tuple[int, bytes]] = []
        calls: list[tuple[int, int, bytes]] = []
        at = 0  # where ``raw`` starts in ``data``
        lines = data[:end].split(b"\n")
        lines.pop()  # what follows the last line end: nothing
        for raw in lines:
            self._line_no += 1
            kind = _kind_of(raw)
            if kind == "step":
                steps.append((self._line_no, raw))
            elif kind == "llm_call":
                calls.append((self._line_no, base + at, raw))
            elif kind == "run_end":
                self.run_end = self.parse(raw, self._line_no)
                self.other_lines.append((kind, self._line_no, raw))
            elif kind is None:  # not written by the sink's fast path: parse to check it
                record = self.parse(raw, self._line_no)
                self.other_lines.append((str(record.get("kind")), self._line_no, raw))
            else:
                self.other_lines.append((kind, self._line_no, raw))
            at += len(raw) + 1
        self.calls.add(calls)
        for line_no, record in self._parse_all(steps):
            self._add_step(record, line_no)

    def _parse_all(self, lines: list[tuple[int, bytes]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """``lines`` parsed, with their line numbers: as one JSON array (one call into the C
        parser instead of one per line, most of the time it took to open a long trace), or,
        when that fails or a line is not an object, line by line so the error names the line."""
        records: object = None
        with contextlib.suppress(ValueError, RecursionError):
            records = json.loads(b"[" + b",".join(raw for _, raw in lines) + b"]")
        if not isinstance(records, list) or len(cast(list[object], records)) != len(lines):
            records = None  # a line that is not one value (``1, 2``) must not shift the rest
        elif not all(isinstance(r, dict) for r in cast(list[object], records)):
            records = None
        if records is None:
            for line_no, raw in lines:
                yield line_no, self.parse(raw, line_no)
            return
        for (line_no, _), record in zip(lines, cast(list[dict[str, Any]], records), strict=True):
            yield line_no, record

    def _add_step(self, record: dict[str, Any], line_no: int) -> None:
        names = self._names
        try:
            at = _at(record["at"]) if "at" in record else None
            status = str(record["status"])
            tool = optional(record.get("tool"), str, "tool")
            error_kind = optional(record.get("error_kind"), str, "error_kind")
            child = optional(record.get("child"), str, "child")
            entry = StepEntry(
                number=int(record["number"]),
                status=names.setdefault(status, status),
                tool=tool if tool is None else names.setdefault(tool, tool),
                error_kind=error_kind
                if error_kind is None
                else names.setdefault(error_kind, error_kind),
                llm_call=optional(record.get("llm_call"), int, "llm_call"),
                elapsed_ms=float(record.get("elapsed_ms") or 0.0),
                # Derived from the number, never taken from the log: a hostile trace cannot
                # point the reader at a file outside it, and no path is parsed per step.
                file=fmt.STEPS if at is not None else fmt.step_path(int(record["number"])),
                child=child if child is None else names.setdefault(child, child),
                at=at,
            )
        except BAD_DATA as exc:
            raise TraceError(
                f"{self.file}: line {line_no} is not a valid step record ({exc})"
            ) from exc
        position = self.position(entry.number)
        if position is not None:  # a step logged again: one step, its last record
            self.entries[position] = entry
            return
        if entry.number != len(self.entries) + 1:
            self.moved_steps[entry.number] = len(self.entries)
        self.entries.append(entry)

    def position(self, number: int) -> int | None:
        """Where step ``number`` is in ``entries``: at ``number - 1`` unless it moved."""
        position = self.moved_steps.get(number)
        entries = self.entries
        if position is None and 0 < number <= len(entries) and entries[number - 1].number == number:
            return number - 1
        return position

    # -- model calls ------------------------------------------------------------------------------

    def call_record(self, index: int) -> dict[str, Any]:
        """Call ``index``'s record: its one line found through the index and parsed alone (so
        showing a step does not parse every model call of a long trace), checked as whole."""
        calls = self.calls
        self._resolve()
        position = calls.find(index)
        if position is not None:
            record = self._call_record(position, self._read_line(position))
            if int(record["call"]["index"]) == index:
                return record
            # Not where the index said (the log changed since it was read): parse them all.
        record = self.call_records().get(index)
        if record is None:
            raise IndexError(f"{self.file.parent}: the trace has no model call {index}")
        return record

    def call_records(self) -> dict[int, dict[str, Any]]:
        """Every model-call record by call index (a call logged twice: its last line), each
        checked, read with one pass over the log.  Not kept: the index finds one alone."""
        calls = self.calls
        with open(self.file, "rb") as handle:
            data = handle.read(calls.end())
        if len(data) < calls.end():
            raise TraceError(
                f"{self.file}: it is shorter than when the trace was opened: the file "
                "was truncated after the trace was opened"
            )
        records: dict[int, dict[str, Any]] = {}
        for position in range(len(calls)):
            offset, length = calls.span(position)
            record = self._call_record(position, data[offset : offset + length])
            records[int(record["call"]["index"])] = record
        return records

    def _resolve(self) -> None:
        """Parse the model-call lines whose call index could not be read off the line (not
        written by the sink's own code), so that ``calls.find`` knows every line's index."""
        calls = self.calls
        while calls.unsure:
            position = calls.unsure[0]
            record = self._call_record(position, self._read_line(position))
            calls.place(position, int(record["call"]["index"]))
            calls.unsure.pop(0)

    def _read_line(self, position: int) -> bytes:
        """Model-call line ``position``'s bytes, read from the log where the index found it."""
        calls = self.calls
        offset, length = calls.span(position)
        try:
            with open(self.file, "rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except OSError as exc:
            raise TraceError(f"{self.file}: cannot read it again ({exc})") from exc
        if len(data) != length:
            raise TraceError(
                f"{self.file}: line {calls.line_no(position)} is cut off: the file "
                "was truncated after the trace was opened"
            )
        return data

    def _call_record(self, position: int, raw: bytes) -> dict[str, Any]:
        line_no = self.calls.line_no(position)
        record = self.parse(raw, line_no)
        try:
            LLMCall.from_dict(record["call"])  # checked, so llm_calls() cannot fail later
            int(record["call"]["index"])
        except BAD_DATA as exc:
            raise TraceError(
                f"{self.file}: line {line_no} is not a valid model-call record ({exc})"
            ) from exc
        return record

    # -- reading lines ----------------------------------------------------------------------------

    def events(self, kinds: set[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every logged event in order (``kinds`` filters), parsed as read."""
        with open(self.file, "rb") as handle:
            for line_no, raw in enumerate(handle, 1):
                if not raw.endswith(b"\n"):
                    return  # the line being written right now
                kind = _kind_of(raw)
                if kinds is not None and kind is not None and kind not in kinds:
                    continue  # skipped without parsing
                record = self.parse(raw, line_no)
                if kinds is None or str(record.get("kind")) in kinds:
                    yield record

    def logged(self, kinds: set[str]) -> list[dict[str, Any]]:
        """The indexed events of ``kinds`` other than steps and model calls, in order."""
        return [self.parse(raw, n) for kind, n, raw in self.other_lines if kind in kinds]

    def parse(self, raw: bytes, line_no: int) -> dict[str, Any]:
        """Line ``line_no`` (``raw``) as a JSON object, or a TraceError naming it."""
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise TraceError(f"{self.file}: line {line_no} is not valid JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise TraceError(f"{self.file}: line {line_no} is not a JSON object")
        return cast(dict[str, Any], record)


def _at(value: object) -> tuple[int, int]:
    """A step line's ``at``: ``[offset, length]`` in ``steps.jsonl``, whole numbers (checked by
    exact type: it runs once per step when a trace opens)."""
    pair = cast(list[object], value)
    if type(value) is list and len(pair) == 2:
        offset, length = pair
        if type(offset) is int and type(length) is int and offset >= 0 and length >= 0:
            return offset, length
    raise ValueError(f"at should be [offset, length] in whole numbers, got {value!r}")


def _kind_of(raw: bytes) -> str | None:
    """The ``kind`` of a line written by the sink, without parsing it; None if unsure."""
    if not raw.startswith(_KIND_PREFIX):
        return None
    end = raw.find(b'"', len(_KIND_PREFIX))
    return raw[len(_KIND_PREFIX) : end].decode(errors="replace") if end > 0 else None
