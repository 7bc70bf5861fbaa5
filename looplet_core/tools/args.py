"""Checking the arguments a model sent against a tool's JSON Schema, with a few coercions.

A schema is compiled once (per tool, at registration) into small checker functions, so checking a
call costs a dict walk and one function call per argument.  This is a compact checker, not a full
JSON Schema implementation.  It enforces ``type`` (one name or a list), ``enum``, ``const``,
``properties``, ``required``, ``additionalProperties``, ``items`` and ``anyOf``/``oneOf`` (the
first branch that accepts wins; branches of the value's own type are tried first), and fills in
``default`` for missing top-level arguments.  Other keywords (``minimum``, ``pattern``, ``$ref``,
``format``...) are sent to the model but not enforced.

Coercion, because models often send the right value in the wrong JSON type; nothing else:

* integer: from an integral float (``3.0``) or a numeric string (``"3"``, ``"3.0"``);
* number: from an integer (it becomes a float) or a numeric, finite string;
* boolean: from the strings ``"true"`` / ``"false"`` (any case, surrounding spaces ignored);
* string: from an integer or a float (``5`` -> ``"5"``); never from a boolean, list or object;
* array / object: from a string holding a JSON array / object (then checked as such);
* a boolean is never an integer or a number, although Python says ``True == 1``.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from looplet_core.errors import ToolRegistrationError

__all__ = ["ArgsValidator", "describe_value", "json_type_of"]

JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
_PYTHON_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}
_VALUE_PREVIEW = 40


class _Invalid(Exception):
    """Raised by checkers on the first problem; ``path`` grows as it unwinds through containers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def json_type_of(value: object) -> str:
    """The JSON type name of a Python value (``bool`` is boolean, not integer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def describe_value(value: object) -> str:
    """``string 'ten'``, ``boolean true``, ``array of 3 items``: what the model sent, briefly."""
    kind = json_type_of(value)
    if kind == "array":
        count = len(cast(list[Any], value))
        return f"array of {count} item{'' if count == 1 else 's'}"
    if kind == "object":
        return "object"
    if kind == "null":
        return "null"
    if kind == "boolean":
        return "boolean true" if value else "boolean false"
    text = repr(value)
    if len(text) > _VALUE_PREVIEW:
        text = text[: _VALUE_PREVIEW - 1] + "…"
    return f"{kind} {text}"


# -- coercion --------------------------------------------------------------------------------------


class _NoCoercion(Exception):
    """The value is not of the wanted type and no coercion rule applies."""


def _numeric_text(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise _NoCoercion from None
    if not math.isfinite(number):
        raise _NoCoercion
    return number


def _json_text(value: str, want: type) -> Any:
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        raise _NoCoercion from None
    if not isinstance(decoded, want):
        raise _NoCoercion
    return decoded


def _to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _NoCoercion


def _to_integer(value: Any) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise _NoCoercion
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())  # exact, even past float precision
        except ValueError:
            number = _numeric_text(value)  # "3.0", "1e3"
        if number.is_integer():
            return int(number)
    raise _NoCoercion


def _to_number(value: Any) -> Any:
    if type(value) is float:
        return value
    if isinstance(value, bool):
        raise _NoCoercion
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            raise _NoCoercion from None
    if isinstance(value, str):
        return _numeric_text(value)
    raise _NoCoercion


def _to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "false"):
            return word == "true"
    raise _NoCoercion


def _to_array(value: Any) -> Any:
    if isinstance(value, list):
        return cast(list[Any], value)
    if isinstance(value, tuple):
        return list(cast(tuple[Any, ...], value))
    if isinstance(value, str):
        return _json_text(value, list)
    raise _NoCoercion


def _to_object(value: Any) -> Any:
    if isinstance(value, dict):
        return cast(dict[str, Any], value)
    if isinstance(value, str):
        return _json_text(value, dict)
    raise _NoCoercion


def _to_null(value: Any) -> Any:
    if value is None:
        return None
    raise _NoCoercion


_COERCE: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "array": _to_array,
    "object": _to_object,
    "null": _to_null,
}


def _same(a: object, b: object) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


# -- compiling a schema into a checker ------------------------------------------------------------

Checker = Callable[[Any], Any]
"""Takes a value, returns it (possibly coerced, possibly a new container) or raises ``_Invalid``."""


@dataclass(frozen=True, slots=True)
class _Node:
    check: Checker
    expected: str  # "integer", "one of 'a', 'b'", "array of string": used in error messages
    types: frozenset[str] | None  # JSON types this node accepts without coercion; None = any


def _fail(where: str, problem: str) -> ToolRegistrationError:
    return ToolRegistrationError(f"{where}: {problem}")


def _type_names(schema: Mapping[str, Any], where: str) -> tuple[str, ...]:
    raw = schema.get("type")
    if raw is None:
        return ()
    names = cast(list[Any], raw) if isinstance(raw, list) else [raw]
    for name in names:
        if name not in JSON_TYPES:
            hint = _PYTHON_NAMES.get(name) if isinstance(name, str) else None
            extra = f" (did you mean {hint!r}?)" if hint else ""
            raise _fail(where, f"unknown type {name!r}{extra}; use one of {', '.join(JSON_TYPES)}")
    return tuple(cast(list[str], names))


def _compile(schema: object, where: str) -> _Node:
    if schema is True or schema == {}:
        return _Node(lambda v: v, "any value", None)
    if not isinstance(schema, Mapping):
        raise _fail(where, f"a schema must be a JSON object, got {type(schema).__name__}")
    schema = cast(Mapping[str, Any], schema)
    branches = schema.get("anyOf", schema.get("oneOf"))
    if branches is not None:
        if not isinstance(branches, list) or not branches:
            raise _fail(where, "anyOf/oneOf must be a non-empty list of schemas")
        nodes = [
            _compile(b, f"{where}.anyOf[{i}]") for i, b in enumerate(cast(list[Any], branches))
        ]
        return _union(nodes)
    types = _type_names(schema, where)
    typed = [_typed_checker(t, schema, where) for t in types]
    check, expected = _combine_types(types, typed)
    if "const" in schema or "enum" in schema:
        choices = [schema["const"]] if "const" in schema else schema["enum"]
        if not isinstance(choices, list) or not choices:
            raise _fail(where, "enum must be a non-empty list")
        check, expected = _with_enum(check, cast(list[Any], choices))
    return _Node(check, expected, frozenset(types) if types else None)


def _typed_checker(kind: str, schema: Mapping[str, Any], where: str) -> Checker:
    coerce = _COERCE[kind]
    if kind == "array" and "items" in schema:
        item = _compile(schema["items"], f"{where}.items").check

        def check_array(value: Any) -> Any:
            out: list[Any] = []
            for i, element in enumerate(coerce(value)):
                try:
                    out.append(item(element))
                except _Invalid as exc:
                    exc.path.insert(0, f"[{i}]")
                    raise
            return out

        return check_array
    if kind == "object" and any(k in schema for k in ("properties", "required")):
        return _object_checker(schema, where, coerce)
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return _object_checker(schema, where, coerce)
    return coerce


def _object_checker(schema: Mapping[str, Any], where: str, coerce: Checker) -> Checker:
    props, required, extra = _object_parts(schema, where)

    def check_object(value: Any) -> Any:
        obj = cast(dict[str, Any], coerce(value))
        out: dict[str, Any] = {}
        for key, element in obj.items():
            node = props.get(key, extra)
            if node is None:
                raise _Invalid(f"unexpected key {key!r}{_suggest(key, props)}")
            try:
                out[key] = node.check(element)
            except _Invalid as exc:
                exc.path.insert(0, f".{key}")
                raise
        for key in required:
            if key not in out:
                raise _Invalid(f"missing required key {key!r}")
        return out

    return check_object


def _object_parts(
    schema: Mapping[str, Any], where: str
) -> tuple[dict[str, _Node], tuple[str, ...], _Node | None]:
    """Compiled properties, required names, and the node for extra keys (None: refused)."""
    raw_props = schema.get("properties", {})
    if not isinstance(raw_props, Mapping):
        raise _fail(where, "properties must be an object mapping names to schemas")
    raw_props = cast(Mapping[str, Any], raw_props)
    props = {name: _compile(sub, f"{where}.properties.{name}") for name, sub in raw_props.items()}
    raw_required = schema.get("required", [])
    if not isinstance(raw_required, list) or not all(
        isinstance(r, str) for r in cast(list[Any], raw_required)
    ):
        raise _fail(where, "required must be a list of property names")
    required = tuple(cast(list[str], raw_required))
    for name in required:
        if name not in props:
            raise _fail(where, f"required names {name!r}, which is not among the properties")
    additional = schema.get("additionalProperties", True)
    extra: _Node | None
    if additional is False:
        extra = None
    elif additional is True:
        extra = _compile(True, where)
    else:
        extra = _compile(additional, f"{where}.additionalProperties")
    return props, required, extra


def _combine_types(types: tuple[str, ...], checks: list[Checker]) -> tuple[Checker, str]:
    if not types:
        return (lambda v: v), "any value"
    expected = " or ".join(types)
    if len(checks) == 1:
        only = checks[0]

        def check_one(value: Any) -> Any:
            try:
                return only(value)
            except _NoCoercion:
                raise _Invalid(f"expected {expected}, got {describe_value(value)}") from None

        return check_one, expected
    pairs = list(zip(types, checks, strict=True))

    def check_many(value: Any) -> Any:
        own = json_type_of(value)
        # A value already of an accepted type is checked as that type first, so "5" stays a
        # string under ["integer", "string"] instead of being coerced to 5.
        ordered = sorted(pairs, key=lambda pair: pair[0] != own)
        for _, check in ordered:
            try:
                return check(value)
            except _NoCoercion:
                continue
        raise _Invalid(f"expected {expected}, got {describe_value(value)}")

    return check_many, expected


def _with_enum(check: Checker, choices: list[Any]) -> tuple[Checker, str]:
    shown = ", ".join(json.dumps(c, ensure_ascii=False, default=str) for c in choices)
    expected = f"one of {shown}"

    def check_enum(value: Any) -> Any:
        value = check(value)
        if not any(_same(value, choice) for choice in choices):
            raise _Invalid(f"expected {expected}, got {describe_value(value)}")
        return value

    return check_enum, expected


def _union(nodes: list[_Node]) -> _Node:
    expected = " or ".join(n.expected for n in nodes)
    types: frozenset[str] | None = frozenset()
    for node in nodes:
        types = None if node.types is None or types is None else types | node.types

    def check_union(value: Any) -> Any:
        own = json_type_of(value)
        ordered = sorted(nodes, key=lambda n: n.types is not None and own not in n.types)
        for node in ordered:
            try:
                return node.check(value)
            except _Invalid:
                continue
        raise _Invalid(f"expected {expected}, got {describe_value(value)}")

    return _Node(check_union, expected, types)


def _suggest(name: str, candidates: Mapping[str, object]) -> str:
    import difflib  # only for a wrong name: not every run pays its import

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- validating a tool's arguments -----------------------------------------------------------------


class ArgsValidator:
    """Checks and coerces one tool's arguments against its JSON Schema object.

    Construction compiles the schema and raises ``ToolRegistrationError`` (naming the tool and the
    bad part) if it is invalid or a default does not fit its own schema.  Calling it checks one
    call.  Nested objects stop at their first problem, but the top level reports every problem at
    once, so the model can fix the whole call in one retry.
    """

    __slots__ = ("_defaults", "_extra", "_props", "_required", "schema", "tool")

    def __init__(self, schema: Mapping[str, Any], *, tool: str) -> None:
        where = f"tool {tool!r} parameters"
        self.schema = schema
        self.tool = tool
        self._props, self._required, self._extra = _object_parts(schema, where)
        raw_props = cast(Mapping[str, Any], schema.get("properties", {}))
        self._defaults: dict[str, Any] = {}
        for name, sub in raw_props.items():
            if isinstance(sub, Mapping) and "default" in sub and name not in self._required:
                default = cast(Mapping[str, Any], sub)["default"]
                try:
                    self._defaults[name] = self._props[name].check(default)
                except _Invalid as exc:
                    problem = f"the default of {name!r} does not fit its schema: {exc.message}"
                    raise _fail(where, problem) from None

    def __call__(self, args: object) -> tuple[dict[str, Any] | None, str | None]:
        """``(coerced_args, None)`` when valid, else ``(None, message for the model)``."""
        if type(args) is not dict and not isinstance(args, Mapping):  # (an ABC check is slow)
            return None, self._message([f"arguments must be an object, got {describe_value(args)}"])
        props = self._props
        out: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in cast(Mapping[str, Any], args).items():
            node = props.get(key, self._extra)
            if node is None:
                problems.append(f"unexpected argument {key!r}{_suggest(key, props)}")
                continue
            try:
                out[key] = node.check(value)
            except _Invalid as exc:
                problems.append(f"argument {key + ''.join(exc.path)!r}: {exc.message}")
        for key in self._required:
            if key not in out and key not in args:
                problems.append(f"missing required argument {key!r} ({props[key].expected})")
        if problems:
            return None, self._message(problems)
        for key, default in self._defaults.items():
            if key not in out:
                out[key] = copy.deepcopy(default) if type(default) in (list, dict) else default
        return out, None

    def _message(self, problems: list[str]) -> str:
        joined = "; ".join(problems)
        return f"Invalid arguments for tool {self.tool!r}: {joined}. Expected: {self.signature()}."

    def signature(self) -> str:
        """``search(query: string, limit?: integer = 5)``: the call's shape, for error messages."""
        parts: list[str] = []
        for name, node in self._props.items():
            part = f"{name}{'' if name in self._required else '?'}: {node.expected}"
            if name in self._defaults:
                part += f" = {json.dumps(self._defaults[name], ensure_ascii=False, default=str)}"
            parts.append(part)
        return f"{self.tool}({', '.join(parts)})"
