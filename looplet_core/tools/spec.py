"""``ToolSpec`` and the ``@tool`` decorator: a tool checked once, when it is declared.

A tool is a name, a description, a parameter schema and a function called with the arguments as
keywords.  Everything that can be checked is checked when the ``ToolSpec`` is built: the schema
(``looplet_core.tools.schema`` reads the simple form, JSON Schema, or a typed function), whether
the function fits it, whether it is ``async def``, and whether it takes a ``ctx`` keyword for the
``ToolContext``.  So a typo fails at registration with ``ToolRegistrationError``, and checking a
model's call later is a few microseconds (``looplet_core.tools.args`` has the coercion rules).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, overload

from looplet_core.backends.base import ToolSchema
from looplet_core.errors import ToolRegistrationError
from looplet_core.tools.args import ArgsValidator
from looplet_core.tools.schema import function_schema, normalize_parameters
from looplet_core.tools.view import ToolView

__all__ = ["Args", "ToolSpec", "tool"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)

Args = dict[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class ToolSpec:
    """One tool.  ``parameters`` may be the simple form or a JSON Schema
    (``looplet_core.tools.schema`` describes both); after construction it always holds the
    normalised JSON Schema object.

    ``execute`` is called with the arguments as keywords, plus ``ctx=ToolContext`` if it declares a
    ``ctx`` keyword parameter; it may be ``async def``.  ``timeout`` (seconds) overrides the loop's
    default.  ``requires_approval`` asks for a human before each call.  ``read_only`` promises the
    tool has no side effects, so replays and forks may re-run it freely (the debugger warns when
    forking past a tool that is not read-only).  ``view`` says how a viewer shows its calls
    (``looplet_core.tools.view``: a shell command, a file's code, a diff); None lets the viewer
    guess from the arguments.  It is never sent to the model nor written to checkpoints.
    ``concurrent`` says the tool may run at the same
    time as other calls of the same reply (``LoopConfig.parallel_tools``); it defaults to
    ``read_only``, so read-only tools run concurrently unless ``concurrent=False``.
    ``agent_tools`` are the tools of the nested loop the tool runs (a sub-agent's
    ``BaseToolRegistry``; typed ``object`` so this module does not import the registry that
    imports it): an approval of a call paused in there is checked against them.

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
    view: ToolView | None = None
    concurrent: bool | None = None
    agent_tools: object | None = field(default=None, repr=False)
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
        view = cast(object, self.view)
        if view is not None and not isinstance(view, ToolView):
            raise ToolRegistrationError(
                f"tool {self.name!r}: view must be a ToolView or None, got {type(view).__name__}"
            )
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

    @property
    def runs_concurrently(self) -> bool:
        """Whether calls of this tool may overlap with other calls of the same reply."""
        return self.read_only if self.concurrent is None else self.concurrent

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
    view: ToolView | None = None,
    concurrent: bool | None = None,
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
    view: ToolView | None = None,
    concurrent: bool | None = None,
) -> ToolSpec | Callable[[Callable[..., Any]], ToolSpec]:
    """Make a ``ToolSpec`` from a typed function: ``@tool`` or ``@tool(name=..., timeout=...)``.

    The name defaults to the function's; the description to the first paragraph of its
    docstring, whose ``Args:`` (Google) or ``:param x:`` (reST) lines describe the arguments.
    Annotations and defaults give the schema (``looplet_core.tools.schema.function_schema``).  The
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
            view=view,
            concurrent=concurrent,
        )

    return build if fn is None else build(fn)
