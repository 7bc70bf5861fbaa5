"""Every ```python block in README.md and docs/*.md runs (upstream's docs called missing APIs).

A reader copies one block at a time, so each block runs by itself in a fresh interpreter, unless
its first line says it continues the block above: then it runs after the blocks it continues, as
the reader was told to.  A block whose fence says ``python no-run`` is shown only (for snippets that
need a real API key or a terminal); each such block must say why in the line above.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONTINUES = "# continues the block above"


def runnable_blocks(path: Path) -> list[str]:
    return [body for info, body in FENCE.findall(path.read_text()) if "no-run" not in info]


def programs(path: Path) -> list[tuple[str, str]]:
    """(name, source) per block a reader may start from: the block and those continuing it."""
    chains: list[list[str]] = []
    for body in runnable_blocks(path):
        if body.startswith(CONTINUES):
            assert chains, f"{path.name}: its first block cannot continue a block above"
            chains[-1].append(body)
        else:
            chains.append([body])
    return [(f"{path.name}#{n + 1}", "\n\n".join(chain)) for n, chain in enumerate(chains)]


@pytest.mark.parametrize(
    ("name", "source"),
    [pytest.param(*program, id=program[0]) for path in DOCS for program in programs(path)],
)
def test_python_blocks_in_docs_run(name: str, source: str, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL")
    }
    result = subprocess.run(
        [sys.executable, "-"],
        check=False,
        input=source,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stderr[-3000:]}"
