"""The loop against a real model: llama.cpp serving SmolLM2-135M-Instruct over real HTTP.

These assert protocol and mechanics, not task success: a 135M model picks tools and arguments
poorly (it tends to call a tool again after its result), but everything between it and the loop
is real: the server's own tokenizer and chat template, its tool-call format, its usage figures,
its error bodies and its limits.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from looplet_core import (
    DefaultState,
    ErrorKind,
    Event,
    EventKind,
    LoopConfig,
    Step,
    StepStatus,
    StopReason,
    composable_loop,
)
from looplet_core.backends.openai import OpenAIBackend
from looplet_core.examples.hello_world import build_tools
from tests.e2e.faults import bounded

pytestmark = pytest.mark.real_llm

TASK = {"goal": "Greet Alice and Bob, then finish."}


class Deltas:
    """Collects streamed text per model call, as the debugger would."""

    def __init__(self) -> None:
        self.by_call: dict[int, list[str]] = {}

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.LLM_DELTA and event.data["kind"] == "text":
            self.by_call.setdefault(event.data["call"], []).append(event.data["text"])


def run(llm: OpenAIBackend, config: LoopConfig, hooks=()) -> tuple[list[Step], DefaultState]:
    state = DefaultState()
    steps = bounded(
        lambda: list(
            composable_loop(
                llm=llm, tools=build_tools(), task=TASK, config=config, state=state, hooks=hooks
            )
        ),
        seconds=300,
    )
    assert state.result is not None
    return steps, state


def test_real_tool_calls_are_parsed_validated_and_answered(real_llm_backend):
    steps, state = run(real_llm_backend, LoopConfig(max_steps=3, llm_retries=1))

    calls = [s for s in steps if s.tool_call is not None]
    assert calls, f"the model made no tool call at all: {[s.pretty() for s in steps]}"
    first = calls[0]
    assert first.llm_call is not None and first.llm_call.stop_reason == "tool_calls"
    assert first.tool_call is not None and first.tool_call.id  # the server's call id
    assert first.tool_call.tool in {"greet", "done"}
    assert isinstance(first.tool_call.args, dict)
    # Every step is a tool the registry ran, or an error the model was told about: never a crash.
    for step in steps:
        assert step.status in (StepStatus.OK, StepStatus.DONE, StepStatus.ERROR)
        if step.status is StepStatus.ERROR:
            assert step.tool_result.error_kind in (ErrorKind.PARSE, ErrorKind.VALIDATION)
    assert state.result.stop_reason in (StopReason.DONE, StopReason.MAX_STEPS)
    # The server took the conversation back with our tool results in it: one reply per step.
    assert state.llm_calls == len({s.llm_call.index for s in steps if s.llm_call})


def test_usage_on_every_step_is_what_the_server_reported(real_llm_backend):
    steps, state = run(real_llm_backend, LoopConfig(max_steps=3, llm_retries=1))

    calls = {s.llm_call.index: s.llm_call for s in steps if s.llm_call is not None}
    for call in calls.values():
        assert call.usage is not None and call.usage.measured
        assert 0 < call.usage.input_tokens < 2048 and call.usage.output_tokens > 0
    ordered = [calls[i].usage.input_tokens for i in sorted(calls)]  # type: ignore[union-attr]
    assert ordered == sorted(ordered)  # the conversation only grows
    assert state.usage.measured
    assert state.usage.input_tokens == sum(ordered)
    for step in steps:  # context stats are calibrated by the server's own count
        assert step.context is not None and step.context.total > 0


def test_step_budget_is_never_overshot_by_a_model_that_keeps_calling(real_llm_backend):
    steps, state = run(real_llm_backend, LoopConfig(max_steps=2, llm_retries=1))
    assert len(steps) <= 2 and state.step_number <= 2
    if state.result.stop_reason is StopReason.MAX_STEPS:
        assert "step budget of 2" in state.result.message


def test_streamed_text_arrives_in_pieces_and_matches_the_reply(real_llm_backend):
    # llama-cpp-python cannot stream a reply once the model picked a tool ("Automatic streaming
    # tool choice is not supported"), so stream in JSON mode: tool calls written as text.
    deltas = Deltas()
    config = LoopConfig(max_steps=2, stream=True, tool_mode="json", llm_retries=1)
    steps, _ = run(real_llm_backend, config, hooks=[deltas])

    assert deltas.by_call, "no streamed text arrived"
    for step in steps:
        call = step.llm_call
        assert call is not None
        pieces = deltas.by_call.get(call.index, [])
        assert len(pieces) > 1  # token by token, not one lump at the end
        assert "".join(pieces) == call.text


def test_a_stream_the_server_gives_up_on_is_reported_as_a_reply_cut_off(
    real_llm_backend, llama_server
):
    """llama-cpp-python takes a streamed request with native tools, then raises inside it
    ("Automatic streaming tool choice is not supported").  Whether that ends the stream early or
    resets the connection depends on its web stack and, with the stack the lock pins, on timing
    inside the server (both were seen on one machine with the same versions); the loop must say
    the reply was cut off, and which of the two happened."""
    config = LoopConfig(max_steps=1, stream=True, llm_retries=1, retry_backoff=0.01)
    steps, state = run(real_llm_backend, config, hooks=[Deltas()])

    [step] = steps
    assert step.tool_result.error_kind is ErrorKind.LLM
    assert state.result.stop_reason is StopReason.LLM_ERROR
    message = state.result.message
    assert message.startswith("ReplyCutOffError: ") and "the reply was cut off" in message
    dropped = "the server dropped the connection" in message
    truncated = "the stream ended before the reply was complete" in message
    assert dropped != truncated, message  # it says which one happened, and only one
    assert "0 characters received" in message
    assert "after 2 attempts" in message  # a cut-off reply is worth the retry
    assert "Automatic streaming tool choice is not supported" in llama_server.log_tail(400)


def test_a_request_this_server_can_stream_arrives_piece_by_piece(real_llm_backend):
    """Tools described in the prompt (json mode) rather than sent natively: the server streams."""
    deltas = Deltas()
    config = LoopConfig(max_steps=1, stream=True, tool_mode="json")
    steps, state = run(real_llm_backend, config, hooks=[deltas])

    [step] = steps
    assert step.tool_result.error_kind is not ErrorKind.LLM, state.result.message
    assert step.llm_call is not None
    pieces = deltas.by_call[step.llm_call.index]
    assert len(pieces) > 1
    assert "".join(pieces) == step.llm_call.text


def run_example(module: str, server, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-real-llm-example-key-0123456789",
        OPENAI_MODEL=server.model_id,
        OPENAI_CONTEXT_WINDOW="2048",
    )
    return subprocess.run(
        [sys.executable, "-m", f"looplet_core.examples.{module}", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=300,
        check=False,
    )


def test_hello_world_example_runs_against_the_real_server(llama_server, tmp_path):
    out = run_example("hello_world", llama_server, tmp_path)

    assert out.returncode in (0, 1), out.stderr  # 1: the model did not finish in 5 steps
    assert "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("looplet hello_world on ") and llama_server.base_url in lines[0]
    assert re.match(r"#1 [✓✗] ", lines[1])
    used = re.search(r"tokens in/out: (\d+)/(\d+)", out.stdout)
    assert used is not None and int(used[1]) > 0 and int(used[2]) > 0  # the server's usage
    assert "sk-real-llm-example-key" not in out.stdout + out.stderr
