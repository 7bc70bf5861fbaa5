"""The checkpoint browser (``t``): flat branches, nested forks, the state at a checkpoint."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from textual.widgets import Static, Tree

from looplet_core import (
    LoopConfig,
    MemoryCheckpointStore,
    MockLLMBackend,
    composable_loop,
    fork,
)
from looplet_tui.screens.checkpoints import CheckpointScreen
from looplet_tui.screens.run_diff import RunDiffScreen
from looplet_tui.timetravel.tree import checkpoint_label, run_branches

from .helpers import GREET3, call, make_tools
from .pilot import SIZE, app_for, screen_text, settled, until


def run_with_fork(store: MemoryCheckpointStore) -> str:
    """GREET3 checkpointed into ``store``, then a branch from step 2 greeting Zed instead."""
    config = LoopConfig(max_steps=20, checkpoint=store)
    loop = composable_loop(llm=MockLLMBackend(GREET3), tools=make_tools(), task="t", config=config)
    steps = list(loop)
    run_id = steps[0].run_id
    at_step_2 = next(store.get(c) for c in store.list(run_id) if store.get(c).step == 2)
    branch = fork(
        store,
        at_step_2.id,
        args={"name": "Zed"},
        llm=MockLLMBackend([call("done", answer="zed")]),
        tools=make_tools(),
        branch="zed",
    )
    list(branch)
    return run_id


def test_a_branch_is_flat_and_a_fork_nests_under_its_checkpoint() -> None:
    store = MemoryCheckpointStore()
    run_id = run_with_fork(store)
    (main,) = run_branches(store, run_id)
    assert main.name == "main"
    assert [cp.step for cp in main.checkpoints] == sorted(cp.step for cp in main.checkpoints)
    ((forked_at, (zed,)),) = main.forks.items()
    assert store.get(forked_at).step == 2
    assert zed.name == "zed" and zed.checkpoints[0].reason == "fork"
    assert "edit: args" in checkpoint_label(zed.checkpoints[0])
    assert main.count() == len(store.list(run_id))


def body_text(screen: CheckpointScreen) -> str:
    console = Console(width=160, record=True)
    console.print(screen.query_one("#cp-state-body", Static).content)
    return console.export_text()


async def test_t_opens_the_tree_and_a_checkpoint_shows_the_state_then() -> None:
    store = MemoryCheckpointStore()
    app = app_for(GREET3, start_paused=False, config=LoopConfig(max_steps=20, checkpoint=store))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await until(pilot, lambda: app.controller.finished, "the end")
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CheckpointScreen)
        tree: Tree[Any] = screen.query_one(Tree)
        assert screen.snapshot is not None  # the newest checkpoint is selected
        assert len(screen.snapshot.state.steps) == 4
        text = screen_text(app)
        assert "branch main" in text and "1 branch" in text
        while screen.snapshot is not None and screen.snapshot.checkpoint.step != 1:
            await pilot.press("up")
        state = body_text(screen)
        assert re.search(r"steps done +1 *\n", state)
        assert "greet(name='Ada')" in state and "greet(name='Bob')" not in state
        assert len(screen.snapshot.state.steps) == 1
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        await pilot.press("escape")
        assert not isinstance(app.screen, CheckpointScreen)


async def test_the_tree_shows_both_branches_after_a_fork() -> None:
    store = MemoryCheckpointStore()
    run_with_fork(store)
    app = app_for([], start_paused=True)
    app.session.config.checkpoint = store  # type: ignore[union-attr]
    app.session.state.run_id = store.runs()[-1]  # type: ignore[union-attr]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, CheckpointScreen)
        text = screen_text(app)
        assert "2 branches" in text and "branch zed" in text and "edit: args" in text
        screen = app.screen
        assert isinstance(screen, CheckpointScreen)
        for _ in range(20):
            if screen.snapshot is not None and screen.snapshot.checkpoint.branch_id == "zed":
                break
            await pilot.press("up")
        await pilot.press("d")  # compare the fork with the branch it came from
        await pilot.pause()
        diff = app.screen
        assert isinstance(diff, RunDiffScreen)
        first = diff.comparison.first
        assert first is not None and first.divergence is not None
        assert (first.number, first.divergence.field) == (2, "args")
        assert "branch main" in screen_text(app) and "branch zed" in screen_text(app)
        await pilot.press("escape")
        assert app.screen is screen


async def test_t_without_checkpoints_says_how_to_get_them() -> None:
    app = app_for(GREET3)
    said: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **_: said.append(str(message))  # type: ignore[method-assign]
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, CheckpointScreen)
        assert said and "--checkpoints DIR" in said[0]


async def test_the_tree_opens_on_the_checkpoint_the_debugged_run_is_at() -> None:
    store = MemoryCheckpointStore()
    run_id = run_with_fork(store)
    at = next(c for c in map(store.get, store.list(run_id)) if c.step == 1)  # not the newest
    app = app_for([], start_paused=True)
    app.session.config.checkpoint = store  # type: ignore[union-attr]
    app.session.state.run_id = run_id  # type: ignore[union-attr]
    app.session.state.checkpoint_id = at.id  # type: ignore[union-attr]
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CheckpointScreen)
        assert screen.snapshot is not None and screen.snapshot.checkpoint.id == at.id
        await until(pilot, lambda: screen.query_one(Tree).cursor_node is not None, "the cursor")
        node = screen.query_one(Tree).cursor_node
        assert node is not None and node.data is not None and node.data.id == at.id
        assert re.search(r"steps done +1 *\n", body_text(screen))


async def test_the_debuggers_keys_do_nothing_behind_the_browser() -> None:
    store = MemoryCheckpointStore()
    app = app_for(GREET3, config=LoopConfig(max_steps=20, checkpoint=store))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        for done in (1, 2):  # (a step's checkpoint is written as the next one starts)
            await pilot.press("n")
            await until(pilot, lambda d=done: app.controller.steps_done == d, f"step {done}")
            await settled(pilot, app)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, CheckpointScreen)
        await pilot.press("n", "c")  # stepping keys of the run hidden behind the browser
        await pilot.pause()
        assert app.controller.steps_done == 2 and app.controller.pause_point is not None
        assert "Next" not in screen_text(app).splitlines()[-1]  # nor in the browser's footer
        await pilot.press("escape", "n")
        await until(pilot, lambda: app.controller.steps_done == 3, "step 3, back on the debugger")
