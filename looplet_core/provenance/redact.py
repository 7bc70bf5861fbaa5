"""Secret redaction applied to everything a trace writes, before it is written.

Traces get shared (attached to bug reports, committed as eval fixtures), and models, tools and
servers all echo secrets back: a tool that prints its environment, an error that quotes the key it
rejected, a header dump.  So the sink runs every string it writes through one ``Redactor``:

* **Built-in patterns**: OpenAI (``sk-...``, ``sk-proj-...``), Anthropic (``sk-ant-...``), AWS
  access key ids, GitHub, Slack, Google, Hugging Face and Groq tokens, ``Bearer <token>``,
  ``Authorization:`` / ``x-api-key:`` / ``api_key=`` style assignments, and PEM private keys.
* **Literal secrets** you pass (``secrets=[...]``), the API key of any client or backend you pass
  (``Redactor.for_client``), and by default the values of environment variables whose names say
  they are secret (``OPENAI_API_KEY``, ``GITHUB_TOKEN``, ``DB_PASSWORD``, ...).  A literal secret
  is matched anywhere, so a key that follows no known pattern is still caught.
* **Your patterns** (``patterns=[r"ACME-\\d{8}", re.compile(...)]``).
* **Secret-named fields**: in JSON-like values, the string under a key such as ``Authorization``,
  ``x-api-key``, ``password`` or ``OPENAI_API_KEY`` is replaced whatever it looks like, so a header
  dump or a config a tool returns is covered too.

Everything is one compiled alternation, so a string without secrets costs one regex scan.
Matches become ``[redacted]``; for header-style patterns the label stays (``Bearer [redacted]``) so
the trace still says what was there.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

__all__ = ["REDACTED", "Redactor", "client_secrets", "is_secret_env_name", "secret_env_values"]

REDACTED = "[redacted]"

# Names that label a secret, in text (``api_key=...``) and as JSON keys.
_SECRET_NAMES = (
    r"api[-_]?key|apikey|access[-_]?token|auth[-_]?token|refresh[-_]?token|session[-_]?token"
    r"|secret|client[-_]?secret|secret[-_]?key|password|passwd|cookie"
)

# Each entry: a regex; a named group ``keep`` (if any) is a label kept in front of [redacted].
_BUILTIN: tuple[str, ...] = (
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    r"\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    r"\bgithub_pat_[A-Za-z0-9_]{30,}\b",
    r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",
    r"\bAIza[0-9A-Za-z_\-]{30,}",
    r"\bhf_[A-Za-z0-9]{30,}\b",
    r"\bgsk_[A-Za-z0-9]{30,}\b",
    r"(?P<keep>(?i:bearer)\s+)[A-Za-z0-9._~+/=\-]{8,}",
    r"(?P<keep>(?i:\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:basic\s+)?))"
    r"[^\s\"'\\,;]{8,}",
    rf"(?P<keep>(?i:(?:{_SECRET_NAMES})[\"']?\s*[:=]\s*[\"']?))[^\s\"'\\,;]{{6,}}",
)

# Every built-in match contains one of these (case-sensitive) ...
_NEEDLES = (
    "-----BEGIN",
    "sk-",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxr-",
    "xoxs-",
    "AIza",
    "hf_",
    "gsk_",
)
# The needles by a substring each of a group's holds, so clean text costs a few fast substring
# tests (str's own search) instead of one alternation regex, which tries a branch at every
# "s", "g" or "h".  Each needle is in exactly the group whose key it contains (tested).
_NEEDLE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("-", tuple(n for n in _NEEDLES if "-" in n)),
    ("gh", tuple(n for n in _NEEDLES if "-" not in n and "gh" in n)),
    ("A", tuple(n for n in _NEEDLES if "-" not in n and "gh" not in n and "A" in n)),
    ("_", tuple(n for n in _NEEDLES if "-" not in n and "gh" not in n and "A" not in n)),
)
# ... or, in lower case, one of these needles followed by what the probe wants.  ``found_in``
# is given JSON text, where the space after a label may be an escape (a tab is ``\t``, U+000B
# is ``\u000b``) and a quote is ``\"``: each probe takes those too (tested), since the string
# they stand for is redacted.
_SPACE = r"(?:\s|\\[tnrf]|\\u00(?:0[9a-d]|1[c-f]))"
_QUOTE = r"(?:\\?[\"'])?"
_LOW_PROBES = tuple(
    (needle, re.compile(probe))
    for needle, probe in (
        ("bearer", rf"bearer{_SPACE}"),
        ("authorization", r"authorization"),
        ("key", rf"key{_QUOTE}{_SPACE}*[:=]"),
        ("token", rf"token{_QUOTE}{_SPACE}*[:=]"),
        ("secret", rf"secret{_QUOTE}{_SPACE}*[:=]"),
        ("passw", rf"passw(?:or)?d{_QUOTE}{_SPACE}*[:=]"),
        ("cookie", rf"cookie{_QUOTE}{_SPACE}*[:=]"),
    )
)

# JSON keys whose string values are secrets whatever they look like (header dumps, configs).
_SECRET_KEY = re.compile(rf"(?i)^(?:.*[-_])?(?:authorization|{_SECRET_NAMES})$")
_SECRET_ENV_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|SECRETS|PASSWORD|PASSWD|PASS|CREDENTIALS?|AUTH)(?:_|$)"
)
_MIN_SECRET_LEN = 8
_ANCHOR = re.compile(r"[$^]|\\[AZ]")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def is_secret_env_name(name: str) -> bool:
    """True for names like ``OPENAI_API_KEY``, ``GITHUB_TOKEN``, ``DB_PASSWORD``."""
    return _SECRET_ENV_NAME.search(name.upper()) is not None


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret (8+ characters)."""
    env = os.environ if environ is None else environ
    return [
        value
        for name, value in env.items()
        if len(value) >= _MIN_SECRET_LEN and is_secret_env_name(name)
    ]


def client_secrets(obj: object) -> list[str]:
    """API keys held by a client or a backend wrapping one (``api_key``, ``auth_token``).

    Looks at the object and at its ``client`` / ``_client`` attribute, which is where looplet's
    backends keep the SDK client they were given.
    """
    found: list[str] = []
    seen: set[int] = set()
    todo: list[object] = [obj]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        for attr in ("api_key", "auth_token"):
            value = getattr(current, attr, None)
            if isinstance(value, str) and len(value) >= 4:
                found.append(value)
        todo.extend(getattr(current, attr, None) for attr in ("client", "_client"))
    return found


class Redactor:
    """Replaces secrets in strings and in nested JSON-like values.

    ``patterns`` are added to the built-in ones (``builtin=False`` drops those); ``secrets`` are
    literal strings; ``env=True`` adds the values of secret-named environment variables, read once
    here.  Calling the redactor on a string returns the string redacted.
    """

    __slots__ = ("_anchored", "_builtin", "_literals", "_needles", "_regex", "_user")

    def __init__(
        self,
        patterns: Iterable[str | re.Pattern[str]] = (),
        *,
        secrets: Iterable[str] = (),
        env: bool = True,
        builtin: bool = True,
    ) -> None:
        literals = {s for s in secrets if len(s) >= 4}
        if env:
            literals.update(secret_env_values())
        user: list[str] = []
        for pattern in patterns:
            source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
            re.compile(source)  # fail here, naming the user's pattern, not in the alternation
            # Global flags like "(?i)..." must lead the whole regex; scope them to this part.
            flags = _LEADING_FLAGS.match(source)
            user.append(f"(?{flags[1]}:{source[flags.end() :]})" if flags else source)
        self._builtin = builtin
        self._literals = frozenset(literals)
        self._user = tuple(re.compile(p) for p in user)
        # An anchor (or what looks like one) means the pattern cannot be tried on JSON text.
        self._anchored = any(_ANCHOR.search(p) for p in user)
        # Literals first and longest first, so a secret that contains another is replaced whole.
        parts = [re.escape(s) for s in sorted(literals, key=len, reverse=True)]
        parts += [*(_BUILTIN if builtin else ()), *user]
        alternatives = [
            "(?:" + part.replace("(?P<keep>", f"(?P<keep{i}>") + ")" for i, part in enumerate(parts)
        ]
        self._regex = re.compile("|".join(alternatives)) if alternatives else None
        # Substrings every match contains: one search for any of them, far faster than the
        # full alternation, decides whether a string needs the regex at all.  Literals also
        # appear as JSON escapes them, because ``found_in`` scans JSON text.
        needles = set(literals) | {json.dumps(s, ensure_ascii=False)[1:-1] for s in literals}
        ordered = sorted(needles, key=len, reverse=True)
        self._needles = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """A copy that also blanks these literal strings."""
        return Redactor(
            self._user, secrets=[*self._literals, *secrets], env=False, builtin=self._builtin
        )

    def for_client(self, client: object) -> Redactor:
        """A copy that also blanks ``client``'s API key (see ``client_secrets``)."""
        return self.with_secrets(client_secrets(client))

    def found_in(self, text: str) -> bool:
        """Whether ``text`` may hold something to redact (never False when it does).

        Clean text, the common case, costs a few substring tests; JSON keys such as
        ``"password":`` count, since ``value`` blanks what they hold.  ``text`` may be the JSON
        text of the values (as the checkpointer and the trace sink pass it): a label followed by
        an escaped tab or quote is found there too.  With patterns of your own, any text holding
        a backslash counts as found (a JSON escape may hide what the pattern wants), and any
        text at all when a pattern has an anchor (``^``, ``$``, ``\\A``, ``\\Z``), which JSON
        text would not meet where the string does.
        """
        if self._needles is not None and self._needles.search(text):
            return True
        if self._builtin:
            for key, group in _NEEDLE_GROUPS:
                if key in text:
                    for needle in group:
                        if needle in text:
                            return True
            low = text.lower()
            for needle, probe in _LOW_PROBES:
                if needle in low and probe.search(low):
                    return True
        # A user's pattern may match a character JSON escapes (a tab, a quote): text with an
        # escape in it is then handed to the full redaction, which sees the strings themselves.
        if not self._user:
            return False
        return self._anchored or "\\" in text or any(p.search(text) for p in self._user)

    def __call__(self, text: str) -> str:
        if self._regex is None or not self.found_in(text):
            return text
        return self._regex.sub(_replace, text)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (keys included) redacted; containers are copied."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in cast(dict[Any, Any], value).items():
                if isinstance(k, str):
                    secret = isinstance(v, str) and v and _SECRET_KEY.match(k)
                    out[self(k)] = REDACTED if secret else self.value(v)
                else:
                    out[k] = self.value(v)
            return out
        if isinstance(value, list | tuple):
            return [self.value(v) for v in cast(Iterable[Any], value)]
        return value


def _replace(match: re.Match[str]) -> str:
    for name, text in match.groupdict().items():
        if text is not None and name.startswith("keep"):
            return text + REDACTED
    return REDACTED
