"""What the debugger opens: a live run (the loop's arguments) or recorded steps to replay.

``load_factory`` turns the ``run`` command's target (``path/to/agent.py[:factory]`` or
``package.module:factory``) into a ``RunSession``.  A factory is any callable taking no arguments
and returning the loop's keyword arguments as a dict: ``llm``, ``tools`` and ``task`` are
required, ``config``, ``state`` and ``hooks`` optional.  Every way that can go wrong raises
``SessionError`` with one line saying what to fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from looplet_core import (
    BaseToolRegistry,
    CancelToken,
    ContextBudget,
    DefaultState,
    Event,
    LoopConfig,
    LoopResult,
    Message,
    Step,
    TraceReader,
)
from looplet_core.tools.view import ToolView

if TYPE_CHECKING:
    from looplet_core import ResumedRun
    from looplet_core.durable.recorded import StoredRun
    from looplet_core.durable.runstore import RunStore

__all__ = [
    "DEFAULT_FACTORY",
    "AttachSession",
    "ReplaySession",
    "RunSession",
    "Session",
    "SessionError",
    "load_factory",
    "run_session",
    "tool_views",
]

DEFAULT_FACTORY = "make_agent"
_REQUIRED = ("llm", "tools", "task")
_OPTIONAL = ("config", "state", "hooks")


class SessionError(Exception):
    """A one-line problem with what the user asked the debugger to open."""


Resumer = Callable[[Sequence[object], CancelToken], "ResumedRun"]


@dataclass(slots=True)
class RunSession:
    """A live run.  ``breakpoints_file`` is where the breakpoints screen saves and loads.

    ``resumer`` continues a checkpointed run instead of starting one; it is called on the
    worker thread with the hooks (the debugger's controller last) and the cancel token.
    """

    llm: Any
    tools: BaseToolRegistry
    task: Any
    config: LoopConfig = field(default_factory=LoopConfig)
    state: DefaultState = field(default_factory=DefaultState)
    hooks: list[object] = field(default_factory=list[object])
    title: str = ""
    breakpoints_file: Path | None = None
    resumer: Resumer | None = None

    @property
    def window(self) -> int | None:
        """The context window: the config's, else the backend's ``context_window``."""
        reported = getattr(self.llm, "context_window", None)
        fallback = reported if isinstance(reported, int) and reported > 0 else None
        return self.config.context_window or fallback

    @property
    def thresholds(self) -> tuple[float | None, float | None]:
        """``(warn, compact)`` as percentages of the window, for the gauge's marks.

        ``warn`` comes from the run's ``ContextBudget`` (the one ``ContextStats.tier`` uses);
        ``compact`` from the budget of the first hook that compacts on one (its own, else the
        run's), so the mark is where compaction will actually happen.
        """
        window = self.window
        if window is None:
            return None, None
        run_budget = self.config.context_budget or ContextBudget()
        own = next(
            (b for h in self.hooks if isinstance(b := getattr(h, "budget", None), ContextBudget)),
            None,
        )
        warn = run_budget.with_window(window).warn_tokens
        compact = (own or run_budget).with_window(window).compact_tokens
        return (
            None if warn is None else 100.0 * warn / window,
            None if compact is None else 100.0 * compact / window,
        )

    def start(self, hooks: Sequence[object], cancel: CancelToken) -> Iterator[Step]:
        """The loop to iterate, with prompts recorded and replies streamed for the debugger.

        A resumed run replaces ``state`` (and ``config``) with the restored ones.
        """
        if self.resumer is not None:
            run = self.resumer([*self.hooks, *hooks], cancel)
            self.state, self.config = run.state, run.config
            self.config.record_prompts = self.config.stream = True
            return run
        self.config.record_prompts = self.config.stream = True
        from looplet_core import composable_loop  # here: a replay never imports the loop

        return composable_loop(
            llm=self.llm,
            tools=self.tools,
            task=self.task,
            config=self.config,
            state=self.state,
            hooks=[*self.hooks, *hooks],
            cancel=cancel,
        )


@dataclass(slots=True)
class ReplaySession:
    """Recorded steps (and the run's events) to step through read-only.

    ``load_prompt(call_index)`` fetches a step's prompt when it is shown, so a long recording
    opens without reading every prompt.
    """

    steps: Sequence[Step]
    events: Sequence[Event] = ()
    title: str = ""
    window: int | None = None
    breakpoints_file: Path | None = None
    thresholds: tuple[float | None, float | None] = (None, None)
    result: LoopResult | None = None
    load_prompt: Callable[[int], Sequence[Message]] | None = None
    reader: TraceReader | StoredRun | None = None
    """The recording itself, for search and filters (None for steps in memory): a trace
    directory, which can also be re-run live, or a run in a store (``StoredRun``)."""
    agent: str | None = None
    """``--agent FILE[:factory]``: the model and tools a live re-run uses instead of the trace's."""


@dataclass(slots=True)
class AttachSession:
    """A run that another process runs, followed through its run store (``looplet-tui attach``).

    Nothing runs here: the worker reads the run's steps from ``store`` as its process writes
    them, and answers its approvals by writing the decision back; its breakpoints are the
    store's (``StoreBreakpointSet``), which the run's process checks before each call.
    """

    store: RunStore
    run_id: str
    title: str = ""
    window: int | None = None
    breakpoints_file: Path | None = None
    thresholds: tuple[float | None, float | None] = (None, None)
    poll: float = 0.25
    """Longest wait between looks at the store (PostgreSQL wakes the follower at once)."""


Session = RunSession | ReplaySession | AttachSession


def tool_views(session: Session) -> dict[str, ToolView]:
    """The views ``session``'s tools declared (``ToolSpec.view``), by tool name.

    A replay has only the recorded calls, so its tools are shown with the guessed views."""
    if not isinstance(session, RunSession):
        return {}
    return {spec.name: spec.view for spec in session.tools if spec.view is not None}


def run_session(
    made: object, *, where: str, title: str = "", breakpoints_file: Path | None = None
) -> RunSession:
    """Check a factory's return value and wrap it; ``where`` names the factory in errors."""
    if not isinstance(made, Mapping):
        raise SessionError(
            f"{where} returned {type(made).__name__}; it must return a dict with "
            f"{', '.join(_REQUIRED)} (and optionally {', '.join(_OPTIONAL)})"
        )
    args: dict[str, Any] = {str(k): v for k, v in made.items()}  # pyright: ignore[reportUnknownVariableType]
    unknown = sorted(set(args) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise SessionError(
            f"{where} returned unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    missing = [k for k in _REQUIRED if k not in args]
    if missing:
        raise SessionError(f"{where} returned no {', '.join(missing)}")
    if not isinstance(args["tools"], BaseToolRegistry):
        raise SessionError(
            f"{where}: 'tools' must be a BaseToolRegistry, got {type(args['tools']).__name__}"
        )
    if not callable(getattr(args["llm"], "generate", None)):
        raise SessionError(f"{where}: 'llm' has no generate() method; pass a looplet backend")
    config = args.get("config") or LoopConfig()
    if not isinstance(config, LoopConfig):
        raise SessionError(f"{where}: 'config' must be a LoopConfig")
    state = args.get("state") or DefaultState()
    if not isinstance(state, DefaultState):
        raise SessionError(f"{where}: 'state' must be a DefaultState")
    return RunSession(
        llm=args["llm"],
        tools=args["tools"],
        task=args["task"],
        config=config,
        state=state,
        hooks=list(args.get("hooks") or []),
        title=title,
        breakpoints_file=breakpoints_file,
    )


def state_dir() -> Path:
    """Where the debugger keeps what belongs to no run directory (a demo's or a module agent's
    breakpoints): ``$XDG_STATE_HOME/looplet``, by default ``~/.local/state/looplet``.  Never the
    current directory, which is often a repository the user did not mean to write into."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "looplet"


def load_factory(target: str) -> tuple[Callable[[], object], Path]:
    """``(factory, file next to which the breakpoints are kept)`` for a ``run`` target."""
    spec, named, name = target.partition(":")
    name = name or DEFAULT_FACTORY
    if spec.endswith(".py") or "/" in spec or Path(spec).exists():
        path = Path(spec)
        if not path.is_file():
            raise SessionError(f"no such file: {path}")
        module = _import_file(path)
        breakpoints = path.with_suffix(".breakpoints.json")
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise SessionError(f"cannot import module {spec!r}: {exc}") from None
        breakpoints = state_dir() / f"{spec}.breakpoints.json"
    factory = getattr(module, name, None)
    if factory is None:
        hint = "" if named else f" (name the factory: {spec}:your_factory)"
        raise SessionError(f"{spec} has no {name}(){hint}")
    if not callable(factory):
        raise SessionError(f"{spec}:{name} is not callable")
    return factory, breakpoints


def _import_file(path: Path) -> object:
    name = f"looplet_agent_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SessionError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise SessionError(f"{path} failed to import: {type(exc).__name__}: {exc}") from None
    return module
