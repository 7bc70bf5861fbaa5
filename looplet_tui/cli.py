"""Turn the command line into a ``Session``: the demo, an agent factory, a trace, a checkpoint.

Kept apart from ``__main__`` so tests build sessions exactly as the command does, and so that
``__main__`` can say "install the tui extra" before anything here imports Textual's dependents.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

# What a replay needs is imported here; the checkpoint, resume and loop machinery that the
# other commands use is imported where they use it, so opening a trace does not pay for it.
from looplet_core import Event, EventKind, Step, TraceError, TraceReader
from looplet_tui.session import (
    AttachSession,
    ReplaySession,
    RunSession,
    Session,
    SessionError,
    load_factory,
    run_session,
    state_dir,
)

if TYPE_CHECKING:
    from looplet_core import CancelToken, CheckpointError, ResumedRun
    from looplet_core.durable.recorded import StoredRun

__all__ = [
    "AGENT_FILE",
    "SessionError",
    "attach_session",
    "build_session",
    "open_recording",
    "open_stored_run",
    "replay_session",
    "replay_target",
    "resume_session",
    "split_run_spec",
    "store_replay_session",
]

AGENT_FILE = "looplet-tui-agent.json"
"""Written into a checkpoint directory the debugger fills: which factory built the run, so
``looplet-tui resume DIR`` can rebuild its model and tools (code is never checkpointed)."""
DEMO_TARGET = "looplet_tui.demo:make_agent"


def build_session(args: argparse.Namespace) -> Session:
    if args.command == "demo":
        from looplet_tui.demo import make_agent

        session = run_session(
            make_agent(delay=args.delay),
            where="the demo",
            title="demo · clean customers.csv",
            breakpoints_file=state_dir() / "demo.breakpoints.json",
        )
        return _checkpointed(session, args.checkpoint_dir, DEMO_TARGET)
    if args.command == "run":
        factory, breakpoints = load_factory(args.target)
        session = run_session(
            _call(factory, args.target),
            where=args.target,
            title=args.target,
            breakpoints_file=breakpoints,
        )
        return _checkpointed(session, args.checkpoint_dir, args.target)
    if args.command == "replay":
        return replay_target(args.trace, run_id=getattr(args, "run_id", None), agent=args.agent)
    if args.command == "attach":
        return attach_session(args.where, args.store)
    if _names_a_store(args.checkpoints):
        return resume_store_session(
            args.checkpoints,
            args.run_id,
            args.agent,
            branch=args.branch,
            checkpoint_id=args.checkpoint,
        )
    return resume_session(
        Path(args.checkpoints),
        args.run_id,
        args.agent,
        branch=args.branch,
        checkpoint_id=args.checkpoint,
    )


def _call(factory: Any, target: str) -> object:
    try:
        return factory()
    except Exception as exc:  # the user's factory: report it in one line, not a traceback
        raise SessionError(f"{target} raised {type(exc).__name__}: {exc}") from None


def _checkpointed(session: RunSession, directory: str | None, target: str) -> RunSession:
    if directory is None:
        return session
    from looplet_core import FileCheckpointStore

    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / AGENT_FILE).write_text(json.dumps({"agent": target}) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SessionError(f"cannot use {path} for checkpoints: {exc}") from None
    session.config.checkpoint = FileCheckpointStore(path)
    session.breakpoints_file = path / "breakpoints.json"  # where `resume DIR` looks for them
    return session


def attach_session(where: Sequence[str], store: str | None = None) -> AttachSession:
    """``attach [URL] RUN`` (or ``--store URL RUN``): the run, checked to exist in the store."""
    from looplet_core import LoopletError
    from looplet_core.durable.connect import open_store

    if len(where) == 2 and store is None:
        store, run_id = where
    elif len(where) == 1:
        run_id = where[0]
        store = store or os.environ.get("LOOPLET_STORE") or "runs.db"
    else:
        raise SessionError("attach takes the store and one run id: attach [--store] URL RUN")
    try:
        opened = open_store(store, create=False)
    except LoopletError as exc:
        raise SessionError(str(exc)) from None
    try:
        info = opened.run_info(run_id)
    except LoopletError as exc:
        opened.close()
        raise SessionError(str(exc)) from None
    title = f"attached · {run_id}" + (f" · {info.agent}" if info.agent else "")
    return AttachSession(store=opened, run_id=run_id, title=title)


def replay_target(target: str, *, run_id: str | None = None, agent: str | None = None) -> Session:
    """``replay TARGET``: a trace directory, or a run in a store (``runs.db --run ID``,
    ``runs.db#ID``, a ``sqlite:///`` or ``postgresql://`` URL)."""
    store, named = split_run_spec(target)
    if named is not None or _names_a_store(store):
        if agent is not None:
            raise SessionError(
                "--agent is for re-running a trace's steps live; a run in a store is continued "
                "with `looplet-tui resume STORE --run ID --checkpoint CHECKPOINT`"
            )
        if named is not None and run_id is not None and named != run_id:
            raise SessionError(f"{target} names run {named!r} but --run says {run_id!r}: give one")
        return store_replay_session(store, named or run_id)
    if run_id is not None:
        raise SessionError(
            f"--run picks a run in a run store (runs.db, sqlite:///..., postgresql://...); "
            f"{target} is not one (a trace directory holds one run: drop --run)"
        )
    return replay_session(Path(target), agent=agent)


def split_run_spec(spec: str) -> tuple[str, str | None]:
    """``STORE#RUN`` as ``(STORE, RUN)``; anything else as ``(spec, None)``."""
    if "#" not in spec:  # a trace directory: no need to import the run-store reader
        return spec, None
    from looplet_core import LoopletError
    from looplet_core.durable.recorded import split_run_spec as split

    try:
        return split(spec)
    except LoopletError as exc:
        raise SessionError(str(exc)) from None


def open_stored_run(
    target: str, run_id: str | None, *, event_kinds: frozenset[str] = frozenset()
) -> tuple[StoredRun, list[Event]]:
    """``read_stored_run`` with its events as ``Event``s and its problems as one line."""
    from looplet_core import LoopletError
    from looplet_core.durable.recorded import read_stored_run

    try:
        recorded, records = read_stored_run(target, run_id, event_kinds=event_kinds)
        return recorded, [_event(recorded.run_id, record) for record in records]
    except (LoopletError, IndexError, ValueError, KeyError, TypeError) as exc:
        raise SessionError(" ".join(str(exc).split())) from None


def open_recording(spec: str) -> TraceReader | StoredRun:
    """One side of ``diff``: a trace directory, or ``STORE#RUN`` (``STORE`` alone when the
    store holds one run), read whole now; every problem is a one-line ``SessionError``."""
    from looplet_core import LoopletError
    from looplet_core.durable.recorded import open_recorded

    try:
        return open_recorded(spec)
    except (LoopletError, OSError, ValueError) as exc:
        raise SessionError(" ".join(str(exc).split())) from None


def store_replay_session(target: str, run_id: str | None) -> ReplaySession:
    """Replay a run kept in a run store, like a trace: its steps from the checkpoint chain,
    each model call's prompt from the conversation the checkpoints kept."""
    recorded, events = open_stored_run(target, run_id, event_kinds=frozenset({"compaction"}))
    task = recorded.task
    title = f"replay · {recorded.path_label}" + (f" · {_short(task)}" if task else "")
    window = recorded.config.get("context_window")
    return ReplaySession(
        steps=_LazySteps(recorded),
        events=events,
        title=title,
        window=window if isinstance(window, int) and window > 0 else None,
        breakpoints_file=state_dir() / f"replay-{recorded.run_id}.breakpoints.json",
        result=recorded.loop_result(),
        load_prompt=recorded.prompt_view,
        reader=recorded,
    )


def replay_session(path: Path, agent: str | None = None) -> ReplaySession:
    """Open a trace lazily; prompts are read when a step is shown, not up front.

    ``agent`` (``--agent FILE[:factory]``) is what a live re-run from a step may use for its model
    or tools.  Its factory is looked up now, so a mistyped path is a one-line error at startup
    rather than when re-running; it is only called (building a model, maybe a client) on re-run.
    """
    if not path.exists():
        raise SessionError(f"no such directory: {path}")
    try:
        reader = TraceReader(path)
        events = [_event(reader.run_id, record) for record in reader.logged({"compaction"})]
    except (TraceError, ValueError, KeyError) as exc:
        raise SessionError(str(exc)) from None
    if agent is not None:
        load_factory(agent)
    task = reader.task
    title = f"replay · {reader.path.name}" + (f" · {_short(task)}" if task else "")
    return ReplaySession(
        steps=_LazySteps(reader),
        events=events,
        title=title,
        breakpoints_file=reader.path / "breakpoints.json",
        result=_result(reader),
        load_prompt=reader.prompt_view,
        reader=reader,
        agent=agent,
    )


def _event(run_id: str, record: dict[str, Any]) -> Event:
    """An event from a trace's log, whose lines hold the event's data beside its header."""
    data = {k: v for k, v in record.items() if k not in ("kind", "seq", "time", "step")}
    return Event(
        EventKind(record["kind"]),
        run_id,
        int(record.get("step") or 0),
        data,
        float(record.get("time") or 0.0),
    )


class _LazySteps(Sequence[Step]):
    """The trace's steps as a sequence that reads each step file only when it is reached."""

    def __init__(self, reader: TraceReader | StoredRun) -> None:
        self.reader = reader
        self.numbers = [entry.number for entry in reader.entries]

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[Step]:
        for number in self.numbers:
            yield self.reader.step(number)

    @overload
    def __getitem__(self, index: int) -> Step: ...
    @overload
    def __getitem__(self, index: slice) -> list[Step]: ...
    def __getitem__(self, index: int | slice) -> Step | list[Step]:
        if isinstance(index, slice):
            return [self.reader.step(n) for n in self.numbers[index]]
        return self.reader.step(self.numbers[index])


def _result(reader: TraceReader) -> Any:
    from looplet_core import LoopResult

    if reader.stop_reason is None:
        return None
    return LoopResult(
        reader.stop_reason,
        usage=reader.usage,
        final_answer=reader.final_answer,
        message=str(reader.manifest.get("message") or ""),
        run_id=reader.run_id,
    )


def resume_session(
    directory: Path,
    run_id: str | None,
    agent: str | None,
    *,
    branch: str | None = None,
    checkpoint_id: str | None = None,
) -> RunSession:
    """Rebuild the agent from its factory and check the checkpoint now, so a bad directory is
    a one-line error; the run itself continues on the debugger's worker thread."""
    from looplet_core import CheckpointError, FileCheckpointStore
    from looplet_core.runs.resume import restore

    if not directory.is_dir():
        raise SessionError(f"no such checkpoint directory: {directory}")
    target = agent or _recorded_agent(directory)
    factory, _ = load_factory(target)
    made = run_session(_call(factory, target), where=target)
    store = FileCheckpointStore(directory)
    try:
        snapshot = restore(
            store, run_id, tools=made.tools, branch=branch, checkpoint_id=checkpoint_id
        )
    except CheckpointError as exc:
        raise _resume_error(exc) from None
    _continue_from(made, store, snapshot)
    checkpoint = snapshot.checkpoint
    made.title = f"resume · run {checkpoint.run_id} from {checkpoint.describe()}"
    made.breakpoints_file = directory / "breakpoints.json"
    return made


def _names_a_store(target: str) -> bool:
    from looplet_core.durable.connect import sqlite_path

    return "://" in target or sqlite_path(target) is not None


def resume_store_session(
    target: str,
    run_id: str | None,
    agent: str | None,
    *,
    branch: str | None = None,
    checkpoint_id: str | None = None,
) -> RunSession:
    """``resume runs.db|URL``: continue a run kept in a run store, in the debugger, with its
    checkpoint browser (time travel, forks) on the store.  The agent defaults to the factory
    ``python -m looplet_core run`` recorded for the run."""
    from looplet_core import CheckpointError, LoopletError
    from looplet_core.durable.connect import open_store
    from looplet_core.runs.resume import restore

    try:
        store = open_store(target, create=False)
        runs = store.list_runs()
        chosen = run_id or (runs[-1].run_id if runs else None)
        if chosen is None:
            raise SessionError(f"{store.where}: no runs yet")
        info = store.run_info(chosen)
        factory_target = agent or info.agent
        if not factory_target:
            raise SessionError(
                f"{store.where}: run {chosen!r} does not say which agent made it; name it: "
                "--agent path/to/agent.py[:factory]"
            )
        factory, _ = load_factory(factory_target)
        made = run_session(_call(factory, factory_target), where=factory_target)
        snapshot = restore(
            store, chosen, tools=made.tools, branch=branch, checkpoint_id=checkpoint_id
        )
    except CheckpointError as exc:
        raise _resume_error(exc) from None
    except LoopletError as exc:
        raise SessionError(str(exc)) from None
    _continue_from(made, store, snapshot)
    checkpoint = snapshot.checkpoint
    made.title = f"resume · run {checkpoint.run_id} from {checkpoint.describe()} · {store.where}"
    made.config.checkpoint = store  # the resumed run's too: closing the session closes this
    return made


def _resume_error(exc: CheckpointError) -> SessionError:
    """A checkpoint that would not load, with the way out in this command's words: the newest
    intact checkpoint, to pass as ``--checkpoint`` (from a directory or a run store alike)."""
    if exc.intact is not None:
        return SessionError(
            f"{exc.problem}; the newest intact checkpoint of this run is {exc.intact}: "
            f"add --checkpoint {exc.intact} to resume from it"
        )
    return SessionError(str(exc))


def _continue_from(made: RunSession, store: Any, snapshot: Any) -> None:
    """Set ``made`` up to continue ``snapshot``'s run from ``store`` on the debugger's worker:
    a scripted agent goes on with its script, the resumer continues that very checkpoint."""
    from looplet_core import MockLLMBackend
    from looplet_core.runs.resume import resume

    checkpoint = snapshot.checkpoint
    if isinstance(made.llm, MockLLMBackend):
        made.llm.skip(snapshot.state.llm_calls)

    def resumer(hooks: Sequence[object], cancel: CancelToken) -> ResumedRun:
        return resume(
            store,
            checkpoint.run_id,
            llm=made.llm,
            tools=made.tools,
            hooks=hooks,
            checkpoint_id=checkpoint.id,
            cancel=cancel,
        )

    made.state = snapshot.state
    made.resumer = resumer


def _recorded_agent(directory: Path) -> str:
    file = directory / AGENT_FILE
    try:
        return str(json.loads(file.read_text(encoding="utf-8"))["agent"])
    except (OSError, ValueError, KeyError, TypeError):
        raise SessionError(
            f"{directory} does not say which agent made these checkpoints; name it: "
            f"--agent path/to/agent.py[:factory]"
        ) from None


def _short(task: Any) -> str:
    text = (
        task
        if isinstance(task, str)
        else str(task.get("goal", task))
        if isinstance(task, dict)
        else str(task)
    )
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"
