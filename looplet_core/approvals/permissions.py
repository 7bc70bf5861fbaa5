"""Permission rules: allow, deny or ask before a tool runs.

    PermissionHook([
        deny("delete_*", args={"table": r"prod_.*"}, reason="never touch production"),
        ask("delete_*"),
        allow("read_*", "list_*"),
    ], default="ask")

A rule matches a call when the tool name matches one of its globs (``fnmatch``: ``*``, ``?``,
``[abc]``), every argument matcher matches, and its ``when`` predicate (if any) returns True.  An
argument matcher is a regular expression that must match the *whole* argument (strings as they
are, other values as JSON, so ``{"n": r"[0-9]+"}`` works for integers), or a callable taking the
value.  A call named by no argument matcher's key never matches that rule.

Precedence does not depend on order: if any matching rule denies, the call is denied; else if any
asks, it goes to approval (once: the engine's approval step, which also honours "always"
decisions); else if any allows, it runs; else ``default`` decides.  Each decision lands on the step
as a ``HookDecision`` by this hook, and deny/ask say which rule decided.  An ``allow`` cannot skip a
tool's own ``requires_approval``: remember an "always" approval for that.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from looplet_core.decisions import Allow, AskApproval, Deny
from looplet_core.errors import ConfigError
from looplet_core.messages import ToolCall

__all__ = [
    "ArgMatcher",
    "PermissionHook",
    "PermissionRule",
    "allow",
    "arg_text",
    "args_match",
    "ask",
    "deny",
]

Action = Literal["allow", "deny", "ask"]
ArgMatcher = str | re.Pattern[str] | Callable[[Any], bool]
_RANK: dict[str, int] = {"deny": 0, "ask": 1, "allow": 2}


def arg_text(value: Any) -> str:
    """How an argument is matched: a string as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def args_match(matchers: Mapping[str, ArgMatcher], args: Mapping[str, Any]) -> bool:
    """True if every named argument is present and its matcher accepts it."""
    for name, matcher in matchers.items():
        if name not in args:
            return False
        value = args[name]
        if isinstance(matcher, str | re.Pattern):
            if re.fullmatch(matcher, arg_text(value)) is None:
                return False
        elif not matcher(value):
            return False
    return True


@dataclass(frozen=True, slots=True)
class PermissionRule:
    """One rule; build it with ``allow`` / ``deny`` / ``ask``."""

    action: Action
    tools: tuple[str, ...] = ("*",)
    args: Mapping[str, ArgMatcher] = field(default_factory=dict[str, ArgMatcher])
    when: Callable[[ToolCall], bool] | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.action not in _RANK:
            raise ConfigError(f"permission action must be allow, deny or ask, got {self.action!r}")
        for name, matcher in self.args.items():
            if isinstance(matcher, str):
                try:
                    re.compile(matcher)
                except re.error as exc:
                    raise ConfigError(
                        f"argument matcher for {name!r} is not a regex: {exc}"
                    ) from None

    def matches(self, tc: ToolCall) -> bool:
        if not any(fnmatch.fnmatchcase(tc.tool, pattern) for pattern in self.tools):
            return False
        if self.args and not args_match(self.args, tc.args):
            return False
        return self.when is None or bool(self.when(tc))

    def describe(self) -> str:
        """``deny delete_* (table=~'prod_.*')``: how the rule is named on steps."""
        parts = [f"{name}=~{_matcher_text(m)}" for name, m in self.args.items()]
        if self.when is not None:
            parts.append(f"when {getattr(self.when, '__name__', 'predicate')}")
        detail = f" ({', '.join(parts)})" if parts else ""
        return f"{self.action} {','.join(self.tools)}{detail}"


def _matcher_text(matcher: ArgMatcher) -> str:
    if isinstance(matcher, re.Pattern):
        return repr(matcher.pattern)
    if isinstance(matcher, str):
        return repr(matcher)
    return getattr(matcher, "__name__", "predicate")


def _rule(
    action: Action,
    tools: tuple[str, ...],
    args: Mapping[str, ArgMatcher] | None,
    when: Callable[[ToolCall], bool] | None,
    reason: str,
) -> PermissionRule:
    return PermissionRule(action, tools or ("*",), dict(args or {}), when, reason)


def allow(
    *tools: str,
    args: Mapping[str, ArgMatcher] | None = None,
    when: Callable[[ToolCall], bool] | None = None,
    reason: str = "",
) -> PermissionRule:
    """Let matching calls run (unless a deny or ask rule also matches)."""
    return _rule("allow", tools, args, when, reason)


def deny(
    *tools: str,
    args: Mapping[str, ArgMatcher] | None = None,
    when: Callable[[ToolCall], bool] | None = None,
    reason: str = "",
) -> PermissionRule:
    """Refuse matching calls; the model is told ``reason`` and the rule."""
    return _rule("deny", tools, args, when, reason)


def ask(
    *tools: str,
    args: Mapping[str, ArgMatcher] | None = None,
    when: Callable[[ToolCall], bool] | None = None,
    reason: str = "",
) -> PermissionRule:
    """Send matching calls to approval (unless a deny rule also matches)."""
    return _rule("ask", tools, args, when, reason)


class PermissionHook:
    """A ``pre_dispatch`` hook that applies ``rules`` with deny > ask > allow > ``default``.

    ``default`` is ``"ask"``: a call no rule mentions is shown to a person rather than run or
    refused silently.  Set ``name`` to tell several permission hooks apart on steps.
    """

    def __init__(
        self,
        rules: list[PermissionRule] | tuple[PermissionRule, ...] = (),
        *,
        default: Action = "ask",
        name: str = "PermissionHook",
    ) -> None:
        if default not in _RANK:
            raise ConfigError(f"default must be allow, deny or ask, got {default!r}")
        self.rules = tuple(rules)
        self.default: Action = default
        self.name = name

    def decide(self, tc: ToolCall) -> tuple[Action, PermissionRule | None]:
        """The action for ``tc`` and the rule that decided it (None: the default)."""
        best: PermissionRule | None = None
        for rule in self.rules:
            if (best is None or _RANK[rule.action] < _RANK[best.action]) and rule.matches(tc):
                best = rule
                if rule.action == "deny":
                    break
        if best is None:
            return self.default, None
        return best.action, best

    def pre_dispatch(
        self, state: object, log: object, tc: ToolCall, step: int
    ) -> Allow | Deny | AskApproval:
        action, rule = self.decide(tc)
        why = f"rule {rule.describe()}" if rule else f"no rule matched (default: {self.default})"
        if rule is not None and rule.reason:
            why = f"{rule.reason} [{why}]"
        if action == "deny":
            return Deny(f"permission denied by {why}")
        if action == "ask":
            return AskApproval(f"permission {why}")
        return Allow()
