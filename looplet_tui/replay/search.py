"""Search a recorded trace's prompts, replies, calls and results.

Replay shows a trace one step at a time; on a 10,000-step run you need to jump to "the step where
the model first saw that error".  ``TraceIndex`` answers that (filters by tool and status are
``looplet_tui.live.filters``, from the event-log index alone).  Search reads the trace once, on the
first search (or ``build``), into a corpus of lowercased text per step and place, and later
searches only scan that corpus.

What a query matches, case-insensitively (``str.lower`` on both sides), in each place:

* ``prompt``: the messages that are new in a model call's prompt, i.e. added since the previous
  call.  A message is found at the step where it entered the prompt, not at every later step.  A
  prompt rewritten by compaction or a hook is new as a whole at the call that rewrote it.
* ``response``: the model's reply: its text, its reasoning and the tool calls it asked for.
* ``call``: the step's tool name and arguments (and the model's original arguments when a hook
  changed them).
* ``result``: the tool's output, or its error message.

Prompt and response hits belong to the first step of their model call (one reply can ask for
several tool calls, each a step).  A model call no step came from (a final answer in plain text)
belongs to the next step, or to the last step when it was the run's last call.

Text is matched as it reads, not as JSON: message and result strings are decoded, and structured
values (arguments, results) are flattened to ``key: value`` lines, so a query with quotes, a
newline or non-ASCII text finds what it should.  Any run of whitespace, line breaks included,
matches any other (both sides are reduced to single spaces), so an excerpt can be searched for as
it reads.  Each step and place gives at most one ``Hit``, with a one-line excerpt around the first
match, its control characters shown as harmless stand-ins.

A run in a store (``looplet_core.durable.recorded.StoredRun``) searches the same way: its
calls' new messages come from folding its checkpoints once, in call order, instead of from
``messages.jsonl``, and give the same hits as the run's trace would.

A damaged trace still searches: a step file or prompt that cannot be read is skipped and described
in ``problems``.  Nothing read from the trace is executed; it is parsed as JSON only.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal, cast

from looplet_core import LLMCall, LoopletError, Message, Step, ToolCall, TraceError, TraceReader
from looplet_core.durable.recorded import StoredRun
from looplet_core.provenance import format as fmt

__all__ = ["Hit", "TraceIndex", "Where"]

Where = Literal["prompt", "response", "call", "result"]

EXCERPT_BEFORE = 30
"""Characters of context shown before a match: enough to recognise where it is."""

EXCERPT_WIDTH = 100
"""Characters an excerpt holds at most: one line of a results list."""

_SCAN_CHUNK = 4096
"""Corpus entries scanned between two polls of ``cancelled``: frequent enough to stop quickly,
rare enough that polling costs nothing measurable."""

# What decoding damaged trace data can raise; each becomes an entry in ``problems``.
_BAD_DATA = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    RecursionError,
    OverflowError,
)


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Hit:
    """A step whose ``where`` text matched: ``excerpt`` is one cleaned line around the match."""

    step: int
    where: Where
    excerpt: str


class TraceIndex:
    """Full-text search over one ``TraceReader``'s steps.

    The index is a snapshot of the steps the reader had indexed when it was made.  ``search`` may
    run on a worker thread: concurrent calls take turns, and a cancelled corpus build resumes
    where it stopped at the next search, so abandoning a search never wastes the reading done.
    """

    def __init__(self, reader: TraceReader | StoredRun) -> None:
        self._reader = reader
        self._entries = reader.entries
        self.problems: list[str] = []
        self._docs: list[tuple[int, Where, str]] = []
        self._lowers: list[str] = []
        self._pending: Iterator[bool] | None = self._build()
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """Whether the search corpus is complete (the next search reads no file)."""
        return self._pending is None

    def build(self, *, cancelled: Callable[[], bool] = _never) -> bool:
        """Read the trace into the search corpus; False if ``cancelled`` stopped it first.

        Search calls this itself; an app can call it early on a worker so that the first search
        is instant.
        """
        with self._lock:
            return self._advance(cancelled)

    def search(self, query: str, *, cancelled: Callable[[], bool] = _never) -> list[Hit]:
        """Every step and place whose text contains ``query`` (any case), in step order.

        ``cancelled`` is polled while the corpus is read and while it is scanned; once it returns
        True the search stops and returns an incomplete list, which its caller discards.
        """
        needle = _one_line(query.lower())
        with self._lock:
            if not needle or not self._advance(cancelled):
                return []
            found = self._scan(needle, cancelled)
        return [self._hit(i, needle) for i in found]

    # -- searching --------------------------------------------------------------------------------

    def _scan(self, needle: str, cancelled: Callable[[], bool]) -> list[int]:
        """Positions of the corpus entries containing ``needle``, a chunk at a time."""
        found: list[int] = []
        lowers = self._lowers
        for start in range(0, len(lowers), _SCAN_CHUNK):
            if cancelled():
                break
            chunk = lowers[start : start + _SCAN_CHUNK]
            found += [start + i for i, text in enumerate(chunk) if needle in text]
        return found

    def _hit(self, position: int, needle: str) -> Hit:
        step, where, text = self._docs[position]
        lower = self._lowers[position]
        # ``lower`` only ever lengthens a character (İ -> i̇); equal lengths mean positions agree,
        # so the excerpt can show the original case.
        shown = text if len(text) == len(lower) else lower
        return Hit(step, where, _excerpt(shown, lower.find(needle)))

    # -- building the corpus ----------------------------------------------------------------------

    def _advance(self, cancelled: Callable[[], bool]) -> bool:
        """Continue the corpus build until it is done (True) or ``cancelled`` (False)."""
        pending = self._pending
        while pending is not None:
            if cancelled():
                return False
            if not next(pending, False):
                self._pending = pending = None
        return True

    def _build(self) -> Iterator[bool]:
        """Add each step's text to the corpus, yielding True after each so it can be cancelled.

        Model calls are taken in index order, each at the first step that came from it (or from
        a later call), which is also the order their prompts were appended to ``messages.jsonl``.
        """
        if isinstance(self._reader, StoredRun):
            yield from self._build_stored(self._reader)
            return
        calls = self._model_calls()
        order = deque(sorted(calls))
        prompts = self._open_prompts()
        try:
            for entry in self._entries:
                while order and entry.llm_call is not None and order[0] <= entry.llm_call:
                    self._add_call(entry.number, calls[order.popleft()], prompts)
                self._add_step(entry.number)
                yield True
            if self._entries:  # calls after the last step (a final answer in text) belong to it
                for index in order:
                    self._add_call(self._entries[-1].number, calls[index], prompts)
        finally:
            if prompts is not None:
                prompts.close()

    def _build_stored(self, run: StoredRun) -> Iterator[bool]:
        """The same corpus from a run in a store: each call's new messages come from folding
        its checkpoints (``StoredRun.prompts_added``), in one pass like ``messages.jsonl``."""
        calls = run.prompts_added()
        pending: tuple[int, LLMCall | None, list[Message] | None] | None = next(calls, None)
        for entry in self._entries:
            call = entry.llm_call
            while pending is not None and call is not None and pending[0] <= call:
                self._add_stored_call(entry.number, *pending)
                pending = next(calls, None)
            self._add_step(entry.number)
            yield True
        if self._entries:  # calls after the last step (a final answer in text) belong to it
            while pending is not None:
                self._add_stored_call(self._entries[-1].number, *pending)
                pending = next(calls, None)

    def _add_stored_call(
        self, step: int, index: int, call: LLMCall | None, added: list[Message] | None
    ) -> None:
        if added is None:
            self.problems.append(f"step {step}: the prompt of model call {index} does not decode")
        else:
            self._add(step, "prompt", "\n".join(_message_text(m) for m in added))
        if call is None:
            self.problems.append(f"model call {index}: the reply is not a valid record")
        else:
            self._add(step, "response", _reply_text(call))

    def _model_calls(self) -> dict[int, _Call]:
        """What the corpus needs of every model-call record in the event log, by call index."""
        calls: dict[int, _Call] = {}
        try:
            for record in self._reader.events({"llm_call"}):
                try:
                    index = int(record["call"]["index"])
                except _BAD_DATA as exc:
                    self.problems.append(f"a model call record has no valid index ({exc!r})")
                else:
                    calls[index] = self._call_of(index, record)
        except (TraceError, OSError) as exc:
            self.problems.append(f"{exc} (later model calls are not searched)")
        return calls

    def _call_of(self, index: int, record: dict[str, Any]) -> _Call:
        """The reply's text and the prompt's byte range; a damaged part is None, and a problem."""
        response: str | None = None
        span: tuple[int, int] | None = None
        try:
            response = _reply_text(LLMCall.from_dict(record["call"]))
        except _BAD_DATA as exc:
            self.problems.append(f"model call {index}: the reply is not a valid record ({exc})")
        try:
            ref = record["prompt"]
            span = int(ref["offset"]), int(ref["length"])
        except _BAD_DATA as exc:
            self.problems.append(f"model call {index}: the prompt has no valid range ({exc!r})")
        return _Call(index, response, span)

    def _open_prompts(self) -> _PromptLog | None:
        assert isinstance(self._reader, TraceReader)
        file = self._reader.path / fmt.MESSAGES
        try:
            return _PromptLog(open(file, "rb"))  # closed when the build ends
        except OSError as exc:
            self.problems.append(f"{file}: prompts cannot be searched ({exc})")
            return None

    def _add_call(self, step: int, call: _Call, prompts: _PromptLog | None) -> None:
        if prompts is not None and call.span is not None:
            try:
                added = prompts.added(*call.span)
            except _BAD_DATA as exc:
                self.problems.append(
                    f"step {step}: the prompt of model call {call.index} cannot be read ({exc})"
                )
            else:
                self._add(step, "prompt", "\n".join(_message_text(m) for m in added))
        if call.response is not None:
            self._add(step, "response", call.response)

    def _add_step(self, number: int) -> None:
        try:
            step = self._reader.step(number)
        except (TraceError, LoopletError) as exc:
            self.problems.append(f"step {number}: {exc}")
            return
        self._add(number, "call", _step_call_text(step))
        result = step.tool_result
        data = "" if result.data is None else _flatten(result.data)
        self._add(number, "result", "\n".join([data, result.error or ""]))

    def _add(self, step: int, where: Where, text: str) -> None:
        text = _one_line(text)
        if not text:
            return
        if _UNSAFE_FOUND.search(text):  # rare, and a scan in C spares translating the rest
            text = text.translate(_UNSAFE)  # kept safe, so excerpts are plain slices
        lower = text.lower()
        self._docs.append((step, where, text))
        self._lowers.append(text if lower == text else lower)  # one string when nothing changes


@dataclass(frozen=True, slots=True)
class _Call:
    """What the corpus needs of a model-call record, kept small while the steps are read: the
    reply as searchable text and the prompt's byte range in ``messages.jsonl`` (None: damaged)."""

    index: int
    response: str | None
    span: tuple[int, int] | None


class _PromptLog:
    """``messages.jsonl`` read call by call, returning only the messages each prompt added.

    The file is append-only: a prompt that extends the previous one is the previous byte range
    made longer, and a rewritten prompt is a new range at the end.  Either way, what is new in a
    call's range is what lies past everything earlier calls covered, so each message is decoded
    once and the whole pass is linear in the file's size.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._seen = 0

    def added(self, offset: int, length: int) -> list[Message]:
        """The messages in ``offset, length`` that no earlier call's range covered."""
        start, end = max(offset, self._seen), offset + length
        self._seen = max(self._seen, end)
        if start >= end:
            return []
        self._handle.seek(start)
        data = self._handle.read(end - start)
        if len(data) != end - start:
            raise ValueError(f"{fmt.MESSAGES} is truncated")
        return [Message.from_dict(json.loads(line)) for line in data.splitlines()]

    def close(self) -> None:
        self._handle.close()


def _reply_text(call: LLMCall) -> str:
    return "\n".join([call.text, call.reasoning or "", *(_call_text(c) for c in call.tool_calls)])


def _message_text(message: Message) -> str:
    calls = [_call_text(c) for c in message.tool_calls]
    return "\n".join([message.reasoning or "", message.content, *calls])


def _call_text(call: ToolCall) -> str:
    return f"{call.tool}\n{_flatten(call.args)}"


def _step_call_text(step: Step) -> str:
    call = step.tool_call
    if call is None:
        return ""
    original = step.original_args
    asked = "" if original is None or original == call.args else _flatten(original)
    try:  # also as the timeline spells it, so what the timeline highlights is found here too
        shown = step.call_text()
    except RecursionError:
        shown = ""
    return f"{_call_text(call)}\n{asked}\n{shown}"


def _scalar(value: object) -> str | None:
    """The text of a value that holds no other values; None for a dict, list or tuple."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return None
    if value is None or isinstance(value, bool):  # spelled as in JSON, as the panes show them
        return "null" if value is None else "true" if value else "false"
    return str(value)  # a number (as JSON writes it), or whatever else a caller passed


def _flatten(value: object) -> str:
    """``value`` as readable lines: strings as they are, a dict's scalars as ``key: value``.

    Searching this instead of the JSON means a query never has to spell JSON escapes.  The walk
    uses its own stack, so data nested as deep as a hostile trace likes cannot exhaust Python's.
    """
    lines: list[str] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        text = _scalar(item)
        if text is not None:
            lines.append(text)
        elif isinstance(item, dict):
            pairs = list(cast(dict[object, object], item).items())
            for key, inner in reversed(pairs):
                shown = _scalar(inner)
                stack += [f"{key}: {shown}"] if shown is not None else [inner, f"{key}:"]
        else:
            stack.extend(reversed(cast(list[object], item)))
    return "\n".join(lines)


def _unsafe_table() -> dict[int, str]:
    """Characters a terminal could act on, mapped to harmless stand-ins."""
    table = {code: chr(0x2400 + code) for code in range(0x20)}  # control pictures: ␀ ␛ ...
    table[0x7F] = "␡"
    bidi = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    for code in (*range(0x80, 0xA0), *bidi, *range(0xD800, 0xE000)):
        table[code] = "\ufffd"
    return table


_UNSAFE = _unsafe_table()
_UNSAFE_FOUND = re.compile("[" + "".join(map(chr, _UNSAFE)) + "]")


def _excerpt(text: str, start: int) -> str:
    """The part of ``text`` around the match at ``start`` (safe: the corpus keeps safe lines)."""
    begin = max(0, start - EXCERPT_BEFORE)
    end = min(len(text), begin + EXCERPT_WIDTH)  # a match longer than the line is cut short
    return ("…" if begin else "") + text[begin:end] + ("…" if end < len(text) else "")


def _one_line(text: str) -> str:
    """``text`` with each run of whitespace (line breaks included) as one space.

    The corpus and the query are both stored this way, so what an excerpt shows can be searched
    for as shown, and a query's line breaks or indentation need not match the original's.
    """
    return " ".join(text.split())
