"""``Redactor.found_in`` on JSON text: never False for a value that ``Redactor.value`` changes.

The checkpointer and the trace sink scan the JSON text they are about to write, not the strings
in it: only when ``found_in`` says yes do they redact the values.  JSON escapes some characters
(a tab is ``\\t``, a quote ``\\"``, U+000B ``\\u000b``), so a secret the redactor catches in the
string must still be found in its escaped form: ``Bearer<TAB>token``, a tool's JSON text
``{"password": "..."}`` held in a string, ``api_key<TAB>= ...``.
"""

from __future__ import annotations

import json
import pathlib

from hypothesis import given, settings
from hypothesis import strategies as st

from looplet_core import (
    BaseToolRegistry,
    FileCheckpointStore,
    LoopConfig,
    MockLLMBackend,
    ProvenanceSink,
    Redactor,
    ToolSpec,
    composable_loop,
)

TOKEN = "abcdefgh12345678"  # shaped like no provider's key: only a label can say it is secret
# The whitespace characters JSON escapes, and the escape each becomes.
SPACES = ["\t", "\n", "\r", "\f", "\x0b", "\x1c", "\x1f", " ", "\t \n"]


def encodings(value: object) -> list[str]:
    """The JSON text of ``value`` as looplet's writers make it (compact and spaced)."""
    return [
        json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        json.dumps(value, ensure_ascii=False),
    ]


def labelled(space: str) -> list[str]:
    return [
        f"Bearer{space}{TOKEN}",
        f"header Authorization:{space}Bearer {TOKEN}",
        f"api_key{space}={space}{TOKEN}",
        f"password:{space}{TOKEN}",
        json.dumps({"password": TOKEN}),
        json.dumps({"client_secret": TOKEN}, indent=1),
        f"{{'cookie':{space}'{TOKEN}'}}",
    ]


def test_a_label_before_an_escaped_space_or_quote_is_still_found_in_json_text():
    redactor = Redactor(env=False)
    for space in SPACES:
        for text in labelled(space):
            assert redactor(text) != text, text  # the string itself is redacted ...
            for encoded in encodings([text]):  # ... so its JSON text must be found
                assert redactor.found_in(encoded), encoded


def test_a_user_pattern_is_found_in_json_text_whatever_it_escapes():
    redactor = Redactor([r"ACME\s\d{6}", r'id="\d+"'], env=False, builtin=False)
    for text in ("order ACME\t123456", 'tag id="42"'):
        assert redactor(text) != text
        for encoded in encodings({"text": text}):
            assert redactor.found_in(encoded), encoded
    anchored = Redactor([r"^ACME-\d{6}$"], env=False, builtin=False)
    assert anchored("ACME-123456") == "[redacted]"
    assert all(anchored.found_in(encoded) for encoded in encodings(["ACME-123456"]))


SECRETS = st.sampled_from(
    [
        "sk-proj-Abc123Def456Ghi789Jkl0",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "xoxb-1234567890-abcdefghij",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        *(f"Bearer{s}{TOKEN}" for s in SPACES),
        *(f"Authorization:{s}{TOKEN}" for s in SPACES),
        *(f"x-api-key{s}:{s}{TOKEN}" for s in SPACES),
        *(f'"password"{s}:{s}"{TOKEN}"' for s in SPACES),
    ]
)


@settings(max_examples=300, deadline=None)
@given(before=st.text(max_size=30), secret=SECRETS, after=st.text(max_size=30))
def test_a_secret_planted_in_any_text_is_found_in_its_json_text(before, secret, after):
    redactor = Redactor(env=False)
    text = f"{before} {secret} {after}"
    if redactor(text) == text:  # the text around it made it no secret (e.g. a word run-on)
        return
    for encoded in encodings({"content": text, "n": 1}):
        assert redactor.found_in(encoded), encoded


def test_escaped_secrets_never_reach_a_checkpoint_or_a_trace(tmp_path: pathlib.Path):
    secrets = {"hunter2hunter2": "", "qwertyqwerty12": "", TOKEN: ""}
    tools = BaseToolRegistry()
    tools.register(ToolSpec("note", "n", {}, lambda: f"Bearer\t{TOKEN}"))
    tools.register(ToolSpec("config", "c", {}, lambda: json.dumps({"password": "hunter2hunter2"})))
    tools.register(ToolSpec("env", "e", {}, lambda: "api_key\t= qwertyqwerty12"))
    llm = MockLLMBackend([{"tool": "note"}, {"tool": "config"}, {"tool": "env"}, {"text": "ok"}])
    config = LoopConfig(max_steps=4, checkpoint=FileCheckpointStore(tmp_path / "c"))
    sink = ProvenanceSink(tmp_path / "t")
    steps = list(composable_loop(llm=llm, tools=tools, task="t", config=config, hooks=[sink]))
    assert len(steps) == 4
    for where in ("c", "t"):
        written = b"".join(p.read_bytes() for p in (tmp_path / where).rglob("*") if p.is_file())
        assert b"[redacted]" in written
        for secret in secrets:
            assert secret.encode() not in written, (where, secret)
