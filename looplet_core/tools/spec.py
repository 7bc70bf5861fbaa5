"""Tools: ``ToolSpec``, the ``@tool`` decorator, and the registry the loop validates calls with.

A tool is a name, a description, a parameter schema and a function called with the arguments as
keywords.  Everything that can be checked is checked once, when the ``ToolSpec`` is built: the
schema (``looplet_core.schema`` reads the simple form, JSON Schema, or a typed function), whether
the function fits it, whether it is ``async def``, and whether it takes a ``ctx`` keyword for the
``ToolContext``.  So a typo fails at registration with ``ToolRegistrationError``, and checking a
model's call later is a few microseconds (``looplet_core.toolargs`` has the coercion rules).

Calling a tool never raises for the tool's own failures: ``BaseToolRegistry.dispatch`` returns a
``ToolResult`` whose ``error_kind`` says what went wrong (validation, execution, timeout,
cancelled), and ``looplet_core.toolrun`` explains the threading.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, overload

from looplet_core.backends.base import ToolSchema
from looplet_core.errors import ToolRegistrationError
from looplet_core.jsonsafe import clip_depth
from looplet_core.messages import ToolCall
from looplet_core.records import ErrorKind, ToolResult
from looplet_core.schema import function_schema, normalize_parameters
from looplet_core.toolargs import ArgsValidator
from looplet_core.toolrun import ToolContext, aexecute, execute

__all__ = [
    "BaseToolRegistry",
    "ToolContext",
    "ToolSpec",
    "aexecute",
    "execute",
    "result_to_text",
    "tool",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)

Args = dict[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class ToolSpec:
    """One tool.  ``parameters`` may be the simple form or a JSON Schema (``looplet_core.schema``
    describes both); after construction it always holds the normalised JSON Schema object.

    ``execute`` is called with the arguments as keywords, plus ``ctx=ToolContext`` if it declares a
    ``ctx`` keyword parameter; it may be ``async def``.  ``timeout`` (seconds) overrides the loop's
    default.  ``requires_approval`` asks for a human before each call.  ``read_only`` promises the
    tool has no side effects, so replays and forks may re-run it freely (the debugger warns when
    forking past a tool that is not read-only).

    A ``ToolSpec`` is callable like its function, so a function decorated with ``@tool`` can still
    be called directly (``search(query="x")``); equality is identity.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    execute: Callable[..., Any]
    timeout: float | None = None
    requires_approval: bool = False
    read_only: bool = False
    is_async: bool = field(init=False, repr=False)
    takes_ctx: bool = field(init=False, repr=False)
    validator: ArgsValidator = field(init=False, repr=False)
    _schema: ToolSchema = field(init=False, repr=False)

    def __post_init__(self) -> None:
        name = cast(object, self.name)  # checked at runtime: callers are not always type-checked
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ToolRegistrationError(
                f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-' "
                "(what every provider accepts)"
            )
        description = cast(object, self.description)
        if not isinstance(description, str):
            raise ToolRegistrationError(f"tool {self.name!r}: description must be a string")
        if not callable(self.execute):
            raise ToolRegistrationError(f"tool {self.name!r}: execute must be callable")
        timeout = cast(object, self.timeout)
        if timeout is not None and not (
            isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
        ):
            raise ToolRegistrationError(f"tool {self.name!r}: timeout must be positive or None")
        schema = normalize_parameters(self.parameters, tool=self.name)
        validator = ArgsValidator(schema, tool=self.name)
        takes_ctx = _check_signature(self.execute, schema, self.name)
        call = getattr(self.execute, "__call__", None)  # noqa: B004 (async __call__ objects)
        is_async = inspect.iscoroutinefunction(self.execute) or inspect.iscoroutinefunction(call)
        rendered: ToolSchema = {
            "name": self.name,
            "description": self.description,
            "parameters": schema,
        }
        for attr, value in (
            ("parameters", schema),
            ("validator", validator),
            ("takes_ctx", takes_ctx),
            ("is_async", is_async),
            ("_schema", rendered),
        ):
            object.__setattr__(self, attr, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.execute(*args, **kwargs)

    def schema(self) -> ToolSchema:
        """``{"name", "description", "parameters"}`` as backends send it.  Shared: do not mutate."""
        return self._schema

    def validate(self, args: object) -> tuple[Args | None, str | None]:
        """``(coerced_args, None)``, or ``(None, an error message written for the model)``."""
        return self.validator(args)


def _check_signature(fn: Callable[..., Any], schema: Mapping[str, Any], tool: str) -> bool:
    """Refuse a function that cannot accept its schema's arguments; say whether it takes ctx."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # some builtins have no signature: trust the schema
        return False
    properties: Mapping[str, Any] = schema["properties"]
    required = set(schema.get("required", ()))
    if "ctx" in properties:
        raise ToolRegistrationError(f"tool {tool!r}: 'ctx' is reserved for the ToolContext")
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if schema.get("additionalProperties", True) is not False and not takes_any:
        raise ToolRegistrationError(
            f"tool {tool!r}: the schema allows extra arguments but execute() takes no **kwargs"
        )
    for name in properties:
        param = params.get(name)
        if (param is None or param.kind not in _KEYWORD_KINDS) and not takes_any:
            raise ToolRegistrationError(
                f"tool {tool!r}: the schema declares {name!r} but execute() has no keyword "
                f"parameter of that name"
            )
    for param in params.values():
        if param.default is not param.empty or param.name == "ctx":
            continue
        if param.kind is param.POSITIONAL_ONLY or (
            param.kind in _KEYWORD_KINDS and param.name not in properties
        ):
            raise ToolRegistrationError(
                f"tool {tool!r}: execute() requires {param.name!r}, which the schema does not "
                "declare, so it could never be passed"
            )
        if param.kind in _KEYWORD_KINDS and param.name not in required:
            sub = properties[param.name]
            if not (isinstance(sub, Mapping) and "default" in sub):
                raise ToolRegistrationError(
                    f"tool {tool!r}: {param.name!r} is optional in the schema but execute() has "
                    "no default for it; give it a default or make it required"
                )
    ctx = params.get("ctx")
    return ctx is not None and ctx.kind in _KEYWORD_KINDS


@overload
def tool(fn: Callable[..., Any], /) -> ToolSpec: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
    read_only: bool = False,
) -> Callable[[Callable[..., Any]], ToolSpec]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
    read_only: bool = False,
) -> ToolSpec | Callable[[Callable[..., Any]], ToolSpec]:
    """Make a ``ToolSpec`` from a typed function: ``@tool`` or ``@tool(name=..., timeout=...)``.

    The name defaults to the function's; the description to the first paragraph of its
    docstring, whose ``Args:`` (Google) or ``:param x:`` (reST) lines describe the arguments.
    Annotations and defaults give the schema (``looplet_core.schema.function_schema``).  The
    result is the ``ToolSpec``, which stays callable as the function.  Decorate plain functions,
    not methods: the spec does not bind ``self``.
    """

    def build(func: Callable[..., Any]) -> ToolSpec:
        tool_name = name or getattr(func, "__name__", "")
        parameters, doc = function_schema(func, tool=tool_name)
        return ToolSpec(
            name=tool_name,
            description=doc if description is None else description,
            parameters=parameters,
            execute=func,
            timeout=timeout,
            requires_approval=requires_approval,
            read_only=read_only,
        )

    return build if fn is None else build(fn)


class BaseToolRegistry:
    """The tools a run may call, in registration order, with their cached schemas.

    ``validate`` / ``dispatch`` turn every problem into a message for the model (unknown tool with
    the closest name, missing or unexpected arguments, wrong types).  ``execute`` / ``aexecute``
    are the seam the loop runs tools through: subclass and override them to sandbox or record.
    Iterating yields ``ToolSpec``s; ``in`` takes a name.
    """

    def __init__(self, tools: Iterable[ToolSpec] = ()) -> None:
        self._tools: dict[str, ToolSpec] = {}
        self._schemas: list[ToolSchema] | None = None
        for spec in tools:
            self.register(spec)

    def register(self, spec: ToolSpec) -> ToolSpec:
        """Add ``spec``; a second tool with the same name is refused with ToolRegistrationError."""
        candidate = cast(object, spec)
        if not isinstance(candidate, ToolSpec):
            raise ToolRegistrationError(
                f"register() takes a ToolSpec, got {type(spec).__name__}; "
                "wrap a function with @registry.tool or tool(fn)"
            )
        if spec.name in self._tools:
            raise ToolRegistrationError(f"a tool named {spec.name!r} is already registered")
        self._tools[spec.name] = spec
        self._schemas = None
        return spec

    @overload
    def tool(self, fn: Callable[..., Any], /) -> ToolSpec: ...
    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        requires_approval: bool = False,
        read_only: bool = False,
    ) -> Callable[[Callable[..., Any]], ToolSpec]: ...
    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        requires_approval: bool = False,
        read_only: bool = False,
    ) -> ToolSpec | Callable[[Callable[..., Any]], ToolSpec]:
        """``@registry.tool`` / ``@registry.tool(...)``: the ``tool`` decorator, then register."""
        make = tool(
            name=name,
            description=description,
            timeout=timeout,
            requires_approval=requires_approval,
            read_only=read_only,
        )

        def build(func: Callable[..., Any]) -> ToolSpec:
            return self.register(make(func))

        return build if fn is None else build(fn)

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(list(self._tools.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._tools)})"

    def schemas(self) -> list[ToolSchema]:
        """The schemas backends send, in registration order; cached until the next register.

        The list and its dicts are shared with later calls: treat them as read-only.
        """
        if self._schemas is None:
            self._schemas = [spec.schema() for spec in self._tools.values()]
        return self._schemas

    def validate(self, tc: ToolCall) -> tuple[Args | None, str | None]:
        """``(coerced_args, None)``, or ``(None, a message telling the model what to fix)``."""
        spec = self._tools.get(tc.tool)
        if spec is None:
            return None, self._unknown(tc.tool)
        if tc.parse_error is not None:
            return None, f"The arguments for tool {tc.tool!r} were not valid JSON: {tc.parse_error}"
        return spec.validator(tc.args)

    def _unknown(self, name: str) -> str:
        if not self._tools:
            return f"Unknown tool {name!r}: no tools are registered."
        close = difflib.get_close_matches(name, list(self._tools), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"Unknown tool {name!r}.{hint} Available: {', '.join(self._tools)}."

    def dispatch(
        self, tc: ToolCall, ctx: ToolContext | None = None, *, timeout: float | None = None
    ) -> ToolResult:
        """Validate, then run.  Invalid calls return a ``validation`` result and never run."""
        args, error = self.validate(tc)
        if args is None:
            return ToolResult(error=error, error_kind=ErrorKind.VALIDATION)
        return self.execute(self._tools[tc.tool], args, ctx, timeout=timeout)

    async def adispatch(
        self, tc: ToolCall, ctx: ToolContext | None = None, *, timeout: float | None = None
    ) -> ToolResult:
        """The async twin of ``dispatch``."""
        args, error = self.validate(tc)
        if args is None:
            return ToolResult(error=error, error_kind=ErrorKind.VALIDATION)
        return await self.aexecute(self._tools[tc.tool], args, ctx, timeout=timeout)

    def execute(
        self,
        spec: ToolSpec,
        args: Args,
        ctx: ToolContext | None = None,
        *,
        timeout: float | None = None,
    ) -> ToolResult:
        """Run validated ``args`` (see ``looplet_core.toolrun.execute``)."""
        return execute(spec, args, ctx, timeout=timeout)

    async def aexecute(
        self,
        spec: ToolSpec,
        args: Args,
        ctx: ToolContext | None = None,
        *,
        timeout: float | None = None,
    ) -> ToolResult:
        """Run validated ``args`` in the event loop (see ``looplet_core.toolrun.aexecute``)."""
        return await aexecute(spec, args, ctx, timeout=timeout)


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
