"""What a hook may return to change the loop.  Each has one documented, tested effect.

=================  ==========================================================================
``Allow(args)``    pre_dispatch: run the tool; with ``args``, run it with these arguments instead
                   (validated again against the tool's schema; the original ones stay on the step).
``Allow(args,      as above, but run the registered tool ``tool`` in place of the one the model
tool=name)``       called (its schema checks ``args``; its approval rule applies).
``Deny(reason)``   pre_dispatch: do not run the tool.  The model gets ``reason`` as the tool's
                   result and is told not to repeat the call; the step's status is ``denied``.
``Deny(reason,     as above, but the model is told it may retry, the other calls queued from the
retry=True)``      same reply are skipped, and the model is asked again at once.
``Stop(reason)``   any phase: end the run after this point with stop reason ``hook_stop``.
                   In pre_dispatch the tool does not run.
``InjectContext``  pre_prompt / post_dispatch / check_done: append ``text`` to the conversation as
                   a user message (after the tool results of the current reply, so tool-call
                   pairing stays valid).  It stays in the history: the model sees it from now on.
``Continue``       check_done: reject the model's ``done`` call; the model is told ``reason`` and
                   the run goes on.
``AskApproval``    pre_dispatch: pause for a human (or the configured approver) to decide.
=================  ==========================================================================

A pre_prompt hook may also return an edited ``Prompt`` (or a list of messages): that edit applies to
this one request only; the conversation history is unchanged.  A post_dispatch hook may return a
``ToolResult`` (or any value, taken as the new result data) to replace what the model will see.

Any of these may be wrapped in ``Edit(value, note=..., before=..., after=...)``: the loop acts on
``value`` exactly as if it had been returned bare, and the step's recorded decision keeps the note
and the before/after texts, so a trace, a checkpoint and a run diff show what a person (the
debugger) or a hook changed, not only that something changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Allow",
    "AskApproval",
    "ContextExhausted",
    "Continue",
    "Deny",
    "Edit",
    "InjectContext",
    "Stop",
]


@dataclass(frozen=True, slots=True)
class Allow:
    """Run the tool; ``args`` (if given) replaces the model's arguments, ``tool`` (if given) the
    tool the model called."""

    args: dict[str, Any] | None = None
    tool: str | None = None


@dataclass(frozen=True, slots=True)
class Deny:
    """Do not run the tool; tell the model why.  ``retry=True`` invites the model to try again."""

    reason: str
    retry: bool = False


@dataclass(frozen=True, slots=True)
class Stop:
    """End the run; ``reason`` lands on ``LoopResult.message``."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class InjectContext:
    """Add ``text`` to the conversation as a user message the model sees from now on."""

    text: str


@dataclass(frozen=True, slots=True)
class Continue:
    """Reject a ``done`` call: the run goes on and the model is told ``reason``."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class AskApproval:
    """Pause this call until someone approves, edits, or denies it."""

    reason: str = ""
    dangerous: bool = True


@dataclass(frozen=True, slots=True)
class ContextExhausted(Stop):
    """A ``Stop`` that ends the run with stop reason ``context_exhausted`` instead of
    ``hook_stop``: the prompt cannot be made to fit the window."""


@dataclass(frozen=True, slots=True)
class Edit:
    """A hook's return value with a record of the change it makes.

    ``value`` is what the hook would otherwise return (a ``Prompt`` or message list in
    pre_prompt, an ``Allow``/``Deny`` in pre_dispatch, a ``ToolResult`` in post_dispatch).
    ``note`` says what changed in a few words; ``before`` and ``after`` are the changed parts as
    text.  All three land on the step's ``HookDecision``.
    """

    value: Any
    note: str = ""
    before: str = ""
    after: str = ""
