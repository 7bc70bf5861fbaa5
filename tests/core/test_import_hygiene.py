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


def test_public_functions_are_not_shadowed_by_submodules_of_the_same_name():
    # Importing a submodule binds it on the package; a lazily exported function of the same
    # name would then resolve to the module.  No public name may share a submodule's name.
    code = (
        "import looplet_core.resuming, looplet_core.forking, looplet_core.checkpoints\n"
        "from looplet_core import resume, fork, composable_loop, tool\n"
        "assert callable(resume) and callable(fork) and callable(composable_loop)\n"
        "import looplet_core, pkgutil\n"
        "subs = {m.name for m in pkgutil.iter_modules(looplet_core.__path__)}\n"
        "clash = sorted(subs & set(looplet_core.__all__))\n"
        "assert not clash, clash\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
