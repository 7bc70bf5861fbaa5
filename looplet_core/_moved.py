"""Old module paths that still import: each is the module at its new path, with a warning.

``looplet_core`` was regrouped into subpackages (docs/changelog.md lists every move).  Code
written against an old path (``from looplet_core.checkpoint_stores import FileCheckpointStore``)
keeps working: a finder at the end of ``sys.meta_path`` answers only for the old names, warns
once per name (``DeprecationWarning``, naming the new path), and hands back the *same* module
object as the new path, so classes, ``isinstance`` and monkeypatching agree.  The redirect costs
nothing until an old name is imported: normal imports never reach a finder placed last.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

MOVED_IN = "0.2"
REMOVED_IN = "0.3"


class _Redirect:
    """Loader of one old name: replaces itself in ``sys.modules`` with the new module."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # a placeholder module, swapped out in exec_module

    def exec_module(self, module: ModuleType) -> None:
        import warnings

        old = module.__name__
        warnings.warn(
            f"{old} moved to {self.new} in looplet {MOVED_IN}; import it from there "
            f"(the old path goes in {REMOVED_IN})",
            DeprecationWarning,
            stacklevel=2,
        )
        # The import system re-reads sys.modules[old] after this returns, so the importer
        # receives the real module, not the placeholder.
        sys.modules[old] = importlib.import_module(self.new)


class MovedModules:
    """A meta-path finder for a package's old module names (``{old: new}``)."""

    def __init__(self, moved: Mapping[str, str]) -> None:
        self.moved = dict(moved)

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        new = self.moved.get(name)
        if new is None:
            return None
        from importlib.machinery import ModuleSpec

        # A structural loader (create_module/exec_module): importlib.abc.Loader would cost a
        # bare ``import looplet_core`` the import of importlib.abc.
        return ModuleSpec(name, _Redirect(new))  # pyright: ignore[reportArgumentType]


def install(moved: Mapping[str, str]) -> None:
    """Answer for ``moved``'s old names from now on (last on ``sys.meta_path``)."""
    sys.meta_path.append(MovedModules(moved))


CORE_MOVES: dict[str, str] = {
    f"looplet_core.{old}": f"looplet_core.{new}"
    for old, new in (
        ("toolrun", "tools.run"),
        ("toolargs", "tools.args"),
        ("schema", "tools.schema"),
        ("textcalls", "tools.textcalls"),
        ("tokens", "context.tokens"),
        ("budget", "context.budget"),
        ("estimators", "context.estimators"),
        ("compact", "context.compact"),
        ("summarize", "context.summarize"),
        ("context_hooks", "context.hooks"),
        ("prompt", "context.prompt"),
        ("checkpoints", "durable.checkpoints"),
        ("checkpoint_format", "durable.format"),
        ("checkpoint_stores", "durable.stores"),
        ("checkpointer", "durable.checkpointer"),
        ("resuming", "runs.resume"),
        ("forking", "runs.fork"),
        ("approval", "approvals.requests"),
        ("approval_hooks", "approvals.hooks"),
        ("permissions", "approvals.permissions"),
        ("pytest_plugin", "evals.pytest_plugin"),
        ("taskprompt", "engine.taskprompt"),
    )
}
"""Every module of looplet 0.1 that moved (``tools`` and ``evals`` became packages that still
export the names the modules did, so they need no redirect)."""
