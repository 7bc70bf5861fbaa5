"""Every ```python block in README.md and docs/*.md runs (upstream's docs called missing APIs).

Blocks of one file run in order in one fresh interpreter, so a later block may use names an earlier
one defined, as a reader would.  A block whose fence says ``python no-run`` is shown only (for
snippets that need a real API key or a terminal); each such block must say why in the line above.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def runnable_blocks(path: Path) -> list[str]:
    return [body for info, body in FENCE.findall(path.read_text()) if "no-run" not in info]


@pytest.mark.parametrize("path", [p for p in DOCS if runnable_blocks(p)], ids=lambda p: p.name)
def test_python_blocks_in_docs_run(path: Path, tmp_path: Path) -> None:
    source = "\n\n".join(runnable_blocks(path))
    env_clear = {k: "" for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL")}
    import os

    env = {k: v for k, v in os.environ.items() if k not in env_clear}
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
    assert result.returncode == 0, f"{path.name} blocks failed:\n{result.stderr[-3000:]}"
