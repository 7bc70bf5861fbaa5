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
    "mcp",  # the MCP SDK and what it brings: looplet_core.mcp imports them only when connecting
    "mcp_types",
    "anyio",
    "starlette",
    "uvicorn",
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
        "import looplet_core.runs.resume, looplet_core.runs.fork\n"
        "import looplet_core.durable.checkpoints\n"
        "from looplet_core import resume, fork, composable_loop, tool\n"
        "assert callable(resume) and callable(fork) and callable(composable_loop)\n"
        "import looplet_core, pkgutil\n"
        "subs = {m.name for m in pkgutil.iter_modules(looplet_core.__path__)}\n"
        "clash = sorted(subs & set(looplet_core.__all__))\n"
        "assert not clash, clash\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_moved_module_still_imports_from_its_old_path_as_the_same_module():
    # One fresh interpreter: a redirect must hand back the new module itself (so classes,
    # isinstance and monkeypatching agree) and say where it went.
    code = """
import importlib, json, warnings
from looplet_core._moved import CORE_MOVES
report = {}
for old, new in CORE_MOVES.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    report[old] = {
        "same": module is importlib.import_module(new),
        "warnings": [str(w.message) for w in caught if w.category is DeprecationWarning],
    }
print(json.dumps(report))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert len(report) >= 20 and "looplet_core.checkpoint_stores" in report
    for old, seen in report.items():
        assert seen["same"], f"{old} is not the module it moved to"
        [message] = seen["warnings"]
        assert message.startswith(f"{old} moved to looplet_core.")
        assert "import it from there" in message


def test_a_name_that_never_existed_is_still_a_plain_import_error():
    code = (
        "import looplet_core\n"
        "try:\n"
        "    import looplet_core.no_such_module\n"
        "except ModuleNotFoundError as exc:\n"
        "    assert exc.name == 'looplet_core.no_such_module', exc.name\n"
        "else:\n"
        "    raise SystemExit('imported a module that does not exist')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
