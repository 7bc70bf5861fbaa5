"""Shared pytest fixtures.  Keep each one small; put helpers they need in their own modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeserver import FakeOpenAIServer
from tests.pgserver import PgServer, PgServerError


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """A running OpenAI-compatible server on 127.0.0.1; script it, point a client at ``base_url``.

    See ``tests/fakeserver.py`` for the replies and faults it can serve.
    """
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _state_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """The debugger's state directory (saved breakpoints) is a temporary one in every test, so
    no test writes into the home directory of whoever runs the suite."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server on 127.0.0.1 for the whole session (``tests/pgserver.py``).

    If it cannot start, every test using it fails with the reason: the tier never skips.
    """
    try:
        server = PgServer().start()
    except PgServerError as exc:
        pytest.fail(f"the PostgreSQL test server could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
