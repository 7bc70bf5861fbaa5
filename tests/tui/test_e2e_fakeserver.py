"""End to end: the debugger, headless, driving a real OpenAIBackend over HTTP to the fake
OpenAI-compatible server on 127.0.0.1, with the server's token usage on screen."""

from __future__ import annotations

import openai

from looplet_core import DefaultState, LoopConfig, StopReason
from looplet_core.backends.openai import OpenAIBackend
from looplet_tui.app import DebuggerApp
from looplet_tui.session import RunSession
from tests.fakeserver import FakeOpenAIServer
from tests.tui.helpers import make_tools
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, settled, until


async def test_debugger_steps_a_real_http_backend_and_shows_server_usage(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    server = fake_openai_server
    server.reply("Greeting Ada first.", tool_calls=[("greet", {"name": "Ada"})], usage=(120, 15))
    server.reply(tool_calls=[("rm", {"path": "/tmp/old"})], usage=(180, 9))
    server.reply(tool_calls=[("done", {"answer": "all done"})], usage=(230, 7))
    with openai.OpenAI(base_url=server.base_url, api_key="test-key", timeout=5) as client:
        session = RunSession(
            llm=OpenAIBackend(client, "fake-model"),
            tools=make_tools(),
            task="greet, then tidy",
            config=LoopConfig(max_steps=10, context_window=8000),
            state=DefaultState(),
            title="e2e · fake server",
        )
        app = DebuggerApp(session, clock=lambda: FIXED_CLOCK, timings=False)
        async with app.run_test(size=SIZE) as pilot:
            await settled(pilot, app)
            await pilot.press("n")
            await until(
                pilot,
                lambda: app.controller.steps_done == 1 and app.controller.pause_point is not None,
                "step 1 over HTTP",
            )
            await settled(pilot, app)
            text = screen_text(app)
            assert "#1 greet(name='Ada')" in text
            assert "fake-model" in text and "120 in · 15 out" in text  # the server's usage
            await pilot.press("c")
            await until(pilot, lambda: app.controller.approvals, "the rm approval")
            await settled(pilot, app)
            assert "⚠ DANGEROUS" in screen_text(app)
            await pilot.press("a")
            await until(pilot, lambda: app.controller.finished, "the end")
            await settled(pilot, app)
            text = screen_text(app)
            assert "DONE" in text and "step 3/10" in text
            assert "530 in · 31 out" in text  # 120+180+230 in, 15+9+7 out, as the server said
            await pilot.press("2")
            await pilot.pause()
    assert session.state.result is not None
    assert session.state.result.stop_reason is StopReason.DONE
    assert len(server.requests) == 3
    assert server.requests[0].get("stream") is True  # the debugger streams replies
