"""``ContextBudget``: how full the context window may get before the loop acts, in four tiers.

===========  ================================================================================
tier         meaning: a prompt is in the highest tier whose threshold its total reaches
===========  ================================================================================
ok           below ``warn``
warning      at or above ``warn``: ``ContextPressureHook`` tells the model, once, to economise
compact      at or above ``compact``: ``ThresholdCompactHook`` compacts down to ``target``
blocking     at or above ``block``: sending is unsafe; ``ContextPressureHook`` compacts or stops
===========  ================================================================================

Thresholds are fractions of the window (floats in (0, 1]) or token counts (ints), and may be mixed.
A budget whose thresholds fall instead of rising is refused with ``ConfigError`` as soon as it can
be checked: at construction when comparable, else when the window becomes known.  ``window=None``
means "the run's": ``LoopConfig.context_window``, else the backend's ``context_window`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import UnionType

from looplet_core.errors import ConfigError

__all__ = ["TIERS", "ContextBudget", "Threshold", "tier_rank"]

TIERS = ("ok", "warning", "compact", "blocking")
"""The tiers from least to most pressure; ``ContextStats.tier`` holds one of them."""

Threshold = float | int | None
"""A fraction of the window (float in (0, 1]), a token count (int >= 1), or None (tier off)."""

_RANK = {tier: rank for rank, tier in enumerate(TIERS)}
_NAMES = ("warn", "compact", "block")


def tier_rank(tier: str) -> int:
    """0 for ok up to 3 for blocking, so tiers compare by pressure."""
    return _RANK.get(tier, 0)


def _is_number(value: object, kind: type | UnionType) -> bool:
    """Checked at run time too: callers need not use a type checker.  bool is not a number here."""
    return isinstance(value, kind) and not isinstance(value, bool)


def _check_threshold(name: str, value: Threshold) -> None:
    if value is None:
        return
    if not _is_number(value, int | float):
        raise ConfigError(
            f"ContextBudget {name} must be a float fraction or an int token count, got {value!r}"
        )
    if isinstance(value, float) and not 0.0 < value <= 1.0:
        raise ConfigError(
            f"ContextBudget {name}={value} is a fraction, so it must be in (0, 1]; "
            "pass an int for a token count"
        )
    if isinstance(value, int) and value < 1:
        raise ConfigError(f"ContextBudget {name}={value} must be at least 1 token")


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """Window plus warn / compact / block thresholds, and the ``target`` compaction aims under.

    ``target`` defaults to ``warn`` (so a compaction lands back in the ok tier), else to 80% of
    ``compact``.  ``ContextBudget(warn=0.9, compact=0.8)`` raises ``ConfigError``: out of order.
    """

    window: int | None = None
    warn: Threshold = 0.7
    compact: Threshold = 0.85
    block: Threshold = 0.95
    target: Threshold = None
    _levels: tuple[int | None, int | None, int | None, int | None] = field(
        init=False, repr=False, compare=False, default=(None, None, None, None)
    )

    def __post_init__(self) -> None:
        if self.window is not None and (not _is_number(self.window, int) or self.window < 1):
            raise ConfigError(
                f"ContextBudget window must be a positive token count, got {self.window!r}"
            )
        for name in (*_NAMES, "target"):
            _check_threshold(name, getattr(self, name))
        for low, high in (("warn", "compact"), ("compact", "block"), ("warn", "block")):
            a, b = getattr(self, low), getattr(self, high)
            self._check_order(a, b, f"{low} ({a}) is above {high} ({b})")
        if self.target is not None and self.compact is not None:
            self._check_order(
                self.target,
                self.compact,
                f"target ({self.target}) is not below compact ({self.compact})",
                strict=True,
            )
        levels = tuple(self._tokens(t) for t in (self.warn, self.compact, self.block, self.target))
        if self.window is not None:
            for name, level in zip((*_NAMES, "target"), levels, strict=True):
                if level is not None and level > self.window:
                    raise ConfigError(
                        f"ContextBudget {name} of {level} tokens is larger than the "
                        f"window of {self.window} tokens"
                    )
        object.__setattr__(self, "_levels", levels)

    def _tokens(self, value: Threshold) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            return int(value * self.window) if self.window is not None else None
        return value

    def _check_order(
        self, low: Threshold, high: Threshold, what: str, *, strict: bool = False
    ) -> None:
        if low is None or high is None:
            return
        if isinstance(low, float) == isinstance(high, float):
            a, b = float(low), float(high)
        else:
            a_tokens, b_tokens = self._tokens(low), self._tokens(high)
            if a_tokens is None or b_tokens is None:
                return  # a fraction and a token count: comparable once the window is known
            a, b = float(a_tokens), float(b_tokens)
        if a > b or (strict and a >= b):
            raise ConfigError(
                f"ContextBudget thresholds out of order: {what}; they must rise "
                "warn <= compact <= block, with target below compact"
            )

    def with_window(self, window: int | None) -> ContextBudget:
        """This budget with ``window`` filled in (its own window, when set, wins)."""
        if self.window is not None or window is None:
            return self
        return replace(self, window=window)

    @property
    def warn_tokens(self) -> int | None:
        return self._levels[0]

    @property
    def compact_tokens(self) -> int | None:
        return self._levels[1]

    @property
    def block_tokens(self) -> int | None:
        return self._levels[2]

    @property
    def target_tokens(self) -> int | None:
        """Where compaction aims: ``target``, else ``warn``, else 80% of ``compact``."""
        target, warn, compact = self._levels[3], self._levels[0], self._levels[1]
        if target is not None:
            return target
        if warn is not None and (compact is None or warn < compact):
            return warn
        if compact is not None:
            return int(compact * 0.8)
        return None

    @property
    def resolved(self) -> bool:
        """True when at least one threshold is known in tokens (else every prompt is "ok")."""
        return any(level is not None for level in self._levels[:3])

    def tier(self, total: int) -> str:
        warn, compact, block, _ = self._levels
        if block is not None and total >= block:
            return "blocking"
        if compact is not None and total >= compact:
            return "compact"
        if warn is not None and total >= warn:
            return "warning"
        return "ok"
