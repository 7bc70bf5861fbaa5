"""Where a tool's parameter schema comes from: the simple form, a JSON Schema, or a typed function.

Every tool ends up with one JSON Schema object for its arguments; backends send it to the model and
``looplet_core.tools.args`` checks the model's arguments against it.  Three ways in:

* **The simple form** (the seed's), one entry per argument::

      {"query": "str", "limit": "int = 5", "tags": "list[str]?", "opts": "dict"}

  Types: ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, ``any`` (or the JSON names
  ``string``, ``integer``, ``number``, ``boolean``, ``array``, ``object``), and ``list[<type>]``.
  A trailing ``?`` makes the argument optional (the function then needs its own default);
  ``= <default>`` makes it optional with that default, filled in when the model leaves it out.  The
  default is a JSON literal, ``True``/``False``/``None``, or for ``str`` a bare or quoted word.  An
  entry may also be a dict, a JSON Schema for that one argument (to add a ``description``, say);
  it is required unless it has a ``default``.
* **A full JSON Schema object**: any mapping whose ``type`` is ``"object"`` or that has a
  ``properties`` mapping.  It is kept as written, except that ``additionalProperties: false`` is
  added at the top level when absent: arguments become keyword arguments, so an unknown one would
  only fail later, as a TypeError inside the call.
* **A typed function** (``function_schema``, used by the ``@tool`` decorator): annotations give the
  types, defaults make arguments optional, and the docstring gives the descriptions.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin, get_type_hints

from looplet_core.errors import ToolRegistrationError
from looplet_core.tools.args import json_type_of

__all__ = ["function_schema", "is_json_schema", "normalize_parameters", "parse_docstring"]

JSONSchema = dict[str, Any]

_SIMPLE_TYPES: dict[str, str | None] = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "dict": "object",
    "object": "object",
    "any": None,
}
_SIMPLE_USAGE = (
    "use str, int, float, bool, list, dict or any (or list[<type>]), "
    "then '?' for optional or '= <default>'"
)
_SIMPLE_RE = re.compile(
    r"^\s*(?P<type>[A-Za-z]+)\s*(?:\[\s*(?P<item>[A-Za-z]+)\s*\])?\s*(?P<opt>\?)?"
    r"\s*(?:=\s*(?P<default>.*?))?\s*$",
    re.DOTALL,
)
_PY_LITERALS: dict[str, Any] = {"True": True, "False": False, "None": None}
_PY_TYPES: dict[object, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def _fail(where: str, problem: str) -> ToolRegistrationError:
    return ToolRegistrationError(f"{where}: {problem}")


# -- the simple form and JSON Schema --------------------------------------------------------------


def is_json_schema(parameters: Mapping[str, Any]) -> bool:
    """True for a full JSON Schema object, False for the simple ``{"name": "str"}`` form."""
    return parameters.get("type") == "object" or isinstance(parameters.get("properties"), Mapping)


def normalize_parameters(parameters: object, *, tool: str) -> JSONSchema:
    """Turn either accepted form into a JSON Schema object: a new dict, the input is untouched.

    Raises ``ToolRegistrationError`` naming the tool and the offending part when the form cannot be
    read.  The deeper check of the schema happens when ``ArgsValidator`` compiles it.
    """
    where = f"tool {tool!r} parameters"
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise _fail(where, f"expected a dict, got {type(parameters).__name__}")
    parameters = cast(Mapping[Any, Any], parameters)
    if is_json_schema(parameters):
        schema = copy.deepcopy(dict(parameters))
        if schema.setdefault("type", "object") != "object":
            raise _fail(where, "the top-level schema must have type 'object'")
        schema.setdefault("properties", {})
        schema.setdefault("additionalProperties", False)
    else:
        schema = _from_simple(parameters, where)
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        raise _fail(where, f"the schema must be JSON-serialisable ({exc})") from None
    return schema


def _from_simple(parameters: Mapping[Any, Any], where: str) -> JSONSchema:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise _fail(where, f"argument name {name!r} is not a valid identifier")
        if isinstance(spec, Mapping):
            prop = copy.deepcopy(dict(cast(Mapping[str, Any], spec)))
            is_required = "default" not in prop
        elif isinstance(spec, str):
            prop, is_required = _parse_simple(spec, f"{where}: argument {name!r}")
        else:
            raise _fail(where, f"argument {name!r}: expected a type string like 'str' or 'int = 3'")
        properties[name] = prop
        if is_required:
            required.append(name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _parse_simple(spec: str, where: str) -> tuple[JSONSchema, bool]:
    """``"int = 3"`` -> ``({"type": "integer", "default": 3}, False)``: (schema, required)."""
    match = _SIMPLE_RE.match(spec)
    base = match["type"].lower() if match else ""
    if match is None or base not in _SIMPLE_TYPES:
        raise _fail(where, f"cannot read type {spec!r}; {_SIMPLE_USAGE}")
    kind = _SIMPLE_TYPES[base]
    prop: JSONSchema = {} if kind is None else {"type": kind}
    if match["item"] is not None:
        item = match["item"].lower()
        if kind != "array" or item not in _SIMPLE_TYPES:
            raise _fail(where, f"cannot read type {spec!r}; {_SIMPLE_USAGE}")
        item_kind = _SIMPLE_TYPES[item]
        prop["items"] = {} if item_kind is None else {"type": item_kind}
    if match["default"] is None:
        return prop, match["opt"] is None
    prop["default"] = _parse_default(match["default"], kind, where)
    return prop, False


def _parse_default(text: str, kind: str | None, where: str) -> Any:
    if text in _PY_LITERALS:
        return _PY_LITERALS[text]
    try:
        return json.loads(text)
    except ValueError:
        pass
    if kind == "string":
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    raise _fail(where, f"default {text!r} is not a JSON value")


# -- typed functions ------------------------------------------------------------------------------


def function_schema(fn: Callable[..., Any], *, tool: str) -> tuple[JSONSchema, str]:
    """The JSON Schema for ``fn``'s keyword arguments, and the description from its docstring.

    Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``list``, ``list[X]``, ``dict``,
    ``dict[str, X]``, ``Literal[...]``, unions (``X | None``, ``Optional[X]``), ``Any`` or none,
    and ``Annotated[X, "description"]``.  An argument is optional when it has a default (sent to
    the model when it is JSON) or admits None (then None is its default).  A parameter named
    ``ctx`` receives the ``ToolContext`` and is not part of the schema; ``**kwargs`` is ignored.
    """
    where = f"tool {tool!r}"
    try:
        hints = get_type_hints(fn, include_extras=True)
        signature = inspect.signature(fn)
    except (NameError, TypeError, ValueError) as exc:
        raise _fail(where, f"cannot read the function's signature ({exc})") from None
    description, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.name == "ctx" or param.kind is param.VAR_KEYWORD:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            raise _fail(where, f"parameter {param.name!r} cannot be passed by name")
        prop = annotation_schema(hints.get(param.name, Any), f"{where} argument {param.name!r}")
        if param.name in arg_docs and "description" not in prop:
            prop["description"] = arg_docs[param.name]
        if param.default is not param.empty:
            if _is_json(param.default):
                prop["default"] = param.default
        elif _admits_none(prop):
            prop["default"] = None
        else:
            required.append(param.name)
        properties[param.name] = prop
    schema: JSONSchema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return schema, description


def annotation_schema(annotation: object, where: str) -> JSONSchema:
    """The JSON Schema for one type annotation; unsupported ones raise ToolRegistrationError."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return {}
    if annotation in _PY_TYPES:
        return {"type": _PY_TYPES[annotation]}
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        schema = annotation_schema(args[0], where)
        notes = [note for note in args[1:] if isinstance(note, str)]
        if notes:
            schema["description"] = notes[0]
        return schema
    if origin is list and len(args) == 1:
        return {"type": "array", "items": annotation_schema(args[0], where)}
    if origin is dict and len(args) == 2 and args[0] is str:
        values = annotation_schema(args[1], where)
        return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
    if origin is Literal:
        kinds = list(dict.fromkeys(json_type_of(value) for value in args))
        return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": list(args)}
    if origin is Union or origin is types.UnionType:
        return _union_schema(args, where)
    raise _fail(
        where,
        f"unsupported annotation {annotation!r}; use str, int, float, bool, list[...], "
        "dict[str, ...], Literal[...], Optional[...] or Any, or pass parameters= explicitly",
    )


def _union_schema(members: tuple[Any, ...], where: str) -> JSONSchema:
    present = [m for m in members if m is not type(None)]
    schemas = [annotation_schema(m, where) for m in present]
    if any(not s for s in schemas):
        return {}  # a union with Any accepts anything
    schema: JSONSchema
    if len(schemas) == 1:
        schema = schemas[0]
    elif all(list(s) == ["type"] and isinstance(s["type"], str) for s in schemas):
        schema = {"type": [s["type"] for s in schemas]}
    else:
        schema = {"anyOf": schemas}
    if len(present) == len(members):
        return schema
    if "anyOf" in schema:
        schema["anyOf"].append({"type": "null"})
        return schema
    kind = schema["type"]
    schema["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _admits_none(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    branches = cast(list[Mapping[str, Any]], schema.get("anyOf", []))
    return any(branch.get("type") == "null" for branch in branches)


def _is_json(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


# -- docstrings -----------------------------------------------------------------------------------

_ARGS_HEADER = re.compile(r"^(args|arguments|parameters|params|keyword args)\s*:$", re.IGNORECASE)
_SECTION_HEADER = re.compile(r"^[A-Z][A-Za-z ]*:$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*?\s)?(\w+)\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """``(description, {argument: description})`` from a Google- or reST-style docstring.

    The description is the first paragraph, joined into one line.  Argument descriptions come from
    an ``Args:`` (or ``Arguments:``/``Parameters:``) section of ``name: text`` or
    ``name (type): text`` lines, or from ``:param name: text`` fields; continuation lines are
    joined.  NumPy-style sections are not read.
    """
    lines = doc.expandtabs().splitlines()
    summary: list[str] = []
    for line in lines:
        text = line.strip()
        if not text or _SECTION_HEADER.match(text) or text.startswith(":"):
            break
        summary.append(text)
    args = _google_args(lines)
    args.update(_rest_args(lines))
    return " ".join(summary), args


def _google_args(lines: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    section_indent: int | None = None  # indent of the "Args:" header while inside the section
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if section_indent is None:
            if _ARGS_HEADER.match(text):
                section_indent, entry_indent, current = indent, None, None
            continue
        if not text:
            continue
        if indent <= section_indent:
            section_indent = None
            if _ARGS_HEADER.match(text):
                section_indent, entry_indent, current = indent, None, None
            continue
        entry_indent = indent if entry_indent is None else entry_indent
        match = _GOOGLE_ENTRY.match(text) if indent == entry_indent else None
        if match:
            current = str(match[1])
            args[current] = str(match[2]).strip()
        elif current is not None:
            args[current] = f"{args[current]} {text}".strip()
    return args


def _rest_args(lines: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        text = line.strip()
        match = _REST_PARAM.match(text)
        if match:
            current = str(match[1])
            args[current] = str(match[2]).strip()
        elif current is not None and text and not text.startswith(":") and line[:1].isspace():
            args[current] = f"{args[current]} {text}".strip()
        else:
            current = None
    return args
