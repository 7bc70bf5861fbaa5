"""Secrets never reach anything looplet writes: traces, checkpoints, logs, spans, CLI output.

The run has every way in: an API key and a token in the environment, the client's own key (sent
as the ``Authorization`` header, and echoed back by the server in a 401), a tool that dumps the
environment, a tool that returns request headers, a tool whose exception quotes the key, and a
model that repeats a key in its text, its reasoning and its arguments.  Then every byte written
under the run's directory, every log record, every span and the CLI's view of the trace are
searched for each secret.  The run also resumes from its (redacted) checkpoint.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from looplet_core import (
    BaseToolRegistry,
    DefaultState,
    FileCheckpointStore,
    LoopConfig,
    ProvenanceSink,
    Step,
    StopReason,
    ToolSpec,
    TracingHook,
    composable_loop,
    resume,
)
from looplet_core.backends.openai import OpenAIBackend
from looplet_core.cli import main as cli_main
from tests.e2e.faults import FaultAt, bounded, written_bytes
from tests.fakeserver import FakeOpenAIServer, Fault

ENV_KEY = "sk-env-A1b2C3d4E5f6G7h8I9j0K1l2"
ENV_TOKEN = "tok9f8e7d6c5b4a3928171615"  # follows no known pattern: caught by its variable name
CLIENT_KEY = "sk-client-Z9y8X7w6V5u4T3s2R1q0P9o8"
DB_PASSWORD = "hunter2-correct-horse"
SECRETS = {
    "OPENAI_API_KEY in the environment": ENV_KEY,
    "MY_SERVICE_TOKEN in the environment": ENV_TOKEN,
    "the client's key (Authorization header)": CLIENT_KEY,
    "a password a tool printed": DB_PASSWORD,
}


def leaky_tools() -> BaseToolRegistry:
    tools = BaseToolRegistry()

    def env_dump() -> dict[str, str]:
        return {k: os.environ[k] for k in ("OPENAI_API_KEY", "MY_SERVICE_TOKEN", "HOME")}

    def request_headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {CLIENT_KEY}", "X-Api-Key": CLIENT_KEY}

    def read_config() -> str:
        return f"[db]\npassword = {DB_PASSWORD}\napi_key={CLIENT_KEY}\n"

    def connect() -> None:
        raise PermissionError(f"login refused for token {ENV_TOKEN} (key {CLIENT_KEY})")

    for fn in (env_dump, request_headers, read_config, connect):
        tools.register(ToolSpec(fn.__name__, f"{fn.__name__}.", {}, fn))
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
    return tools


@pytest.fixture
def leaky_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_TOKEN)


@pytest.fixture
def client(fake_openai_server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=fake_openai_server.base_url, api_key=CLIENT_KEY, timeout=5.0
    ) as client:
        yield client


def leaky_run(
    server: FakeOpenAIServer, client: openai.OpenAI, root: Path
) -> tuple[list[Step], DefaultState, TracingHook]:
    server.reply(
        f"Using {CLIENT_KEY} as you asked.",
        tool_calls=[("env_dump", {}), ("request_headers", {})],
        reasoning=f"The environment holds {ENV_KEY}.",
    )
    server.reply(tool_calls=[("read_config", {}), ("connect", {"token": ENV_TOKEN})])
    server.reply(tool_calls=[("connect", {})])
    llm = OpenAIBackend(client, "fake-model")
    tracing = TracingHook(backend="builtin")
    state = DefaultState()
    config = LoopConfig(checkpoint=FileCheckpointStore(root / "checkpoints"), record_prompts=True)
    hooks = [FaultAt(server, Fault.UNAUTHORIZED, call=4), ProvenanceSink(root / "trace"), tracing]
    steps = bounded(
        lambda: list(
            composable_loop(
                llm=llm, tools=leaky_tools(), task="Check the setup.", config=config,
                state=state, hooks=hooks,
            )
        )
    )  # fmt: skip
    return steps, state, tracing


def test_no_secret_reaches_a_trace_a_checkpoint_a_log_or_a_span(
    fake_openai_server, client, leaky_env, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and httpx's included
    steps, state, tracing = leaky_run(fake_openai_server, client, tmp_path)

    # The run really did handle every secret: they are in its live, in-memory data.
    assert state.result is not None and state.result.stop_reason is StopReason.LLM_ERROR
    assert "HTTP 401" in state.result.message and "[redacted]" in state.result.message
    live = repr([s.to_dict() for s in steps]) + repr(list(state.conversation))
    assert all(secret in live for secret in (ENV_KEY, ENV_TOKEN, CLIENT_KEY, DB_PASSWORD))
    assert fake_openai_server.headers[0]["authorization"] == f"Bearer {CLIENT_KEY}"

    written = written_bytes(tmp_path)
    assert (tmp_path / "trace" / "manifest.json").is_file()
    assert list((tmp_path / "checkpoints").rglob("checkpoints.log"))  # scanned with the rest
    shown = io.StringIO()
    assert cli_main(["show", str(tmp_path / "trace")], out=shown, err=shown) == 0
    assert tracing.tracer is not None
    spans = repr([(s.name, s.attributes, s.error) for s in tracing.tracer.spans])
    for what, secret in SECRETS.items():
        assert secret.encode() not in written, f"{what} was written to disk"
        assert secret not in caplog.text, f"{what} was logged"
        assert secret not in spans, f"{what} is in a span"
        assert secret not in shown.getvalue(), f"{what} is shown by `python -m looplet_core show`"
    assert b"[redacted]" in written


def test_a_run_resumed_from_a_redacted_checkpoint_continues_without_the_secrets(
    fake_openai_server, client, leaky_env, tmp_path
):
    server = fake_openai_server
    steps, _, _ = leaky_run(server, client, tmp_path)
    server.reply(tool_calls=[("done", {"answer": "checked"})])

    llm = OpenAIBackend(client, "fake-model")
    run = resume(FileCheckpointStore(tmp_path / "checkpoints"), llm=llm, tools=leaky_tools())
    more = bounded(lambda: list(run))

    assert run.result is not None and run.result.stop_reason is StopReason.DONE
    assert more[0].number == len(steps) + 1
    resent = repr(server.requests[-1]["messages"])
    assert "[redacted]" in resent
    for secret in (ENV_KEY, ENV_TOKEN, CLIENT_KEY, DB_PASSWORD):
        assert secret not in resent  # what was redacted on disk stays redacted
    assert CLIENT_KEY.encode() not in written_bytes(tmp_path)
