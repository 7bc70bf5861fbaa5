"""Headless runs in a run store: start or resume an agent with approvals answered elsewhere.

``run_in_store(agent, store, run_id=...)`` runs an agent (the keyword arguments of
``composable_loop``: ``llm``, ``tools``, ``task``, optionally ``config``, ``state``, ``hooks``)
checkpointing into ``store`` and putting every approval to the store (``StoreApprover``), while
holding the run's lease so no second worker runs it at once.  If the run already has checkpoints
there, it is resumed from the newest instead, on whichever machine this is; a run that paused on
an approval acts on the answer the store got meanwhile.

``decide(store, run_id, ...)`` answers a run's pending approval from any process;
``load_agent("module:factory")`` / ``load_agent("path/agent.py:factory")`` builds the agent from
a factory, the same convention as ``looplet-tui run``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from looplet_core.durable.runstore import ApprovalRecord, RunStore
from looplet_core.durable.store_approver import (
    StoreApprover,
    StoreBreakpoints,
    StoreEventLog,
    StoreGuard,
)
from looplet_core.errors import ApprovalError, ConfigError
from looplet_core.loop import composable_loop
from looplet_core.runs.resume import resume
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import LoopResult, Step
from looplet_core.tools.registry import BaseToolRegistry

__all__ = ["continue_run", "decide", "load_agent", "pause_run", "run_in_store"]

DEFAULT_FACTORY = "make_agent"


def load_agent(target: str) -> dict[str, Any]:
    """Call the factory ``target`` names and check what it returned."""
    spec, _, name = target.partition(":")
    name = name or DEFAULT_FACTORY
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"no such agent file: {path}")
        module_name = f"looplet_agent_{path.stem}"
        found = importlib.util.spec_from_file_location(module_name, path)
        if found is None or found.loader is None:
            raise ConfigError(f"cannot import {path}: not a Python file")
        module = importlib.util.module_from_spec(found)
        sys.modules[module_name] = module
        found.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise ConfigError(f"cannot import agent module {spec!r}: {exc}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ConfigError(f"{spec} has no factory {name}() (name it: {spec}:your_factory)")
    made: object = cast(Callable[[], object], factory)()
    if not isinstance(made, Mapping):
        raise ConfigError(f"{target} returned {type(made).__name__}, not a dict of loop arguments")
    agent = {str(k): v for k, v in cast(Mapping[Any, Any], made).items()}
    missing = [k for k in ("llm", "tools", "task") if k not in agent]
    if missing:
        raise ConfigError(f"{target} returned no {', '.join(missing)}")
    if not isinstance(agent["tools"], BaseToolRegistry):
        raise ConfigError(f"{target}: 'tools' must be a BaseToolRegistry")
    return agent


def run_in_store(
    agent: Mapping[str, Any],
    store: RunStore,
    *,
    run_id: str,
    name: str = "",
    timeout: float | None = None,
    on_step: Callable[[Step], None] | None = None,
    on_wait: Callable[[ApprovalRecord], None] | None = None,
) -> LoopResult | None:
    """Run (or resume) ``run_id`` to its end with checkpoints and approvals in ``store``.

    ``timeout`` bounds each wait for an approval (then the run pauses, resumable later).
    Returns the run's result (``None`` only if the loop ended without one).
    """
    tools = cast(BaseToolRegistry, agent["tools"])
    hooks = [
        *cast(list[object], agent.get("hooks") or []),
        StoreGuard(store),
        StoreBreakpoints(store, run_id),
        StoreEventLog(store),
    ]
    approver = StoreApprover(store, run_id, timeout=timeout, on_wait=on_wait)
    with store.acquire(run_id):
        store.set_run(run_id, agent=name or None)
        if store.list(run_id):
            run = resume(
                store,
                run_id,
                llm=agent["llm"],
                tools=tools,
                hooks=hooks,
                approver=approver,
            )
            for step in run:
                if on_step is not None:
                    on_step(step)
            return run.result
        config = cast(LoopConfig, agent.get("config") or LoopConfig())
        config = replace(config, checkpoint=store, approver=approver)
        state = cast(DefaultState, agent.get("state") or DefaultState())
        state.run_id = run_id
        loop = composable_loop(
            llm=agent["llm"],
            tools=tools,
            task=agent["task"],
            config=config,
            state=state,
            hooks=hooks,
        )
        for step in loop:
            if on_step is not None:
                on_step(step)
        return state.result


def decide(
    store: RunStore,
    run_id: str,
    action: str,
    *,
    approval_id: int | None = None,
    args: dict[str, Any] | None = None,
    message: str = "",
    always: bool = False,
    by: str = "cli",
) -> ApprovalRecord:
    """Answer ``run_id``'s pending approval (the oldest, or ``approval_id``)."""
    if approval_id is None:
        pending = store.approvals(run_id, pending=True)
        if not pending:
            raise ApprovalError(f"run {run_id!r} has no pending approval in {store.where}")
        approval_id = pending[0].id
    decision: dict[str, Any] = {"action": action}
    if args is not None:
        decision["args"] = args
    if message:
        decision["message"] = message
    if always:
        decision["scope"] = "always"
    return store.decide(run_id, approval_id, decision, by=by)


def pause_run(store: RunStore, run_id: str, *, tool: str | None = None) -> None:
    """Pause ``run_id`` before its next call (or, with ``tool``, before calls matching it)."""
    entry: dict[str, Any] = {"tool": tool} if tool else {"pause": True}
    store.update_breakpoints(run_id, lambda es: es if entry in es else [*es, entry])


def continue_run(store: RunStore, run_id: str, *, clear: bool = False, step: bool = False) -> int:
    """Let ``run_id``, paused at a breakpoint, go on; returns the step it was paused at.
    ``clear`` also removes its tool breakpoints; ``step`` pauses it again before its next call.
    """
    from looplet_core.durable.breakpoint_entries import is_standing
    from looplet_core.durable.runstore import RunStatus
    from looplet_core.errors import StoreError

    info = store.run_info(run_id)
    if info.status != RunStatus.PAUSED:
        raise StoreError(f"run {run_id!r} is not paused at a breakpoint (it is {info.status})")

    def release(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        at = [e["paused_at"] for e in entries if isinstance(e.get("paused_at"), int)]
        kept = [e for e in entries if not (clear and is_standing(e))]
        entry: dict[str, Any] = {"release": at[-1] if at else info.steps + 1}
        return [*kept, entry | ({"step": True} if step else {})]

    done = store.update_breakpoints(run_id, release)
    return int(done[-1]["release"])
