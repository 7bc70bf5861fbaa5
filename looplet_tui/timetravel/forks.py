"""A fork's branch as a ``RunSession``, so the debugger runs it like any other run.

The checkpoint browser forks; the branch then runs in the main timeline (``open_session``), where
stepping, breakpoints and approvals work as they do for the run it came from.

``branch_session`` forks *at once*, before the debugger switches: ``looplet_core.runs.fork.fork``
checks the edit (arguments against the tool's schema, a result edit on a call that has a result,
...) and writes the branch's first checkpoint, or raises without writing anything.  So a mistake
is explained in the fork editor while the current run goes on, instead of stopping that run for a
branch that cannot start.  The session's ``resumer`` then continues from the fork's checkpoint
with the debugger's hooks, which exist only once the debugger has opened the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from looplet_core import CancelToken, CheckpointStore, ResumedRun
from looplet_core.durable.checkpoints import load
from looplet_core.runs.fork import fork
from looplet_tui.session import RunSession

__all__ = ["branch_session"]


def branch_session(
    parent: RunSession, store: CheckpointStore, checkpoint_id: str, edit: dict[str, Any]
) -> RunSession:
    """Fork ``checkpoint_id`` with ``edit`` (``fork``'s keyword arguments: ``args``, ``result``
    or ``messages``) and return the new branch as a session of ``parent``'s model, tools, hooks,
    settings and breakpoints.

    Raises ``LoopletError`` (nothing is written) when the edit does not fit the checkpoint.
    """
    forked = fork(
        store,
        checkpoint_id,
        llm=parent.llm,
        tools=parent.tools,
        config=replace(parent.config),  # a copy: the stopped run keeps its own
        **edit,
    )
    start = forked.checkpoint
    config = forked.config

    def resumer(hooks: Sequence[object], cancel: CancelToken) -> ResumedRun:
        # Read back from the store rather than reusing ``forked``: that run was built without
        # the debugger's hooks and cancel token, and a loop takes both when it is created.
        return ResumedRun(
            llm=parent.llm,
            tools=parent.tools,
            hooks=hooks,
            snapshot=load(store, start.id),
            config=config,
            cancel=cancel,
        )

    origin = store.get(checkpoint_id)
    return RunSession(
        llm=parent.llm,
        tools=parent.tools,
        task=forked.task,
        config=config,
        state=forked.state,  # what the browser reads before the branch's worker starts
        hooks=list(parent.hooks),
        title=f"fork · branch {start.branch_id} from {origin.describe()} · edit: "
        f"{(start.fork or {}).get('edit') or 'none'}",
        breakpoints_file=parent.breakpoints_file,
        resumer=resumer,
    )
