"""The house has no import circles: no module reaches, through any chain, a module that imports it.

import-linter's layers contract (pyproject.toml) keeps looplet_core's floors in order; this test
covers both packages module by module, including the imports made inside functions and under
``TYPE_CHECKING``, which a circle is no less a circle for.
"""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("looplet_core", "looplet_tui", cache_dir=None)


def circles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            # A package's __init__ importing its own submodules (lazy tables under
            # TYPE_CHECKING) is how a package names its parts, not a circle between them.
            if imported.startswith(importer + "."):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.append((importer, *back))
    return found


def test_no_module_of_either_package_imports_itself_through_others(graph):
    assert "looplet_tui.app.debugger" in graph.modules and "looplet_core.loop" in graph.modules
    assert circles(graph) == []


def test_the_check_sees_a_circle_when_there_is_one():
    graph = grimp.build_graph("looplet_core", cache_dir=None)  # its own: this one is edited
    graph.add_import(importer="looplet_core.context.budget", imported="looplet_core.context.tokens")
    assert ("looplet_core.context.budget", "looplet_core.context.tokens") in {
        found[:2] for found in circles(graph)
    }


def test_no_screen_or_widget_imports_the_app(graph):
    app = {m for m in graph.modules if m == "looplet_tui.app" or m.startswith("looplet_tui.app.")}
    for module in sorted(graph.modules):
        if module.startswith(("looplet_tui.screens", "looplet_tui.widgets")):
            reached = graph.find_modules_directly_imported_by(module) & app
            assert not reached, f"{module} imports {sorted(reached)}"
