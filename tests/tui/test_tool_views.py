"""Tool calls and results as a person reads them, on the coding agent's recorded fizzbuzz run.

The ``write`` call is the file's code line by line, the ``edit`` a unified diff, the ``bash``
command a shell line and its output real lines; ``r`` shows the exact JSON and back; ``f`` folds
long blocks in every tab; hostile text stays literal in all of it; the approval card shows the
command or diff that will run and its editor still takes JSON.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType
from textual.widgets import TextArea

from looplet_core import (
    BaseToolRegistry,
    ContextStats,
    DefaultState,
    LoopConfig,
    MockLLMBackend,
    ToolView,
)
from looplet_tui.app import DebuggerApp
from looplet_tui.screens.edit_args import EditArgsScreen
from looplet_tui.session import RunSession
from looplet_tui.widgets.detail_pane import DetailPane
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.gauge import ContextGauge
from looplet_tui.widgets.timeline import StepTimeline
from tests.tui.pilot import FIXED_CLOCK, SIZE, screen_text, settled, until
from tests.tui.scenarios import (
    approval_of,
    make_coding_approval,
    make_coding_replay,
    replay_to,
)

HOSTILE = "[bold red]pwned[/bold red] \x1b[31mred\x1b]0;title\x07 \u202eexe"
RAW = ("\x1b", "\x07", "\u202e")


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("coding")


def text_of(renderable: RenderableType, width: int = 100) -> str:
    """What ``renderable`` reads as on a terminal ``width`` wide, without colour."""
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def pane(app: DebuggerApp, tab: str) -> str:
    return text_of(app.query_one(f"#pane-{tab}", DetailPane).shown)


def prompt_lines(app: DebuggerApp) -> str:
    view = app.query_one(StepDetails).prompt_pane
    return "\n".join(strip.text for strip in view._lines)  # pyright: ignore[reportPrivateUsage]


async def test_a_write_call_reads_as_the_file_and_r_shows_the_exact_json(traces: Path) -> None:
    app = make_coding_replay(traces)
    async with app.run_test(size=SIZE) as pilot:
        await replay_to(2, "3")(pilot, app)
        readable = pane(app, "tool")
        assert "fizzbuzz.py  python · 11 lines" in readable
        assert "   1 def fizzbuzz(n):" in readable
        assert '  11     print("\\n".join(' in readable  # the code's own escape, as written
        assert "\\n    out = []" not in readable  # no JSON escapes between lines
        assert "r for raw JSON" in readable

        await pilot.press("r")
        await pilot.pause()
        raw = pane(app, "tool")
        assert '"content": "def fizzbuzz(n):\\n    out = []' in raw
        step = app.controller.step(2)
        assert step is not None and step.tool_call is not None
        assert json.dumps(step.tool_call.args["content"])[:40] in raw  # exact

        await pilot.press("r")
        await pilot.pause()
        assert pane(app, "tool") == readable


async def test_an_edit_reads_as_a_unified_diff(traces: Path) -> None:
    app = make_coding_replay(traces)
    async with app.run_test(size=SIZE) as pilot:
        await replay_to(4, "3")(pilot, app)
        text = pane(app, "tool")
        lines = text.splitlines()
        assert "--- a/fizzbuzz.py" in lines and "+++ b/fizzbuzz.py" in lines
        assert "@@ -1 +1,2 @@" in lines
        assert " def fizzbuzz(n):" in lines
        assert '+    """FizzBuzz for 1..n."""' in lines
        assert "rewritten" not in text  # the default replace_all is not a hook's rewrite
        assert "defaults filled in: replace_all" in text


async def test_a_bash_result_reads_as_its_output_lines(traces: Path) -> None:
    app = make_coding_replay(traces)
    async with app.run_test(size=SIZE) as pilot:
        await replay_to(3, "4")(pilot, app)
        text = pane(app, "result")
        assert "exit_code  0" in text
        lines = [line.strip() for line in text.splitlines()]
        start = lines.index("1")
        assert lines[start : start + 5] == ["1", "2", "Fizz", "4", "Buzz"]
        assert "FizzBuzz" in lines
        assert "\\n" not in text
        await pilot.press("r")
        await pilot.pause()
        assert '"output": "1\\n2\\nFizz\\n4\\nBuzz' in pane(app, "result")


async def test_the_prompt_tab_draws_tool_calls_and_results_for_reading(traces: Path) -> None:
    app = make_coding_replay(traces)
    async with app.run_test(size=SIZE) as pilot:
        await replay_to(5, "1")(pilot, app)
        await until(pilot, lambda: "$ python3 fizzbuzz.py 15" in prompt_lines(app), "the prompt")
        text = prompt_lines(app)
        assert "→ write  call_2" in text and "1 def fizzbuzz(n):" in text
        assert '+    """FizzBuzz for 1..n."""' in text
        assert "\\n" not in text.replace('print("\\n"', "")  # only the code's own escape
        assert "Fizz" in [line.strip() for line in text.splitlines()]

        await pilot.press("r")
        await until(pilot, lambda: '"command": "python3 fizzbuzz.py 15"' in prompt_lines(app))
        assert '\\"exit_code\\"' not in prompt_lines(app)  # a tool message is its text, as sent
        assert '"exit_code": 0' in prompt_lines(app) and "1\\n2\\nFizz" in prompt_lines(app)
        await pilot.press("r")
        await until(pilot, lambda: "$ python3 fizzbuzz.py 15" in prompt_lines(app))


async def test_f_folds_long_blocks_in_the_tool_tab_too() -> None:
    long_file = "".join(f"line_{n} = {n}\n" for n in range(1, 201))
    app = _write_app(long_file, "long.py")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await select(pilot, app, 1)
        await pilot.press("3")
        await pilot.pause()
        folded = pane(app, "tool")
        assert "line_30 = 30" in folded and "line_31 = 31" not in folded
        assert "… 170 more lines" in folded and "(f unfolds)" in folded
        await pilot.press("f")
        await pilot.pause()
        unfolded = pane(app, "tool")
        assert "line_200 = 200" in unfolded and "more lines" not in unfolded
        assert not app.query_one(StepDetails).prompt_pane.folded  # one key, every tab
        await pilot.press("f")
        await pilot.pause()
        assert pane(app, "tool") == folded
        app.controller.cancel()


async def test_hostile_code_paths_and_diffs_stay_literal() -> None:
    app = _write_app(f"x = 1\n# {HOSTILE}\n", f"evil{HOSTILE}.py", edit=True)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        seen: list[str] = []
        for number in (1, 2):
            await select(pilot, app, number)
            for tab in ("1", "3", "4"):
                await pilot.press(tab)
                await pilot.pause()
                seen.append(screen_text(app))
            await pilot.press("3")
            await pilot.pause()
            seen.append(pane(app, "tool"))
        for text in seen:
            for raw in RAW:
                assert raw not in text
        write, edit = seen[3], seen[7]
        assert "[bold red]pwned[/bold red]" in write  # markup shown as the characters
        assert "␛[31mred" in write and "<U+202E>exe" in write  # escapes made visible
        assert "evil[bold red]pwned" in write  # in the path too
        assert "-[bold red]pwned[/bold red] ␛[31mred" in edit and "+ok" in edit
        app.controller.cancel()


async def test_the_approval_card_shows_the_command_and_the_diff_that_will_run(
    traces: Path,
) -> None:
    app = make_coding_approval(traces)
    async with app.run_test(size=SIZE) as pilot:
        await approval_of("bash", approve=("write",))(pilot, app)
        assert "$ python3 fizzbuzz.py 15" in screen_text(app)
        await pilot.press("a")
        await approval_of("edit")(pilot, app)
        text = screen_text(app)
        assert '+    """FizzBuzz for 1..n."""' in text and "--- a/fizzbuzz.py" in text
        assert "a approve" in text  # the keys stay on the card above the call

        await pilot.press("e")  # the editor still edits the exact JSON
        await until(pilot, lambda: isinstance(app.screen, EditArgsScreen), "the editor")
        editor = app.screen.query_one(TextArea)
        assert json.loads(editor.text)["new"] == 'def fizzbuzz(n):\n    """FizzBuzz for 1..n."""\n'
        await pilot.press("escape")
        app.controller.cancel()


async def test_an_unknown_window_shows_counts_without_a_bar() -> None:
    gauge = ContextGauge()
    app = _write_app("x = 1\n", "a.py")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        text = screen_text(app)
        assert "window unknown" in text
        await app.mount(gauge)
        gauge.stats = ContextStats(total=169, by_role={"system": 100, "user": 69}, window=None)
        await pilot.pause()
        unknown = str(gauge.render())
        assert "Context 169 tokens · window unknown" in unknown
        assert "█" not in unknown and "░" not in unknown  # no fill, no "free" track
        assert "sys 100" in unknown and "user 69" in unknown
        gauge.stats = ContextStats(total=169, by_role={"system": 100, "user": 69}, window=1000)
        await pilot.pause()
        known = str(gauge.render())
        assert "17%" in known and "░" in known
        app.controller.cancel()


async def select(pilot: Any, app: DebuggerApp, number: int) -> None:
    """Select step ``number`` in the timeline."""
    await pilot.press("g")
    for _ in range(number - 1):
        await pilot.press("j")
    timeline = app.query_one(StepTimeline)
    await until(pilot, lambda: getattr(timeline.selected, "number", None) == number, f"#{number}")
    await pilot.pause()


def _write_app(content: str, path: str, *, edit: bool = False) -> DebuggerApp:
    """A live run whose model writes ``content`` to ``path`` (and then edits it, if ``edit``)."""
    tools = BaseToolRegistry()

    @tools.tool
    def write(path: str, content: str) -> dict[str, Any]:
        """Pretend to write a file."""
        return {"path": path, "bytes": len(content)}

    @tools.tool(view=ToolView.diff())
    def change(path: str, old: str, new: str) -> str:
        """Pretend to edit a file."""
        return f"{old}->{new}"

    @tools.tool
    def done(answer: str) -> str:
        """Finish."""
        return answer

    script: list[Any] = [{"tool": "write", "args": {"path": path, "content": content}}]
    if edit:
        script.append({"tool": "change", "args": {"path": path, "old": HOSTILE, "new": "ok"}})
    script.append({"tool": "done", "args": {"answer": "ok"}})
    session = RunSession(
        llm=MockLLMBackend(script),
        tools=tools,
        task="write",
        config=LoopConfig(max_steps=5, record_prompts=True),
        state=DefaultState(),
        title="write",
    )
    return DebuggerApp(session, start_paused=False, clock=lambda: FIXED_CLOCK, timings=False)
