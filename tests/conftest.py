"""Shared pytest fixtures.  Keep each one small; put helpers they need in their own modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeserver import FakeOpenAIServer


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """A running OpenAI-compatible server on 127.0.0.1; script it, point a client at ``base_url``.

    See ``tests/fakeserver.py`` for the replies and faults it can serve.
    """
    with FakeOpenAIServer() as server:
        yield server
