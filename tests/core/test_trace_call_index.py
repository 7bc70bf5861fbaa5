"""TraceReader finds one model call's line without parsing the others (``CallLines``).

The invariant: whatever the log holds, ``llm_call(i)`` and ``prompt_view(i)`` give what parsing
every line gives (a call logged twice: its last line), on recorded traces, the frozen version-1
fixture, a live trace with a torn last line and logs edited so that a line's call index cannot
be read off its bytes; and a damaged call line is a ``TraceError`` naming its line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from looplet_core import LLMCall, Message, TraceError, TraceReader

from .trace_helpers import record

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "trace_v1"


def eager_calls(trace: Path) -> dict[int, dict[str, Any]]:
    """Every whole model-call line parsed, by call index, the last line of a call winning."""
    out: dict[int, dict[str, Any]] = {}
    for raw in (trace / "events.jsonl").read_bytes().split(b"\n")[:-1]:
        event = json.loads(raw)
        if event.get("kind") == "llm_call":
            out[int(event["call"]["index"])] = event
    return out


def assert_same_as_eager(trace: Path) -> TraceReader:
    expected = eager_calls(trace)
    assert expected
    reader = TraceReader(trace)
    messages = (trace / "messages.jsonl").read_bytes()
    for index, event in expected.items():
        assert reader.llm_call(index) == LLMCall.from_dict(event["call"])
        ref = event["prompt"]
        data = messages[ref["offset"] : ref["offset"] + ref["length"]]
        sent = [Message.from_dict(json.loads(line)) for line in data.splitlines()]
        assert len(sent) == ref["count"]
        assert list(reader.prompt_view(index)) == sent == reader.prompt(index)
    assert reader.llm_calls() == [LLMCall.from_dict(e["call"]) for e in expected.values()]
    for missing in (0, -1, max(expected) + 1):
        with pytest.raises(IndexError, match=f"no model call {missing}"):
            reader.llm_call(missing)
    return reader


def rewrite_calls(trace: Path, edit: Any) -> None:
    """Replace each model-call line with what ``edit(line, position)`` returns (a list)."""
    events = trace / "events.jsonl"
    out: list[bytes] = []
    position = 0
    for raw in events.read_bytes().splitlines(keepends=True):
        if raw.startswith(b'{"kind": "llm_call"'):
            out.extend(edit(raw, position))
            position += 1
        else:
            out.append(raw)
    events.write_bytes(b"".join(out))


def test_a_recorded_trace_and_the_version_1_fixture(tmp_path):
    record(tmp_path / "t")
    reader = assert_same_as_eager(tmp_path / "t")
    calls = reader._log.calls
    assert not calls.unsure and not calls.moved  # read off the bytes, in order
    assert_same_as_eager(FIXTURE)


def test_a_call_logged_again_is_found_at_its_last_line(tmp_path):
    """Call 2 logged three times: again right after itself, then last of all on a line whose
    index is only known once parsed (a tool argument named ``index``)."""
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)
    last = len(eager_calls(FIXTURE)) - 1

    def again(raw: bytes, position: int) -> list[bytes]:
        if position not in (1, last):
            return [raw]
        event = json.loads(raw if position == 1 else lines[1])
        event["call"]["text"] = "logged again"
        copies = [raw, (json.dumps(event) + "\n").encode()]
        if position == last:
            event["call"]["text"] = "logged last"
            event["call"]["tool_calls"][0]["args"]["index"] = 1
            copies.append((json.dumps(event) + "\n").encode())
        return copies

    lines = [
        r for r in (FIXTURE / "events.jsonl").read_bytes().splitlines() if b'llm_call"' in r[:20]
    ]
    rewrite_calls(trace, again)
    reader = assert_same_as_eager(trace)
    assert reader.llm_call(2).text == "logged last"


@pytest.mark.parametrize(
    "edit",
    [
        # a tool argument named "index" or "call": the line could say otherwise once parsed
        lambda e: e["call"]["tool_calls"][0]["args"].update(index=7, call={"index": 9}),
        # the call's keys in another order: its index is not first
        lambda e: e.update(call={k: e["call"][k] for k in reversed(list(e["call"]))}),
        # the index as a string: the reader turns it into a number
        lambda e: e["call"].update(index=str(e["call"]["index"])),
    ],
    ids=["tool-arguments", "key-order", "index-as-text"],
)
def test_lines_whose_index_cannot_be_read_off_are_parsed_first(tmp_path, edit):
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)

    def edited(raw: bytes, position: int) -> list[bytes]:
        if position != 0:
            return [raw]
        event = json.loads(raw)
        edit(event)
        return [(json.dumps(event) + "\n").encode()]

    rewrite_calls(trace, edited)
    assert len(TraceReader(trace)._log.calls.unsure) == 1
    assert_same_as_eager(trace)


def test_an_escaped_key_is_not_read_off_the_bytes(tmp_path):
    """``"inde\\u0078"`` is ``"index"`` once parsed: a second index the bytes do not show."""
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)

    def escaped(raw: bytes, position: int) -> list[bytes]:
        if position != 2:
            return [raw]
        return [raw.replace(b'"text": ', b'"inde\\u0078": 1, "text": ', 1)]

    rewrite_calls(trace, escaped)
    reader = TraceReader(trace)
    assert len(reader._log.calls.unsure) == 1
    assert reader.llm_call(1).index == 1  # call 3's line now holds call 1, logged last
    assert_same_as_eager(trace)


def test_a_live_trace_with_a_torn_last_line(tmp_path):
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["status"] = "running"
    (trace / "manifest.json").write_text(json.dumps(manifest))
    events = trace / "events.jsonl"
    data = events.read_bytes()
    lines = data.splitlines(keepends=True)
    last_call = max(i for i, raw in enumerate(lines) if raw.startswith(b'{"kind": "llm_call"'))
    events.write_bytes(b"".join(lines[:last_call]) + lines[last_call][:40])
    reader = TraceReader(trace)
    assert reader.torn is not None
    assert [c.index for c in reader.llm_calls()] == [1, 2, 3]
    with pytest.raises(IndexError, match="no model call 4"):
        reader.llm_call(4)
    events.write_bytes(data)
    reader.refresh()
    assert reader.torn is None
    assert reader.llm_call(4) == LLMCall.from_dict(eager_calls(trace)[4]["call"])


def test_a_damaged_call_line_is_named_when_that_call_is_read(tmp_path):
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)

    def damaged(raw: bytes, position: int) -> list[bytes]:
        return (
            [raw.replace(b'"tool_calls": [', b'"tool_calls": 5, "x": [', 1)]
            if position == 1
            else [raw]
        )

    rewrite_calls(trace, damaged)
    line = 1 + next(
        i
        for i, raw in enumerate((trace / "events.jsonl").read_bytes().splitlines())
        if b'"tool_calls": 5' in raw
    )
    reader = TraceReader(trace)
    assert reader.llm_call(1).index == 1  # the other calls still read
    message = rf"events.jsonl: line {line} is not a valid model-call record"
    with pytest.raises(TraceError, match=message):
        reader.llm_call(2)
    with pytest.raises(TraceError, match=message):
        reader.llm_calls()


def test_a_log_cut_short_after_opening_is_reported(tmp_path):
    trace = tmp_path / "t"
    shutil.copytree(FIXTURE, trace)
    reader = TraceReader(trace)
    events = trace / "events.jsonl"
    events.write_bytes(events.read_bytes()[: reader._log.calls.span(3)[0] + 10])
    with pytest.raises(TraceError, match="cut off: the file was truncated after"):
        reader.llm_call(4)
    with pytest.raises(TraceError, match="truncated after the trace was opened"):
        reader.llm_calls()
