"""Compaction against the real model's 2,048-token window, and the server's own overflow error.

The task carries a report of about 700 tokens and every reply and note adds more, so within a few
steps a real run has to compact to keep going; without a context hook the prompt grows until the
server's real 400 says it does not fit, which the loop must turn into one compaction and a retry
(or a clear ``context_exhausted`` stop), never a crash.

The runs use JSON mode (tool calls written as text): llama-cpp-python's chatml-function-calling
template drops ``tool`` messages from the prompt, so in native mode nothing but the model's own
calls would ever grow it.  In JSON mode results come back as user messages, which it keeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    ErrorKind,
    Event,
    EventKind,
    FileCheckpointStore,
    LoopConfig,
    ProvenanceSink,
    Step,
    StopReason,
    ThresholdCompactHook,
    ToolSpec,
    TraceReader,
    composable_loop,
)
from looplet_core.backends.openai import OpenAIBackend
from tests.e2e.faults import bounded, check_durable

pytestmark = pytest.mark.real_llm

WINDOW = 2048
PAGE = "\n".join(
    f"Line {i}: the quarterly report lists revenue, costs and notes." for i in range(12)
)
REGIONS = ("north", "south", "east", "west")
REPORT = "\n".join(
    f"Q{i % 4 + 1} line {i}: revenue {1000 + 37 * i}, costs {800 + 11 * i}, {REGIONS[i % 4]}."
    for i in range(28)
)


def reader_tools() -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            "read_page",
            "Read one page of the report.",
            {"page": "int"},
            lambda *, page: f"Page {page}:\n{PAGE}",
        )
    )
    return tools


class Compactions:
    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.COMPACTION:
            self.events.append(dict(event.data))


def run(
    llm: OpenAIBackend, tmp_path: Path, hooks: list[object], max_steps: int
) -> tuple[list[Step], DefaultState]:
    state = DefaultState()
    config = LoopConfig(
        max_steps=max_steps,
        tool_mode="json",
        max_parse_retries=max_steps,  # a 135M model often writes no usable call: keep going
        context_window=WINDOW,
        llm_retries=1,
        checkpoint=FileCheckpointStore(tmp_path / "checkpoints", durable=False),
    )
    sink = ProvenanceSink(tmp_path / "trace", llm=llm)
    task = {"goal": "Summarise the report below; read_page gives more pages.", "report": REPORT}
    steps = bounded(
        lambda: list(
            composable_loop(
                llm=llm,
                tools=reader_tools(),
                task=task,
                config=config,
                state=state,
                hooks=[*hooks, sink],
            )
        ),
        seconds=400,
    )
    assert state.result is not None
    return steps, state


def test_threshold_compaction_keeps_a_real_run_inside_the_window(real_llm_backend, tmp_path):
    seen = Compactions()
    steps, state = run(real_llm_backend, tmp_path, [ThresholdCompactHook(), seen], max_steps=8)

    if state.result.stop_reason is StopReason.DONE and not seen.events:
        pytest.skip(f"the model finished before the window filled: {[s.pretty() for s in steps]}")
    assert seen.events, "the prompt grew past the threshold but nothing was compacted"
    shrunk = [e for e in seen.events if int(e["tokens_after"]) < int(e["tokens_before"])]  # type: ignore[arg-type]
    assert shrunk
    # The server counted every prompt it was sent: none reached the window.
    for step in steps:
        if step.llm_call is not None and step.llm_call.usage is not None:
            assert step.llm_call.usage.input_tokens < WINDOW
    assert all(s.tool_result.error_kind is not ErrorKind.CONTEXT for s in steps)
    assert state.result.stop_reason in (StopReason.DONE, StopReason.MAX_STEPS)
    assert list(TraceReader(tmp_path / "trace").events({"compaction"}))
    check_durable(FileCheckpointStore(tmp_path / "checkpoints"), tmp_path / "trace", steps)


def test_the_servers_own_overflow_error_is_compacted_away_or_stops_cleanly(
    real_llm_backend, tmp_path
):
    # No context hook: the prompt grows until the server itself says it is too long.
    steps, state = run(real_llm_backend, tmp_path, [], max_steps=8)

    overflowed = [
        s for s in steps if any(d.decision == "compact_after_overflow" for d in s.decisions)
    ]
    exhausted = state.result.stop_reason is StopReason.CONTEXT_EXHAUSTED
    if not overflowed and not exhausted:
        pytest.skip(f"the model stopped before the window filled: {[s.pretty() for s in steps]}")
    if exhausted:
        last = steps[-1]
        assert last.tool_result.error_kind is ErrorKind.CONTEXT
        assert "maximum context length is 2048" in (last.tool_result.error or "")
    else:  # compacted once, retried, and the server took the smaller prompt
        step = overflowed[0]
        assert step.llm_call is not None and step.llm_call.attempts == 2
    check_durable(FileCheckpointStore(tmp_path / "checkpoints"), tmp_path / "trace", steps)
