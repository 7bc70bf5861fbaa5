"""Checking a model's arguments: coercions, refusals, and the messages the model is shown."""

from __future__ import annotations

from typing import Any

import pytest

from looplet_core.errors import ToolRegistrationError
from looplet_core.tools.args import ArgsValidator


def _check(prop: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    """Validate ``{"v": value}`` against a one-argument schema; returns (coerced v, error)."""
    validator = ArgsValidator(
        {"type": "object", "properties": {"v": prop}, "required": ["v"]}, tool="t"
    )
    args, error = validator({"v": value})
    return (args["v"] if args is not None else None), error


@pytest.mark.parametrize(
    ("kind", "sent", "received"),
    [
        ("integer", 7, 7),
        ("integer", 3.0, 3),
        ("integer", "42", 42),
        ("integer", " -3 ", -3),
        ("integer", "3.0", 3),
        ("integer", "1e3", 1000),
        ("integer", "12345678901234567890123", 12345678901234567890123),
        ("number", 2, 2.0),
        ("number", "2.5", 2.5),
        ("number", 1.25, 1.25),
        ("boolean", "true", True),
        ("boolean", " FALSE ", False),
        ("boolean", False, False),
        ("string", 5, "5"),
        ("string", 2.5, "2.5"),
        ("array", '["a", 1]', ["a", 1]),
        ("array", ("a",), ["a"]),
        ("object", '{"k": 1}', {"k": 1}),
        ("null", None, None),
    ],
)
def test_coercions_that_are_accepted(kind: str, sent: Any, received: Any) -> None:
    value, error = _check({"type": kind}, sent)
    assert error is None
    assert value == received and type(value) is type(received)


@pytest.mark.parametrize(
    ("kind", "sent", "got"),
    [
        ("integer", 3.5, "number 3.5"),
        ("integer", "ten", "string 'ten'"),
        ("integer", "nan", "string 'nan'"),
        ("integer", True, "boolean true"),
        ("number", False, "boolean false"),
        ("number", "inf", "string 'inf'"),
        ("number", 10**400, "integer 1" + "0" * 38 + "…"),
        ("boolean", 1, "integer 1"),
        ("boolean", "yes", "string 'yes'"),
        ("string", True, "boolean true"),
        ("string", ["a"], "array of 1 item"),
        ("string", {"a": 1}, "object"),
        ("array", "a,b", "string 'a,b'"),
        ("array", '{"k": 1}', "string '{\"k\": 1}'"),
        ("object", "[1]", "string '[1]'"),
        ("object", None, "null"),
    ],
)
def test_values_no_rule_can_coerce_are_refused_with_expected_and_got(
    kind: str, sent: Any, got: str
) -> None:
    _, error = _check({"type": kind}, sent)
    assert error is not None
    assert f"argument 'v': expected {kind}, got {got}" in error


def test_long_values_are_shortened_in_messages() -> None:
    _, error = _check({"type": "integer"}, "x" * 500)
    assert error is not None and "…" in error and len(error) < 200


def test_missing_required_argument_names_it_and_its_type() -> None:
    validator = ArgsValidator(
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        tool="search",
    )
    assert validator({}) == (
        None,
        "Invalid arguments for tool 'search': missing required argument 'query' (string). "
        "Expected: search(query: string).",
    )


def test_unexpected_argument_suggests_closest_valid_name() -> None:
    validator = ArgsValidator(
        {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "additionalProperties": False,
        },
        tool="search",
    )
    _, error = validator({"qeury": "cats"})
    assert error is not None
    assert "unexpected argument 'qeury' (did you mean 'query'?)" in error
    assert "Expected: search(query?: string, limit?: integer)" in error


def test_every_problem_is_reported_at_once() -> None:
    validator = ArgsValidator(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
        tool="t",
    )
    _, error = validator({"a": "x", "c": 1})
    assert error is not None
    assert "argument 'a': expected integer" in error
    assert "unexpected argument 'c'" in error
    assert "missing required argument 'b'" in error


def test_arguments_that_are_not_an_object_are_refused() -> None:
    validator = ArgsValidator({"type": "object", "properties": {}}, tool="t")
    _, error = validator(["a"])
    assert error is not None and "arguments must be an object, got array of 1 item" in error


def test_nested_items_and_keys_are_checked_with_a_path() -> None:
    prop = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {}}},
            "required": ["id"],
        },
    }
    value, error = _check(prop, [{"id": "1", "tags": ["x", 2]}])
    assert error is None and value == [{"id": 1, "tags": ["x", 2]}]
    _, error = _check(prop, [{"id": 1}, {"id": "one"}])
    assert error is not None and "argument 'v[1].id': expected integer, got string 'one'" in error
    _, error = _check(prop, [{"tags": []}])
    assert error is not None and "argument 'v[0]': missing required key 'id'" in error


def test_nested_object_refuses_unknown_keys_only_when_closed() -> None:
    closed = {"type": "object", "properties": {"mode": {}}, "additionalProperties": False}
    _, error = _check(closed, {"mdoe": 1})
    assert error is not None and "unexpected key 'mdoe' (did you mean 'mode'?)" in error
    open_ = {"type": "object", "properties": {"mode": {}}}
    assert _check(open_, {"other": 1}) == ({"other": 1}, None)
    typed_extra = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert _check(typed_extra, {"a": "2"}) == ({"a": 2}, None)


def test_enum_refuses_other_values_and_does_not_take_true_for_1() -> None:
    assert _check({"type": "string", "enum": ["fast", "slow"]}, "fast") == ("fast", None)
    _, error = _check({"type": "string", "enum": ["fast", "slow"]}, "medium")
    assert error is not None and 'expected one of "fast", "slow", got string \'medium\'' in error
    assert _check({"type": "integer", "enum": [1, 2]}, "2") == (2, None)
    _, error = _check({"enum": [1, 2]}, True)
    assert error is not None
    assert _check({"const": "x"}, "x") == ("x", None)


def test_type_list_keeps_a_value_of_an_accepted_type_as_is() -> None:
    assert _check({"type": ["integer", "string"]}, "5") == ("5", None)
    assert _check({"type": ["integer", "null"]}, "5") == (5, None)
    assert _check({"type": ["integer", "null"]}, None) == (None, None)
    _, error = _check({"type": ["integer", "null"]}, "x")
    assert error is not None and "expected integer or null" in error


def test_any_of_tries_the_branch_of_the_value_own_type_first() -> None:
    prop = {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}]}
    assert _check(prop, "7") == (7, None)
    assert _check(prop, ["a"]) == (["a"], None)
    _, error = _check(prop, {"a": 1})
    assert error is not None and "expected integer or array" in error


def test_missing_optional_arguments_get_their_defaults_as_fresh_copies() -> None:
    validator = ArgsValidator(
        {
            "type": "object",
            "properties": {"n": {"type": "number", "default": 3}, "tags": {"default": []}},
        },
        tool="t",
    )
    first, _ = validator({})
    assert first == {"n": 3.0, "tags": []} and type(first["n"]) is float
    first["tags"].append("mutated")
    second, _ = validator({"n": 1})
    assert second == {"n": 1.0, "tags": []}


def test_schema_keywords_outside_the_subset_are_not_enforced() -> None:
    assert _check({"type": "integer", "minimum": 10}, 1) == (1, None)


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "object", "properties": []}, "properties must be an object"),
        ({"type": "object", "properties": {"a": 3}}, "a schema must be a JSON object"),
        ({"type": "object", "properties": {"a": {"anyOf": []}}}, "anyOf/oneOf must be"),
        ({"type": "object", "properties": {}, "required": "a"}, "required must be a list"),
        (
            {"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}},
            "default of 'a' does not fit",
        ),
    ],
)
def test_invalid_schemas_are_refused_when_compiled(schema: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ToolRegistrationError, match="tool 't' parameters") as info:
        ArgsValidator(schema, tool="t")
    assert fragment in str(info.value)
