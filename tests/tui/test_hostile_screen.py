"""The debugger facing hostile model and tool output: shown literally, and still answering keys.

Rich markup, ANSI and OSC escapes, C1 controls, bidi overrides, NUL and lone surrogates in the
model's text, reasoning and arguments and in tool results; a 1 MB single-line result; JSON nested
5,000 deep.  Every tab of every step must show them as text (no escape ever reaches the terminal,
no markup is obeyed), and after each key the screen must update within a bound: a hostile result
may be slow to lay out, never able to freeze the debugger.
"""

from __future__ import annotations

import time
from typing import Any

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    LLMResponse,
    LoopConfig,
    MockLLMBackend,
    ToolCall,
    ToolSpec,
)
from looplet_tui.app import DebuggerApp
from looplet_tui.session import RunSession
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, until

HOSTILE = (
    "[bold red]pwned[/bold red] \x1b[2J\x1b[31mred\x1b[0m \x1b]0;title\x07 "
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ \x9b31m \u202eexe.txt\u2066 a\x00b "
    "name-\udcff.csv"
)
HUGE = "z" * 1_000_000
RAW = ["\x1b", "\x07", "\x9b", "\x00", "\u202e"]


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def hostile_app() -> DebuggerApp:
    tools = BaseToolRegistry()
    tools.register(ToolSpec("paint", "Paint.", {"text": "str"}, lambda *, text: {"out": text}))
    tools.register(ToolSpec("huge", "A 1 MB line.", {}, lambda: HUGE))
    tools.register(ToolSpec("deep", "Deep JSON.", {}, lambda: nested(5000)))
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
    paint = ToolCall("paint", {"text": HOSTILE})
    script = [
        LLMResponse(text=HOSTILE, reasoning=HOSTILE, tool_calls=[paint]),
        {"tool": "huge"},
        {"tool": "deep"},
        {"tool": "done", "args": {"answer": HOSTILE}},
    ]
    session = RunSession(
        llm=MockLLMBackend(script, report_usage=True),
        tools=tools,
        task=f"Task with {HOSTILE}",
        config=LoopConfig(max_steps=10),
        state=DefaultState(),
        title="hostile",
    )
    return DebuggerApp(session, start_paused=False, clock=lambda: FIXED_CLOCK, timings=False)


async def test_hostile_output_is_shown_literally_on_every_tab_and_keys_keep_working() -> None:
    app = hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the run to end", timeout=60)
        timeline = app.query_one(StepTimeline)
        timeline.focus()
        await pilot.press("g")
        seen: dict[tuple[int, str], str] = {}
        for number in (1, 2, 3, 4):
            await until(
                pilot,
                lambda n=number: getattr(timeline.selected, "number", None) == n,
                f"#{number}",
            )
            for tab in "1234":
                started = time.monotonic()
                await pilot.press(tab)
                await pilot.pause()
                text = screen_text(app)
                seen[(number, tab)] = text
                assert time.monotonic() - started < 30, f"step {number} tab {tab} froze the screen"
                for raw in RAW:
                    assert raw not in text, (number, tab, raw)
            await pilot.press("j")

        assert "[bold red]pwned[/bold red]" in seen[(1, "2")]  # the model's text: markup as text
        assert "[bold red]pwned" in seen[(1, "4")]  # the tool's result too
        assert "zzzzzzzz" in seen[(2, "4")]  # the 1 MB line is on screen, as far as it fits
        assert "k  1 items" in seen[(3, "4")]  # the deep result's top levels
        assert "DONE" in screen_text(app)
