"""``TraceReader``: open a trace directory lazily and read it back as steps, calls and prompts.

Opening reads ``manifest.json`` and indexes ``events.jsonl`` (``provenance.eventlog``): step
lines are parsed (they are small), every other line is only classified by its leading ``kind``
and parsed when asked for; a model-call line is remembered by where it is and which call it
holds, so showing a step's prompt parses that call's line alone.
Step records (one line each in ``steps.jsonl``; a file each in version-1 traces) and prompts are
read on demand, so opening a 10,000-step trace and reading one step touches one line besides the
pass over the event log.

Sub-agent runs hang under the steps that started them (``Step.child``, nested as deep as they
ran): ``child(1)`` is the run step 1 started, ``child(1, 2)`` the one its step 2 started, and
``tree()`` walks every step of every level.  A child step's ``prompt`` is read from the child's
own prompt stream (``provenance.children``) when it is first looked at; ``step_prompt(1, 2)``
reads and checks one whole.

A trace whose run is still being written (manifest status ``running``) opens fine: a partial last
line is left for later (``torn`` says so: being written, or the writer died mid-line), and
``refresh()`` picks up what was appended since.  A trace whose run
ended must be whole; a truncated log, a missing step file or a directory that is not a trace
raises ``TraceError`` naming the file and the problem.  Nothing read from a trace is ever executed
or unpickled: it is JSON, turned into plain dataclasses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from looplet_core.errors import TraceError
from looplet_core.messages import Message
from looplet_core.provenance import format as fmt
from looplet_core.provenance.eventlog import BAD_DATA, EventLog, StepEntry
from looplet_core.provenance.lazyprompt import LazyPrompt, PromptLines
from looplet_core.provenance.manifest import is_trace, locate_trace, read_manifest
from looplet_core.provenance.streams import read_range
from looplet_core.records import LLMCall, StopReason, Usage
from looplet_core.step import ChildRun, LoopResult, Step

__all__ = ["StepEntry", "TraceReader", "is_trace", "read_manifest"]


class TraceReader:
    """Read a trace directory (see the module docs for what is lazy and what is checked)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = locate_trace(path)  # a sink's root holding one run's trace opens that trace
        self.manifest: dict[str, Any] = read_manifest(self.path)
        self._events_file = self.path / fmt.EVENTS
        if not self._events_file.is_file():
            raise TraceError(f"{self.path} is not a complete trace: it has no {fmt.EVENTS}")
        self._log = EventLog(self._events_file)
        self._prompt_lines: PromptLines | None = None
        self._child_lines: dict[tuple[int, ...], PromptLines] = {}
        self._log.read(final=self.manifest.get("status") == "ended")
        self._check_complete()

    # -- what the manifest says -------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or "")

    @property
    def task(self) -> Any:
        return self.manifest.get("task")

    @property
    def model(self) -> str | None:
        return self.manifest.get("model")

    @property
    def status(self) -> str:
        """``running`` while the run is being written (or if it crashed), ``ended`` after."""
        return str(self.manifest.get("status") or "running")

    @property
    def complete(self) -> bool:
        return self.status == "ended"

    @property
    def stop_reason(self) -> StopReason | None:
        reason = self.manifest.get("stop_reason")
        return StopReason(reason) if reason else None

    @property
    def final_answer(self) -> Any:
        return self.manifest.get("final_answer")

    @property
    def totals(self) -> dict[str, Any]:
        return dict(self.manifest.get("totals") or {})

    @property
    def usage(self) -> Usage:
        totals = self.totals
        return Usage(
            int(totals.get("input_tokens") or 0),
            int(totals.get("output_tokens") or 0),
            bool(totals.get("usage_measured", True)),
        )

    # -- steps ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._log.entries)

    @property
    def entries(self) -> list[StepEntry]:
        """The indexed steps, in order (no step file is read)."""
        return list(self._log.entries)

    def step(self, number: int) -> Step:
        """Step ``number`` (1-based, as on ``Step.number``), read from its file."""
        position = self._log.position(number)
        if position is None:
            raise IndexError(
                f"{self.path}: the trace has no step {number} "
                f"({len(self._log.entries)} steps indexed)"
            )
        entry = self._log.entries[position]
        file = self.path / entry.file
        try:
            if entry.at is not None:
                data = read_range(file, *entry.at, f"step {number}'s record")
                text = data.decode("utf-8")
            else:
                text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TraceError(
                f"{file}: step {number} is in {fmt.EVENTS} but its file is missing"
            ) from None
        except (OSError, ValueError) as exc:  # a directory, unreadable, not UTF-8
            raise TraceError(f"{file}: cannot read step {number} ({exc})") from exc
        try:
            raw = json.loads(text)
            step = Step.from_dict(raw, compact=True)  # a replay keeps thousands
        except BAD_DATA as exc:
            raise TraceError(f"{file}: not a valid step ({type(exc).__name__}: {exc})") from exc
        if step.number != number:
            raise TraceError(
                f"{file}: the record {fmt.EVENTS} gives for step {number} is step {step.number}'s: "
                "the trace is damaged or edited"
            )
        agent = entry.child
        if step.child is None and agent is not None:
            raise TraceError(
                f"{file}: step {number} ran sub-agent {agent!r} ({fmt.EVENTS} says so) but its "
                "file holds no child run: the file is damaged"
            )
        if step.child is not None:
            self._attach_prompts((number,), step.child, raw["child"], file)
        return step

    def child(self, number: int, *inner: int) -> ChildRun:
        """The sub-agent run step ``number`` started; ``child(1, 2)``: the one step 2 of that
        run started, and so on down.  Its steps' prompts are read when first looked at."""
        step = self.step(number)
        path: tuple[int, ...] = (number,)
        while True:
            run = step.child
            if run is None:
                raise LookupError(
                    f"{self.path}: step {_path_text(path)} ({step.tool or 'no tool call'}) "
                    "started no sub-agent"
                )
            if len(path) > len(inner):
                return run
            deeper = inner[len(path) - 1]
            step = _child_step(run, deeper, path, self.path)
            path = (*path, deeper)

    def tree(self) -> Iterator[tuple[tuple[int, ...], Step]]:
        """Every step, each followed by the steps of the sub-agent it ran (depth first), with
        its path: ``(1,)`` for step 1, ``(1, 2)`` for step 2 of the sub-agent step 1 ran."""
        for entry in list(self._log.entries):
            yield from _walk((entry.number,), self.step(entry.number))

    def step_prompt(self, number: int, *inner: int) -> list[Message]:
        """The exact messages the model was sent for step ``number`` (or, with ``inner``, for
        that step of a sub-agent: ``step_prompt(1, 2)``), read whole and checked."""
        if not inner:
            call = self.step(number).llm_call
            if call is None:
                raise LookupError(f"{self.path}: step {number} records no model call")
            return self.prompt(call.index)
        run = self.child(number, *inner[:-1])
        path = (number, *inner)
        step = _child_step(run, inner[-1], path[:-1], self.path)
        prompt = step.prompt
        if not isinstance(prompt, LazyPrompt):
            raise LookupError(
                f"{self.path}: the trace holds no prompt for step {_path_text(path)} (written "
                "without the sub-agent's prompts, or a call resumed after an approval pause)"
            )
        file = self.path / fmt.child_dir(path[:-1]) / fmt.MESSAGES
        what = f"the prompt of step {_path_text(path)}"
        return _read_prompt(file, prompt.ref, what)

    def _attach_prompts(
        self, path: tuple[int, ...], run: ChildRun, raw: dict[str, Any], file: Path
    ) -> None:
        """Give each of ``run``'s steps its prompt as a lazy view of the child's stream."""
        raw_steps = cast(list[dict[str, Any]], raw.get("steps") or [])
        for step, raw_step in zip(run.steps, raw_steps, strict=False):
            ref: object = raw_step.get("prompt_ref")
            if ref is not None:
                try:
                    offset, length, count = _ref(ref)
                except BAD_DATA as exc:
                    raise TraceError(
                        f"{file}: step {_path_text((*path, step.number))} has an invalid "
                        f"prompt_ref ({exc})"
                    ) from exc
                lines = self._child_lines.get(path)
                if lines is None:
                    lines = PromptLines(self.path / fmt.child_dir(path) / fmt.MESSAGES)
                    self._child_lines[path] = lines
                call = step.llm_call.index if step.llm_call else step.number
                step.prompt = LazyPrompt(lines, call, offset, length, count)
            if step.child is not None:
                self._attach_prompts((*path, step.number), step.child, raw_step["child"], file)

    def steps(self) -> Iterator[Step]:
        for entry in list(self._log.entries):
            yield self.step(entry.number)

    def result(self) -> LoopResult:
        """The run's ``LoopResult`` as recorded (reads every step file)."""
        if self.stop_reason is None:
            raise TraceError(f"{self.path}: the run has not ended yet; there is no result")
        return LoopResult(
            stop_reason=self.stop_reason,
            steps=list(self.steps()),
            usage=self.usage,
            final_answer=self.final_answer,
            message=str(self.manifest.get("message") or ""),
            run_id=self.run_id,
            llm_calls=int(self.totals.get("llm_calls") or 0),
        )

    # -- model calls ------------------------------------------------------------------------------

    def llm_calls(self) -> list[LLMCall]:
        """Every model reply, in order (the answers, not the prompts)."""
        return [LLMCall.from_dict(r["call"]) for r in self._log.call_records().values()]

    def llm_call(self, index: int) -> LLMCall:
        return LLMCall.from_dict(self._log.call_record(index)["call"])

    def prompt(self, index: int) -> list[Message]:
        """The exact messages the model was sent on call ``index`` (secrets redacted)."""
        ref = cast(dict[str, int], self._log.call_record(index).get("prompt") or {})
        return _read_prompt(self.path / fmt.MESSAGES, ref, f"the prompt of call {index}")

    def prompt_view(self, index: int) -> Sequence[Message]:
        """Call ``index``'s prompt, read and parsed only as its messages are asked for.

        For viewers: see ``looplet_core.provenance.lazyprompt``.  Problems show when a message is
        read (as ``TraceError``), not here; ``prompt`` checks the whole prompt up front.
        """
        ref = cast(dict[str, int], self._log.call_record(index).get("prompt") or {})
        try:
            offset, length, count = int(ref["offset"]), int(ref["length"]), int(ref["count"])
        except BAD_DATA as exc:
            raise TraceError(
                f"{self._events_file}: call {index} has no valid prompt ({exc})"
            ) from exc
        if self._prompt_lines is None:
            self._prompt_lines = PromptLines(self.path / fmt.MESSAGES)
        return LazyPrompt(self._prompt_lines, index, offset, length, count)

    def tools(self) -> list[dict[str, Any]]:
        """The tool schemas the model was offered."""
        file = self.path / fmt.TOOLS
        if not file.is_file():
            return []
        tools: object = self._load_json(file)
        if not isinstance(tools, list) or not all(
            isinstance(t, dict) for t in cast(list[object], tools)
        ):
            raise TraceError(f"{file}: should hold a list of tool schemas")
        return cast(list[dict[str, Any]], tools)

    # -- the event log ----------------------------------------------------------------------------

    @property
    def torn(self) -> str | None:
        """What is wrong with the event log's last line when it has no line end (it is left
        out of the index until it is whole); None when the log ends with a whole line."""
        return self._log.torn

    def events(self, kinds: set[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every logged event in order (``kinds`` filters), parsed as read."""
        return self._log.events(kinds)

    def logged(self, kinds: set[str]) -> list[dict[str, Any]]:
        """The indexed events of ``kinds`` other than steps and model calls (compactions, say),
        in order, without reading the log again: what ``events(kinds)`` gives for the lines
        indexed so far."""
        return self._log.logged(kinds)

    def refresh(self) -> int:
        """Read what a live run appended since; returns how many new steps were indexed."""
        self.manifest = read_manifest(self.path)
        before = len(self._log.entries)
        self._log.read(final=self.manifest.get("status") == "ended")
        return len(self._log.entries) - before

    def _check_complete(self) -> None:
        if not self.complete:
            return
        if self._log.run_end is None:
            raise TraceError(
                f"{self._events_file}: the run ended but the log has no run_end "
                "line: the file is truncated"
            )
        expected = self.totals.get("steps")
        if isinstance(expected, int) and expected != len(self._log.entries):
            raise TraceError(
                f"{self._events_file}: the manifest counts {expected} steps but the "
                f"log has {len(self._log.entries)}: the file is truncated or edited"
            )

    def _load_json(self, file: Path) -> Any:
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise TraceError(f"{file}: unreadable ({exc})") from exc

    def __repr__(self) -> str:
        return f"TraceReader({str(self.path)!r}, {len(self)} steps, {self.status})"


def _read_prompt(file: Path, ref: dict[str, int], what: str) -> list[Message]:
    """The messages at ``ref`` (offset, length, count) in ``file``, parsed and counted."""
    try:
        with open(file, "rb") as handle:
            handle.seek(int(ref["offset"]))
            data = handle.read(int(ref["length"]))
    except (OSError, *BAD_DATA) as exc:
        raise TraceError(f"{file}: cannot read {what} ({exc})") from exc
    try:
        messages = [Message.from_dict(json.loads(line)) for line in data.splitlines()]
    except BAD_DATA as exc:
        raise TraceError(f"{file}: {what} is corrupt ({exc})") from exc
    if len(messages) != ref.get("count", len(messages)):
        raise TraceError(
            f"{file}: {what} should have {ref['count']} messages, found {len(messages)} "
            "(the file is truncated)"
        )
    return messages


def _ref(value: object) -> tuple[int, int, int]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    ref = cast(dict[str, object], value)
    numbers = [ref["offset"], ref["length"], ref["count"]]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise ValueError(f"offset, length and count must be whole numbers, got {numbers}")
    offset, length, count = cast(list[int], numbers)
    return offset, length, count


def _child_step(run: ChildRun, number: int, path: tuple[int, ...], trace: Path) -> Step:
    for step in run.steps:
        if step.number == number:
            return step
    raise IndexError(
        f"{trace}: the sub-agent {run.agent!r} of step {_path_text(path)} has no step {number} "
        f"({len(run.steps)} steps)"
    )


def _walk(path: tuple[int, ...], step: Step) -> Iterator[tuple[tuple[int, ...], Step]]:
    yield path, step
    if step.child is not None:
        for inner in step.child.steps:
            yield from _walk((*path, inner.number), inner)


def _path_text(path: Sequence[int]) -> str:
    """``1`` or ``1 › 2``: a step's place in the tree of sub-agent runs."""
    return " › ".join(str(n) for n in path)
