"""``ContextMeter``: the token accounting behind ``Step.context``, by role, at flat cost per step.

The meter prices the prompt the loop sends without re-reading the history: it keeps a per-message
count for the run's conversation and running totals by role, so each step prices only the
messages appended since the last one.  Only ``Conversation.replace`` (compaction) makes it start
over, and even then messages that survived the rewrite keep their counts.

No estimator (``estimators.py``) knows the tokenizer of every model, so the meter calibrates: when
the server reports the prompt's real size (``usage.input_tokens``), the ratio of real to estimated
scales later estimates until the next report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from operator import is_
from typing import Any, Protocol, TypeGuard, cast

from looplet_core.context.align import align
from looplet_core.context.budget import ContextBudget
from looplet_core.context.estimators import TokenEstimator, default_estimator
from looplet_core.context.pairing import PairingMemo
from looplet_core.errors import ConfigError
from looplet_core.messages import Conversation, Message
from looplet_core.records import ContextStats

__all__ = ["ROLES", "ContextMeter", "RunContextSettings", "default_estimator", "resolve_budget"]

ROLES: tuple[str, ...] = ("system", "tools", "user", "assistant", "tool")
"""The keys of ``ContextStats.by_role``: "tools" are the tool schemas, "tool" the tool results."""

MESSAGE_OVERHEAD = 4  # role and delimiters of the chat format around each message
TOOL_CALL_OVERHEAD = 8  # id, type and function wrapper of one tool call
TOOL_SCHEMA_OVERHEAD = 8  # the wrapper around each tool definition
_PRICED_LIMIT = 4096  # messages priced outside the conversation that a meter remembers
_TEXTS_LIMIT = 1024  # texts of such messages whose estimate a meter remembers...
_TEXT_MAX = 1024  # ...if they are no longer than this (markers are; big results need not stay)
_RATIO_LIMITS = (0.25, 4.0)  # a report further off than this is a broken report, not a tokenizer


class RunContextSettings(Protocol):
    """The fields of ``LoopConfig`` a run's meter is made from (named here, not imported: the
    config sits above this package and depends on it)."""

    @property
    def context_window(self) -> int | None: ...

    @property
    def context_budget(self) -> ContextBudget | None: ...

    @property
    def token_estimator(self) -> TokenEstimator | None: ...


class ContextMeter:
    """Prices prompts by role for one run, incrementally; see the module docstring.

    ``window`` is the model's context window (None when unknown: percentages and tiers are then
    not computed); a ``budget`` with its own window supplies it.  ``budget`` (default
    ``ContextBudget()``) classifies totals into tiers.  ``ratio`` is the calibration factor
    learned from the last reported usage.
    """

    def __init__(
        self,
        estimator: TokenEstimator | None = None,
        *,
        window: int | None = None,
        budget: ContextBudget | None = None,
    ) -> None:
        if window is not None and not _positive_int(window):
            raise ConfigError(f"context window must be a positive token count, got {window!r}")
        budget = budget if budget is not None else ContextBudget()
        self.window = window if window is not None else budget.window
        self.budget = budget.with_window(self.window)
        self.estimator = estimator if estimator is not None else default_estimator()
        self.ratio = 1.0
        self._conversation: Conversation | None = None
        self._revision = -1
        self._messages: list[Message] = []  # the messages counted, in conversation order
        self._counts: list[int] = []  # raw count of each, parallel to _messages
        # id(message) -> its count, for exactly the messages in _messages (which keeps them
        # alive, so no id here can be reused by another object while it is listed).  Built on the
        # first cost query that needs it (``_known``), then kept up to date: a run that never
        # compacts never pays for a map as long as its history.
        self._ids: dict[int, int] | None = None
        self._totals: dict[str, int] = dict.fromkeys(ROLES, 0)  # raw totals of _messages
        # Messages priced for a cost query that are not (yet) in the tally, such as the markers of
        # a compaction being planned, which is then counted again and installed: id -> (the
        # message, kept alive so that its id cannot be reused, its count).  Bounded; emptied by
        # every restart, which moves the survivors into _known.
        self._priced: dict[int, tuple[Message, int]] = {}
        # The estimate of each text priced that way: compaction writes the same marker into many
        # messages ("echo returned 2,048 characters"), each a new object.  Estimators are pure
        # functions of the text, so a text is estimated once.  Bounded.
        self._texts: dict[str, int] = {}
        # The last list priced by ``_lookup`` and its counts: a compaction prices the same list
        # several times (a stage's output is counted by the chain, planned with by the next
        # stage, counted again when installed), and one identity check per message is far
        # cheaper than a look-up.  A message's count never changes, so this is never stale.
        self._memo: tuple[tuple[Message, ...], list[int]] = ((), [])
        self._tools: Sequence[Mapping[str, Any]] = ()
        self._tools_raw = 0
        self._last_raw: dict[str, int] | None = None
        self._last: tuple[int, float, ContextStats] | None = None  # length, ratio, stats
        # The tool-call pairing of the history as compaction last checked it, so that the next
        # compaction of this run walks only the messages appended since (``pairing.py``).
        self.pairing = PairingMemo()

    # -- pricing --------------------------------------------------------------------------------

    def message_tokens(self, message: Message) -> int:
        """Uncalibrated tokens of one message, framing included.

        Call ids are priced by length (random strings tokenise at about three characters a
        token), so that what the estimator sees repeats from call to call and stays cheap."""
        text = message.content
        framing = MESSAGE_OVERHEAD
        for call in message.tool_calls:
            text = f"{text} {call.tool} {call.args!r}"
            framing += TOOL_CALL_OVERHEAD + (len(call.id) + 2) // 3
        if message.tool_call_id:
            framing += (len(message.tool_call_id) + 2) // 3
        return framing + self.estimator.count(text)

    def tools_tokens(self, tools: Sequence[Mapping[str, Any]]) -> int:
        """Uncalibrated tokens of the tool schemas; cached while the same list is sent."""
        if tools is not self._tools:
            text = json.dumps(list(tools), ensure_ascii=False, default=str) if tools else ""
            self._tools = tools
            self._tools_raw = (
                TOOL_SCHEMA_OVERHEAD * len(tools) + self.estimator.count(text) if tools else 0
            )
        return self._tools_raw

    def message_costs(self, messages: Sequence[Message]) -> list[int]:
        """Uncalibrated tokens of each message, reusing the counts the meter already holds for
        messages of the run's conversation (compaction plans with this; it prices only the
        messages it has never seen).

        The common case, a list whose messages are the tally's own in the same order (a copy of
        the conversation), is answered by one identity check per message, at C speed."""
        counted = self._messages
        if len(messages) <= len(counted) and all(map(is_, messages, counted)):
            return self._counts[: len(messages)]
        return self._memo_lookup(messages)

    def message_cost(self, message: Message) -> int:
        """``message_costs([message])[0]``, without displacing the list the meter priced last
        (a stage prices each marker it writes, between pricings of the whole list)."""
        ids = self._ids  # (not built for this: a count found without it is the same count)
        raw = ids.get(id(message)) if ids is not None else None
        return raw if raw is not None else self._outside(message)

    def scaled_cost(self, message: Message) -> int:
        """``scaled_costs([message])[0]``; see ``message_cost``."""
        raw = self.message_cost(message)
        ratio = self.ratio
        return raw if ratio == 1.0 else round(raw * ratio)

    def conversation_costs(self, conversation: Conversation) -> tuple[list[int], int] | None:
        """``message_costs(list(conversation))`` and its sum, read off the tally without looking
        at a message, when the tally is that whole history (the meter measured the prompt of
        this revision and nothing was appended since); None otherwise.  The tally then holds
        the history's very messages: a conversation only grows between rewrites, and each
        rewrite bumps its revision."""
        if (
            conversation is not self._conversation
            or conversation.revision != self._revision
            or len(conversation) != len(self._messages)
        ):
            return None
        return self._counts[:], sum(self._totals.values())

    def scaled_costs(self, messages: Sequence[Message]) -> list[int]:
        """``message_costs`` with the calibration applied to each (what compaction plans with)."""
        raw = self.message_costs(messages)
        ratio = self.ratio
        return raw if ratio == 1.0 else [round(tokens * ratio) for tokens in raw]

    def count(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> int:
        """Calibrated total of a whole prompt, counted from scratch."""
        raw = sum(self.message_costs(messages))
        return self.scale(raw + self.tools_tokens(tools))

    @property
    def last_tools(self) -> Sequence[Mapping[str, Any]]:
        """The tool schemas of the last prompt measured (what ``overhead`` prices)."""
        return self._tools

    def scale(self, raw: int) -> int:
        """Apply the calibration learned from reported usage to a raw estimate."""
        return round(raw * self.ratio)

    @property
    def overhead(self) -> int:
        """Calibrated tokens every prompt pays besides its messages: the last tool schemas sent.
        Compaction strategies plan with it."""
        return self.scale(self._tools_raw)

    # -- the run's prompts ------------------------------------------------------------------------

    def measure(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] = (),
        conversation: Conversation | None = None,
    ) -> ContextStats:
        """Estimate the prompt ``messages`` + ``tools``.

        When ``messages`` is a view of ``conversation`` taken since its last rewrite, only the
        messages appended since the previous call are priced; any other list is priced whole.
        """
        length = len(messages)
        if conversation is not None and conversation.is_current(messages):
            last = self._last
            if (
                last is not None
                and conversation is self._conversation
                and conversation.revision == self._revision
                and tools is self._tools
                and length == last[0]
                and self.ratio == last[1]
            ):
                return last[2]  # measured again after hooks that changed nothing: no work
            raw = self._sync(conversation, length)
        else:
            raw = dict.fromkeys(ROLES, 0)
            for message in messages:
                raw[message.role] += self.message_tokens(message)
        # The few tokens that open the model's reply are left to calibration (the server's own
        # count includes them): "assistant" counts only what the model said, so it is 0 before
        # its first reply, and the Prompt tab's per-message counts add up to the gauge's.
        raw["tools"] = self.tools_tokens(tools)
        self._last_raw = raw
        ratio = self.ratio
        by_role = raw if ratio == 1.0 else {role: round(t * ratio) for role, t in raw.items()}
        stats = self._stats(by_role, sum(by_role.values()), measured=False)
        self._last = (length, ratio, stats) if conversation is not None else None
        return stats

    def observe(self, input_tokens: int) -> ContextStats | None:
        """The server reported the size of the prompt last measured: return the measured stats
        (the by-role split is the estimate's, scaled to the reported total) and calibrate."""
        raw = self._last_raw
        if raw is None or input_tokens <= 0:
            return None
        raw_total = sum(raw.values())
        if raw_total > 0:
            low, high = _RATIO_LIMITS
            self.ratio = min(high, max(low, input_tokens / raw_total))
        return self._stats(_apportion(raw, input_tokens), input_tokens, measured=True)

    def note_overflow(self) -> None:
        """The server rejected the prompt last measured as too long: it was bigger than the
        window, so raise the calibration until the estimate says so too."""
        raw = self._last_raw
        if raw is None or self.window is None:
            return
        raw_total = sum(raw.values())
        if raw_total > 0 and self.scale(raw_total) <= self.window:
            self.ratio = min(_RATIO_LIMITS[1], (self.window + 1) / raw_total)

    def tier(self, total: int) -> str:
        return self.budget.tier(total)

    @classmethod
    def for_run(cls, config: RunContextSettings, llm: object = None) -> ContextMeter:
        """The meter of a run: window from the config, else the budget's own, else the
        backend's ``context_window`` attribute."""
        window = config.context_window
        if window is None and config.context_budget is not None:
            window = config.context_budget.window
        if window is None:
            reported: object = getattr(llm, "context_window", None)
            if _positive_int(reported):
                window = reported
        return cls(config.token_estimator, window=window, budget=config.context_budget)

    def _stats(self, by_role: dict[str, int], total: int, *, measured: bool) -> ContextStats:
        return ContextStats.counted(by_role, total, self.window, measured, self.budget.tier(total))

    def _sync(self, conversation: Conversation, length: int) -> dict[str, int]:
        """Bring the tally up to ``length`` messages of ``conversation``; raw totals by role."""
        if conversation is not self._conversation or conversation.revision != self._revision:
            self._restart(conversation)
        messages, counts, totals, known = self._messages, self._counts, self._totals, self._ids
        for index in range(len(messages), length):
            message = conversation[index]
            tokens = self.message_tokens(message)
            messages.append(message)
            counts.append(tokens)
            if known is not None:
                known[id(message)] = tokens
            totals[message.role] += tokens
        out = dict(totals)
        for index in range(length, len(messages)):  # a view shorter than what was counted
            out[messages[index].role] -= counts[index]
        return out

    @property
    def _known(self) -> dict[int, int]:
        """The id -> count map of the tally, built when first needed and kept from then on."""
        known = self._ids
        if known is None:
            known = self._ids = dict(zip(map(id, self._messages), self._counts, strict=True))
        return known

    def _lookup(self, messages: Sequence[Message], known: dict[int, int]) -> list[int]:
        """The count of each message: from ``known`` (id -> count of a live message) where it is
        there, priced otherwise.  The look-ups run at C speed; only the misses cost Python."""
        found: list[int | None] = list(map(known.get, map(id, messages)))
        index = -1
        try:
            while True:
                index = found.index(None, index + 1)
                found[index] = self._outside(messages[index])
        except ValueError:  # no miss left
            pass
        return cast(list[int], found)

    def _outside(self, message: Message) -> int:
        """The count of a message the id map does not hold, remembered in ``_priced``."""
        priced = self._priced
        held = priced.get(id(message))
        if held is not None and held[0] is message:
            return held[1]
        tokens = self._price_new(message)
        if len(priced) >= _PRICED_LIMIT:
            priced.clear()
        priced[id(message)] = (message, tokens)
        return tokens

    def _price_new(self, message: Message) -> int:
        """``message_tokens(message)`` for a message from outside the conversation, its text
        estimated once however many messages carry it (a call-free message's text is its
        content; other messages are rare here and priced as usual)."""
        if message.tool_calls or len(message.content) > _TEXT_MAX:
            return self.message_tokens(message)
        text = message.content
        estimate = self._texts.get(text)
        if estimate is None:
            if len(self._texts) >= _TEXTS_LIMIT:
                self._texts.clear()
            estimate = self._texts[text] = self.estimator.count(text)
        framing = MESSAGE_OVERHEAD
        if message.tool_call_id:
            framing += (len(message.tool_call_id) + 2) // 3
        return framing + estimate

    def _memo_lookup(self, messages: Sequence[Message]) -> list[int]:
        """The counts of a list that is not a prefix of the tally, answered from the last such
        list priced when ``messages`` holds its very messages in the same order (a fresh list:
        callers may change theirs)."""
        memo, counts = self._memo
        if len(memo) == len(messages) and all(map(is_, messages, memo)):
            return list(counts)
        counts = self._against_tally(messages)
        self._memo = (tuple(messages), counts)
        return list(counts)

    def _against_tally(self, messages: Sequence[Message]) -> list[int]:
        """The counts of ``messages``: where it lines up with the tally (``align.py``; a
        compaction's rewrite keeps most of the history in order) the tally's own counts, so
        only the messages it changed are looked up; a list that does not line up is looked up
        whole, through the id map."""
        tally = self._messages
        found = align(tally, messages)
        cut = len(messages) - found.tail
        if (cut - found.prefix) + len(found.changed) > len(messages) // 4 + 8:
            return self._lookup(messages, self._known)
        ids = self._ids if self._ids is not None else {}
        old = self._counts
        counts = [*old[: found.prefix], *self._lookup(messages[found.prefix : cut], ids)]
        counts += old[len(tally) - found.tail :]
        for index in found.changed:
            held = ids.get(id(messages[index]))
            counts[index] = held if held is not None else self._outside(messages[index])
        return counts

    def _restart(self, conversation: Conversation) -> None:
        """A new conversation or a rewrite: recount, reusing counts of messages that survived."""
        old = self._messages  # alive until we return, so no id in the map is reused
        messages = list(conversation)
        if old:
            self._rebase(old, messages)
        else:
            counts = self._lookup(messages, {})
            totals = dict.fromkeys(ROLES, 0)
            for message, tokens in zip(messages, counts, strict=True):
                totals[message.role] += tokens
            self._messages, self._counts, self._totals, self._ids = messages, counts, totals, None
        self._priced = {}
        self._conversation = conversation
        self._revision = conversation.revision
        del old

    def _rebase(self, old: list[Message], messages: list[Message]) -> None:
        """Make ``messages`` (a rewrite of the tally ``old``) the tally, updating counts, totals
        and the id map by what the rewrite changed (``align.py``), not by a walk of the whole
        history: a compaction changes a few dozen messages of hundreds."""
        found = align(old, messages)
        old_counts, ids = self._counts, self._ids
        cut_old, cut_new = len(old) - found.tail, len(messages) - found.tail
        shift = cut_old - cut_new  # messages[i] sits against old[i + shift] in the tail
        dropped = [*range(found.prefix, cut_old), *(i + shift for i in found.changed)]
        added = [messages[i] for i in (*range(found.prefix, cut_new), *found.changed)]
        priced = self._lookup(added, ids if ids is not None else {})
        counts = [*old_counts[: found.prefix], *priced[: cut_new - found.prefix]]
        counts += old_counts[cut_old:]
        for index, tokens in zip(found.changed, priced[cut_new - found.prefix :], strict=True):
            counts[index] = tokens
        totals = dict(self._totals)
        for index in dropped:
            totals[old[index].role] -= old_counts[index]
        for message, tokens in zip(added, priced, strict=True):
            totals[message.role] += tokens
        if ids is not None:
            for index in dropped:
                ids.pop(id(old[index]), None)
            ids.update(zip(map(id, added), priced, strict=True))
            # Exact unless an object sits in the history twice (popped for one of its places,
            # or one key for two places): then the map is rebuilt.
            if len(ids) != len(messages):
                ids = dict(zip(map(id, messages), counts, strict=True))
        self._messages, self._counts, self._totals, self._ids = messages, counts, totals, ids


def _positive_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _apportion(raw: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` in proportion to ``raw`` so that the parts add up exactly."""
    raw_total = sum(raw.values())
    if raw_total <= 0:
        return dict.fromkeys(raw, 0) | {"user": total}
    shares = {role: tokens * total / raw_total for role, tokens in raw.items()}
    out = {role: int(share) for role, share in shares.items()}
    short = total - sum(out.values())
    for role in sorted(shares, key=lambda r: shares[r] - out[r], reverse=True)[:short]:
        out[role] += 1
    return out


def resolve_budget(own: ContextBudget | None, meter: ContextMeter) -> ContextBudget:
    """The budget a context hook acts on: its own (with the run's window filled in) or the run's.

    Raises ``ConfigError`` when no threshold can be known in tokens: a hook that cannot tell
    whether the window is full must say so rather than silently never act.
    """
    budget = own.with_window(meter.window) if own is not None else meter.budget
    if not budget.resolved:
        raise ConfigError(
            "the context window is unknown, so fractional budget thresholds mean nothing: set "
            "LoopConfig(context_window=...), use a backend with a context_window attribute, or "
            "give the budget token counts (ints)"
        )
    return budget
