"""A long reply streaming into the Response tab: the screen follows its newest text."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from looplet_core import CancelToken, DefaultState, LLMResponse, LoopConfig, MockLLMBackend
from looplet_core.backends.base import DeltaCallback, ToolSchema
from looplet_core.messages import Message
from looplet_tui.app import DebuggerApp
from looplet_tui.session import RunSession
from looplet_tui.text.render import LIVE_SHOWN
from looplet_tui.widgets.detail_pane import DetailPane
from tests.tui.helpers import make_tools
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, until

LINES = 8000
END = "and this is where the stream has got to"


class LongStream(MockLLMBackend):
    """Streams a 320 KB reply in 1 KB deltas, then waits until the run is cancelled."""

    def __init__(self) -> None:
        super().__init__([LLMResponse(text="unused")], report_usage=True)
        self.cancel = CancelToken()
        self.text = "".join(f"line {i:05d} of the reply, [b]literal[/b]\n" for i in range(LINES))
        self.text += END

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        assert on_delta is not None  # the debugger streams replies
        for i in range(0, len(self.text), 1024):
            on_delta("text", self.text[i : i + 1024])
        while not self.cancel.wait(0.01):
            pass
        return super().generate(messages, tools=tools, on_delta=on_delta)


async def test_a_long_streamed_reply_shows_its_tail_on_screen() -> None:
    llm = LongStream()
    session = RunSession(
        llm=llm,
        tools=make_tools(),
        task="test task",
        config=LoopConfig(max_steps=3, stream=True),
        state=DefaultState(),
        title="test",
    )
    app = DebuggerApp(session, start_paused=False, clock=lambda: FIXED_CLOCK, timings=False)
    llm.cancel = app.controller.cancel_token  # closing the app releases the stalled reply
    async with app.run_test(size=SIZE) as pilot:
        ctl = app.controller
        await until(
            pilot,
            lambda: ctl.live is not None and len(ctl.live.text) == len(llm.text),
            "the whole reply to stream in",
        )
        await pilot.press("2")
        await until(pilot, lambda: END in screen_text(app), "the reply's end on screen")
        screen = screen_text(app)
        assert "line 07999 of the reply, [b]literal[/b]" in screen  # literal, never markup
        assert "line 00000" not in screen
        pane = app.query_one("#pane-response", DetailPane)
        assert 0 < pane.scroll_y == pane.max_scroll_y  # following the end
        console = Console(width=120, record=True, color_system=None)
        console.print(pane.shown)
        drawn = console.export_text()
        assert "earlier characters not shown" in drawn
        # the tail that fits (or, drawn before the pane was laid out, LIVE_SHOWN): not the reply
        assert len(drawn) < LIVE_SHOWN + 200 < len(llm.text) // 5
        live = ctl.live
        assert live is not None
        assert str(live.text) == llm.text  # the whole reply is still there to join
