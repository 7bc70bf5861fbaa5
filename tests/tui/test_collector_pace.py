"""``CollectorPace`` raises the young collection threshold while the debugger is on screen and
puts the process's own setting back when the last debugger closes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from looplet_tui.app.collector import YOUNG_THRESHOLD, CollectorPace
from tests.tui.helpers import GREET3
from tests.tui.pilot import SIZE, app_for, settled


@pytest.fixture(autouse=True)
def own_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_hold_raises_only_the_young_threshold_and_release_restores_it() -> None:
    pace = CollectorPace()
    pace.hold()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    pace.release()
    assert gc.get_threshold() == (700, 10, 10)


def test_two_holders_share_it_and_only_the_last_release_restores() -> None:
    first, second = CollectorPace(), CollectorPace()
    first.hold()
    second.hold()
    first.release()
    first.release()  # a second release of the same holder counts once
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    second.release()
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_of_the_process_is_kept() -> None:
    gc.set_threshold(YOUNG_THRESHOLD * 3, 5, 5)
    pace = CollectorPace()
    pace.hold()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 3, 5, 5)
    pace.release()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 3, 5, 5)


def test_a_threshold_changed_while_held_is_not_overwritten_at_release() -> None:
    pace = CollectorPace()
    pace.hold()
    gc.set_threshold(1234, 10, 10)
    pace.release()
    assert gc.get_threshold() == (1234, 10, 10)


async def test_the_debugger_holds_it_while_on_screen_and_lets_go_when_it_closes() -> None:
    app = app_for(GREET3)
    assert gc.get_threshold()[0] == 700
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        await pilot.press("n")
        await pilot.pause()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_threshold() == (700, 10, 10)
