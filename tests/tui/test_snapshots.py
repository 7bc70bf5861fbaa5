"""Snapshot tests of the debugger's main states at two terminal sizes, on deterministic runs.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and
look at the report before committing the new SVGs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.scenarios import SCENARIOS, Scenario

SIZES = [(120, 36), (80, 24)]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_screen(
    scenario: Scenario, size: tuple[int, int], traces: Path, snap_compare: Callable[..., bool]
) -> None:
    app = scenario.make(traces)

    async def ready(pilot: Any) -> None:
        await scenario.ready(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=ready)
