"""``SampleTotals`` converts only the samples that changed; its totals must always be exactly
what converting every sample gives, whatever the history did (grew, had its last sample
replaced, was cut back by a replay stepping back, cut back and grown again)."""

from __future__ import annotations

import random

from looplet_core import ContextStats
from looplet_tui.live.history import SampleTotals
from looplet_tui.live.runstate import Sample


def plain(samples: list[Sample]) -> tuple[float | None, ...]:
    return tuple(s.stats.total if s.stats else None for s in samples)


def sample(step: int, total: int | None) -> Sample:
    stats = None if total is None else ContextStats(by_role={"user": total}, total=total)
    return Sample(step, stats)


def test_totals_follow_every_kind_of_change_to_the_samples() -> None:
    rng = random.Random(7)
    samples: list[Sample] = []
    totals = SampleTotals()
    shown: tuple[float | None, ...] = ()
    for _ in range(2_000):
        action = rng.choice(["grow", "grow", "grow", "replace", "cut", "same"])
        if action == "grow":
            samples.append(sample(len(samples) + 1, rng.choice([None, rng.randint(1, 9_000)])))
        elif action == "replace" and samples:
            samples[-1] = sample(samples[-1].step, rng.randint(1, 9_000))
        elif action == "cut":
            del samples[rng.randint(0, len(samples)) :]
        update = totals.update(samples)
        if update is not None:
            shown = update
        assert shown == plain(samples)
        if action == "same":
            assert update is None  # nothing changed: nothing for the gauge to redraw
