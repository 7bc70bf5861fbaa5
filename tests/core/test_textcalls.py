"""JSON-in-text tool calls: the instructions the model gets and reading its calls back."""

from __future__ import annotations

import json
import time

import pytest

from looplet_core.messages import ToolCall
from looplet_core.tools import ToolSpec, tool
from looplet_core.tools.textcalls import MAX_SCAN_CHARS, parse_tool_calls, render_tool_instructions


@tool
def search(query: str, limit: int = 5, tags: list[str] | None = None) -> list[str]:
    """Search the web.

    Args:
        query: What to look for.
    """
    return []


DONE = ToolSpec("done", "Finish with an answer.", {"answer": "str"}, lambda *, answer: answer)
NOARGS = ToolSpec("ping", "", {}, lambda: "pong")


# -- instructions ----------------------------------------------------------------------------------


def test_instructions_describe_the_format_and_every_tool() -> None:
    text = render_tool_instructions([search.schema(), DONE.schema(), NOARGS.schema()])
    assert '{"tool": "<tool name>", "args": {' in text
    assert "JSON list" in text and "```json" in text
    assert "## search\nSearch the web." in text
    assert "- query (string, required): What to look for." in text
    assert "- limit (integer, optional, default 5)" in text
    assert "- tags (array of string or null, optional, default null)" in text
    assert "## done\nFinish with an answer.\nArguments:\n- answer (string, required)" in text
    assert "## ping\nArguments: none" in text


def test_instructions_example_is_a_call_the_parser_accepts() -> None:
    text = render_tool_instructions([search.schema()])
    example = next(line for line in text.splitlines() if line.startswith("Example: "))
    calls, error = parse_tool_calls(example)
    assert error is None
    assert calls == [ToolCall("search", {"query": "..."}, "call_1")]


def test_instructions_show_enums_and_nested_schemas() -> None:
    spec = ToolSpec(
        "pick",
        "Pick.",
        {
            "mode": {"enum": ["a", "b"]},
            "opts": {"type": "object", "properties": {"k": {"type": "integer"}}},
        },
        lambda *, mode, opts: None,
    )
    text = render_tool_instructions([spec.schema()])
    assert '- mode (one of "a", "b", required)' in text
    assert '- opts (JSON Schema {"type":"object","properties":{"k":{"type":"integer"}}}' in text


def test_instructions_without_tools_still_state_the_format() -> None:
    text = render_tool_instructions([])
    assert '"tool"' in text and "Example" not in text


# -- parsing ---------------------------------------------------------------------------------------


def test_bare_json_object_is_a_call() -> None:
    calls, error = parse_tool_calls('{"tool": "search", "args": {"query": "cats"}}')
    assert error is None
    assert calls == [ToolCall("search", {"query": "cats"}, "call_1")]


def test_fenced_json_with_surrounding_prose_is_a_call() -> None:
    text = (
        "I'll look that up {first}.\n```json\n"
        '{"tool": "search", "args": {"query": "cats", "limit": 3}}\n```\nThen I am done.'
    )
    calls, error = parse_tool_calls(text)
    assert error is None
    assert calls == [ToolCall("search", {"query": "cats", "limit": 3}, "call_1")]


def test_json_list_gives_calls_in_order_with_numbered_ids() -> None:
    text = '[{"tool": "a", "args": {"x": 1}}, {"tool": "b"}]'
    calls, error = parse_tool_calls(text, start=7)
    assert error is None
    assert calls == [ToolCall("a", {"x": 1}, "call_7"), ToolCall("b", {}, "call_8")]


def test_several_separate_calls_are_all_read() -> None:
    text = (
        '<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": "{\\"y\\": 2}"}</tool_call>'
    )
    calls, _ = parse_tool_calls(text)
    assert calls == [ToolCall("a", {"x": 1}, "call_1"), ToolCall("b", {"y": 2}, "call_2")]


def test_openai_shaped_and_wrapped_calls_are_read() -> None:
    call = {"type": "function", "function": {"name": "a", "arguments": '{"q": "x"}'}}
    calls, _ = parse_tool_calls(json.dumps({"tool_calls": [call]}))
    assert calls == [ToolCall("a", {"q": "x"}, "call_1")]


def test_json_data_that_is_not_a_call_is_skipped() -> None:
    text = 'The user is {"name": "Alice", "age": 3}. [1, 2] {"tool": "greet", "args": {}}'
    calls, error = parse_tool_calls(text)
    assert error is None and calls == [ToolCall("greet", {}, "call_1")]


def test_call_with_unusable_arguments_keeps_its_name_and_a_parse_error() -> None:
    calls, error = parse_tool_calls('[{"tool": "a", "args": [1]}, {"tool": "b", "args": "{oops"}]')
    assert error is None
    assert calls[0].tool == "a" and calls[0].parse_error == "args must be a JSON object, got list"
    assert calls[1].tool == "b" and calls[1].parse_error is not None
    assert calls[1].parse_error.startswith("arguments are not valid JSON")


@pytest.mark.parametrize("text", ["", "   ", "Paris is the capital of France.", "use {braces}"])
def test_prose_without_a_call_explains_the_expected_format(text: str) -> None:
    calls, error = parse_tool_calls(text)
    assert calls == []
    assert error is not None and error.startswith("Your reply has no tool call.")
    assert '{"tool": "<tool name>", "args": {...}}' in error


def test_json_without_a_call_is_reported_as_such() -> None:
    calls, error = parse_tool_calls('{"answer": 42}')
    assert calls == []
    assert error is not None and error.startswith("Your reply has JSON but no tool call")


@pytest.mark.parametrize(
    "text",
    [
        '{"tool": "a", "args": {"x": 1,}}',
        "{'tool': 'a', 'args': {}}",
        '```json\n{"tool": "a", "args": {"x": 1}\n```',
    ],
)
def test_broken_json_call_is_reported_with_the_decoder_message(text: str) -> None:
    calls, error = parse_tool_calls(text)
    assert calls == []
    assert error is not None and error.startswith("Your tool call is not valid JSON (")


def test_text_is_never_evaluated() -> None:
    text = '{"tool": __import__("os").system("echo pwned"), "args": {}}'
    calls, error = parse_tool_calls(text)
    assert calls == [] and error is not None


def test_deeply_nested_input_is_refused_without_recursion_error() -> None:
    for text in ("[" * 100_000, "{" * 100_000, '{"tool": "a", "args": ' + "[" * 50_000):
        calls, error = parse_tool_calls(text)
        assert calls == [] and error is not None
    calls, error = parse_tool_calls(
        '{"tool": "a", "args": {"x": ' + "[" * 5_000 + "]" * 5_000 + "}}"
    )
    assert calls == [] and error is not None and "nested too deeply" in error


def test_huge_input_is_scanned_only_up_to_the_cap() -> None:
    call = '{"tool": "late", "args": {}}'
    started = time.perf_counter()
    calls, error = parse_tool_calls("{x " * (MAX_SCAN_CHARS // 3) + call)
    assert time.perf_counter() - started < 5  # generous: guards against quadratic rescans only
    assert calls == [] and error is not None
    assert parse_tool_calls("x" * (MAX_SCAN_CHARS - 100) + call)[0][0].tool == "late"
    assert parse_tool_calls("x" * MAX_SCAN_CHARS + call)[0] == []


def test_large_arguments_inside_the_cap_are_read_whole() -> None:
    body = "y" * 200_000
    calls, _ = parse_tool_calls(json.dumps({"tool": "write", "args": {"text": body}}))
    assert calls[0].args == {"text": body}
