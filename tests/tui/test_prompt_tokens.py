"""``PromptTokens`` reuses the sums of the last prompt it saw; its totals must stay exactly the
plain sum of every message's count, whatever order prompts come in (growing as a run goes,
shorter as a replay steps back, rewritten in the middle by a compaction)."""

from __future__ import annotations

import random

from looplet_core import Message
from looplet_tui.live.context import PromptTokens, message_tokens


def plain(messages: list[Message]) -> int:
    return sum(message_tokens(m) for m in messages)


def conversation(n: int, tag: str = "") -> list[Message]:
    return [
        Message("user" if i % 2 else "assistant", f"{tag}message {i} " * (i % 7 + 1))
        for i in range(n)
    ]


def test_a_growing_prompt_counts_only_its_new_messages() -> None:
    counted: list[Message] = []

    def count(message: Message) -> int:
        counted.append(message)
        return message_tokens(message)

    totals = PromptTokens(count)
    run = conversation(30)
    for length in (5, 12, 30):
        assert totals.total(run[:length]) == plain(run[:length])
    assert len(counted) == 30  # each message once, not 5 + 12 + 30


def test_a_shorter_prompt_and_an_empty_one_read_the_kept_sums() -> None:
    totals = PromptTokens()
    run = conversation(20)
    assert totals.total(run) == plain(run)
    assert totals.total(run[:7]) == plain(run[:7])
    assert totals.total([]) == 0
    assert totals.total(run) == plain(run)


def test_a_prompt_rewritten_in_the_middle_is_counted_from_where_it_parts() -> None:
    totals = PromptTokens()
    run = conversation(20)
    assert totals.total(run) == plain(run)
    compacted = [*run[:3], Message("user", "[earlier conversation removed]"), *run[15:]]
    assert totals.total(compacted) == plain(compacted)
    assert totals.total(run[:10]) == plain(run[:10])  # back to the old prompt (a replay)


def test_equal_but_distinct_messages_count_the_same() -> None:
    totals = PromptTokens()
    run = conversation(10)
    copies = [Message(m.role, m.content) for m in run]
    assert totals.total(run) == totals.total(copies) == plain(run)


def test_any_sequence_of_prompts_gives_the_plain_sums() -> None:
    rng = random.Random(7)
    base = conversation(60)
    other = conversation(60, tag="x")
    totals = PromptTokens()
    for _ in range(300):
        cut = rng.randrange(0, 61)
        tail = other[: rng.randrange(0, 10)] if rng.random() < 0.3 else []
        prompt = base[:cut] + tail
        assert totals.total(prompt) == plain(prompt)


def test_opening_the_debugger_loads_no_token_encoding_until_a_message_is_counted() -> None:
    """tiktoken's encoding costs ~0.15 s and ~50 MiB: a first screen must not wait for it."""
    import subprocess
    import sys

    probe = (
        "import sys, looplet_tui.app.debugger, looplet_tui.cli\n"
        "before = 'tiktoken' in sys.modules\n"
        "from looplet_core import Message\n"
        "from looplet_tui.live.context import message_tokens\n"
        "assert message_tokens(Message('user', 'hello there')) > 0\n"
        "print(before, 'tiktoken' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = out.stdout.split()
    assert before == "False"
    try:
        import tiktoken  # noqa: F401  (with it installed, the first count is what loads it)
    except ImportError:
        return
    assert after == "True"
