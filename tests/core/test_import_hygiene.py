"""looplet_core must load no third-party module (and never the debugger) when imported."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "textual",
    "rich",
    "openai",
    "anthropic",
    "httpx",
    "httpx2",
    "pydantic",
    "looplet_tui",
    "opentelemetry",
    "pytest",
    "tiktoken",
)

PROBE = """
import importlib, json, pkgutil, sys
import looplet_core
names = [m.name for m in pkgutil.walk_packages(looplet_core.__path__, "looplet_core.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def test_importing_every_core_module_loads_no_third_party_package():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert "looplet_core.loop" in report["modules"]
    loaded = {name.split(".")[0] for name in report["loaded"]}
    leaked = sorted(loaded.intersection(FORBIDDEN))
    assert leaked == [], f"looplet_core imported {leaked}"
