"""ToolSpec construction, the @tool decorator, the registry, and result_to_text."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pytest

from looplet_core.errors import ToolRegistrationError
from looplet_core.messages import ToolCall
from looplet_core.records import ErrorKind
from looplet_core.tools import BaseToolRegistry, ToolContext, ToolSpec, result_to_text, tool


def _spec(name: str = "t", parameters: Any = None, execute: Any = None, **kw: Any) -> ToolSpec:
    return ToolSpec(
        name=name,
        description="d",
        parameters=parameters or {},
        execute=execute or (lambda **_: None),
        **kw,
    )


# -- ToolSpec --------------------------------------------------------------------------------------


def test_simple_form_becomes_json_schema() -> None:
    spec = _spec(
        parameters={"name": "str", "n": "int = 3", "tags": "list[str]?", "x": "float", "f": "bool"}
    )
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "n": {"type": "integer", "default": 3},
            "tags": {"type": "array", "items": {"type": "string"}},
            "x": {"type": "number"},
            "f": {"type": "boolean"},
        },
        "required": ["name", "x", "f"],
        "additionalProperties": False,
    }


def test_simple_form_defaults_accept_python_literals_and_bare_words() -> None:
    spec = _spec(parameters={"flag": "bool = False", "mode": "str = fast", "q": "str = 'a b'"})
    props = spec.parameters["properties"]
    assert props["flag"]["default"] is False
    assert props["mode"]["default"] == "fast"
    assert props["q"]["default"] == "a b"


def test_simple_form_entry_may_be_a_property_schema() -> None:
    spec = _spec(parameters={"q": {"type": "string", "description": "the query"}})
    assert spec.parameters["properties"]["q"]["description"] == "the query"
    assert spec.parameters["required"] == ["q"]


def test_full_json_schema_is_detected_and_closed_to_extra_arguments() -> None:
    schema = {"type": "object", "properties": {"type": {"type": "string"}}, "required": ["type"]}
    spec = _spec(parameters=schema)
    assert spec.parameters["properties"] == {"type": {"type": "string"}}
    assert spec.parameters["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the caller's dict is not modified


def test_schema_is_cached_and_shaped_for_backends() -> None:
    spec = _spec(name="greet", parameters={"name": "str"})
    assert spec.schema() is spec.schema()
    assert set(spec.schema()) == {"name", "description", "parameters"}
    assert spec.schema()["parameters"] is spec.parameters


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"n": "integr"}, "cannot read type 'integr'"),
        ({"n": 5}, "expected a type string"),
        ({"n": "int = abc"}, "not a JSON value"),
        ({"n": "int = 2.5"}, "default of 'n' does not fit"),
        ({"bad name": "str"}, "not a valid identifier"),
        ({"type": "object", "properties": {"n": {"type": "int"}}}, "did you mean 'integer'"),
        ({"type": "object", "properties": {}, "required": ["q"]}, "not among the properties"),
        ({"type": "object", "properties": {"e": {"enum": []}}}, "enum must be a non-empty"),
        ("nope", "expected a dict"),
    ],
)
def test_invalid_parameters_are_refused_with_a_clear_message(
    parameters: Any, fragment: str
) -> None:
    with pytest.raises(ToolRegistrationError, match="tool 't'") as info:
        ToolSpec(name="t", description="d", parameters=parameters, execute=lambda **_: None)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dots.not.allowed"])
def test_invalid_tool_name_is_refused(name: str) -> None:
    with pytest.raises(ToolRegistrationError, match="must be 1-64"):
        _spec(name=name)


def test_schema_argument_the_function_cannot_take_is_refused() -> None:
    with pytest.raises(ToolRegistrationError, match="declares 'query' but execute"):
        _spec(parameters={"query": "str"}, execute=lambda *, q: q)


def test_function_argument_the_schema_never_sends_is_refused() -> None:
    with pytest.raises(ToolRegistrationError, match="requires 'limit'"):
        _spec(parameters={"query": "str"}, execute=lambda *, query, limit: query)


def test_optional_argument_without_any_default_is_refused() -> None:
    with pytest.raises(ToolRegistrationError, match="optional in the schema"):
        _spec(parameters={"query": "str?"}, execute=lambda *, query: query)
    spec = _spec(parameters={"query": "str?"}, execute=lambda *, query="": query)
    assert spec.parameters["required"] == []


def test_ctx_cannot_be_a_schema_argument() -> None:
    with pytest.raises(ToolRegistrationError, match="reserved"):
        _spec(parameters={"ctx": "str"}, execute=lambda *, ctx: ctx)


def test_spec_detects_ctx_and_async_once() -> None:
    async def fetch(*, url: str, ctx: ToolContext) -> str:
        return url

    spec = _spec(parameters={"url": "str"}, execute=fetch)
    assert spec.takes_ctx and spec.is_async
    plain = _spec(parameters={"url": "str"}, execute=lambda *, url: url)
    assert not plain.takes_ctx and not plain.is_async


def test_schema_allowing_extra_arguments_needs_a_kwargs_function() -> None:
    schema = {"type": "object", "properties": {"a": {}}, "additionalProperties": True}
    with pytest.raises(ToolRegistrationError, match=r"takes no \*\*kwargs"):
        _spec(parameters=schema, execute=lambda *, a: a)
    spec = _spec(parameters=schema, execute=lambda **kw: kw)
    assert spec.validate({"a": 1, "b": 2}) == ({"a": 1, "b": 2}, None)


@pytest.mark.parametrize("timeout", [0, -1.0, "5", True])
def test_timeout_must_be_a_positive_number(timeout: Any) -> None:
    with pytest.raises(ToolRegistrationError, match="timeout must be positive"):
        _spec(timeout=timeout)


def test_replace_rebuilds_a_valid_spec() -> None:
    spec = _spec(parameters={"n": "int = 2"}, execute=lambda *, n: n)
    slower = dataclasses.replace(spec, timeout=1.5)
    assert slower.timeout == 1.5 and slower.parameters == spec.parameters
    assert slower.validate({}) == ({"n": 2}, None)


def test_kwargs_function_accepts_any_declared_argument() -> None:
    spec = _spec(parameters={"a": "int", "b": "str"}, execute=lambda **kw: kw)
    assert spec(a=1, b="x") == {"a": 1, "b": "x"}


# -- @tool -----------------------------------------------------------------------------------------


@tool
def search(query: str, limit: int = 5, tags: list[str] | None = None) -> list[str]:
    """Search the index for documents.

    This second paragraph is not part of the description.

    Args:
        query: What to look for.
        limit (int): How many results,
            at most fifty.

    Returns:
        The matching titles.
    """
    return [query] * limit


def test_tool_decorator_reads_types_defaults_and_google_docstring() -> None:
    assert search.name == "search"
    assert search.description == "Search the index for documents."
    assert search.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {
                "type": "integer",
                "description": "How many results, at most fifty.",
                "default": 5,
            },
            "tags": {"type": ["array", "null"], "items": {"type": "string"}, "default": None},
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def test_decorated_function_stays_callable() -> None:
    assert isinstance(search, ToolSpec)
    assert search("a", limit=2) == ["a", "a"]


def test_tool_decorator_reads_rest_docstring_and_options() -> None:
    @tool(name="fetch_page", timeout=2.5, requires_approval=True, read_only=True)
    def fetch(url: str, ctx: ToolContext) -> str:
        """Fetch a page.

        :param url: The address,
            absolute.
        :returns: the body.
        """
        return url

    assert fetch.name == "fetch_page"
    assert (fetch.timeout, fetch.requires_approval, fetch.read_only) == (2.5, True, True)
    assert fetch.parameters["properties"] == {
        "url": {"type": "string", "description": "The address, absolute."}
    }
    assert fetch.takes_ctx


def test_rest_param_description_ends_at_the_next_field() -> None:
    @tool
    def f(a: int) -> int:
        """Do f.

        :param a: the input.
        :returns: twice the input,
            never negative.
        """
        return 2 * a

    assert f.parameters["properties"]["a"]["description"] == "the input."


def test_tool_decorator_maps_literal_optional_annotated_and_dict() -> None:
    @tool
    def f(
        mode: Literal["fast", "slow"],
        level: int | None,
        note: Annotated[str, "a short note"] = "",
        opts: dict[str, int] | None = None,
        anything: Any = None,
        ratio: float | str = 1.0,
    ) -> None:
        """Do it."""

    props = f.parameters["properties"]
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"]}
    assert props["level"] == {"type": ["integer", "null"], "default": None}
    assert props["note"] == {"type": "string", "description": "a short note", "default": ""}
    assert props["opts"] == {
        "type": ["object", "null"],
        "additionalProperties": {"type": "integer"},
        "default": None,
    }
    assert props["anything"] == {"default": None}
    assert props["ratio"] == {"type": ["number", "string"], "default": 1.0}
    assert f.parameters["required"] == ["mode"]


def test_non_json_default_is_kept_off_the_schema_but_still_optional() -> None:
    marker = object()

    @tool
    def f(x: Any = marker) -> Any:
        return x

    assert f.parameters["properties"]["x"] == {}
    assert f.validate({}) == ({}, None)


def test_unsupported_annotation_is_refused() -> None:
    with pytest.raises(ToolRegistrationError, match="unsupported annotation"):

        @tool
        def f(x: set[int]) -> None:
            pass


def test_positional_only_parameter_is_refused() -> None:
    with pytest.raises(ToolRegistrationError, match="cannot be passed by name"):

        @tool
        def f(x: int, /) -> None:
            pass


def test_description_can_be_given_explicitly() -> None:
    @tool(description="Explicit.")
    def f() -> None:
        """Docstring."""

    assert f.description == "Explicit."


# -- registry --------------------------------------------------------------------------------------


def test_duplicate_registration_is_refused() -> None:
    registry = BaseToolRegistry([_spec("a")])
    with pytest.raises(ToolRegistrationError, match="already registered"):
        registry.register(_spec("a"))
    assert len(registry) == 1


def test_register_refuses_a_plain_function() -> None:
    with pytest.raises(ToolRegistrationError, match="takes a ToolSpec"):
        BaseToolRegistry().register(lambda: None)  # type: ignore[arg-type]


def test_registry_tool_decorator_registers_and_returns_the_spec() -> None:
    registry = BaseToolRegistry()

    @registry.tool
    def ping() -> str:
        """Ping."""
        return "pong"

    @registry.tool(name="echo2", read_only=True)
    def echo(text: str) -> str:
        return text

    assert registry.names() == ["ping", "echo2"]
    assert registry.get("ping") is ping and ping() == "pong"
    assert registry.get("echo2") is echo and echo.read_only


def test_registry_behaves_as_a_container_of_specs() -> None:
    a, b = _spec("a"), _spec("b")
    registry = BaseToolRegistry([a, b])
    assert "a" in registry and "zzz" not in registry
    assert list(registry) == [a, b]
    assert registry.get("zzz") is None


def test_schemas_are_cached_and_refreshed_on_register() -> None:
    registry = BaseToolRegistry([_spec("a")])
    first = registry.schemas()
    assert registry.schemas() is first
    registry.register(_spec("b"))
    assert [s["name"] for s in registry.schemas()] == ["a", "b"]


def test_unknown_tool_suggests_closest_name() -> None:
    registry = BaseToolRegistry([_spec("search"), _spec("done")])
    args, error = registry.validate(ToolCall("serach", {}))
    assert args is None
    assert error == "Unknown tool 'serach'. Did you mean 'search'? Available: search, done."


def test_unknown_tool_without_close_match_lists_available_tools() -> None:
    registry = BaseToolRegistry([_spec("search")])
    _, error = registry.validate(ToolCall("xyz"))
    assert error == "Unknown tool 'xyz'. Available: search."
    _, error = BaseToolRegistry().validate(ToolCall("xyz"))
    assert error == "Unknown tool 'xyz': no tools are registered."


def test_validate_reports_undecodable_arguments() -> None:
    registry = BaseToolRegistry([_spec("a")])
    _, error = registry.validate(ToolCall("a", parse_error="Expecting value"))
    assert error is not None and "not valid JSON: Expecting value" in error


def test_validate_returns_coerced_arguments() -> None:
    registry = BaseToolRegistry([_spec("a", {"n": "int", "s": "str"})])
    assert registry.validate(ToolCall("a", {"n": "4", "s": 5})) == ({"n": 4, "s": "5"}, None)


def test_dispatch_refuses_invalid_call_without_running_the_tool() -> None:
    ran: list[Any] = []
    registry = BaseToolRegistry([_spec("a", {"n": "int"}, execute=lambda *, n: ran.append(n))])
    result = registry.dispatch(ToolCall("a", {"n": "many"}))
    assert result.error_kind is ErrorKind.VALIDATION
    assert result.error is not None and "expected integer, got string 'many'" in result.error
    assert ran == []
    assert registry.dispatch(ToolCall("a", {"n": 2})).ok and ran == [2]


# -- result_to_text --------------------------------------------------------------------------------


@dataclass
class Hit:
    title: str
    score: float


def test_result_to_text_keeps_strings_and_renders_the_rest_as_json() -> None:
    assert result_to_text("plain ✓") == "plain ✓"
    assert result_to_text({"city": "Zürich", "n": 2}) == '{"city": "Zürich", "n": 2}'
    assert result_to_text(None) == "null"
    assert result_to_text(Hit("a", 0.5)) == '{"title": "a", "score": 0.5}'
    assert result_to_text([Hit("b", 1.0)]) == '[{"title": "b", "score": 1.0}]'
    assert result_to_text({"s": {3}}) == '{"s": [3]}'
    assert result_to_text({"o": object}) == '{"o": "<class \'object\'>"}'


def test_result_to_text_falls_back_to_repr_for_circular_data() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert result_to_text(loop) == "[[...]]"


def test_result_to_text_truncates_past_limit_with_marker() -> None:
    text = "x" * 120
    assert result_to_text(text, 100) == "x" * 100 + "…[truncated 20 chars]"
    assert result_to_text(text, 120) == text
    assert result_to_text(text, None) == text
    assert result_to_text({"k": "v" * 50}, 10) == '{"k": "vvv…[truncated 49 chars]'
