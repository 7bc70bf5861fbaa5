"""How an MCP ``tools/call`` result becomes a step's data: the rules of looplet_core.mcp.results."""

from __future__ import annotations

import base64

import pytest

from looplet_core.errors import LoopletError, MCPToolError
from looplet_core.mcp import result_data


def text(t: str) -> dict[str, str]:
    return {"type": "text", "text": t}


def data(result: dict[str, object], **kw: object) -> object:
    return result_data(result, server="s", tool="t", **kw)  # type: ignore[arg-type]


def test_text_blocks_are_joined_into_one_string():
    assert data({"content": [text("one"), text("two")]}) == "one\n\ntwo"


def test_structured_content_is_the_data_and_its_json_text_is_not_repeated():
    result = {
        "content": [text('{"city": "Oslo", "n": 3}')],
        "structuredContent": {"city": "Oslo", "n": 3},
    }
    assert data(result) == {"city": "Oslo", "n": 3}


def test_a_wrapped_plain_value_is_unwrapped():
    assert data({"content": [text("3")], "structuredContent": {"result": 3}}) == 3
    assert data({"content": [text("hi")], "structuredContent": {"result": "hi"}}) == "hi"


def test_text_that_says_more_than_the_structured_content_is_kept_beside_it():
    result = {"content": [text("Found one city.")], "structuredContent": {"city": "Oslo"}}
    assert data(result) == {"structured": {"city": "Oslo"}, "text": "Found one city."}


def test_binary_content_is_described_with_type_mime_and_size_never_dropped():
    png = base64.b64encode(b"x" * 68).decode()
    result = {
        "content": [
            text("caption"),
            {"type": "image", "data": png, "mimeType": "image/png"},
            {
                "type": "audio",
                "data": base64.b64encode(b"y" * 1500).decode(),
                "mimeType": "audio/wav",
            },
            {
                "type": "resource",
                "resource": {"uri": "file:///a.bin", "mimeType": "application/zip", "blob": png},
            },
            {
                "type": "resource",
                "resource": {"uri": "file:///n.txt", "mimeType": "text/plain", "text": "hello"},
            },
            {
                "type": "resource_link",
                "uri": "file:///big.csv",
                "name": "big",
                "mimeType": "text/csv",
                "size": 4096,
            },
            {"type": "hologram", "frames": [1, 2]},
            {"type": "image", "data": "not base64!", "mimeType": "image/png"},
        ]
    }
    lines = str(data(result)).split("\n\n")
    assert lines == [
        "caption",
        "[image image/png, 68 bytes, not shown]",
        "[audio audio/wav, 1,500 bytes, not shown]",
        "[resource file:///a.bin application/zip, 68 bytes, not shown]",
        "[resource file:///n.txt text/plain, 5 characters]\nhello",
        "[resource link file:///big.csv, text/csv, name 'big', 4,096 bytes]",
        "[content of type 'hologram', 38 bytes of JSON, not shown]",
        "[image image/png, 11 characters of data that is not valid base64, not shown]",
    ]


def test_is_error_raises_a_tool_error_carrying_the_servers_text():
    with pytest.raises(
        MCPToolError, match=r"MCP tool 't' of server 's' failed: no such city"
    ) as err:
        data({"content": [text("no such city")], "isError": True})
    assert isinstance(err.value, LoopletError) and err.value.server == "s"


def test_an_error_without_text_still_says_it_failed():
    with pytest.raises(MCPToolError, match="reported an error and sent no text"):
        data({"content": [], "isError": True})


def test_max_chars_cuts_the_kept_text_with_a_note_saying_how_much():
    out = data({"content": [text("a" * 5000)]}, max_chars=100)
    assert isinstance(out, str)
    assert out.startswith("a" * 100 + "\n…[MCP result cut: kept 100 of 5,000 characters")
    assert data({"content": [text("a" * 50)]}, max_chars=100) == "a" * 50
