"""``result_to_text``: what the model is shown of a tool's result, whatever its shape."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, cast

from looplet_core.jsonsafe import clip_depth

__all__ = ["result_to_text"]

_TRUNCATED = "…[truncated {} chars]"


def result_to_text(data: Any, limit: int | None = None) -> str:
    """The text the model is shown for a tool's result.

    A string is used as is; anything else is JSON (``ensure_ascii=False``), with dataclasses as
    dicts, sets as lists and other objects as ``str()``.  Past ``limit`` characters the text is cut
    to its first ``limit`` characters followed by ``…[truncated N chars]``, N being what was cut.
    """
    if isinstance(data, str):
        text = data
    else:
        try:
            text = json.dumps(data, ensure_ascii=False, default=_json_default)
        except RecursionError:  # nested too deep for json (and for repr): show the top levels
            text = json.dumps(clip_depth(data), ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError):  # circular or exotic: show the repr
            try:
                text = repr(data)
            except RecursionError:
                text = json.dumps(clip_depth(data), ensure_ascii=False, default=_json_default)
    if limit is not None and len(text) > limit:
        cut = max(limit, 0)
        return text[:cut] + _TRUNCATED.format(len(text) - cut)
    return text


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return list(cast(Iterable[Any], value))
    return str(value)
