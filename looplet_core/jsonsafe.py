"""JSON for values that came from outside the library: tool results and model output of any shape.

``json.dumps`` raises ``RecursionError`` on a value nested about a thousand levels deep, and a
tool may well return one (a parsed document, a linked structure).  The writers of checkpoints and
traces catch that and write ``clip_depth(value)`` instead: the same value with whatever lies
deeper than ``DEPTH_LIMIT`` levels replaced by a short marker.  So a run never crashes on the shape
of a tool's data, and what was written can always be read back (the readers refuse nothing that
the writers produce).  Normal data never pays for this: it is only used after a dump failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

__all__ = ["DEPTH_LIMIT", "clip_depth", "jsonable"]

DEPTH_LIMIT = 100
_NODE_BUDGET = 1_000_000


def clip_depth(value: Any, limit: int = DEPTH_LIMIT) -> Any:
    """A copy of ``value`` (dicts, lists and tuples; other values as they are) cut at ``limit``
    levels; a cycle or more than a million nodes are cut the same way."""
    budget = [_NODE_BUDGET]
    on_path: set[int] = set()

    def copy(item: object, depth: int) -> Any:
        if not isinstance(item, Mapping | list | tuple):
            return item
        key = id(cast(object, item))
        budget[0] -= 1
        if depth >= limit or budget[0] < 0 or key in on_path:
            what = "a cycle" if key in on_path else f"nested deeper than {limit} levels"
            return f"[{type(cast(object, item)).__name__} not kept: {what}]"
        on_path.add(key)
        try:
            if isinstance(item, Mapping):
                pairs = cast(Mapping[object, object], item).items()
                return {k if isinstance(k, str) else str(k): copy(v, depth + 1) for k, v in pairs}
            return [copy(v, depth + 1) for v in cast(list[object], item)]
        finally:
            on_path.discard(key)

    return copy(value, 0)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data for a record (a task in an event or a checkpoint): objects
    JSON cannot hold become their ``repr``, and nesting is capped like ``clip_depth``."""
    try:
        return json.loads(json.dumps(value, default=repr))
    except RecursionError:
        return json.loads(json.dumps(clip_depth(value), default=repr))
    except (TypeError, ValueError):
        return repr(value)
