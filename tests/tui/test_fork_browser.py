"""Forking from the checkpoint browser (``f``): each kind of edit, the warning, both branches."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static, TextArea

from looplet_core import LoopConfig, MemoryCheckpointStore, MockLLMBackend
from looplet_core.checkpoints import load
from looplet_tui.screens.checkpoints import CheckpointScreen
from looplet_tui.screens.fork import ForkEditScreen
from looplet_tui.session import RunSession
from looplet_tui.timetravel import parse_fork_edit

from .helpers import call
from .pilot import SIZE, app_for, screen_text, settled, until

SCRIPT = [
    call("greet", name="Ada"),
    call("fail", why="boom"),  # a tool not marked read_only
    call("greet", name="Bob"),
    call("done", answer="done"),
]


def test_parse_fork_edit_accepts_one_edit_and_explains_mistakes() -> None:
    assert parse_fork_edit('{"args": {"name": "Zed"}}') == {"args": {"name": "Zed"}}
    assert parse_fork_edit("") == {}
    for bad, why in (
        ("{", "not valid JSON"),
        ("[1]", "write a JSON object"),
        ('{"args": 1}', "args must be a JSON object"),
        ('{"args": {}, "result": 1}', "one edit per fork"),
        ('{"prompt": 1}', "unknown edit prompt"),
        ('{"messages": "hi"}', "messages must be a list"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_fork_edit(bad)


async def open_fork_editor(pilot: Any, app: Any, store: MemoryCheckpointStore) -> ForkEditScreen:
    await settled(pilot, app)
    await until(pilot, lambda: app.controller.finished, "the end")
    assert isinstance(app.session, RunSession)
    app.session.llm = MockLLMBackend([call("done", answer="forked")])
    await pilot.press("t")
    await pilot.pause()
    browser = app.screen
    assert isinstance(browser, CheckpointScreen)
    while browser.snapshot is not None and browser.snapshot.checkpoint.step != 1:
        await pilot.press("up")
    await pilot.press("f")
    await pilot.pause()
    assert isinstance(app.screen, ForkEditScreen)
    return app.screen


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        ('{"args": {"name": "Zed"}}', lambda steps: steps[0].tool_call.args == {"name": "Zed"}),
        ('{"result": "Hi there"}', lambda steps: steps[0].tool_result.data == "Hi there"),
        (
            '{"messages": [{"role": "user", "content": "start over"}]}',
            lambda steps: [s.tool for s in steps] == ["greet", "done"],
        ),
    ],
    ids=["args", "result", "messages"],
)
async def test_fork_with_an_edit_runs_a_new_branch_and_the_tree_shows_both(
    edit: str, check: Any
) -> None:
    store = MemoryCheckpointStore()
    app = app_for(SCRIPT, start_paused=False, config=LoopConfig(max_steps=20, checkpoint=store))
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_fork_editor(pilot, app, store)
        warning = editor.query_one("#fork-warning", Static)
        assert "#2 fail" in str(warning.content) and "not rolled back" in str(warning.content)
        assert '"name": "Ada"' in editor.query_one(TextArea).text  # the last call's args
        editor.query_one(TextArea).text = edit
        await pilot.press("ctrl+s")
        browser = app.screen
        assert isinstance(browser, CheckpointScreen)
        await until(pilot, lambda: not browser.forking, "the fork to end")
        await pilot.pause()
        run_id = browser.run_id
        forked = [c for c in map(store.get, store.list(run_id)) if c.branch_id != "main"]
        assert forked and forked[0].fork is not None
        state = load(store, forked[-1].id).state
        assert check(list(state.steps)), [s.pretty() for s in state.steps]
        assert "2 branches" in screen_text(app)


async def test_a_bad_edit_is_explained_and_nothing_is_forked() -> None:
    store = MemoryCheckpointStore()
    app = app_for(SCRIPT, start_paused=False, config=LoopConfig(max_steps=20, checkpoint=store))
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_fork_editor(pilot, app, store)
        editor.query_one(TextArea).text = '{"args": 3}'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is editor
        assert "args must be a JSON object" in str(editor.query_one("#fork-error", Static).content)
        await pilot.press("escape")
        assert isinstance(app.screen, CheckpointScreen)
        assert {store.get(c).branch_id for c in store.list(app.screen.run_id)} == {"main"}
