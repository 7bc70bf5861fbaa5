"""``RunHeader``: one line saying what the run is doing, and where it stopped and why."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from looplet_tui.live.history import RunHistory
from looplet_tui.live.runstate import PausePoint, RunState
from looplet_tui.text.safe import clean

__all__ = ["RunHeader", "describe_pause", "describe_run", "format_duration", "format_tokens"]

_ICONS = {
    RunState.RUNNING: "●",
    RunState.PAUSED: "⏸",
    RunState.AWAITING_APPROVAL: "⏸",
    RunState.DONE: "✓",
    RunState.FAILED: "✗",
}


def format_tokens(n: int) -> str:
    """``950``, ``12.3k``, ``1.2M``: short enough for a header."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
        if hours
        else f"{rest // 60:02d}:{rest % 60:02d}"
    )


class RunHeader(Widget):
    """The run's state, step count, model, tokens and elapsed time; the pause reason on line two.

    The state is spelled out in words as well as coloured, so it reads the same in a screenshot,
    on a monochrome terminal and to a screen reader.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "run-header--title",
        "run-header--running",
        "run-header--paused",
        "run-header--awaiting",
        "run-header--done",
        "run-header--failed",
        "run-header--dim",
    }

    DEFAULT_CSS = """
    RunHeader {
        height: 2;
        padding: 0 1;
        background: $panel;
        & > .run-header--title { text-style: bold; }
        & > .run-header--running { color: $success; text-style: bold; }
        & > .run-header--paused { color: $warning; text-style: bold; }
        & > .run-header--awaiting { color: $accent; text-style: bold reverse; }
        & > .run-header--done { color: $primary; text-style: bold; }
        & > .run-header--failed { color: $error; text-style: bold; }
        & > .run-header--dim { color: $text-muted; }
    }
    """

    title: reactive[str] = reactive("")
    """What is being debugged: the task, the agent file, or the trace."""
    run_state: reactive[RunState] = reactive(RunState.RUNNING)
    """Running, paused, awaiting approval, done or failed."""
    detail: reactive[str] = reactive("")
    """Where and why the run stopped, or how it ended."""
    step: reactive[int] = reactive(0)
    """Steps recorded so far."""
    max_steps: reactive[int | None] = reactive(None)
    """The run's step budget, when known."""
    model: reactive[str] = reactive("")
    """The model that answered last."""
    tokens_in: reactive[int] = reactive(0)
    """Input tokens used so far (reported by the server, or estimated)."""
    tokens_out: reactive[int] = reactive(0)
    """Output tokens used so far."""
    elapsed: reactive[float] = reactive(0.0)
    """Seconds since the run started."""
    replay: reactive[bool] = reactive(False)
    """True when stepping through a recording: nothing runs."""

    def render(self) -> Text:
        state = self.run_state
        style = self.get_component_rich_style(f"run-header--{_component(state)}")
        dim = self.get_component_rich_style("run-header--dim")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {_ICONS[state]} {state.value.upper()} ", style=style)
        if self.replay:
            line.append(" REPLAY ", style=dim + style)
        line.append("  ")
        budget = f"/{self.max_steps}" if self.max_steps else ""
        parts = [f"step {self.step}{budget}"]
        if self.model:
            parts.append(_short_model(clean(self.model)))
        parts.append(f"{format_tokens(self.tokens_in)} in · {format_tokens(self.tokens_out)} out")
        parts.append(format_duration(self.elapsed))
        stats = Text("  ·  ".join(parts), style=dim, no_wrap=True)
        # Line two is why the run stopped: it always starts there, whatever the width.  The
        # title gives way first (shortened), then the figures move after the reason.
        title = Text(clean(self.title), style=self.get_component_rich_style("run-header--title"))
        room = self.size.width - line.cell_len - stats.cell_len - 2
        detail = Text(clean(self.detail), style=dim, no_wrap=True, overflow="ellipsis")
        if room >= min(title.cell_len, _MIN_TITLE):
            if title.cell_len > room:
                title.truncate(room, overflow="ellipsis")
            line.append_text(title)
            line.append(" " * (self.size.width - line.cell_len - stats.cell_len))
            line.append_text(stats)
        else:
            line.append_text(title)
            detail.append("  ·  " if self.detail else "")
            detail.append_text(stats)
        for part in (line, detail):  # joined lines wrap: cut each at the edge instead
            part.truncate(self.size.width, overflow="ellipsis")
        return Text("\n").join([line, detail])


_MIN_TITLE = 12
"""Columns of the title worth keeping on line one before the figures move to line two."""


def _component(state: RunState) -> str:
    return {RunState.AWAITING_APPROVAL: "awaiting"}.get(state, state.value)


def describe_pause(point: PausePoint | None) -> str:
    """``stopped at step 2 pre_dispatch · step``; inside a sub-agent the breadcrumb to it comes
    first and the step is the sub-agent's: ``run › researcher · stopped at step 1 ...``."""
    if point is None:
        return ""
    where = f"run › {point.agent} · " if point.agent else ""
    return f"{where}stopped at step {point.step} {point.phase.value} · {point.reason}"


def describe_run(run: RunHistory) -> str:
    """The header's second line: where and why the run stopped, what it does, or how it ended;
    and which sub-agents' stops wait their turn (``RunHistory.waiting``)."""
    waits = run.waiting
    if not waits:
        return _describe_run(run)
    names = ", ".join(waits)
    note = f"{names} wait{'s' if len(waits) == 1 else ''} to stop"
    text = _describe_run(run)
    # Next to the breadcrumb, not at the end, so a narrow terminal cuts the reason, not the note.
    crumb, sep, rest = text.partition(" · ")
    if sep and crumb.startswith("run › "):
        return f"{crumb} ({note}) · {rest}"
    return f"{text} · {note}"


def _describe_run(run: RunHistory) -> str:
    if run.run_state is RunState.PAUSED:
        return describe_pause(run.pause_point)
    waiting = list(run.approvals)  # the worker may change it while we read
    if run.run_state is RunState.AWAITING_APPROVAL and waiting:
        first = waiting[0]
        nested = first.nested
        where = f" in {nested.where}" if nested is not None else ""
        return (
            f"step {first.step} waits for approval of {first.call_tool}{where}: a approve · d deny"
        )
    if run.run_state is RunState.FAILED:
        return f"failed: {run.error}"
    if run.result is not None:
        answer = run.result.answer_text
        shown = f" · answer: {answer[:300]}" if answer else ""
        return f"{run.result.stop_reason.value}: {run.result.message}{shown}"
    live = run.live
    return live.activity if live is not None else ""


_MODEL_CHARS = 28


def _short_model(model: str) -> str:
    """The model as the header has room for it: a local server names it by its file path, of
    which the file name says it; anything longer than ``_MODEL_CHARS`` ends in an ellipsis."""
    name = model.rsplit("/", 1)[-1] if model.startswith(("/", "./", "~")) else model
    return name if len(name) <= _MODEL_CHARS else name[: _MODEL_CHARS - 1] + "…"
