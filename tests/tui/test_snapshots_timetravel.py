"""Snapshot tests of the time-travel views (checkpoint tree, fork editor, prompt diff, run diff) at
two terminal sizes, on deterministic runs (``tests/tui/timetravel_scenarios.py`` says how).

Update after an intended change with
``pytest tests/tui/test_snapshots_timetravel.py --snapshot-update`` and look at the report before
committing the new SVGs: ``make screenshots`` draws the same states for the docs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.timetravel_scenarios import SCENARIOS, Scenario

SIZES = [(120, 36), (80, 24)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the module: the run diff's two traces are recorded once, not per size."""
    return tmp_path_factory.mktemp("timetravel")


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_screen(
    scenario: Scenario, size: tuple[int, int], scratch: Path, snap_compare: Callable[..., bool]
) -> None:
    app = scenario.make(scratch)

    async def ready(pilot: Any) -> None:
        await scenario.ready(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=ready)
