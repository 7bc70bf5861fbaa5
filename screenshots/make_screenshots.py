"""Write SVG screenshots of the debugger's main states into this directory (``make screenshots``).

The states are the snapshot tests' scenarios: the main views from ``tests/tui/scenarios.py`` and
the time-travel views (checkpoint tree, fork editor, prompt diff, run diff) from
``tests/tui/timetravel_scenarios.py``.  They run the scripted demo agent with a frozen clock and
no per-step durations, so the pictures are reproducible and show exactly what the snapshot tests
check.  Run from the repository root; name scenarios (``python screenshots/make_screenshots.py
run-diff``) to write only those.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App
from textual.pilot import Pilot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scenarios live with the tests

from tests.tui import scenarios, timetravel_scenarios  # noqa: E402

SIZE = (120, 36)
SMALL = (80, 24)
ALSO_SMALL = frozenset({"nested"})
"""Scenarios also written at ``SMALL`` (``<name>-80x24.svg``): a small terminal's layout differs."""
AppT = TypeVar("AppT", bound=App[Any])


async def shoot(
    app: App[Any],
    ready: Callable[[Pilot[Any]], Awaitable[None]],
    caption: str,
    size: tuple[int, int] = SIZE,
) -> str:
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.pause()
        return app.export_screenshot(title=f"looplet-tui · {caption}")


def bind(
    ready: Callable[[Pilot[Any], AppT], Awaitable[None]], app: AppT
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A scenario's ``ready`` with its app filled in.  The two scenario modules' ``ready`` take
    different app types (the debugger, or any app for the run diff); binding each to the app its
    own ``make`` built keeps that pairing checked."""
    return lambda pilot: ready(pilot, app)


def main(argv: list[str]) -> int:
    """Write every picture, or only those named on the command line (``checkpoint-tree ...``)."""
    out = Path(__file__).resolve().parent
    names = set(argv)
    known = {s.name for s in scenarios.SCENARIOS} | {s.name for s in timetravel_scenarios.SCENARIOS}
    if names - known:
        unknown = ", ".join(sorted(names - known))
        print(f"unknown: {unknown}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2

    def save(name: str, caption: str, svg: str) -> None:
        path = out / f"{name}.svg"
        path.write_text(svg, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}  {caption}")

    with tempfile.TemporaryDirectory() as tmp:
        for scenario in scenarios.SCENARIOS:
            if names and scenario.name not in names:
                continue
            app = scenario.make(Path(tmp))
            svg = asyncio.run(shoot(app, bind(scenario.ready, app), scenario.caption))
            save(scenario.name, scenario.caption, svg)
            if scenario.name in ALSO_SMALL:
                small = scenario.make(Path(tmp))
                ready = bind(scenario.ready, small)
                svg = asyncio.run(shoot(small, ready, scenario.caption, SMALL))
                save(f"{scenario.name}-80x24", scenario.caption, svg)
        for travel in timetravel_scenarios.SCENARIOS:
            if names and travel.name not in names:
                continue
            other = travel.make(Path(tmp))
            svg = asyncio.run(shoot(other, bind(travel.ready, other), travel.caption))
            save(travel.name, travel.caption, svg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
