"""The debugger, headless, driving a run against the real model.

Two facts about llama-cpp-python's server shape these: it cannot stream a request that offers
native tools (it gives up part-way: the reply is cut off), and it reports no token usage in a
stream.  So the native
run uses a backend that does not stream (``OpenAIBackend(stream=False)``: the debugger then gets
each reply whole) and shows the server's usage; the streaming run uses JSON mode, whose replies
are text, and shows them arriving token by token.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from looplet_core import DefaultState, Event, EventKind, LoopConfig
from looplet_core.backends.openai import OpenAIBackend
from looplet_core.examples.hello_world import build_tools
from looplet_tui.app import DebuggerApp
from looplet_tui.session import RunSession
from looplet_tui.widgets.detail_pane import DetailPane
from looplet_tui.widgets.header import format_tokens
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.pilot import SIZE, screen_text, settled, until

pytestmark = pytest.mark.real_llm

TASK = {"goal": "Greet Alice and Bob, then finish."}


def session(
    llm: OpenAIBackend, config: LoopConfig, hooks: list[object] | None = None
) -> RunSession:
    return RunSession(
        llm=llm,
        tools=build_tools(),
        task=TASK,
        config=config,
        state=DefaultState(),
        hooks=hooks or [],
        title="real",
    )


class Deltas:
    """Counts the streamed pieces the loop received, independent of when the screen was sampled."""

    def __init__(self) -> None:
        self.count = 0

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.LLM_DELTA:
            self.count += 1


async def test_debugger_steps_a_real_run_and_shows_the_servers_usage(real_client, llama_server):
    llm = OpenAIBackend(
        real_client, llama_server.model_id, temperature=0.0, max_tokens=96, stream=False
    )
    app = DebuggerApp(session(llm, LoopConfig(max_steps=3, llm_retries=1)), timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("n")
        await until(pilot, lambda: app.controller.steps_done >= 1, "step 1", timeout=180)
        await settled(pilot, app)
        assert "#1 " in screen_text(app)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the end", timeout=300)
        await pilot.pause()

        usage = app.controller.usage
        assert usage.measured and usage.input_tokens > 0 and usage.output_tokens > 0
        text = screen_text(app)
        assert f"{format_tokens(usage.input_tokens)} in" in text  # the header's running total
        timeline = app.query_one(StepTimeline)
        timeline.focus()
        await pilot.press("g", "2")
        await pilot.pause()
        first = app.controller.step(1)
        assert first is not None and first.llm_call is not None and first.llm_call.usage
        shown = screen_text(app)
        call_usage = first.llm_call.usage
        assert f"{call_usage.input_tokens} in / {call_usage.output_tokens} out" in shown
        assert "(est.)" not in shown


async def test_debugger_shows_a_real_reply_while_it_streams(real_client, llama_server, monkeypatch):
    llm = OpenAIBackend(real_client, llama_server.model_id, temperature=0.0, max_tokens=96)
    config = LoopConfig(max_steps=2, tool_mode="json", max_parse_retries=5, llm_retries=1)
    deltas = Deltas()
    app = DebuggerApp(session(llm, config, [deltas]), start_paused=False, timings=False)
    # Every picture the Response pane was given, as plain text. Sampling the screen instead
    # misses a short reply that streams between two samples on a loaded machine.
    shown: list[str] = []
    original_show = DetailPane.show

    def recording_show(pane: DetailPane, renderable: RenderableType) -> None:
        if pane.id == "pane-response":
            console = Console(file=io.StringIO(), width=SIZE[0], color_system=None)
            console.print(renderable)
            shown.append(console.file.getvalue())  # type: ignore[attr-defined]
        original_show(pane, renderable)

    monkeypatch.setattr(DetailPane, "show", recording_show)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")  # the Response tab, which shows the live reply
        await until(pilot, lambda: app.controller.finished, "the end", timeout=300)
        await pilot.pause()

    streaming = [text for text in shown if "Text (streaming)" in text]
    assert streaming, "no reply was ever shown while it streamed"
    assert all(text.rstrip().endswith("▍") for text in streaming)  # the cursor of a live reply
    assert deltas.count > 1  # it arrived piece by piece
