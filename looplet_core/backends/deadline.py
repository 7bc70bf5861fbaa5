"""One model call held to a total deadline, whatever the backend and the server do.

A client's ``timeout`` bounds the wait between two reads, not the call: a server that sends one
byte every half second, or SSE keep-alive lines and never a chunk, keeps every read short and
the call open for ever.  Only a clock outside the call can end it.

The sync loop runs the call on a worker thread and waits on it for at most the deadline (and
for the run's cancel token, so quitting never waits on the model either).  Past the deadline the
worker is abandoned, not killed (Python cannot stop a thread): it ends when the server closes the
connection or the client's own read timeout fires, and its late text is no longer streamed to
the listener.  The async loop cancels the coroutine instead, which closes the connection at once.

Backends that answer in-process without I/O (``MockLLMBackend``, ``ReplayBackend``) set
``in_process = True`` and are called directly: a thread per call would buy them nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from looplet_core.backends.base import DeltaCallback, LLMResponse, ToolSchema
from looplet_core.cancel import CancelToken
from looplet_core.errors import DeadlineError
from looplet_core.messages import Message

__all__ = ["CallAbandoned", "agenerate_within", "deadline_error", "generate_within"]

_POLL = 0.1  # how often a waiting call looks at the cancel token


class CallAbandoned(Exception):
    """The run was cancelled while the model was answering: its reply will not be waited for."""


def deadline_error(
    llm: object, seconds: float, limit: str, started: float, configured: float | None = None
) -> DeadlineError:
    """The error for a call that ran out of time, in words a user can act on; ``configured`` is
    the setting's value when the call had less than all of it (a run deadline nearly spent)."""
    took = time.monotonic() - started
    seconds = configured if configured is not None else seconds
    model = getattr(llm, "model", None)
    who = f" from {model}" if isinstance(model, str) and model else ""
    return DeadlineError(
        f"no complete reply{who} within {limit}={seconds:g} s (gave up after {took:.1f} s): "
        "the server is stalled or too slow (a client timeout only bounds each read, so a server "
        f"that trickles bytes or keep-alive lines never trips it); raise LoopConfig.{limit} "
        "if the model is just slow",
        limit=limit,
        seconds=seconds,
    )


def generate_within(
    llm: Any,
    messages: Sequence[Message],
    tools: Sequence[ToolSchema],
    on_delta: DeltaCallback | None,
    *,
    seconds: float,
    limit: str,
    configured: float | None = None,
    cancel: CancelToken | None = None,
) -> LLMResponse:
    """``llm.generate(...)`` on a worker thread, waited on for at most ``seconds``.

    Raises ``DeadlineError`` when the time runs out and ``CallAbandoned`` when ``cancel`` is set
    first; the backend's own errors are raised as they are.
    """
    started = time.monotonic()
    finished = threading.Event()
    given_up = threading.Event()
    outcome: list[LLMResponse | BaseException] = []

    def guarded(kind: str, text: str) -> None:
        if on_delta is not None and not given_up.is_set():  # an abandoned call's text would
            on_delta(kind, text)  # read as the next attempt's

    listener = guarded if on_delta is not None else None

    def work() -> None:
        try:
            outcome.append(llm.generate(messages, tools=tools, on_delta=listener))
        except BaseException as exc:  # handed to the loop's thread, which decides
            outcome.append(exc)
        finally:
            finished.set()

    threading.Thread(target=work, name="looplet-model-call", daemon=True).start()
    ends = started + seconds
    while not finished.wait(min(_POLL, max(0.0, ends - time.monotonic()))):
        if cancel is not None and cancel.cancelled:
            given_up.set()
            raise CallAbandoned(cancel.reason or "cancelled")
        if time.monotonic() >= ends:
            given_up.set()
            raise deadline_error(llm, seconds, limit, started, configured)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


async def agenerate_within(
    call: Callable[[], Any],
    llm: object,
    *,
    seconds: float,
    limit: str,
    configured: float | None = None,
) -> LLMResponse:
    """Await ``call()`` (a backend's ``agenerate``) for at most ``seconds``, then cancel it."""
    import asyncio  # lazily: asyncio costs ~15 ms of `import looplet_core`

    started = time.monotonic()
    try:
        return await asyncio.wait_for(call(), timeout=seconds)
    except TimeoutError:
        raise deadline_error(llm, seconds, limit, started, configured) from None
