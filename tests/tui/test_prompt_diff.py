"""Prompt diff: what changed in the prompt since the previous model call, and which hook did it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.widgets import TabbedContent

from looplet_core import (
    ContextBudget,
    HookDecision,
    LLMCall,
    LoopConfig,
    Message,
    Step,
    ThresholdCompactHook,
    ToolCall,
)
from looplet_tui.text.promptdiff import diff_messages, previous_call_step, prompt_diff, same_message
from looplet_tui.widgets.details import StepDetails
from looplet_tui.widgets.timeline import StepTimeline

from .helpers import GREET3, call
from .pilot import SIZE, app_for, screen_text, settled, until
from .scenarios import make_replay

SYSTEM = Message("system", "You are helpful.")
TASK = Message("user", "greet people")
CALL = Message("assistant", "", (ToolCall("greet", {"name": "Ada"}, id="c1"),))
RESULT = Message("tool", "Hello, Ada!", tool_call_id="c1", name="greet")


def step(number: int, prompt: list[Message] | None, call_index: int, *decisions: Any) -> Step:
    return Step(
        number,
        llm_call=LLMCall(index=call_index),
        prompt=None if prompt is None else tuple(prompt),
        decisions=list(decisions),
    )


def test_a_growing_conversation_shows_only_added_messages() -> None:
    kept, changes = diff_messages([SYSTEM, TASK], [SYSTEM, TASK, CALL, RESULT])
    assert kept == 2
    assert [(c.kind, c.index) for c in changes] == [("added", 3), ("added", 4)]


def test_a_shortened_result_is_a_rewrite_with_the_lines_taken_out() -> None:
    before = [SYSTEM, TASK, CALL, replace(RESULT, content="line one\nHello, Ada!\nline three")]
    after = [SYSTEM, TASK, CALL, replace(RESULT, content="line one\n[cleared]")]
    kept, changes = diff_messages(before, after)
    assert kept == 3
    (change,) = changes
    assert (change.kind, change.index) == ("rewritten", 4)
    assert change.removed == "Hello, Ada!\nline three" and change.added == "[cleared]"


def test_dropped_turns_are_removed_and_a_new_note_is_added() -> None:
    note = Message("user", "[earlier conversation removed]")
    kept, changes = diff_messages([SYSTEM, TASK, CALL, RESULT], [SYSTEM, TASK, note])
    assert kept == 2
    assert sorted((c.kind, c.index) for c in changes) == [
        ("added", 3),
        ("removed", 3),
        ("removed", 4),
    ]


def test_same_message_needs_the_same_role_and_call_ids() -> None:
    assert same_message(RESULT, replace(RESULT, content="other"))
    assert not same_message(RESULT, replace(RESULT, tool_call_id="c2"))
    other_call = Message("assistant", "", (ToolCall("greet", {"name": "Bo"}, id="c9"),))
    assert not same_message(CALL, other_call)
    assert not same_message(TASK, Message("user", "something else entirely"))


def test_the_diff_is_against_the_previous_model_call_and_names_the_hook() -> None:
    first = step(1, [SYSTEM, TASK], 1)
    sibling = step(2, [SYSTEM, TASK], 1)  # same reply, same prompt
    rewrite = HookDecision("shrink", "pre_prompt", "rewrite_history")
    later = step(3, [SYSTEM, TASK, CALL], 2, rewrite, HookDecision("x", "pre_dispatch", "allow"))
    steps = {s.number: s for s in (first, sibling, later)}
    assert previous_call_step(sibling, steps.get) is None
    assert previous_call_step(later, steps.get) is sibling
    diff = prompt_diff(later, sibling)
    assert diff is not None and diff.causes == (rewrite,)
    assert diff.summary() == "since step 2's model call: 2 kept, 1 added"
    opening = prompt_diff(first, None)
    assert opening is not None and opening.summary().startswith("the run's first model call")
    assert prompt_diff(step(4, None, 3), later) is None


class RedactNames:
    """A pre_prompt hook that rewrites the history once two results are in: they lose "Ada"."""

    name = "redact_names"

    def pre_prompt(self, state: Any, log: Any, ctx: Any, step: int) -> None:
        messages = list(state.conversation)
        results = [m for m in messages if m.role == "tool"]
        if len(results) >= 2 and any("Ada" in m.content for m in results):
            state.conversation.replace(
                [
                    replace(m, content=m.content.replace("Ada", "[name]"))
                    if m.role == "tool"
                    else m
                    for m in messages
                ]
            )


async def select_step(pilot: Any, app: Any, number: int) -> None:
    timeline = app.query_one(StepTimeline)
    timeline.focus()
    for _ in range(60):
        if getattr(timeline.selected, "number", None) == number:
            break
        await pilot.press("k")
    assert getattr(timeline.selected, "number", None) == number
    await pilot.press("5")
    await pilot.pause()
    assert app.query_one(StepDetails).query_one(TabbedContent).active == "tab-diff"


async def test_prompt_diff_after_a_hook_rewrites_the_history() -> None:
    app = app_for(GREET3, start_paused=False, hooks=[RedactNames()])
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await until(pilot, lambda: app.controller.finished, "the end")
        await select_step(pilot, app, 3)
        text = screen_text(app)
        assert "since step 2's model call: 3 kept, 2 added, 1 rewritten" in text
        assert "changed by redact_names (pre_prompt: rewrite_history)" in text
        assert "~ rewritten · message" in text and "tool (greet)" in text
        assert "- Hello, Ada!" in text and "+ Hello, [name]!" in text  # literal, not markup
        await select_step(pilot, app, 1)
        assert "the run's first model call" in screen_text(app)


async def test_prompt_diff_after_a_compaction() -> None:
    long = [call("greet", name="x" * 400) for _ in range(6)] + [call("done", answer="x")]
    config = LoopConfig(
        max_steps=20, context_window=1200, context_budget=ContextBudget(warn=0.4, compact=0.5)
    )
    app = app_for(long, start_paused=False, config=config, hooks=[ThresholdCompactHook()])
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await until(pilot, lambda: app.controller.finished, "the end")
        compacted = next(
            s.number
            for s in (app.controller.step(n) for n in range(1, 8))
            if s is not None and any(d.hook == "threshold_compact" for d in s.decisions)
        )
        await select_step(pilot, app, compacted)
        text = screen_text(app)
        assert f"since step {compacted - 1}'s model call" in text
        assert "changed by threshold_compact (pre_prompt: rewrite_history)" in text
        assert "− removed · message" in text


async def test_prompt_diff_in_a_replay_reads_both_prompts_from_the_trace(tmp_path: Path) -> None:
    app = make_replay(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        for _ in range(2):
            await pilot.press("n")
            await pilot.pause()
        await until(pilot, lambda: app.controller.step(2) is not None, "step 2 replayed")
        await select_step(pilot, app, 2)
        text = screen_text(app)
        assert "since step 1's model call" in text and "+ added · message" in text
