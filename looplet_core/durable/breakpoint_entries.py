"""The entries of a run's breakpoints in its store: what each one means, and which calls it stops.

A run's breakpoints (``RunStore.breakpoints``) are a JSON list that several processes write: the
run's own ``StoreBreakpoints`` hook, ``python -m looplet_core runs pause|continue``, attached
debuggers.  Entries are plain dicts:

* a standing breakpoint: ``{"tool": GLOB}`` and/or ``{"args": REGEX}`` (searched in the call's
  arguments as sorted JSON, as the debugger's own breakpoints do), optionally ``"enabled":
  false`` (kept, not checked), ``"key"`` (a unique id, so one writer removes exactly its entry)
  and ``"by"`` (who set it);
* ``{"pause": true}``: pause before the next call;
* ``{"paused_at": N}``: written by the run while it is paused before step ``N``'s call;
* ``{"release": N}``: lets the run paused at step ``N`` go on; with ``"step": true`` it pauses
  again before its next call (the debugger's ``n``).

Nothing here touches a store.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["args_text", "is_standing", "stops", "without_pauses"]

_CONTROL = frozenset({"pause", "paused_at", "release"})


def is_standing(entry: Mapping[str, Any]) -> bool:
    """Whether ``entry`` is a standing breakpoint (a tool glob or an argument regex), not one
    of the pause/release entries that come and go with a pause."""
    if _CONTROL & set(entry):
        return False
    return isinstance(entry.get("tool"), str) or isinstance(entry.get("args"), str)


def args_text(args: Mapping[str, Any]) -> str:
    """A call's arguments as an argument regex is searched in (sorted keys, unescaped text)."""
    return json.dumps(dict(args), ensure_ascii=False, sort_keys=True, default=str)


def stops(entry: Mapping[str, Any], tool: str, args: Mapping[str, Any]) -> bool:
    """Whether ``entry`` pauses the run before calling ``tool`` with ``args``.

    An argument regex that does not compile (the entry was written by hand) stops at every call
    its tool glob matches: a breakpoint that cannot be checked errs on stopping."""
    if entry.get("pause"):
        return True
    if not is_standing(entry) or entry.get("enabled") is False:
        return False
    pattern = entry.get("tool")
    if isinstance(pattern, str) and not fnmatch.fnmatchcase(tool, pattern):
        return False
    regex = entry.get("args")
    if not isinstance(regex, str):
        return True
    try:
        return re.search(regex, args_text(args)) is not None
    except re.error:
        return True


def without_pauses(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` once a pause is over: the pause, paused-at and release entries go."""
    return [e for e in entries if not e.get("pause") and not {"release", "paused_at"} & set(e)]
