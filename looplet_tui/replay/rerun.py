"""Re-run a replayed trace live from one of its steps, with a model and tools of your choosing.

``rerun_session(replay, step, model=..., tools=...)`` turns a recording back into a run the
debugger can step, break and approve like any other.  The run starts where ``step``'s model call
started: its conversation is the exact prompt the trace recorded for that call, and the loop only
renders the task into an *empty* conversation, so its first action is asking the model again.  Its
state already holds the steps before that call, with their numbers, token usage and budget, the
way a resumed run's does: the timeline shows the history and new steps carry on the numbering.

Each side comes from the agent (``--agent FILE[:factory]``) or from the recording:

* model ``recorded``, tools ``agent``: the model's recorded replies against today's tools, which
  run for real (side effects included);
* model ``agent``, tools ``recorded``: what the model does from here, touching nothing; a call the
  recording never made has no result and fails as a tool error saying so;
* both recorded: the recording as a live run; both agent: a fresh continuation.

A re-run is a new run (its own run id): nothing is written to the trace it came from.  Every way
this can fail for the user is a ``SessionError`` of one line saying what to do.  Nothing read from
the trace is executed: it is JSON turned into messages, replies and results.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Literal

from looplet_core import (
    BackendError,
    BaseToolRegistry,
    Conversation,
    DefaultState,
    ErrorKind,
    LLMResponse,
    LoopConfig,
    LoopletError,
    Message,
    Redactor,
    Step,
    StepLog,
    StepStatus,
    ToolResult,
    ToolSpec,
    TraceReader,
    Usage,
)
from looplet_core.backends.base import DeltaCallback, ToolSchema
from looplet_core.engine.taskprompt import BUILTIN_DONE_SCHEMA
from looplet_core.provenance.compare import canonical
from looplet_core.provenance.format import dumps
from looplet_core.provenance.replay import recorded_reply
from looplet_core.records import LLMCall
from looplet_core.tools.run import ToolContext
from looplet_tui.session import ReplaySession, RunSession, SessionError, load_factory, run_session

__all__ = ["RecordedModel", "RecordedTools", "Source", "rerun_session"]

Source = Literal["agent", "recorded"]
"""Where the re-run's model (or tools) come from: the ``--agent`` factory, or the trace."""

_RAN = (ErrorKind.EXECUTION, ErrorKind.TIMEOUT)
"""Error kinds of a step whose tool did run: its result is the tool's own, so it is replayable.
(Validation, permission, parse, hook and cancel errors are the loop's, and the loop makes them
again by itself.)"""
_FAILED_CALL = ("llm", "context")
"""Error kinds of a step recording a model call that failed: it has no reply, and the trace keeps
no prompt for it."""
_SHOWN_ARGS = 200


def rerun_session(replay: ReplaySession, step: int, *, model: Source, tools: Source) -> RunSession:
    """A live run that starts at ``step``'s model call, from the trace ``replay`` shows.

    If ``step`` is not the first step of its model call (one reply made several calls), the run
    starts at that call's first step, since the model is asked again.  ``agent`` needs the
    replay's ``agent`` factory; ``recorded`` tools match the recording on tool and arguments (see
    ``RecordedTools``).
    """
    reader = replay.reader
    if reader is None:
        raise SessionError("only a trace read from disk can be re-run; these steps are in memory")
    if not isinstance(reader, TraceReader):  # a run in a store: its checkpoints continue it
        raise SessionError(
            f"a run in a store is continued from its checkpoints, not re-run: quit and use "
            f"`looplet-tui resume {reader.where} --run {reader.run_id}` (t picks the checkpoint)"
        )
    try:
        return _build(replay, reader, step, model=model, tools=tools)
    except (LoopletError, IndexError, OSError) as exc:  # a damaged trace: TraceError and kin
        raise SessionError(" ".join(str(exc).split())) from None


def _build(
    replay: ReplaySession, reader: TraceReader, step: int, *, model: Source, tools: Source
) -> RunSession:
    entries = reader.entries
    chosen = next((e for e in entries if e.number == step), None)
    if chosen is None:
        raise SessionError(f"{reader.path.name} has no step {step} (it has {len(entries)} steps)")
    call = chosen.llm_call
    if call is None or (chosen.tool is None and chosen.error_kind in _FAILED_CALL):
        raise SessionError(
            f"step {step} has no model reply to start from (the model was not called, or the "
            "call failed); re-run from a step the model answered"
        )
    start = next(e.number for e in entries if e.llm_call == call)
    numbers = [e.number for e in entries if tools == "recorded" or e.number < start]
    recorded = [reader.step(n) for n in numbers]
    history = [s for s in recorded if s.number < start]
    agent = _agent(replay) if "agent" in (model, tools) else None
    config = agent.config if agent is not None else _config(replay, reader)
    state = agent.state if agent is not None else DefaultState()
    _continue_from(state, reader, call, history)
    if agent is not None and tools == "agent":
        registry = agent.tools
    else:
        registry = RecordedTools(_recorded_schemas(reader, recorded, config), recorded, start)
    task = reader.task
    if task is None and agent is not None:
        task = agent.task
    return RunSession(
        llm=agent.llm if agent is not None and model == "agent" else RecordedModel(reader, call),
        tools=registry,
        task=task,
        config=config,
        state=state,
        hooks=agent.hooks if agent is not None else [],
        title=f"re-run from step {start} of {reader.path.name} · model: {model} · tools: {tools}",
        breakpoints_file=replay.breakpoints_file,
    )


def _agent(replay: ReplaySession) -> RunSession:
    """The ``--agent`` factory's model, tools, config, state and hooks."""
    target = replay.agent
    if target is None:
        raise SessionError(
            "re-running with the agent's model or tools needs the agent: open the trace with "
            "looplet-tui replay TRACE --agent path/to/agent.py[:factory]"
        )
    factory, _ = load_factory(target)
    try:
        made = factory()
    except Exception as exc:  # the user's factory: one line, not a traceback
        raise SessionError(f"{target} raised {type(exc).__name__}: {exc}") from None
    return run_session(made, where=target)


def _config(replay: ReplaySession, reader: TraceReader) -> LoopConfig:
    """Settings for a re-run without the agent, from what the trace says about its run.

    The budget is the recorded one.  A trace that offered the model no tool schemas was run in
    JSON tool mode (in native mode the done tool is always offered), and a built-in done tool
    keeps its recorded name.
    """
    offered = reader.tools()
    limit = reader.manifest.get("max_steps")
    done = next((str(s.get("name")) for s in offered if _builtin_done(s)), "done")
    return LoopConfig(
        max_steps=limit if isinstance(limit, int) and not isinstance(limit, bool) else 50,
        tool_mode="native" if offered else "json",
        done_tool=done,
        context_window=replay.window,
    )


def _builtin_done(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is the loop's own done tool (under any name), not one of the agent's."""
    return {k: v for k, v in schema.items() if k != "name"} == {
        k: v for k, v in BUILTIN_DONE_SCHEMA.items() if k != "name"
    }


def _continue_from(
    state: DefaultState, reader: TraceReader, call: int, history: Sequence[Step]
) -> None:
    """Put ``state`` where the recorded run was just before model call ``call``.

    Counters carry on from the trace (step and call numbers, usage, consecutive parse failures),
    so the step budget and the parse-failure limit count the history as the original run did.
    """
    state.conversation = Conversation(reader.prompt(call))
    state.steps = StepLog(history)
    state.step_number = history[-1].number if history else 0
    state.llm_calls = call - 1
    state.usage = sum(
        (c.usage for c in reader.llm_calls() if c.index < call and c.usage is not None), Usage()
    )
    last = history[-1] if history else None
    state.current_call = last.llm_call if last is not None else None
    state.last_error = (
        last.tool_result.error if last is not None and last.status is StepStatus.ERROR else None
    )
    failures = 0
    for earlier in reversed(history):
        if earlier.tool_result.error_kind is not ErrorKind.PARSE:
            break
        failures += 1
    state.parse_failures = failures


def _recorded_schemas(
    reader: TraceReader, steps: Sequence[Step], config: LoopConfig
) -> list[dict[str, Any]]:
    """The tools the recorded model was offered, without the loop's built-in done tool (the
    re-run's loop adds its own, which needs no recorded result).

    A JSON-tool-mode trace kept no schemas (they were in the system prompt): its tools are the
    ones its steps called, taking any arguments, since the prompt already describes them.
    """
    offered = reader.tools()
    if offered:
        return [s for s in offered if not _builtin_done(s)]
    names = dict.fromkeys(s.tool for s in steps if s.tool and s.tool != config.done_tool)
    any_args: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}
    return [{"name": name, "description": "", "parameters": any_args} for name in names]


class RecordedModel:
    """A backend answering with a trace's recorded replies, from call ``first`` on, in order.

    The replies are given as recorded: text, reasoning, tool calls with their ids, usage, latency,
    stop reason and model.  Asked for more than the recording has, it fails as a model server
    would (a ``BackendError``, which the loop turns into an ``llm`` error step and an
    ``llm_error`` end with this message), so the run ends saying why rather than hanging.
    """

    in_process = True  # answers from the trace: the loop calls it directly, no deadline thread

    def __init__(self, reader: TraceReader, first: int) -> None:
        calls = sorted(reader.llm_calls(), key=lambda c: c.index)
        self.replies: list[LLMCall] = [c for c in calls if c.index >= first and not c.failed]
        self.model = reader.model or "recorded"
        self.first = first
        self._next = 0
        self._recorded_failure = (
            str(reader.manifest.get("message") or "")
            if reader.stop_reason is not None and reader.stop_reason.value == "llm_error"
            else None
        )

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSchema],
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        if self._next >= len(self.replies):
            raise BackendError(self._exhausted())
        call = self.replies[self._next]
        self._next += 1
        return recorded_reply(call, on_delta)

    def _exhausted(self) -> str:
        asked = self.first + self._next
        text = (
            f"the recording has no model reply for call {asked}: re-run with --agent to go on "
            "with a live model"
        )
        if self._recorded_failure is not None:
            text += f" (the recorded run's model failed here: {self._recorded_failure})"
        return text


class RecordedTools(BaseToolRegistry):
    """The trace's tools, each answering with the result the recording has for the same call.

    A call matches a recorded step that ran the same tool with the same arguments (compared as
    canonical JSON after redaction, as the trace stores them), so a model that makes the recorded
    calls in another order still gets their results.  Results are handed out once each, in order:
    first the steps from ``start`` on (what this stretch of the run saw), then the earlier ones;
    once every match is used the last one is given again, as a repeated read returns the same.
    Recorded errors come back with their kind; a call with no recorded result fails as an
    ``execution`` error telling the model, and the user, to run the real tools instead.
    """

    def __init__(
        self, schemas: Iterable[dict[str, Any]], steps: Sequence[Step], start: int
    ) -> None:
        self._redactor = Redactor()
        self._results: dict[tuple[str, str], list[ToolResult]] = {}
        self._used: dict[tuple[str, str], int] = {}
        ordered = [s for s in steps if s.number >= start] + [s for s in steps if s.number < start]
        for step in ordered:
            ran = step.ok or step.tool_result.error_kind in _RAN
            if step.tool_call is not None and ran:
                key = (step.tool_call.tool, canonical(step.tool_call.args))
                self._results.setdefault(key, []).append(step.tool_result)
        super().__init__(
            ToolSpec(
                name=str(schema.get("name")),
                description=str(schema.get("description") or ""),
                parameters=schema.get("parameters") or {},
                execute=partial(self.answer, str(schema.get("name"))),
                read_only=True,
            )
            for schema in schemas
        )

    def answer(self, tool: str, /, **args: Any) -> ToolResult:
        """The recorded result of ``tool(**args)`` (a fresh copy), or an error saying there is
        none.  Each spec calls this, so ``registry.get(name)(**args)`` answers the same way."""
        key = (tool, canonical(self._redactor.value(args)))
        results = self._results.get(key)
        if not results:
            shown = ", ".join(f"{k}={dumps(v)}" for k, v in args.items())
            if len(shown) > _SHOWN_ARGS:
                shown = shown[: _SHOWN_ARGS - 1] + "…"
            return ToolResult(
                error=f"no recorded result for {tool}({shown}): re-run with --agent to run "
                "real tools",
                error_kind=ErrorKind.EXECUTION,
            )
        used = self._used.get(key, 0)
        self._used[key] = used + 1
        return copy.deepcopy(results[min(used, len(results) - 1)])

    def execute(
        self,
        spec: ToolSpec,
        args: dict[str, Any],
        ctx: ToolContext | None = None,
        *,
        timeout: float | None = None,
    ) -> ToolResult:
        """Answer from the recording: nothing runs, so there is no thread, timeout or cancel."""
        return self.answer(spec.name, **args)

    async def aexecute(
        self,
        spec: ToolSpec,
        args: dict[str, Any],
        ctx: ToolContext | None = None,
        *,
        timeout: float | None = None,
    ) -> ToolResult:
        return self.answer(spec.name, **args)
