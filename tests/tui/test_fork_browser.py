"""Forking from the checkpoint browser (``f``): the branch runs live in the main timeline.

Each kind of edit reaches the new branch; the branch steps, breaks and asks for approval like any
run; a run that has not finished is stopped (and says so first); the tree keeps every branch.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static, TextArea, Tree
from textual.widgets.tree import TreeNode

from looplet_core import (
    Checkpoint,
    LoopConfig,
    MemoryCheckpointStore,
    MockLLMBackend,
    Step,
    composable_loop,
)
from looplet_tui.app import DebuggerApp
from looplet_tui.screens.checkpoints import CheckpointScreen, browser_for
from looplet_tui.screens.fork import ForkEditScreen
from looplet_tui.session import RunSession
from looplet_tui.timetravel.forks import branch_session
from looplet_tui.timetravel.tree import parse_fork_edit, run_branches
from looplet_tui.widgets.timeline import StepTimeline

from .helpers import GREET3, call, make_tools
from .pilot import SIZE, app_for, screen_text, settled, until
from .test_checkpoint_browser import body_text

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
        ('{"messages": [{"role": "robot"}]}', "message 1: message role must be"),
        ('{"messages": [{"role": "user"}, {"role": "assistant", "tool_calls": [{}]}]}', "2: a"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_fork_edit(bad)


def steps_of(app: DebuggerApp) -> list[Step]:
    return [e for e in app.controller.entries if isinstance(e, Step)]


def checkpointed_app(script: list[Any], *, start_paused: bool = False) -> DebuggerApp:
    store = MemoryCheckpointStore()
    return app_for(
        script, start_paused=start_paused, config=LoopConfig(max_steps=20, checkpoint=store)
    )


def run_of(app: DebuggerApp) -> RunSession:
    assert isinstance(app.session, RunSession)
    return app.session


async def open_browser(pilot: Pilot[Any], app: DebuggerApp) -> CheckpointScreen:
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, CheckpointScreen), "the browser")
    await pilot.pause()
    assert isinstance(app.screen, CheckpointScreen)
    return app.screen


async def highlight(
    pilot: Pilot[Any], browser: CheckpointScreen, branch: str, step: int, reason: str = "step"
) -> Checkpoint:
    """Move the tree's cursor (from the top, with the down key) to ``branch``'s checkpoint at
    ``step`` written for ``reason`` (a step, an approval, a fork, the end)."""
    tree: Tree[Checkpoint] = browser.query_one(Tree)

    def there() -> bool:
        cp = browser.snapshot.checkpoint if browser.snapshot is not None else None
        return cp is not None and (cp.branch_id, cp.step, cp.reason) == (branch, step, reason)

    tree.move_cursor_to_line(0)
    await pilot.pause()
    for _ in range(tree.last_line + 1):
        if there():
            break
        await pilot.press("down")
    assert there() and browser.snapshot is not None, f"no checkpoint of {branch} at step {step}"
    return browser.snapshot.checkpoint


async def fork_at(pilot: Pilot[Any], app: DebuggerApp, step: int, edit: str) -> ForkEditScreen:
    """``t``, highlight the main branch's checkpoint after ``step``, ``f``, type ``edit``; the
    editor is returned before ``ctrl+s``."""
    browser = await open_browser(pilot, app)
    await highlight(pilot, browser, "main", step)
    await pilot.press("f")
    await until(pilot, lambda: isinstance(app.screen, ForkEditScreen), "the fork editor")
    editor = app.screen
    assert isinstance(editor, ForkEditScreen)
    editor.query_one("#fork-text", TextArea).text = edit
    return editor


async def switched(pilot: Pilot[Any], app: DebuggerApp, before: object) -> RunSession:
    """Until the debugger runs a new session (the fork), paused at its first phase."""
    await until(pilot, lambda: app.session is not before, "the fork's session")
    await settled(pilot, app)
    assert not isinstance(app.screen, (CheckpointScreen, ForkEditScreen))
    return run_of(app)


def all_nodes(node: TreeNode[Checkpoint]) -> list[TreeNode[Checkpoint]]:
    return [n for child in node.children for n in (child, *all_nodes(child))]


def prompt_text(step: Step) -> str:
    assert step.prompt is not None, f"step {step.number} has no recorded prompt"
    return "\n".join(m.content for m in step.prompt)


@pytest.mark.parametrize(
    ("edit", "history", "check"),
    [
        (
            '{"args": {"name": "Zed"}}',  # step 1 itself is made again, with Zed
            [],
            lambda steps: (
                steps[0].tool_call.args == {"name": "Zed"}
                and steps[0].tool_result.data == "Hello, Zed!"
                and "Hello, Zed!" in prompt_text(steps[1])
            ),
        ),
        (
            '{"result": "Hi there"}',  # step 1 returned this: the model reads it next
            ["greet"],
            lambda steps: (
                steps[0].tool_result.data == "Hi there"
                and "Hi there" in prompt_text(steps[1])
                and "Hello, Ada!" not in prompt_text(steps[1])
            ),
        ),
        (
            '{"messages": [{"role": "user", "content": "start over"}]}',
            ["greet"],
            lambda steps: (
                "start over" in prompt_text(steps[1]) and "Hello, Ada!" not in prompt_text(steps[1])
            ),
        ),
    ],
    ids=["args", "result", "messages"],
)
async def test_a_fork_runs_live_in_the_main_timeline_with_its_edit(
    edit: str, history: list[str], check: Any
) -> None:
    app = checkpointed_app(SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the original run's end")
        original = run_of(app)
        store = original.config.checkpoint
        assert store is not None
        main_before = [store.get(c) for c in store.list(original.state.run_id)]
        original.llm = MockLLMBackend([call("done", answer="forked")])
        editor = await fork_at(pilot, app, 1, edit)
        warning = str(editor.query_one("#fork-warning", Static).content)
        assert "#2 fail" in warning and "not rolled back" in warning
        assert not editor.query("#fork-stops")  # the run had ended: nothing is stopped
        await pilot.press("ctrl+s")
        forked = await switched(pilot, app, original)

        # paused before the branch's first model call, its history already on the timeline
        assert app.controller.pause_point is not None and not app.controller.finished
        assert [s.tool for s in steps_of(app)] == history
        assert forked.title.startswith(f"fork · branch {forked.state.branch_id} from #")
        assert f"fork · branch {forked.state.branch_id}" in screen_text(app)  # the header
        assert forked.state.branch_id != "main" and forked.state.run_id == original.state.run_id
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the fork's end")
        steps = steps_of(app)
        assert steps[-1].tool_result.data == "forked"
        assert check(steps), [s.pretty() for s in steps]
        if steps[0].prompt is None:  # restored, not unrecorded: the Prompt tab says which
            app.main.query_one(StepTimeline).select_step(1)
            await pilot.press("1")
            await settled(pilot, app)
            text = screen_text(app)
            assert "Step 1 was restored from" in text
            assert "did not keep prompts" not in text

        # the original branch is untouched; the fork nests under the checkpoint it came from
        (main,) = run_branches(store, original.state.run_id)
        assert [c.id for c in main.checkpoints] == [c.id for c in main_before]
        ((at, (branch,)),) = main.forks.items()
        assert store.get(at).step == 1 and branch.name == forked.state.branch_id
        browser = await open_browser(pilot, app)
        assert "2 branches" in screen_text(app)
        assert browser.snapshot is not None  # it opens where the debugged branch is
        assert browser.snapshot.checkpoint.branch_id == forked.state.branch_id


async def test_n_steps_the_forked_run() -> None:
    app = checkpointed_app(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the original run's end")
        original = run_of(app)
        original.llm = MockLLMBackend([call("greet", name="Eve"), call("done", answer="ok")])
        editor = await fork_at(pilot, app, 2, "{}")
        console = Console(width=80, file=io.StringIO(), color_system=None, record=True)
        console.print(editor.query_one("#fork-call", Static).content)
        preview = console.export_text()
        assert "The last call, greet:" in preview and "name  B" in preview  # drawn for reading
        await pilot.press("ctrl+s")
        await switched(pilot, app, original)
        assert app.controller.steps_done == 2  # the history up to the checkpoint, on screen
        assert "#2 greet(name='Bob')" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: app.controller.steps_done == 3, "step 3")
        await settled(pilot, app)
        assert app.controller.pause_point is not None and not app.controller.finished
        last = steps_of(app)[-1].tool_call
        assert last is not None and last.args == {"name": "Eve"}
        assert "#3 greet(name='Eve')" in screen_text(app)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the fork's end")
        assert app.controller.steps_done == 4


async def test_forking_a_paused_run_warns_and_stops_it_and_the_fork_asks_for_approval() -> None:
    app = checkpointed_app([call("greet", name="Ada"), call("rm", path="/tmp/a")])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the original run's approval")
        original, waiting = run_of(app), app.controller
        original.llm = MockLLMBackend([call("rm", path="/tmp/b"), call("done", answer="ok")])
        editor = await fork_at(pilot, app, 1, "{}")
        stops = str(editor.query_one("#fork-stops", Static).content)
        assert "has not finished: forking stops it (branch main)" in stops
        assert "checkpoints stay" in stops
        await pilot.press("ctrl+s")
        await switched(pilot, app, original)
        assert waiting.cancel_token.cancelled  # the run it replaced was stopped
        await pilot.press("c")
        await until(pilot, lambda: app.controller.approvals, "the fork's approval")
        await settled(pilot, app)
        assert app.controller.approvals[0].tool == "rm"
        text = screen_text(app)
        assert "Approval needed: step 2" in text and "path  /tmp/b" in text
        await pilot.press("a")
        await until(pilot, lambda: app.controller.finished, "the fork's end")
        rm = app.controller.step(2)
        assert rm is not None and rm.tool_result.data == "removed /tmp/b"


async def test_a_stopped_run_goes_on_when_its_newest_checkpoint_is_forked_unchanged() -> None:
    app = checkpointed_app([call("greet", name="Ada"), call("rm", path="/tmp/a")])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.approvals, "the original run's approval")
        original = run_of(app)
        original.llm = MockLLMBackend([call("done", answer="ok")])
        await fork_at(pilot, app, 1, '{"result": "Hi"}')
        await pilot.press("ctrl+s")
        first = await switched(pilot, app, original)  # main stopped, waiting for approval
        store = first.config.checkpoint
        assert store is not None
        main = [c for c in map(store.get, store.list(first.state.run_id)) if c.branch_id == "main"]
        browser = await open_browser(pilot, app)
        await highlight(pilot, browser, "main", main[-1].step, main[-1].reason)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ForkEditScreen), "the fork editor")
        app.screen.query_one("#fork-text", TextArea).text = "{}"
        await pilot.press("ctrl+s")
        await switched(pilot, app, first)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.approvals, "the approval it stopped at")
        request = app.controller.approvals[0]
        assert (request.step, request.tool, request.args) == (2, "rm", {"path": "/tmp/a"})
        assert [s.tool for s in steps_of(app)] == ["greet", "rm"]


async def test_a_paused_run_is_not_stopped_when_the_fork_is_cancelled() -> None:
    app = checkpointed_app(GREET3, start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        for _ in range(2):
            await pilot.press("n")
            await settled(pilot, app)
        assert app.controller.steps_done == 2
        original, paused = app.session, app.controller
        editor = await fork_at(pilot, app, 1, '{"args": {"name": "Zed"}}')
        assert "forking stops it" in str(editor.query_one("#fork-stops", Static).content)
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause()
        assert app.session is original and app.controller is paused
        assert not paused.cancel_token.cancelled and paused.pause_point is not None


async def test_two_forks_nest_at_their_checkpoints_and_the_tree_shows_the_state_then() -> None:
    app = checkpointed_app(GREET3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the original run's end")
        original = run_of(app)
        original.llm = MockLLMBackend([call("done", answer="first")])
        await fork_at(pilot, app, 1, '{"args": {"name": "Zed"}}')
        await pilot.press("ctrl+s")
        first = await switched(pilot, app, original)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the first fork's end")
        first.llm = MockLLMBackend([call("done", answer="second")])
        await fork_at(pilot, app, 2, '{"result": "Hi"}')  # from main, not from the first fork
        await pilot.press("ctrl+s")
        second = await switched(pilot, app, first)
        await pilot.press("c")
        await until(pilot, lambda: app.controller.finished, "the second fork's end")

        browser = await open_browser(pilot, app)
        text = screen_text(app)
        assert "3 branches" in text
        names = (first.state.branch_id, second.state.branch_id)
        assert all(f"branch {n}" in text for n in names)
        (main,) = run_branches(browser.store, browser.run_id)
        nested = {browser.store.get(at).step: [b.name for b in bs] for at, bs in main.forks.items()}
        assert nested == {1: [names[0]], 2: [names[1]]}
        tree: Tree[Checkpoint] = browser.query_one(Tree)
        heads = {str(n.label): n.parent for n in all_nodes(tree.root)}
        for name, step in zip(names, (1, 2), strict=True):  # drawn under their checkpoints
            under = heads[f"branch {name}"]
            assert under is not None and under.data is not None and under.data.step == step
        assert heads["branch main"] is tree.root

        await highlight(pilot, browser, "main", 1)  # the state as of then
        state = body_text(browser)
        assert re.search(r"steps done +1 *\n", state)
        assert "greet(name='Ada')" in state and "greet(name='Bob')" not in state
        await highlight(pilot, browser, names[1], 3)
        assert "Hi" in body_text(browser) and "second" in body_text(browser)


async def test_an_edit_that_does_not_fit_is_explained_and_nothing_is_forked() -> None:
    app = checkpointed_app(SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.finished, "the original run's end")
        original = app.session
        for edit, why in (
            ('{"args": 3}', "args must be a JSON object"),
            ('{"args": {"nom": "Zed"}}', "edited arguments for greet are invalid"),
        ):
            editor = await fork_at(pilot, app, 1, edit)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is editor
            assert why in str(editor.query_one("#fork-error", Static).content)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, CheckpointScreen)
            assert {
                c.branch_id
                for c in map(app.screen.store.get, app.screen.store.list(app.screen.run_id))
            } == {"main"}
            await pilot.press("escape")
            await pilot.pause()
        assert app.session is original


def test_a_fork_session_is_browsable_before_its_worker_starts() -> None:
    store = MemoryCheckpointStore()
    config = LoopConfig(max_steps=20, checkpoint=store)
    parent = RunSession(MockLLMBackend(GREET3), make_tools(), "t", config=config, title="t")
    list(
        composable_loop(
            llm=parent.llm, tools=parent.tools, task="t", config=config, state=parent.state
        )
    )
    at = next(store.get(c) for c in store.list(parent.state.run_id) if store.get(c).step == 2)
    session = branch_session(parent, store, at.id, {"args": {"name": "Zed"}})
    start = store.get(session.state.checkpoint_id or "")
    assert start.fork is not None and start.parent == at.id and start.branch_id != "main"
    assert session.config.checkpoint is store and session.resumer is not None
    assert f"from {at.describe()}" in session.title and "edit: args" in session.title
    browser = browser_for(session)
    assert isinstance(browser, CheckpointScreen)
    assert browser.run_id == parent.state.run_id and browser.session is session
