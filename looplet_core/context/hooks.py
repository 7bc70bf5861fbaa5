"""The hooks that keep a run inside its context window, and the compaction they share.

* ``ThresholdCompactHook`` compacts the history when the prompt reaches the budget's ``compact``
  threshold, down to its ``target``.
* ``ContextPressureHook`` watches the tier: it emits a ``context_tier`` event on every change,
  tells the model once per climb that space is running out (at ``warning``), and at ``blocking``
  never lets an over-long prompt go out: it compacts, and if that is not enough it stops the run
  with stop reason ``context_exhausted`` (``ContextExhausted``, a ``Stop``).
* ``compact_after_overflow`` is what the loop does when the server itself says the prompt is too
  long (``ContextLengthError``): one compaction, then one retry.

Both hooks read ``prompt.stats`` (which the loop fills before ``pre_prompt`` hooks run) and so cost
a comparison per step; only a compaction looks at the messages.  Per-run memory (the last tier, the
warning given) is keyed on the run's meter, so one hook object can serve several runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from looplet_core.context.budget import ContextBudget, tier_rank
from looplet_core.context.compact import (
    CompactChain,
    CompactContext,
    CompactionStage,
    default_compactor,
    head_length,
    rewrite_problem,
)
from looplet_core.context.prompt import Prompt
from looplet_core.context.tokens import ContextMeter, resolve_budget
from looplet_core.decisions import ContextExhausted, InjectContext
from looplet_core.errors import ConfigError
from looplet_core.events import EventKind

__all__ = [
    "DEFAULT_WARNING",
    "CompactionReport",
    "ContextExhausted",
    "ContextPressureHook",
    "ThresholdCompactHook",
    "compact_after_overflow",
    "compact_prompt",
]

DEFAULT_WARNING = (
    "Context note: this conversation now fills {percent:.0f}% of your context window ({used:,} of "
    "{window:,} tokens). Ask tools for only what you need, avoid large outputs, and move towards "
    "finishing; older tool results may be cleared to make room."
)


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """One compaction of the run's history; ``to_dict()`` is the ``compaction`` event's data."""

    strategy: str
    trigger: str
    tokens_before: int
    tokens_after: int
    target: int
    messages_before: int
    messages_after: int
    removed: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    @property
    def changed(self) -> bool:
        return (
            self.messages_before != self.messages_after or self.tokens_after != self.tokens_before
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "trigger": self.trigger,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "target": self.target,
            "messages_before": self.messages_before,
            "messages_after": self.messages_after,
            "removed": self.removed,
        }


def compact_prompt(
    prompt: Prompt, compactor: CompactionStage, target: int, *, trigger: str
) -> CompactionReport:
    """Compact the run's history (``prompt.conversation``) towards ``target`` tokens.

    A valid rewrite replaces the history (so this request and every later one are smaller), and
    ``prompt.messages`` and ``prompt.stats`` are refreshed so that later hooks see the new size.
    A ``compaction`` event is emitted either way, saying what each stage removed or why not.
    """
    meter = prompt.meter if prompt.meter is not None else ContextMeter()
    conversation = prompt.conversation
    messages = list(conversation)
    ctx = CompactContext(
        target=target, meter=meter, llm=prompt.llm, window=meter.window, pairing=meter.pairing
    )
    # The history's costs come off the meter's tally, and stages carry theirs on (``_Carried``).
    carried = ctx.carried
    found = meter.conversation_costs(conversation)
    if found is not None:
        carried.carry(messages, *found)
    carried.held = True
    try:
        before = ctx._tokens(ctx._raw(messages)[1])  # pyright: ignore[reportPrivateUsage]
        out = compactor.compact(messages, ctx)
        after = before
        if out.messages is not messages:
            after = ctx._tokens(ctx._raw(out.messages)[1])  # pyright: ignore[reportPrivateUsage]
    finally:
        carried.clear()
    removed = list(out.stages) or [{"stage": compactor.name, "detail": out.detail}]
    result = messages
    if out.messages != messages:
        # A chain checked each stage's rewrite against its input, so its result keeps the head
        # and the pairing by construction (tests/core/test_context_compact.py proves it).
        checked = type(compactor) is CompactChain
        problem = None if checked else rewrite_problem(messages, out.messages)
        if problem is None:
            result = out.messages
        else:
            removed.append({"stage": compactor.name, "rejected": problem})
    if result is messages:
        after = before
    else:
        conversation.replace(result)
        prompt.messages = conversation.view()
        prompt.stats = meter.measure(prompt.messages, meter.last_tools, conversation)
    report = CompactionReport(
        compactor.name, trigger, before, after, target, len(messages), len(result), removed
    )
    if prompt.emit is not None:
        prompt.emit(EventKind.COMPACTION, **report.to_dict())
    return report


class _PerRun:
    """Budget and memory of a context hook for the run it is serving (keyed on the meter).

    The hooks run before every request, so what they read each step is read off here: the
    budget's compaction threshold and target (a budget never changes)."""

    __slots__ = ("budget", "limit", "meter", "stalled_at", "target", "tier", "warned")

    def __init__(self, meter: ContextMeter, budget: ContextBudget) -> None:
        self.meter = meter
        self.budget = budget
        self.limit = budget.compact_tokens
        self.target = budget.target_tokens
        self.tier = "ok"
        self.warned = False
        self.stalled_at: tuple[int, float] | None = None  # size and calibration at a no-op


class ThresholdCompactHook:
    """Compact when the prompt reaches the budget's ``compact`` threshold, down to its target.

    ``compactor`` defaults to ``default_compactor()`` (Prune, then Truncate: no model call).
    ``budget`` defaults to the run's (``LoopConfig.context_budget``).  List this hook before hooks
    that edit the prompt per request: a compaction replaces the history such edits were made to.
    ``reports`` keeps every compaction it made.  After a compaction that removed nothing, the next
    attempt waits until the prompt has grown by a tenth of the threshold, so a stuck history
    is not re-scanned (and reported) on every step.
    """

    name = "threshold_compact"

    def __init__(
        self, compactor: CompactionStage | None = None, *, budget: ContextBudget | None = None
    ) -> None:
        self.compactor = compactor if compactor is not None else default_compactor()
        self.budget = budget
        self.reports: list[CompactionReport] = []
        self._run: _PerRun | None = None

    def pre_prompt(self, state: object, log: object, ctx: Prompt, step: int) -> None:
        meter, stats = ctx.meter, ctx.stats
        if meter is None or stats is None:
            return
        run = self._run
        if run is None or run.meter is not meter:
            run = self._run = _PerRun(meter, resolve_budget(self.budget, meter))
        limit, target = run.limit, run.target
        total = stats.total
        if limit is None or target is None or total < limit:
            return
        ratio = meter.ratio  # a recalibration changes every figure: the stall no longer holds
        stall = run.stalled_at
        if stall is not None and stall[1] == ratio and total < stall[0] + limit // 10:
            return
        report = compact_prompt(ctx, self.compactor, target, trigger="threshold")
        self.reports.append(report)
        run.stalled_at = None if report.changed else (report.tokens_before, ratio)


class ContextPressureHook:
    """Tier events, one warning per climb, and no over-long prompt ever sent.

    ``on_block="compact"`` (the default) compacts with ``compactor`` (default: Prune, then
    Truncate) when the prompt reaches ``block``, and stops the run with ``context_exhausted`` only
    if it still does not fit; ``on_block="stop"`` stops at once.  ``warning`` is the text the model
    gets at the warning tier; it may use ``{percent}``, ``{used}`` and ``{window}``.
    """

    name = "context_pressure"

    def __init__(
        self,
        budget: ContextBudget | None = None,
        *,
        on_block: Literal["compact", "stop"] = "compact",
        compactor: CompactionStage | None = None,
        warning: str = DEFAULT_WARNING,
    ) -> None:
        if on_block not in ("compact", "stop"):
            raise ConfigError(f"on_block must be 'compact' or 'stop', got {on_block!r}")
        self.budget = budget
        self.on_block = on_block
        self.compactor = compactor if compactor is not None else default_compactor()
        self.warning = warning
        self.reports: list[CompactionReport] = []
        self._run: _PerRun | None = None

    def pre_prompt(
        self, state: object, log: object, ctx: Prompt, step: int
    ) -> InjectContext | ContextExhausted | None:
        meter, stats = ctx.meter, ctx.stats
        if meter is None or stats is None:
            return None
        run = self._run
        if run is None or run.meter is not meter:
            run = self._run = _PerRun(meter, resolve_budget(self.budget, meter))
        budget = run.budget
        tier = budget.tier(stats.total)
        if tier == "ok" and run.tier == "ok":  # the usual step: nothing changed, nothing to say
            run.warned = False
            return None
        tier = self._observe(run, ctx, tier)
        if tier == "blocking":
            block = budget.block_tokens or 0
            before = stats.total
            if self.on_block == "compact":
                target = min(budget.target_tokens or block, block - 1)
                self.reports.append(compact_prompt(ctx, self.compactor, target, trigger="blocking"))
                stats = ctx.stats  # refreshed by the compaction
                assert stats is not None
                tier = self._observe(run, ctx, budget.tier(stats.total))
            if tier == "blocking":
                return ContextExhausted(self._exhausted(ctx, budget, before))
        if tier == "ok":
            run.warned = False
        elif not run.warned:
            run.warned = True
            window = meter.window or budget.block_tokens or stats.total
            return InjectContext(
                self.warning.format(
                    percent=100.0 * stats.total / window, used=stats.total, window=window
                )
            )
        return None

    def _observe(self, run: _PerRun, ctx: Prompt, tier: str) -> str:
        assert ctx.stats is not None and ctx.meter is not None
        if tier != run.tier:
            if ctx.emit is not None:
                ctx.emit(
                    EventKind.CONTEXT_TIER,
                    tier=tier,
                    previous=run.tier,
                    rising=tier_rank(tier) > tier_rank(run.tier),
                    tokens=ctx.stats.total,
                    window=ctx.meter.window,
                    percent=ctx.stats.percent,
                )
            run.tier = tier
        return tier

    def _exhausted(self, ctx: Prompt, budget: ContextBudget, before: int) -> str:
        assert ctx.stats is not None and ctx.meter is not None
        limit = budget.block_tokens or 0
        window = f"{ctx.meter.window:,}" if ctx.meter.window else "unknown"
        messages = list(ctx.messages)
        core = ctx.meter.count(messages[: head_length(messages)], ctx.meter.last_tools)
        if core >= limit:
            return (
                f"the system prompt, tool schemas and task alone need about {core:,} tokens, "
                f"over the blocking limit of {limit:,} (window: {window} tokens); shorten "
                "them or use a model with a larger window"
            )
        tried = (
            f"; compaction brought it from {before:,} down to only {ctx.stats.total:,}"
            if self.on_block == "compact"
            else ""
        )
        return (
            f"the prompt needs about {ctx.stats.total:,} tokens, over the blocking limit of "
            f"{limit:,} (window: {window} tokens){tried}"
        )


def _run_compactor(hooks: Sequence[object]) -> CompactionStage:
    """The compactor of the run's first context hook, else the default (Prune, then Truncate)."""
    for hook in hooks:
        compactor: object = getattr(hook, "compactor", None)
        if isinstance(compactor, CompactionStage):
            return compactor
    return default_compactor()


def compact_after_overflow(prompt: Prompt, hooks: Sequence[object]) -> CompactionReport:
    """The server rejected ``prompt`` as too long: compact the history once, for one retry.

    Uses the compactor of the run's first context hook (or Prune, then Truncate) and aims at the
    budget's target, or at three quarters of the rejected prompt when the window is unknown.
    """
    meter = prompt.meter if prompt.meter is not None else ContextMeter()
    meter.note_overflow()
    size = meter.count(list(prompt.messages), meter.last_tools)
    target = meter.budget.target_tokens
    if target is None or target >= size:
        target = size * 3 // 4
    return compact_prompt(prompt, _run_compactor(hooks), target, trigger="context_length_error")
