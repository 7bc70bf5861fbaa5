"""``PromptLines`` reads on from what it read for an earlier prompt at the same offset; whatever
the order prompts are asked for in, each must see exactly the lines a fresh read of its bytes
gives (the invariant that reading only the new bytes relies on)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from looplet_core import Message, TraceError
from looplet_core.provenance.lazyprompt import LazyPrompt, PromptLines


def write_messages(file: Path, count: int) -> list[int]:
    """``count`` message lines; returns where each line ends (its newline included)."""
    ends: list[int] = []
    data = b""
    for n in range(count):
        text = "x" * (n % 7) + f" message {n}"
        data += (json.dumps(Message("user", text).to_dict()) + "\n").encode()
        ends.append(len(data))
    file.write_bytes(data)
    return ends


def fresh(file: Path, offset: int, length: int) -> list[bytes]:
    return file.read_bytes()[offset : offset + length].splitlines()


def check(lines: PromptLines, file: Path, offset: int, length: int) -> None:
    got, starts, found = lines.lines(offset, length)
    expected = fresh(file, offset, length)
    assert got[:found] == expected
    assert starts[:found] == [offset + sum(len(x) + 1 for x in expected[:i]) for i in range(found)]


def test_growing_shrinking_and_random_prompts_see_what_a_fresh_read_gives(tmp_path):
    file = tmp_path / "messages.jsonl"
    ends = write_messages(file, 60)
    lines = PromptLines(file)
    for end in ends:  # stepping forward: each prompt extends the last
        check(lines, file, 0, end)
    for end in reversed(ends):  # and back: each is a prefix of what was read
        check(lines, file, 0, end)
    rng = random.Random(1)
    for _ in range(300):  # any order, any cut, other offsets between
        offset = rng.choice([0, 0, 0, ends[3], ends[10]])
        length = rng.randrange(0, ends[-1] - offset + 1)
        check(lines, file, offset, length)


def test_a_cut_inside_a_line_gives_the_part_line_not_the_whole_one(tmp_path):
    file = tmp_path / "messages.jsonl"
    ends = write_messages(file, 5)
    lines = PromptLines(file)
    check(lines, file, 0, ends[4])
    check(lines, file, 0, ends[2] - 5)  # inside line 3: read again, not the run's whole line
    check(lines, file, 0, ends[2] - 1)  # line 3 without its newline: whole
    check(lines, file, 0, ends[4])


def test_lazy_prompts_in_any_order_give_their_messages(tmp_path):
    file = tmp_path / "messages.jsonl"
    ends = write_messages(file, 30)
    lines = PromptLines(file)
    prompts = [LazyPrompt(lines, n + 1, 0, ends[n], n + 1) for n in range(30)]
    for n in [29, 3, 4, 28, 0, 29, 15, 16]:
        assert [m.content for m in prompts[n]] == [
            Message.from_dict(json.loads(raw)).content for raw in fresh(file, 0, ends[n])
        ]


def test_a_prompt_past_the_end_of_a_truncated_file_is_an_error(tmp_path):
    file = tmp_path / "messages.jsonl"
    ends = write_messages(file, 10)
    lines = PromptLines(file)
    assert len(LazyPrompt(lines, 5, 0, ends[4], 5)[:]) == 5
    file.write_bytes(file.read_bytes()[: ends[6]])
    with pytest.raises(TraceError, match="should have 10 messages, found 7"):
        LazyPrompt(lines, 10, 0, ends[9], 10)[9]
