"""The debugger's keys, in one table: bindings, the footer, the ``?`` screen and the palette.

Each entry is ``(key, action, footer label, what it does)``.  An empty label keeps the key out of
the footer (it is still in ``?`` and the palette).  ``what`` reads ``Title: details``; the title
names the command in the palette.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from textual.app import App, SystemCommand
from textual.binding import Binding

from looplet_tui.screens.help import key_display

__all__ = ["KEYS", "KEY_BINDINGS", "debugger_commands", "footer_order"]

KEYS: tuple[tuple[str, str, str, str], ...] = (
    # key, action, footer label, what it does (help screen, palette, footer tooltip)
    ("n", "next_step", "Next", "Next step: run until the next step is recorded"),
    ("space", "play_pause", "Play", "Play or pause the replay at its speed (stops at breakpoints)"),
    ("left", "step_back", "", "Step back: the replay forgets its newest step"),
    ("right", "step_forward", "", "Step forward: the replay plays its next step (as n does)"),
    ("plus", "faster", "", "Faster: play more replayed steps a second"),
    ("minus", "slower", "", "Slower: play fewer replayed steps a second"),
    ("colon", "seek", "Go to", "Go to step: move the replay's playhead to a step number"),
    (
        "s",
        "next_phase",
        "Phase",
        "Next phase: run to the next of pre_prompt, pre_dispatch, post_dispatch, check_done",
    ),
    (
        "i",
        "step_into",
        "Into",
        "Step into: at a stop before a sub-agent's call, stop at the sub-agent's first step "
        "(before any other call, as s)",
    ),
    (
        "o",
        "step_out",
        "Out",
        "Step out: run to the end of the sub-agent the run is stopped in, and stop at the "
        "parent step that ran it",
    ),
    ("c", "resume", "Continue", "Continue: run until a breakpoint, an approval or the end"),
    ("p", "pause", "Pause", "Pause: stop at the next phase the run reaches"),
    ("b", "toggle_breakpoint", "Break", "Toggle a breakpoint before the selected step's tool"),
    ("B", "breakpoints", "Breakpoints", "Breakpoints: add, edit, enable, save and load"),
    ("a", "approve", "Approve", "Approve the waiting call"),
    ("A", "approve_always", "Always", "Approve always: this call and every later one of its tool"),
    ("d", "deny", "Deny", "Deny the waiting call"),
    ("D", "deny_with_message", "Deny+msg", "Deny with a message to the model"),
    (
        "e",
        "edit",
        "Edit",
        "Edit: the waiting call's arguments (then approve), or at a stop the prompt, the call "
        "or the result about to be used",
    ),
    ("x", "skip_call", "Skip", "Skip: at pre_dispatch, do not run the call; the model reads why"),
    ("u", "undo_edit", "Undo edit", "Undo edit: drop the edit staged at this stop"),
    ("R", "rerun", "Re-run", "Re-run live from the selected replayed step, with a model or tools"),
    (
        "slash",
        "search",
        "Search",
        "Search: the timeline; in a replay, every prompt, response and result",
    ),
    ("right_square_bracket", "next_match", "", "Next match: the next step the search found"),
    ("left_square_bracket", "prev_match", "", "Previous match: the previous step it found"),
    ("F", "filter", "Filter", "Filter: show only the steps of one tool or one status"),
    ("t", "checkpoints", "", "Checkpoints: the run's branch tree; pick one to see the state then"),
    ("1", "tab('prompt')", "", "Prompt tab: the exact messages the model saw"),
    ("2", "tab('response')", "", "Response tab: text, reasoning, tool calls"),
    ("3", "tab('tool')", "", "Tool call tab: arguments and hook decisions"),
    ("4", "tab('result')", "", "Result tab: the tool's result or error"),
    ("5", "tab('diff')", "", "Prompt diff tab: what changed since the previous model call"),
    ("f", "toggle_fold", "", "Fold: fold or unfold long messages and blocks in every tab"),
    (
        "r",
        "toggle_raw",
        "",
        "Raw: calls and results as their exact JSON, or drawn for reading (code, diff, shell)",
    ),
    ("question_mark", "help", "Keys", "Keys: this list"),
    ("q", "quit", "Quit", "Quit: cancel the run and leave"),
)


KEY_BINDINGS: tuple[Binding, ...] = tuple(
    Binding(key, action, label or what.split(":")[0], show=bool(label), tooltip=what)
    for key, action, label, what in KEYS
)
"""The table as bindings, in its order (the ``?`` screen's order)."""

FOOTER_FIRST = (
    "help",
    "quit",
    "approve",
    "approve_always",
    "deny",
    "deny_with_message",
    "edit",
    "skip_call",
    "undo_edit",
)
"""Actions the footer shows before all others: it cuts at the right edge, and these must stay."""


def footer_order(bindings: Sequence[Binding]) -> list[Binding]:
    """``bindings`` with ``FOOTER_FIRST``'s actions first; the rest keep the table's order."""
    first = {action: n for n, action in enumerate(FOOTER_FIRST)}
    return sorted(bindings, key=lambda b: first.get(b.action, len(first)))


def debugger_commands(app: App[int], available: Callable[[str], bool]) -> Iterator[SystemCommand]:
    """This mode's commands for the palette (``ctrl+p``), with the key to press next time."""
    for key, action, _, what in KEYS:
        if not available(action):
            continue
        title, _, more = what.partition(": ")
        yield SystemCommand(title, f"{more or title} ({key_display(key)})", _runner(app, action))


def _runner(app: App[int], action: str) -> Callable[[], object]:
    async def run() -> None:
        await app.run_action(action)

    return run
