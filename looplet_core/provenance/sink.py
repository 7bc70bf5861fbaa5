"""``ProvenanceSink``: a hook that writes a run as a trace directory (layout in ``format.py``).

It is an ordinary hook (``hooks=[ProvenanceSink("traces/run1")]``), not an LLM wrapper: the loop's
``llm_start`` event carries the exact message view being sent, after every ``pre_prompt`` hook and
compaction, so the sink records what the model saw no matter where it sits in the hook list.  It
reads each finished ``Step`` from the step log its ``check_done`` method receives, and keeps the
conversation its ``pre_prompt`` sees (it never changes either).

Cost: a step is three appended lines (its record to ``steps.jsonl``, its ``llm_call`` and
``step`` lines to ``events.jsonl``) plus its new messages to ``messages.jsonl``, each one whole
``write`` to a file the run keeps open (``streams.py``), so a reader can follow a live run and a
crash loses at most the line being written.  Each new message is redacted and encoded once: a
prompt that extends the previous one appends only its new messages.  Readable per-call files
(``llm/NNNNNN.prompt.txt`` and ``.response.txt``) are written only when asked for:
``prompt_files="full"`` (each file holds the whole prompt, so two calls can be diffed, at bytes
that grow with the square of the run) or ``"new"`` (only the new messages); both create two
files per call, which costs several times what the lines do.
"""

from __future__ import annotations

import json
import math
import os
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

from looplet_core.context.prompt import Prompt
from looplet_core.errors import TraceError
from looplet_core.events import Event, EventKind
from looplet_core.messages import Message
from looplet_core.provenance import format as fmt
from looplet_core.provenance.children import ChildPrompts
from looplet_core.provenance.manifest import read_manifest
from looplet_core.provenance.prompts import PromptFiles, PromptWriter
from looplet_core.provenance.redact import Redactor, client_secrets
from looplet_core.provenance.steptext import record_text
from looplet_core.provenance.streams import StreamWriter
from looplet_core.records import LLMCall
from looplet_core.step import Step, StepStatus

__all__ = ["ProvenanceSink"]

_PASSTHROUGH = {
    EventKind.LLM_RETRY: "llm_retry",
    EventKind.DECISION: "decision",
    EventKind.APPROVAL_REQUESTED: "approval_requested",
    EventKind.APPROVAL_RESOLVED: "approval_resolved",
    EventKind.COMPACTION: "compaction",
    EventKind.CONTEXT_TIER: "context_tier",
    EventKind.CHECKPOINT: "checkpoint",
    EventKind.ERROR: "error",
}

_DONE = StepStatus.DONE
_REF_KEYS = frozenset({"offset", "length", "count"})
"""The keys of a prompt's place in ``messages.jsonl``, which the usual ``llm_call`` line writes."""
_FINE = frozenset({StepStatus.OK, StepStatus.DONE})
"""The statuses ``Step.ok`` counts as fine."""


class ProvenanceSink:
    """Write the run to ``directory``: manifest, events, prompts, responses and steps.

    ``redact``: a ``Redactor``, or extra patterns (regex strings or compiled) added to the
    built-in ones.  ``secrets``: literal strings never to write.  ``llm``: a backend or client
    whose API key must never be written (its ``model`` also names the model in the manifest
    before the first reply).  ``prompt_files``: ``"none"`` (the default), ``"full"`` or
    ``"new"``: which readable prompt and response files to write besides the streams (see the
    module docs).

    One sink writes one run.  The directory must be new, empty, or this run's own trace (a run
    resumed after an approval pause or a crash appends to it); anything else is a ``TraceError``,
    raised here for a directory that is not a trace and at run start for another run's trace.
    """

    name = "provenance"
    event_kinds = frozenset(EventKind) - {
        EventKind.TOOL_START,
        EventKind.TOOL_END,
        EventKind.TOOL_PROGRESS,
        EventKind.LLM_DELTA,
    }
    """The events a trace holds: tool start and end, progress and streamed text are left out
    (the ``step`` and ``llm_call`` lines say the same once), so the loop does not build them
    for the sink."""
    wants_child_prompts = True
    """Sub-agents keep their steps' prompts while the run goes, so the trace can hold them
    (``provenance.children``); they are written once, in the child's own prompt stream."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        redact: Redactor | Iterable[str | re.Pattern[str]] | None = None,
        secrets: Iterable[str] = (),
        llm: object = None,
        prompt_files: PromptFiles = "none",
    ) -> None:
        if prompt_files not in ("none", "full", "new"):
            raise ValueError(
                f"prompt_files must be 'none', 'full' or 'new', got {prompt_files!r}; 'none' "
                "(the default) keeps every prompt in messages.jsonl only"
            )
        self.path = Path(directory)
        self._root = os.fspath(self.path)
        extra = [*secrets, *client_secrets(llm)]
        if isinstance(redact, Redactor):
            self.redactor = redact.with_secrets(extra) if extra else redact
        else:
            self.redactor = Redactor(redact or (), secrets=extra)
        self.prompt_files: PromptFiles = prompt_files
        self._model: str | None = _model_of(llm)
        self._existing = _existing_run(self.path)
        self._events: StreamWriter | None = None
        self._steps: StreamWriter | None = None
        self._closer: weakref.finalize[Any, Any] | None = None
        self._seq = 0
        self._manifest: dict[str, Any] = {}
        self._log: Sequence[Step] = ()
        self._prompt_call = 0
        self._prompt_sent: Sequence[Message] = ()
        self._prompt_ref: dict[str, int] = {}
        self._prompts: PromptWriter | None = None
        self._children: ChildPrompts | None = None
        self._tools_written = False
        self._answer: Any = None
        self._last_text = ""
        self._call_json: tuple[object, str] = (None, "")
        """The last reply as the ``llm_call`` event gave it and its redacted JSON, which a step
        made from that reply holds again (spliced, not encoded twice)."""
        self._totals: dict[str, Any] = {}

    # -- hook methods -----------------------------------------------------------------------------

    def pre_prompt(self, state: object, log: Sequence[Step], ctx: Prompt, step: int) -> None:
        """Keep the conversation, to tell in O(1) whether a prompt extends the previous one."""
        if self._prompts is not None:
            self._prompts.conversation = ctx.conversation

    def check_done(self, state: object, log: Sequence[Step], step: int) -> None:
        """Keep the step log: the ``step`` event that follows reads the finished step from it."""
        self._log = log

    def on_event(self, event: Event) -> None:
        # One look-up, not a chain of ``kind is EventKind.X``: reading an enum member off its
        # class costs a descriptor call each, and the kinds a trace skips (tool start and end,
        # five of a step's events in two) went through the whole chain.
        handler = self._HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)
        else:
            line = _PASSTHROUGH.get(event.kind)
            if line is not None:
                self._line(line, event, event.data)

    def close(self) -> None:
        """Close the files (the run end does this; call it if you abandon a run midway)."""
        if self._closer is not None:
            self._closer()
        self._events = self._steps = None

    def __enter__(self) -> ProvenanceSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- run start and end ------------------------------------------------------------------------

    def _on_run_start(self, event: Event) -> None:
        existing = self._existing
        if existing is not None and existing.get("run_id") != event.run_id:
            raise TraceError(
                f"{self.path} holds the trace of run {existing.get('run_id')!r}; a sink writes "
                f"one run, so give run {event.run_id!r} its own directory"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        if self.prompt_files != "none":
            (self.path / fmt.LLM_DIR).mkdir(exist_ok=True)
        repaired: dict[str, int] = {}
        if self._events is None:
            # A run resumed after a crash may find a torn last line in a stream: each writer
            # cuts it off before appending (so no line fuses with it) and it is logged below.
            streams = [StreamWriter(self.path / name) for name in fmt.STREAMS]
            self._events, messages, self._steps = streams
            repaired = {
                name: s.repaired for name, s in zip(fmt.STREAMS, streams, strict=True) if s.repaired
            }
            # A run abandoned midway (the caller stopped iterating) never reaches run end:
            # close the files when the sink goes away rather than leak them.
            self._closer = weakref.finalize(self, _close_all, *streams)
            self._prompts = PromptWriter(
                self.path,
                messages,
                self._clean,
                files=self.prompt_files,
                scan=self.redactor.found_in,
            )
            self._children = ChildPrompts(
                self.path,
                self._clean,
                files=self.prompt_files,
                scan=self.redactor.found_in,
            )
            if existing is not None:
                self._seq = _count_lines(self.path / fmt.EVENTS)
        now = event.time
        if existing is not None:
            self._manifest = dict(existing)
            self._totals = dict(cast(dict[str, Any], existing.get("totals") or {}))
            if existing.get("status") == "running":  # the writer died: its totals never landed
                self._totals.update(_totals_from_log(self.path / fmt.EVENTS))
        else:
            self._manifest = {
                "format": fmt.FORMAT_NAME,
                "version": fmt.FORMAT_VERSION,
                "run_id": event.run_id,
                "task": event.data.get("task"),
                "model": self._model,
                "started_at": now,
                "max_steps": event.data.get("max_steps"),
            }
            self._totals = {"steps": 0, "errors": 0, "llm_calls": 0, "tools": {}}
        self._existing = {"run_id": event.run_id}
        self._manifest.update(
            version=fmt.FORMAT_VERSION, status="running", ended_at=None, stop_reason=None
        )
        self._write_manifest()
        data = event.data
        if repaired:
            data = {**data, "repaired": {name: {"torn_bytes": n} for name, n in repaired.items()}}
        self._line("run_start", event, data)

    def _on_run_end(self, event: Event) -> None:
        data = event.data
        stop = data.get("stop_reason")
        if stop == "final_text":
            self._answer = self._last_text
        usage = cast(dict[str, Any], data.get("usage") or {})
        self._totals.update(
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            usage_measured=usage.get("measured", True),
        )
        self._line("run_end", event, data)
        self._manifest.update(
            status="ended",
            ended_at=event.time,
            stop_reason=stop,
            message=str(data.get("message") or ""),
            final_answer=self._answer,
            model=self._model,
            totals=self._totals,
        )
        self._write_manifest()
        self.close()

    def _write_manifest(self) -> None:
        target = self.path / fmt.MANIFEST
        temp = target.with_suffix(".json.tmp")
        temp.write_text(
            self._clean(self._manifest, indent=2)[1] + "\n",
            encoding="utf-8",
            errors="backslashreplace",
        )
        os.replace(temp, target)

    # -- model calls ------------------------------------------------------------------------------

    def _on_llm_start(self, event: Event) -> None:
        call = int(event.data.get("call") or 0)
        sent = cast(Sequence[Message], event.data.get("prompt") or ())
        if call == self._prompt_call and sent is self._prompt_sent:
            return  # a retry sends the same prompt again (after an overflow, a compacted one)
        self._prompt_call, self._prompt_sent = call, sent
        tools = cast(list[dict[str, Any]], event.data.get("tools") or [])
        if not self._tools_written:
            (self.path / fmt.TOOLS).write_text(
                self._clean(tools, indent=2)[1] + "\n", encoding="utf-8", errors="backslashreplace"
            )
            self._tools_written = True
        assert self._prompts is not None
        self._prompt_ref = self._prompts.write(call, sent, len(tools))

    def _on_llm_end(self, event: Event) -> None:
        raw, text = self._clean(event.data.get("call") or {})
        raw = cast(dict[str, Any], raw)
        model = raw.get("model")
        self._model = model if isinstance(model, str) and model else self._model
        self._last_text = str(raw.get("text") or "")
        self._call_json = (event.data.get("call"), text)
        self._totals["llm_calls"] = self._totals.get("llm_calls", 0) + 1
        # Everything in this line is clean already: the call was just redacted (and its JSON
        # text is spliced in, not encoded again), the rest is numbers and names this module
        # made.  So it is encoded without a second scan.
        head = fmt.head("llm_call", self._seq + 1, event.time, event.step)
        ref = self._prompt_ref
        if head is None or self.prompt_files != "none" or ref.keys() != _REF_KEYS:
            data: dict[str, Any] = {"prompt": dict(ref)}
            if self.prompt_files != "none":
                data["files"] = self._write_response(LLMCall.from_dict(raw))
            self._line("llm_call", event, data, scanned=True, encoded={"call": text})
            return
        self._seq += 1
        line = (
            f'{head}, "prompt": {{"offset": {ref["offset"]}, "length": {ref["length"]}, '
            f'"count": {ref["count"]}}}, "call": {text}}}\n'
        )
        assert self._events is not None
        self._events.append(line.encode("utf-8", "backslashreplace"))

    def _write_response(self, call: LLMCall) -> dict[str, str]:
        """The readable response file (``prompt_files`` other than ``"none"``); its names."""
        fmt.write_text(
            os.path.join(self._root, fmt.response_path(call.index)), fmt.render_response(call)
        )
        return {"prompt": fmt.prompt_path(call.index), "response": fmt.response_path(call.index)}

    def _on_llm_error(self, event: Event) -> None:
        """A call that got no answer: the usual ``llm_error`` line, and the call itself (every
        attempt, and its prompt) as a model-call record, so a replay shows what was sent."""
        data = {k: v for k, v in event.data.items() if k != "call"}
        self._line("llm_error", event, data)
        raw = event.data.get("call")
        if not isinstance(raw, dict):
            return
        clean = cast(dict[str, Any], self._clean(raw)[0])
        data: dict[str, Any] = {"call": clean, "prompt": dict(self._prompt_ref)}
        if self.prompt_files != "none":
            data["files"] = self._write_response(LLMCall.from_dict(clean))
        self._line("llm_call", event, data)

    # -- steps ------------------------------------------------------------------------------------

    def _on_step(self, event: Event) -> None:
        log = self._log
        if not log or log[-1].number != event.step:
            raise TraceError(
                f"step {event.step} finished but the sink never saw it: a ProvenanceSink must be "
                "passed in hooks= (it reads steps through its check_done method)"
            )
        step = log[-1]
        text, clean = self._record(step)
        line = (text + "\n").encode("utf-8", "backslashreplace")
        assert self._steps is not None
        at = self._steps.append(line)
        totals = self._totals
        totals["steps"] = totals.get("steps", 0) + 1
        status = step.status
        if status not in _FINE:  # (Step.ok, without reading two enum members off their class)
            totals["errors"] = totals.get("errors", 0) + 1
        tool = step.tool
        if tool is not None:
            tools = cast(dict[str, int], totals.setdefault("tools", {}))
            tools[tool] = tools.get(tool, 0) + 1
        if status is _DONE:
            self._answer = step.tool_result.data
        kind = step.tool_result.error_kind
        error_kind = kind.value if kind else None
        call_index = step.llm_call.index if step.llm_call else None
        elapsed = round(step.elapsed_ms, 3)
        # The summary's text (status, tool, error kind) is a part of the record just scanned;
        # when that needed no redaction, neither does this.  The usual line is built as text
        # (what the encoder would write, tested): it is a tenth of a step's trace cost.
        head = fmt.head("step", self._seq + 1, event.time, event.step)
        if clean and head is not None and step.child is None and math.isfinite(elapsed):
            self._seq += 1
            text = (
                f'{head}, "number": {step.number}, "status": "{status.value}", '
                f'"tool": {fmt.text_or_null(step.tool)}, '
                f'"error_kind": {fmt.text_or_null(error_kind)}, '
                f'"llm_call": {"null" if call_index is None else call_index}, '
                f'"elapsed_ms": {float(elapsed)!r}, "at": [{at}, {len(line)}]}}\n'
            )
            assert self._events is not None
            self._events.append(text.encode("utf-8", "backslashreplace"))
            return
        summary: dict[str, Any] = {
            "number": step.number,
            "status": step.status.value,
            "tool": step.tool,
            "error_kind": error_kind,
            "llm_call": call_index,
            "elapsed_ms": elapsed,
            "at": [at, len(line)],
        }
        if step.child is not None:
            summary["child"] = step.child.agent
        self._line("step", event, summary, scanned=clean)

    def _record(self, step: Step) -> tuple[str, bool]:
        """The step's record as one line of JSON, and whether it needed no redaction.

        One line: the indented form is several times slower to encode (json has no C encoder
        for it) and the stream is read by programs (TraceReader), not people.  The reply just
        logged is not encoded again: its clean JSON is spliced in as the last key.  A usual step
        is written from its fields (``steptext.py``), any other from ``to_dict()``.
        """
        call, call_text = self._call_json
        reply = step.llm_call
        if call is not None and reply is not None:
            body = record_text(step)
            if body is not None and reply.to_dict() == call and not self.redactor.found_in(body):
                return f'{body[:-1]}, "llm_call": {call_text}}}', True
        record = step.to_dict(prompt=False)  # prompts live in messages.jsonl, once
        if step.child is not None:  # and a sub-agent's in a stream of its own (children.py)
            assert self._children is not None
            self._children.write(step.number, step.child, record["child"])
        if call is not None and record.get("llm_call") == call:
            del record["llm_call"]
            clean, text = self._clean(record)
            return f'{text[:-1]}, "llm_call": {call_text}}}', clean is record
        clean, text = self._clean(record)
        return text, clean is record

    def _line(
        self,
        kind: str,
        event: Event,
        data: dict[str, Any],
        *,
        scanned: bool = False,
        encoded: dict[str, str] | None = None,
    ) -> None:
        """Append one event line; ``scanned``: ``data`` is redacted already (no second scan);
        ``encoded``: fields given as their (redacted) JSON text, spliced in after ``data``."""
        if self._events is None:
            raise TraceError(f"{self.path}: event {kind!r} arrived before the run started")
        self._seq += 1
        # ``kind`` leads the line: the reader indexes the log by that prefix without parsing.
        record: dict[str, Any] = {
            "kind": kind,
            "seq": self._seq,
            "time": event.time,
            "step": event.step,
        }
        record.update(data)
        text = fmt.dumps(record) if scanned else self._clean(record)[1]
        if encoded:
            fields = "".join(f", {fmt.dumps(key)}: {value}" for key, value in encoded.items())
            text = text[:-1] + fields + "}"
        self._events.append((text + "\n").encode("utf-8", "backslashreplace"))

    def _clean(self, value: Any, indent: int | None = None) -> tuple[Any, str]:
        """``(value redacted, its JSON text)``; ``value`` itself when nothing needed redacting.

        The JSON text is scanned once; only when something secret-looking is in it is the value
        walked string by string (after a JSON round trip, so text that non-JSON objects render
        to is redacted too).  Clean data, the common case, costs one dump and one regex scan.
        """
        text = fmt.dumps(value, indent=indent)
        if not self.redactor.found_in(text):
            return value, text
        redacted = self.redactor.value(json.loads(text))
        return redacted, fmt.dumps(redacted, indent=indent)

    _HANDLERS: ClassVar[dict[EventKind, Callable[[ProvenanceSink, Event], None]]] = {
        EventKind.STEP: _on_step,
        EventKind.LLM_START: _on_llm_start,
        EventKind.LLM_END: _on_llm_end,
        EventKind.LLM_ERROR: _on_llm_error,
        EventKind.RUN_START: _on_run_start,
        EventKind.RUN_END: _on_run_end,
    }
    """The events a sink writes in a way of their own; the ``_PASSTHROUGH`` ones are written as
    they come, and the rest (tool start and end, streamed text, progress) are not written."""


def _close_all(*streams: StreamWriter) -> None:
    for stream in streams:
        stream.close()


def _model_of(llm: object) -> str | None:
    model = getattr(llm, "model", None)
    return model if isinstance(model, str) else None


def _existing_run(path: Path) -> dict[str, Any] | None:
    """The manifest of the trace already in ``path``; None for a new or empty directory."""
    if not path.exists():
        return None
    if not path.is_dir():
        raise TraceError(f"{path} is a file; a trace is written to a directory")
    manifest = path / fmt.MANIFEST
    if manifest.is_file():
        return read_manifest(path)
    if any(path.iterdir()):
        raise TraceError(
            f"{path} is not empty and holds no trace (no {fmt.MANIFEST}); "
            "refusing to write a trace among other files"
        )
    return None


def _totals_from_log(path: Path) -> dict[str, Any]:
    """Step and call counts from the event log's whole lines, for a trace whose writer died
    before its run end wrote them to the manifest."""
    steps: dict[int, dict[str, Any]] = {}
    calls = 0
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.startswith(b'{"kind": "step"') and raw.endswith(b"\n"):
                record = json.loads(raw)
                steps[int(record["number"])] = record
            elif raw.startswith(b'{"kind": "llm_call"'):
                calls += 1
    tools: dict[str, int] = {}
    for record in steps.values():
        tool = record.get("tool")
        if isinstance(tool, str):
            tools[tool] = tools.get(tool, 0) + 1
    errors = sum(1 for r in steps.values() if r.get("status") not in ("ok", "done"))
    return {"steps": len(steps), "errors": errors, "llm_calls": calls, "tools": tools}


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
