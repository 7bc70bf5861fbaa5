"""Hostile text and data through the whole loop: tool results and model output that carry Rich
markup, ANSI and OSC escapes, C1 controls, bidi overrides, NUL, a 1 MB line, lone surrogates (what
decoding invalid UTF-8 with ``surrogateescape`` gives), raw bytes and JSON nested 5,000 deep.

Each must go through a run that checkpoints to disk and writes a trace without crashing it; steps
must print as one line with every control character made visible, render through Rich literally
(markup shown, escapes never emitted), and round-trip through ``to_dict`` / JSON / ``from_dict``,
the checkpoint and the trace with the model's and the tool's text unchanged.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    FileCheckpointStore,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    Step,
    StepStatus,
    StopReason,
    ToolCall,
    ToolSpec,
    TraceReader,
    composable_loop,
)
from looplet_core.durable.checkpoints import latest_checkpoint, load
from looplet_core.step import visible
from tests.e2e.faults import bounded, written_bytes

MARKUP = "[bold red]pwned[/bold red] [link=file:///etc/passwd]click[/link] [/]"
ANSI = "\x1b[31mred\x1b[0m \x1b[2J\x1b[H cleared"
OSC = (  # set the window title, a hyperlink, write the clipboard
    "\x1b]0;new title\x07 \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ "
    "\x1b]52;c;ZXZpbA==\x07"
)
C1 = "\x9b31m one-byte CSI \x85 next line"
BIDI = "invoice\u202egpj.exe\u2066"
NUL = "before\x00after"
SURROGATES = "report-\udcff\udcfe.csv"  # os.fsdecode of a file name that is not UTF-8
HUGE = "y" * 1_000_000  # one 1 MB line
TEXTS = {
    "markup": MARKUP,
    "ansi": ANSI,
    "osc": OSC,
    "c1": C1,
    "bidi": BIDI,
    "nul": NUL,
    "surrogates": SURROGATES,
    "huge": HUGE,
}
CONTROL = {chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
HOSTILE_SEQUENCES = ["\x1b[2J", "\x1b]", "\x07", "\x9b", "\x00", "\u202e"]


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def run_with(tmp_path: Path, result: Any, text: str) -> tuple[list[Step], DefaultState, Any]:
    """One tool returning ``result``; the model's reply text, reasoning and arguments carry
    ``text``; checkpoints and a trace written to ``tmp_path``."""
    tools = BaseToolRegistry()
    tools.register(ToolSpec("fetch", "Fetch a thing.", {"name": "str"}, lambda *, name: result))
    llm = MockLLMBackend(
        [
            LLMResponse(text=text, reasoning=text, tool_calls=[ToolCall("fetch", {"name": text})]),
            {"tool": "done", "args": {"answer": text}},
        ]
    )
    state = DefaultState()
    store = FileCheckpointStore(tmp_path / "checkpoints", durable=False)
    config = LoopConfig(checkpoint=store, record_prompts=True)
    hooks = [ProvenanceSink(tmp_path / "trace", llm=llm)]
    steps = bounded(
        lambda: list(
            composable_loop(
                llm=llm, tools=tools, task="Fetch it.", config=config, state=state, hooks=hooks
            )
        )
    )
    assert state.result is not None and state.result.stop_reason is StopReason.DONE, state.result
    return steps, state, llm


def rich_output(step: Step, color: bool) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="truecolor" if color else None,
        width=500,
        legacy_windows=False,
    )
    console.print(step)
    return buffer.getvalue()


def assert_shown_safely(step: Step) -> None:
    line = step.pretty()
    assert not CONTROL & set(line), f"control characters in pretty(): {line!r}"
    assert len(line) < 500
    plain = rich_output(step, color=False)
    assert "\x1b" not in plain and not CONTROL - {"\n"} & set(plain)
    styled = rich_output(step, color=True)
    for sequence in HOSTILE_SEQUENCES:
        assert sequence not in styled  # Rich's own colour codes only


def round_trips(step: Step) -> dict[str, Any]:
    doc = json.loads(json.dumps(step.to_dict()))
    assert Step.from_dict(doc).to_dict() == doc
    return doc


@pytest.mark.parametrize("name", list(TEXTS))
def test_hostile_text_from_model_and_tool_goes_through_the_loop_unchanged(tmp_path, name):
    text = TEXTS[name]
    steps, state, llm = run_with(tmp_path, {"body": text}, text)

    fetch, done = steps
    assert fetch.status is StepStatus.OK and done.status is StepStatus.DONE
    assert fetch.tool_call is not None and fetch.tool_call.args == {"name": text}
    assert fetch.llm_call is not None and fetch.llm_call.text == text
    assert fetch.tool_result.data == {"body": text}
    for step in steps:
        assert_shown_safely(step)
        assert round_trips(step)["tool_result"] == step.to_dict()["tool_result"]
    # The model is sent the result as data, literally (cut to the result limit, never altered).
    sent = llm.requests[1].messages[-1].content
    assert sent.startswith(json.dumps({"body": text}, ensure_ascii=False)[:1000])

    saved = load(FileCheckpointStore(tmp_path / "checkpoints"), latest_checkpoint(
        FileCheckpointStore(tmp_path / "checkpoints")
    )).state  # fmt: skip
    assert [s.to_dict() for s in saved.steps] == [
        s.to_dict() | {"prompt": None} for s in state.steps
    ]
    assert list(saved.conversation) == list(state.conversation)
    traced = list(TraceReader(tmp_path / "trace").steps())
    assert [s.tool_result.data for s in traced] == [s.tool_result.data for s in steps]
    assert TraceReader(tmp_path / "trace").llm_call(1).text == text
    written_bytes(tmp_path).decode("utf-8")  # every file written is valid UTF-8


def test_markup_is_shown_as_text_not_obeyed(tmp_path):
    steps, _, _ = run_with(tmp_path, MARKUP, MARKUP)
    plain = rich_output(steps[0], color=False)
    assert "[bold red]pwned" in plain  # the markup is the text
    styled = rich_output(steps[0], color=True)
    assert "\x1b]8;" not in styled  # no hyperlink was made from [link=...]


def test_escapes_are_made_visible_not_removed():
    assert visible(ANSI) == "\\x1b[31mred\\x1b[0m \\x1b[2J\\x1b[H cleared"
    assert visible(C1).startswith("\\x9b31m")
    assert visible(BIDI) == "invoice<U+202E>gpj.exe<U+2066>"
    assert visible("tab\tand\nnewline") == "tab\\x09and\\x0anewline"


def test_a_one_megabyte_line_is_cut_for_the_model_and_kept_whole_on_disk(tmp_path):
    steps, _, llm = run_with(tmp_path, HUGE, "fetch the big one")
    sent = llm.requests[1].messages[-1].content
    assert len(sent) < 21_000 and sent.endswith(f"…[truncated {len(HUGE) - 20_000} chars]")
    assert len(steps[0].pretty()) < 200
    traced = TraceReader(tmp_path / "trace").step(1)
    assert traced.tool_result.data == HUGE


def test_json_nested_5000_deep_neither_crashes_the_run_nor_its_files(tmp_path):
    deep = nested(5000)
    steps, _, llm = run_with(tmp_path, deep, "go deep")

    fetch = steps[0]
    assert fetch.status is StepStatus.OK and fetch.tool_result.data is deep
    assert_shown_safely(fetch)
    sent = llm.requests[1].messages[-1].content  # the top levels, as JSON
    assert sent.startswith('{"a": {"a": {"a":') and "not kept: nested deeper than" in sent
    store = FileCheckpointStore(tmp_path / "checkpoints")
    saved = load(store, latest_checkpoint(store)).state.steps[0]
    traced = TraceReader(tmp_path / "trace").step(1)
    for step in (saved, traced):  # written with its top levels kept, readable, round-trips
        assert json.dumps(step.tool_result.data).count('"a"') >= 50
        assert "not kept: nested deeper than" in json.dumps(step.tool_result.data)
        round_trips(step)
        assert_shown_safely(step)


def test_raw_bytes_from_a_tool_are_shown_and_saved_as_text(tmp_path):
    steps, _, llm = run_with(tmp_path, b"\xff\xfe\x80 raw", "bytes please")
    assert "xff" in llm.requests[1].messages[-1].content  # its repr, as JSON text
    assert_shown_safely(steps[0])
    store = FileCheckpointStore(tmp_path / "checkpoints")
    saved = load(store, latest_checkpoint(store)).state.steps[0]
    assert saved.tool_result.data == "b'\\xff\\xfe\\x80 raw'"  # its repr: JSON holds no bytes
