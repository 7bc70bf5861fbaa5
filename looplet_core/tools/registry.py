"""``BaseToolRegistry``: the tools a run may call, and the seam they are validated and run through.

Calling a tool never raises for the tool's own failures: ``dispatch`` returns a ``ToolResult``
whose ``error_kind`` says what went wrong (validation, execution, timeout, cancelled);
``looplet_core.tools.run`` explains the threading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast, overload

from looplet_core.backends.base import ToolSchema
from looplet_core.errors import ToolRegistrationError
from looplet_core.messages import ToolCall
from looplet_core.records import ErrorKind, ToolResult
from looplet_core.tools.run import ToolContext, aexecute, execute
from looplet_core.tools.spec import Args, ToolSpec, tool
from looplet_core.tools.view import ToolView

__all__ = ["BaseToolRegistry"]


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
        view: ToolView | None = None,
        concurrent: bool | None = None,
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
        view: ToolView | None = None,
        concurrent: bool | None = None,
    ) -> ToolSpec | Callable[[Callable[..., Any]], ToolSpec]:
        """``@registry.tool`` / ``@registry.tool(...)``: the ``tool`` decorator, then register."""
        make = tool(
            name=name,
            description=description,
            timeout=timeout,
            requires_approval=requires_approval,
            read_only=read_only,
            view=view,
            concurrent=concurrent,
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

    def validate_nested(self, path: Sequence[str], tc: ToolCall) -> tuple[Args | None, str | None]:
        """``validate`` for a call inside a sub-agent: ``path`` names the sub-agent tools from
        this registry down to the one whose tools include ``tc.tool``."""
        registry = self
        for name in path:
            spec = registry.get(name)
            inner = spec.agent_tools if spec is not None else None
            if not isinstance(inner, BaseToolRegistry):
                return None, (
                    f"cannot check the call of {tc.tool!r}: {name!r} is not a sub-agent among "
                    f"the tools ({', '.join(registry.names()) or 'none'})"
                )
            registry = inner
        return registry.validate(tc)

    def _unknown(self, name: str) -> str:
        if not self._tools:
            return f"Unknown tool {name!r}: no tools are registered."
        import difflib  # only for a wrong name: not every run pays its import

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
        """Run validated ``args`` (see ``looplet_core.tools.run.execute``)."""
        return execute(spec, args, ctx, timeout=timeout)

    async def aexecute(
        self,
        spec: ToolSpec,
        args: Args,
        ctx: ToolContext | None = None,
        *,
        timeout: float | None = None,
    ) -> ToolResult:
        """Run validated ``args`` in the event loop (see ``looplet_core.tools.run.aexecute``)."""
        return await aexecute(spec, args, ctx, timeout=timeout)
