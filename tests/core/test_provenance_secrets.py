"""Secrets never reach a trace file: environment, headers, tool output, the client's own key."""

from __future__ import annotations

import os
import re

import pytest

from looplet_core import BaseToolRegistry, ProvenanceSink, Redactor, ToolSpec

from .helpers import run
from .trace_helpers import all_trace_bytes

ENV_SECRET = "zq8Xk2pL9wQ4rT7yVb"  # follows no known key pattern: only the env scan can catch it
OPENAI_KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno"
ANTHROPIC_KEY = "sk-ant-api03-QwErTyUiOpAsDfGhJkL-zxcv"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.sig"
HEADER_KEY = "hk-9f8e7d6c5b4a"
CLIENT_KEY = "local-server-key-31337"  # the client's key: no pattern, only the sink knows it


class FakeClient:
    """Stands in for an SDK client: what a backend keeps as ``_client``."""

    api_key = CLIENT_KEY


class FakeBackend:
    model = "fake-model"

    def __init__(self) -> None:
        self._client = FakeClient()


def leaky_tools() -> BaseToolRegistry:
    tools = BaseToolRegistry()
    tools.register(
        ToolSpec(
            "env",
            "Show the environment.",
            {},
            lambda: {k: v for k, v in os.environ.items() if k.startswith("MY_")},
        )
    )
    tools.register(
        ToolSpec(
            "http",
            "Fetch a URL.",
            {"url": "str"},
            lambda *, url: {
                "request_headers": {"Authorization": f"Bearer {BEARER}", "x-api-key": HEADER_KEY},
                "body": f"debug: using {OPENAI_KEY} and {CLIENT_KEY}",
            },
        )
    )
    tools.register(ToolSpec("done", "Finish.", {"answer": "str"}, lambda *, answer: answer))
    return tools


SCRIPT = [
    {"tool": "env"},
    {"tool": "http", "args": {"url": f"https://x.test/?key={ANTHROPIC_KEY}"}},
    {"text": f"I saw {CLIENT_KEY}", "tool": "done", "args": {"answer": f"key was {ENV_SECRET}"}},
]


def test_keys_from_env_headers_tool_output_and_the_client_never_reach_a_trace_file(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)
    sink = ProvenanceSink(tmp_path, llm=FakeBackend())
    steps, result, _, _ = run(
        SCRIPT, tools=leaky_tools(), hooks=[sink], task=f"Use Authorization: Bearer {BEARER} please"
    )
    assert result.ok and len(steps) == 3
    everything = all_trace_bytes(tmp_path)
    for secret in (ENV_SECRET, OPENAI_KEY, ANTHROPIC_KEY, BEARER, HEADER_KEY, CLIENT_KEY):
        assert secret.encode() not in everything, secret
    assert b"[redacted]" in everything
    assert b"Bearer [redacted]" in everything  # the label stays, so the reader knows what it was


def test_user_patterns_and_literal_secrets_are_redacted(tmp_path):
    tools = BaseToolRegistry()
    tools.register(ToolSpec("lookup", "Look up.", {}, lambda: "order ACME-123456 for pin 8812-7"))
    sink = ProvenanceSink(tmp_path, redact=[r"ACME-\d{6}"], secrets=["8812-7"])
    run([{"tool": "lookup"}, {"tool": "done", "args": {"answer": "ok"}}], tools=tools, hooks=[sink])
    everything = all_trace_bytes(tmp_path)
    assert b"ACME-123456" not in everything and b"8812-7" not in everything
    assert b"order [redacted] for pin [redacted]" in everything


def test_an_openai_backend_key_is_found_on_its_client():
    openai = pytest.importorskip("openai")
    from looplet_core.backends.openai import OpenAIBackend
    from looplet_core.provenance.redact import client_secrets

    client = openai.OpenAI(api_key=CLIENT_KEY, base_url="http://127.0.0.1:9/v1")
    backend = OpenAIBackend(client, "gpt-test")
    assert CLIENT_KEY in client_secrets(backend)
    assert Redactor(env=False).for_client(backend)(f"key {CLIENT_KEY}!") == "key [redacted]!"


@pytest.mark.parametrize(
    "text",
    [
        OPENAI_KEY,
        ANTHROPIC_KEY,
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "xoxb-1234567890-abcdefghij",
        "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEF",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_builtin_patterns_catch_common_key_formats(text):
    assert Redactor(env=False)(f"before {text} after") == "before [redacted] after"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefgh12345", "Authorization: Bearer [redacted]"),
        ("OPENAI_API_KEY=whatever-123", "OPENAI_API_KEY=[redacted]"),
        ('{"password": "hunter2hunter2"}', '{"password": "[redacted]"}'),
    ],
)
def test_labelled_secrets_keep_their_label(text, expected):
    assert Redactor(env=False)(text) == expected


def test_ordinary_text_is_left_alone():
    text = "the secretary counted 1200 tokens; sk-short is not a key; skip-this-line"
    assert Redactor(env=False)(text) == text


def test_secret_named_json_fields_are_blanked_whatever_their_value():
    value = {"headers": {"X-Api-Key": "plainvalue", "Accept": "json"}, "input_tokens": 12}
    assert Redactor(env=False).value(value) == {
        "headers": {"X-Api-Key": "[redacted]", "Accept": "json"},
        "input_tokens": 12,
    }


def test_a_bad_user_pattern_fails_when_the_sink_is_made(tmp_path):
    with pytest.raises(re.error):
        ProvenanceSink(tmp_path, redact=["(unclosed"])


def test_new_messages_scanned_as_one_text_still_redact_the_one_holding_a_secret(tmp_path):
    # The prompt writer scans a prompt's new messages as one text and encodes them message by
    # message only when that text holds something: the secret in one message is blanked, and
    # the clean messages around it are written exactly as they are.
    tools = BaseToolRegistry()
    tools.register(ToolSpec("peek", "Peek.", {}, lambda: f"found {OPENAI_KEY} in the config"))
    tools.register(ToolSpec("plain", "Plain.", {}, lambda: "nothing to see here"))
    sink = ProvenanceSink(tmp_path)
    script = [{"tool": "plain"}, {"tool": "peek"}, {"tool": "done", "args": {"answer": "ok"}}]
    run(script, tools=tools, hooks=[sink])
    lines = (tmp_path / "messages.jsonl").read_bytes().splitlines()
    assert not any(OPENAI_KEY.encode() in line for line in lines)
    assert any(b"found [redacted] in the config" in line for line in lines)
    assert any(b'"content": "nothing to see here"' in line for line in lines)


def test_a_key_shaped_tool_name_is_blanked_in_the_step_file_and_its_event_line(tmp_path):
    # The step line of events.jsonl is written unscanned only when the step record (which holds
    # every text of that line) needed no redaction; a model that calls a "tool" named like a key
    # makes the record dirty, so the line is scanned too.
    sink = ProvenanceSink(tmp_path)
    script = [{"tool": OPENAI_KEY}, {"tool": "done", "args": {"answer": "ok"}}]
    run(script, tools=leaky_tools(), hooks=[sink])
    everything = all_trace_bytes(tmp_path)
    assert OPENAI_KEY.encode() not in everything
    events = (tmp_path / "events.jsonl").read_bytes()
    assert b'"kind": "step"' in events and b"[redacted]" in events
