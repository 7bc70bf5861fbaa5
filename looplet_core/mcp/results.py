"""What a tool step holds for an MCP ``tools/call`` result: its text, its structured content, and
a description of everything else.  Works on the result as it travels (a JSON object with
``content``, ``structuredContent`` and ``isError``), so it needs no SDK and is tested on its own.

The rules (docs/mcp.md, "Results"):

* Text blocks are joined with blank lines; an embedded text resource contributes its text under
  a one-line header naming its URI.
* Images, audio, binary resources, resource links and block types this module does not know are
  *described*, one line each, with their type, MIME type and size (``[image image/png, 68 bytes,
  not shown]``): never dropped silently, never pasted as base64 into the model's context.
* ``structuredContent`` wins when present: the step's data is that object, so hooks and evals
  read its fields, and text that only repeats it as JSON is left out.  A server that wraps a
  plain return value (``{"result": 3}`` with the text ``3``) gives the value itself, ``3``.  Any
  other text or description is kept beside it, as ``{"structured": ..., "text": ...}``.
* ``isError`` makes the call raise ``MCPToolError`` with the server's text, so the loop records
  an error step the model is told about.
* ``max_chars`` (None: keep everything) cuts the text kept on the step, with a note saying how
  much was cut; what the *model* sees is cut further by ``LoopConfig.result_limit``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from looplet_core.errors import MCPToolError

__all__ = ["describe_block", "result_data"]

_CUT = "\n…[MCP result cut: kept {kept:,} of {total:,} characters (max_result_chars)]"


def result_data(
    result: Mapping[str, Any], *, server: str, tool: str, max_chars: int | None = None
) -> Any:
    """The step's data for one ``CallToolResult`` (as JSON); raises ``MCPToolError`` on isError."""
    blocks = cast(Sequence[object], result.get("content") or ())
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Mapping):
            parts.append(describe_block(cast(Mapping[str, Any], block)))
        else:
            parts.append(f"[content block that is not an object: {type(block).__name__}]")
    text = "\n\n".join(parts)
    if result.get("isError"):
        message = text or "the server reported an error and sent no text"
        raise MCPToolError(
            f"MCP tool {tool!r} of server {server!r} failed: {_cut(message, max_chars)}",
            server=server,
        )
    structured = result.get("structuredContent")
    if structured is None:
        return _cut(text, max_chars)
    value = _single_value(structured)
    extra: list[str] = []
    unwrap = False
    for part, block in zip(parts, blocks, strict=True):
        said = _text_of(block)
        if said is not None and _same(said, structured):
            continue
        if said is not None and value is not _NONE and _same(said, value):
            unwrap = True
            continue
        extra.append(part)
    if extra:
        return {"structured": structured, "text": _cut("\n\n".join(extra), max_chars)}
    return value if unwrap else structured


def describe_block(block: Mapping[str, Any]) -> str:
    """One content block as text: text as is, anything else as a one-line description."""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind in ("image", "audio"):
        return f"[{kind} {_mime(block)}, {_size(block.get('data'))}, not shown]"
    if kind == "resource":
        found: object = block.get("resource")
        res: Mapping[str, Any] = (
            cast(Mapping[str, Any], found) if isinstance(found, Mapping) else {}
        )
        uri = res.get("uri", "?")
        if isinstance(res.get("text"), str):
            text = cast(str, res["text"])
            return f"[resource {uri} {_mime(res)}, {len(text):,} characters]\n{text}"
        return f"[resource {uri} {_mime(res)}, {_size(res.get('blob'))}, not shown]"
    if kind == "resource_link":
        name = block.get("name")
        size = block.get("size")
        bits = [f"resource link {block.get('uri', '?')}", _mime(block)]
        if name:
            bits.append(f"name {name!r}")
        if isinstance(size, int):
            bits.append(f"{size:,} bytes")
        return f"[{', '.join(bits)}]"
    size = len(json.dumps(block, default=str))
    return f"[content of type {kind!r}, {size:,} bytes of JSON, not shown]"


def _mime(block: Mapping[str, Any]) -> str:
    mime = block.get("mimeType")
    return str(mime) if mime else "of unknown type"


def _size(data: object) -> str:
    """The decoded size of base64 ``data``, or its length when it is not valid base64."""
    if not isinstance(data, str):
        return "no data"
    try:
        return f"{len(base64.b64decode(data, validate=True)):,} bytes"
    except (binascii.Error, ValueError):
        return f"{len(data):,} characters of data that is not valid base64"


def _text_of(block: object) -> str | None:
    if isinstance(block, Mapping):
        block = cast(Mapping[str, Any], block)
        text = block.get("text")
        if block.get("type") == "text" and isinstance(text, str):
            return text
    return None


def _single_value(structured: object) -> object:
    """The one value of a one-key object (how servers wrap a plain return), else ``_NONE``."""
    if isinstance(structured, Mapping) and len(cast(Mapping[str, Any], structured)) == 1:
        return next(iter(cast(Mapping[str, Any], structured).values()))
    return _NONE


def _same(text: str, value: object) -> bool:
    """True if ``text`` says ``value``: it is that string, or that value as JSON."""
    if text == value:
        return True
    try:
        return json.loads(text) == value
    except ValueError:
        return False


_NONE = object()


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + _CUT.format(kept=limit, total=len(text))
