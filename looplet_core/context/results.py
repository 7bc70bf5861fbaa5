"""Which messages of a history carry a tool result, and whether ``Prune`` has cleared it.

Results are ``tool`` messages, or in JSON tool mode the "Result of <tool> (<id>):" user messages
the loop writes.  ``Prune`` clears old ones, replacing their text with a marker that starts with
``PRUNED_PREFIX``.  Kept apart from the stages so that the pairing memo (``pairing.py``), which
walks each new message once anyway, can keep the index of uncleared results that ``Prune`` would
otherwise rebuild by scanning the whole history at every compaction.
"""

from __future__ import annotations

import re

from looplet_core.messages import Message

__all__ = ["PRUNED_PREFIX", "result_parts", "uncleared_result"]

PRUNED_PREFIX = "[tool result cleared to save context"
_JSON_RESULT = re.compile(r"Result of (?P<tool>[^\s(]+) \((?P<id>[^)\n]*)\):\n")


def result_parts(message: Message) -> tuple[str, str, str, str] | None:
    """(header, body, tool, call id) when ``message`` carries a tool result, else None."""
    if message.role == "tool":
        return "", message.content, message.name or "the tool", message.tool_call_id or ""
    if message.role == "user" and (found := _JSON_RESULT.match(message.content)):
        header = found.group(0)
        return header, message.content[len(header) :], found.group("tool"), found.group("id")
    return None


def uncleared_result(message: Message) -> bool:
    """Whether ``message`` carries a tool result that ``Prune`` has not cleared."""
    role = message.role
    if role == "tool":  # the common case first: this runs on every message walked
        return not message.content.startswith(PRUNED_PREFIX)
    if role != "user":
        return False
    found = result_parts(message)
    return found is not None and not found[1].startswith(PRUNED_PREFIX)
