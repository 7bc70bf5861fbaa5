"""Trace search and filters, on traces written by the real ProvenanceSink from scripted runs."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from looplet_core import (
    ContextBudget,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    Step,
    ThresholdCompactHook,
    ToolCall,
    TraceReader,
    composable_loop,
)
from looplet_tui.replay.search import EXCERPT_WIDTH, Hit, TraceIndex
from tests.core.trace_helpers import rewrite_step

from .helpers import GREET3, call, make_tools

TASK = "Greet the crew; mention PINEAPPLE"
CREW = [
    LLMResponse(
        text="Let me greet Ada first",
        reasoning="thinking about Zephyr",
        tool_calls=[ToolCall("greet", {"name": "Ada"}, id="c1")],
    ),
    [call("greet", name='Bob "the builder"\nsecond line'), call("greet", name="Ünïcødé Çafé")],
    call("fail", why="disk quota exceeded"),
    call("done", answer="all greeted"),
]
"""Five steps: 1 greet (its own call), 2 and 3 greet (one reply, call 2), 4 fail (an error),
5 done.  Results enter the prompt of the next model call: call 2 is step 2, call 3 is step 4."""


def record(
    directory: Path,
    script: Sequence[Any],
    *,
    task: str = TASK,
    config: LoopConfig | None = None,
    hooks: Sequence[Any] = (),
) -> Path:
    loop = composable_loop(
        llm=MockLLMBackend(script),
        tools=make_tools(),
        task=task,
        config=config or LoopConfig(max_steps=20),
        hooks=[*hooks, ProvenanceSink(directory)],
    )
    for _ in loop:
        pass
    return directory


class HideResults:
    """A pre_prompt hook that rewrites the history once, when two tool results are in: their text
    is replaced by a placeholder, so that call's prompt is appended to the trace whole."""

    name = "hide_results"

    def __init__(self) -> None:
        self.done = False

    def pre_prompt(self, state: Any, log: Any, ctx: Any, step: int) -> None:
        messages = list(state.conversation)
        if self.done or sum(m.role == "tool" for m in messages) < 2:
            return
        self.done = True
        state.conversation.replace(
            [replace(m, content="[result hidden]") if m.role == "tool" else m for m in messages]
        )


class CountingReader(TraceReader):
    """A real reader that counts the step files it reads."""

    reads = 0

    def step(self, number: int) -> Step:
        self.reads += 1
        return super().step(number)


@pytest.fixture(scope="module")
def crew_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("search") / "crew", CREW)


@pytest.fixture
def crew(crew_trace: Path) -> TraceIndex:
    return TraceIndex(TraceReader(crew_trace))


def places(hits: list[Hit]) -> list[tuple[int, str]]:
    return [(hit.step, hit.where) for hit in hits]


def test_each_place_is_found_at_its_step(crew: TraceIndex) -> None:
    assert places(crew.search("pineapple")) == [(1, "prompt")]
    assert places(crew.search("zephyr")) == [(1, "response"), (2, "prompt")]
    assert places(crew.search("quota")) == [
        (4, "response"),
        (4, "call"),
        (4, "result"),
        (5, "prompt"),
    ]
    (result,) = [hit for hit in crew.search("quota") if hit.where == "result"]
    assert result.excerpt == "RuntimeError: disk quota exceeded"
    assert places(crew.search("all greeted")) == [(5, "response"), (5, "call"), (5, "result")]


def test_a_message_is_found_where_it_entered_the_prompt(crew: TraceIndex) -> None:
    # Ada's greeting is in the prompt of every call after step 1, but new only in call 2's.
    assert places(crew.search("hello, ada")) == [(1, "result"), (2, "prompt")]


def test_steps_sharing_a_reply_credit_its_prompt_and_response_to_the_first(
    crew: TraceIndex,
) -> None:
    # Steps 2 and 3 come from one reply: its response hit is step 2's, even for step 3's call.
    assert places(crew.search("çafé")) == [
        (2, "response"),
        (3, "call"),
        (3, "result"),
        (4, "prompt"),
    ]


def test_case_quotes_newlines_and_non_ascii_match_the_decoded_text(crew: TraceIndex) -> None:
    hits = crew.search('BOB "THE BUILDER"\nSECOND')
    assert places(hits) == [(2, "response"), (2, "call"), (2, "result"), (4, "prompt")]
    assert hits[1].excerpt.startswith('greet name: Bob "the builder" second line')
    spelled = crew.search("greet(name='bob")  # as the timeline shows the call
    assert (2, "call") in places(spelled)
    assert places(crew.search('bob  "the builder" \t second')) == places(hits)
    assert places(crew.search("ÜNÏCØDÉ ÇAFÉ")) == places(crew.search("çafé"))
    assert crew.search("") == []
    assert crew.search("not anywhere in this trace") == []


def test_a_compacted_prompt_is_new_at_each_call_that_rewrote_it(tmp_path: Path) -> None:
    script = [call("greet", name="x" * 400) for _ in range(6)] + [call("done", answer="x")]
    config = LoopConfig(
        max_steps=20, context_window=1200, context_budget=ContextBudget(warn=0.4, compact=0.5)
    )
    trace = record(
        tmp_path / "compacted",
        script,
        task="Greet MANGO people",
        config=config,
        hooks=[ThresholdCompactHook()],
    )
    reader = TraceReader(trace)
    compacted = [
        s.number for s in reader.steps() if any(d.hook == "threshold_compact" for d in s.decisions)
    ]
    assert compacted and 2 not in compacted
    index = TraceIndex(reader)
    assert places(index.search("mango")) == [(n, "prompt") for n in [1, *compacted]]
    notes = index.search("earlier conversation removed")
    assert [hit.step for hit in notes] == compacted


def test_a_history_rewritten_by_a_hook_is_found_at_the_rewrite(tmp_path: Path) -> None:
    trace = record(tmp_path / "rewritten", GREET3, task="Greet KIWI people", hooks=[HideResults()])
    index = TraceIndex(TraceReader(trace))
    assert places(index.search("[result hidden]")) == [(3, "prompt")]
    assert places(index.search("kiwi")) == [(1, "prompt"), (3, "prompt")]
    assert places(index.search("hello, ada")) == [(1, "result"), (2, "prompt")]
    assert places(index.search("hello, cy")) == [(3, "result"), (4, "prompt")]  # extends again


def test_a_final_answer_in_text_belongs_to_the_last_step(tmp_path: Path) -> None:
    script = [call("greet", name="Ada"), "All done, FAREWELL"]
    trace = record(tmp_path / "text", script, config=LoopConfig(max_steps=5, text_is_final=True))
    assert places(TraceIndex(TraceReader(trace)).search("farewell")) == [(1, "response")]


def test_excerpts_are_one_printable_line_around_the_match(tmp_path: Path) -> None:
    name = "\x1b]0;pwned\x07 \u202eevil " + "a" * 200 + " NEEDLE\nline two " + "b" * 200
    trace = record(tmp_path / "hostile", [call("greet", name=name), call("done", answer="ok")])
    index = TraceIndex(TraceReader(trace))
    hits = index.search("needle")
    assert places(hits) == [(1, "response"), (1, "call"), (1, "result"), (2, "prompt")]
    for hit in hits:
        assert hit.excerpt.isprintable()
        assert "NEEDLE line two" in hit.excerpt
        assert hit.excerpt.startswith("…") and hit.excerpt.endswith("…")
        assert len(hit.excerpt) <= EXCERPT_WIDTH + 2
    (call_hit,) = [hit for hit in index.search("pwned") if hit.where == "call"]
    assert call_hit.excerpt.startswith("greet name: ␛]0;pwned␇ \ufffdevil aaa")


def test_unreadable_step_files_are_reported_and_the_rest_still_found(
    crew_trace: Path, tmp_path: Path
) -> None:
    trace = Path(shutil.copytree(crew_trace, tmp_path / "damaged"))
    rewrite_step(trace, 2, None)  # step 2's record is gone; the log still lists it
    rewrite_step(trace, 3, "{not json")
    index = TraceIndex(TraceReader(trace))
    assert places(index.search("greet name")) == [
        (1, "response"),
        (1, "call"),
        (2, "prompt"),
        (2, "response"),  # from the event log, which is intact
        (4, "prompt"),
    ]
    assert len(index.problems) == 2
    assert index.problems[0].startswith("step 2: ") and "missing" in index.problems[0]
    assert index.problems[1].startswith("step 3: ") and "not a valid step" in index.problems[1]


def test_a_truncated_prompt_log_is_reported_and_earlier_prompts_still_found(
    crew_trace: Path, tmp_path: Path
) -> None:
    trace = Path(shutil.copytree(crew_trace, tmp_path / "truncated"))
    first = next(TraceReader(trace).events({"llm_call"}))["prompt"]
    messages = trace / "messages.jsonl"
    messages.write_bytes(messages.read_bytes()[: first["offset"] + first["length"] + 10])
    index = TraceIndex(TraceReader(trace))
    assert places(index.search("pineapple")) == [(1, "prompt")]
    assert places(index.search("hello, ada")) == [(1, "result")]  # not step 2's lost prompt
    assert [p.split(":")[0] for p in index.problems] == ["step 2", "step 4", "step 5"]
    assert all("the prompt of model call" in p for p in index.problems)


def test_a_cancelled_build_stops_and_the_next_search_resumes_it(crew_trace: Path) -> None:
    reader = CountingReader(crew_trace)
    index = TraceIndex(reader)
    polls = 0

    def after_two_steps() -> bool:
        nonlocal polls
        polls += 1
        return polls > 2

    assert index.search("hello", cancelled=after_two_steps) == []
    assert (polls, reader.reads, index.ready) == (3, 2, False)
    assert places(index.search("hello, ada")) == [(1, "result"), (2, "prompt")]
    assert (reader.reads, index.ready) == (5, True)  # steps 1 and 2 were not read again
    assert index.search("hello", cancelled=lambda: True) == []  # a cancelled scan too
    assert len(index.search("hello")) == 5
    assert reader.reads == 5
