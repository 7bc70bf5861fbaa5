"""Write SVG screenshots of the debugger's main states into this directory (``make screenshots``).

The states are the snapshot tests' scenarios (``tests/tui/scenarios.py``): the scripted demo
agent, a frozen clock, no per-step durations.  So the pictures are reproducible, and they show
exactly what the snapshot tests check.  Run from the repository root.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scenarios live with the tests

from tests.tui.scenarios import SCENARIOS, Scenario  # noqa: E402

SIZE = (120, 36)


async def shoot(scenario: Scenario, traces: Path) -> str:
    app = scenario.make(traces)
    async with app.run_test(size=SIZE) as pilot:
        await scenario.ready(pilot, app)
        await pilot.pause()
        return app.export_screenshot(title=f"looplet-tui · {scenario.caption}")


def main() -> int:
    out = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            svg = asyncio.run(shoot(scenario, Path(tmp)))
            path = out / f"{scenario.name}.svg"
            path.write_text(svg, encoding="utf-8")
            print(f"{path.relative_to(ROOT)}  {scenario.caption}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
