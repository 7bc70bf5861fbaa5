"""``composable_loop`` (a generator of steps) and its async twin.

Both drive the same ``Engine``: the engine decides, the driver performs the effect it asks for
(call the model, run a tool, sleep before a retry) and hands steps to the caller.  The run's
``LoopResult`` is the sync generator's return value (``StopIteration.value``) and, for both, lands
on ``state.result``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import Any

from looplet_core.backends.base import LLMBackend, LLMResponse
from looplet_core.backends.deadline import agenerate_within, generate_within
from looplet_core.cancel import CancelToken
from looplet_core.engine import CallModel, Engine, RunTool, Sleep
from looplet_core.state import DefaultState, LoopConfig
from looplet_core.step import LoopResult, Step
from looplet_core.tools.registry import BaseToolRegistry

__all__ = ["async_composable_loop", "composable_loop", "run_loop"]


def _engine(
    *,
    llm: object,
    tools: BaseToolRegistry,
    task: Any,
    config: LoopConfig | None,
    state: DefaultState | None,
    hooks: Sequence[object],
    cancel: CancelToken | None,
) -> Engine:
    config = config or LoopConfig()
    state = state if state is not None else DefaultState()
    engine = Engine(
        tools=tools,
        task=task,
        config=config,
        state=state,
        hooks=list(hooks),
        cancel=cancel or CancelToken(),
        llm=llm,
    )
    # A CheckpointHook can only be among the hooks if its module was imported, so a run without
    # checkpoints never pays for loading the checkpoint code.
    if config.checkpoint is not None or "looplet_core.durable.checkpointer" in sys.modules:
        from looplet_core.durable.checkpointer import install_checkpointing

        install_checkpointing(engine, hooks)
    return engine


def composable_loop(
    *,
    llm: LLMBackend,
    tools: BaseToolRegistry,
    task: Any,
    config: LoopConfig | None = None,
    state: DefaultState | None = None,
    hooks: Sequence[object] = (),
    cancel: CancelToken | None = None,
) -> Generator[Step, None, LoopResult]:
    """Run an agent, yielding one ``Step`` per tool call.  Stop iterating whenever you like.

    ``task`` is a string or a dict (its ``goal`` leads the first user message).  Pass a
    ``DefaultState`` to read the run afterwards (``state.result``) or to continue a run.
    """
    engine = _engine(
        llm=llm, tools=tools, task=task, config=config, state=state, hooks=hooks, cancel=cancel
    )
    gen = engine.run()
    reply: Any = None
    try:
        while True:
            effect = gen.send(reply)
            reply = None
            if isinstance(effect, Step):
                yield effect
            elif isinstance(effect, RunTool):
                reply = tools.execute(effect.spec, effect.args, effect.ctx, timeout=effect.timeout)
            elif isinstance(effect, CallModel):
                reply = _generate(llm, effect, engine.cancel)
            else:
                engine.cancel.wait(effect.seconds)
    except StopIteration as finished:
        return finished.value
    finally:
        gen.close()


def _generate(
    llm: LLMBackend, effect: CallModel, cancel: CancelToken | None = None
) -> LLMResponse | BaseException:
    try:
        if effect.deadline is None or getattr(llm, "in_process", False):
            return llm.generate(effect.messages, tools=effect.tools, on_delta=effect.on_delta)
        return generate_within(
            llm,
            effect.messages,
            effect.tools,
            effect.on_delta,
            seconds=effect.deadline,
            limit=effect.limit,
            configured=effect.limit_seconds,
            cancel=cancel,
        )
    except Exception as exc:  # the engine decides: retry, stop with llm_error, or re-raise
        return exc


async def async_composable_loop(
    *,
    llm: Any,
    tools: BaseToolRegistry,
    task: Any,
    config: LoopConfig | None = None,
    state: DefaultState | None = None,
    hooks: Sequence[object] = (),
    cancel: CancelToken | None = None,
) -> AsyncGenerator[Step, None]:
    """The async twin: ``async for step in async_composable_loop(...)``.

    Uses the backend's ``agenerate`` when it has one (else runs ``generate`` in a thread) and
    awaits ``async def`` tools.  The result is on ``state.result`` (async generators cannot
    return a value), so pass a ``state`` to read it.
    """
    engine = _engine(
        llm=llm, tools=tools, task=task, config=config, state=state, hooks=hooks, cancel=cancel
    )
    gen = engine.run()
    agenerate = getattr(llm, "agenerate", None)
    reply: Any = None
    try:
        while True:
            try:
                effect = gen.send(reply)
            except StopIteration:
                return
            reply = None
            if isinstance(effect, Step):
                yield effect
            elif isinstance(effect, RunTool):
                reply = await tools.aexecute(
                    effect.spec, effect.args, effect.ctx, timeout=effect.timeout
                )
            elif isinstance(effect, CallModel):
                try:
                    reply = await _agenerate(llm, agenerate, effect, engine.cancel)
                except Exception as exc:
                    reply = exc
            else:
                await _cancellable_sleep(engine.cancel, effect)
    finally:
        gen.close()


async def _agenerate(
    llm: Any, agenerate: Any, effect: CallModel, cancel: CancelToken
) -> LLMResponse | BaseException:
    """The model call of the async loop: the backend's own ``agenerate`` (cancelled at the
    deadline), else its ``generate`` on a thread (held to the deadline there)."""
    if agenerate is None:
        import asyncio  # lazily: asyncio costs ~15 ms of `import looplet_core`

        return await asyncio.to_thread(_generate, llm, effect, cancel)

    def call() -> Any:
        return agenerate(effect.messages, tools=effect.tools, on_delta=effect.on_delta)

    if effect.deadline is None or getattr(llm, "in_process", False):
        return await call()
    return await agenerate_within(
        call, llm, seconds=effect.deadline, limit=effect.limit, configured=effect.limit_seconds
    )


async def _cancellable_sleep(cancel: CancelToken, effect: Sleep) -> None:
    import asyncio

    step = 0.05
    remaining = effect.seconds
    while remaining > 0 and not cancel.cancelled:
        await asyncio.sleep(min(step, remaining))
        remaining -= step


def run_loop(
    *,
    llm: LLMBackend,
    tools: BaseToolRegistry,
    task: Any,
    config: LoopConfig | None = None,
    state: DefaultState | None = None,
    hooks: Sequence[object] = (),
    cancel: CancelToken | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> LoopResult:
    """Run to the end and return the ``LoopResult``; ``on_step`` sees each step on the way."""
    loop = composable_loop(
        llm=llm, tools=tools, task=task, config=config, state=state, hooks=hooks, cancel=cancel
    )
    while True:
        try:
            step = next(loop)
        except StopIteration as finished:
            result: LoopResult = finished.value
            return result
        if on_step is not None:
            on_step(step)
