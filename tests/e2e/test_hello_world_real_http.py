"""hello_world end to end: a real subprocess, the real openai SDK, real HTTP to 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fakeserver import FakeOpenAIServer, Fault


def run_example(
    server: FakeOpenAIServer, module: str = "hello_world"
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test-e2e-key", OPENAI_MODEL="fake-model"
    )
    return subprocess.run(
        [sys.executable, "-m", f"looplet_core.examples.{module}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_hello_world_runs_against_an_openai_compatible_server(fake_openai_server):
    server = fake_openai_server
    server.reply(tool_calls=[("greet", {"name": "Alice"})], usage=(120, 9))
    server.reply(tool_calls=[("greet", {"name": "Bob"})], usage=(160, 9))
    server.reply(tool_calls=[("done", {"answer": "Greeted Alice and Bob."})], usage=(200, 12))

    out = run_example(server)

    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "fake-model at " + server.base_url in lines[0]
    assert lines[1].startswith("#1 ✓ greet(name='Alice') → 1 key [")
    assert lines[2].startswith("#2 ✓ greet(name='Bob') → 1 key [")
    assert lines[3].startswith("#3 ✓ done(answer='Greeted Alice and Bob.') → 1 key [")
    assert "tokens in/out: 480/30" in lines[4]  # the server's reported usage, summed
    second = server.requests[1]
    assert second["model"] == "fake-model"
    assert {t["function"]["name"] for t in second["tools"]} == {"greet", "done"}
    assistant, tool = second["messages"][-2:]
    assert assistant["content"] == "" and assistant["tool_calls"][0]["function"]["name"] == "greet"
    assert tool["role"] == "tool" and "Hello, Alice!" in tool["content"]


def test_hello_world_retries_a_rate_limit_and_reports_a_dead_server_clearly(fake_openai_server):
    server = fake_openai_server
    server.fail(Fault.RATE_LIMIT, retry_after=0.1)
    server.reply(tool_calls=[("done", {"answer": "ok"})])
    out = run_example(server)
    assert out.returncode == 0, out.stderr
    assert len(server.requests) == 2

    for _ in range(4):
        server.fail(Fault.SERVER_ERROR)
    out = run_example(server)
    assert out.returncode == 1
    assert "stopped: llm_error" in out.stdout
    assert "why: TransientBackendError" in out.stderr and "after 4 attempts" in out.stderr
    assert "sk-test-e2e-key" not in out.stdout + out.stderr
