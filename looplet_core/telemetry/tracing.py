"""``TracingHook``: lifecycle events as spans, OpenTelemetry's or a built-in tracer's.

``TracingHook`` turns lifecycle events into a span tree that follows the OpenTelemetry GenAI
semantic conventions::

    invoke_agent looplet       gen_ai.operation.name=invoke_agent, gen_ai.conversation.id=run id
    ├── chat gpt-4o-mini       gen_ai.request.model / response.model, usage.input/output_tokens
    ├── execute_tool search    gen_ai.tool.name, error.type when the tool failed
    └── ...

With ``opentelemetry-api`` installed (the ``otel`` extra) the spans go to the tracer provider you
pass (or the global one); without it they go to a built-in ``SimpleTracer`` that keeps the same tree
in memory, so tests and small scripts get tracing with zero dependencies.  OpenTelemetry is
imported when a ``TracingHook`` is created, never when ``looplet_core`` is imported.

Spans are linked to their parent explicitly rather than through the current context, because the
loop is a generator that the caller suspends between steps: attaching a context across a ``yield``
would leak it into the caller's code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from looplet_core.events import Event, EventKind

if TYPE_CHECKING:  # the otel extra; imported for real only when a TracingHook is created
    from opentelemetry.trace import Span, Tracer

__all__ = ["SimpleSpan", "SimpleTracer", "TracingHook"]

Attributes = dict[str, Any]
_FAILED_STOPS = {"llm_error", "hook_error", "parse_error", "context_exhausted"}


@dataclass(slots=True)
class SimpleSpan:
    """A finished or open span of the built-in tracer (times in nanoseconds since the epoch)."""

    name: str
    span_id: int
    parent_id: int | None
    start_ns: int
    end_ns: int | None = None
    attributes: Attributes = field(default_factory=dict[str, Any])
    error: str | None = None

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6


class SimpleTracer:
    """The tracer used when OpenTelemetry is not installed: spans kept in a list, in start order."""

    def __init__(self) -> None:
        self.spans: list[SimpleSpan] = []
        self._ids = itertools.count(1)

    def new_id(self) -> int:
        return next(self._ids)

    def children(self, span: SimpleSpan | None) -> list[SimpleSpan]:
        parent = span.span_id if span is not None else None
        return [s for s in self.spans if s.parent_id == parent]

    def format(self) -> str:
        """The span tree as indented text, one span a line with its duration."""
        lines: list[str] = []

        def walk(span: SimpleSpan, depth: int) -> None:
            took = f"{span.duration_ms:.1f}ms" if span.duration_ms is not None else "open"
            flag = f" ERROR {span.error}" if span.error else ""
            lines.append(f"{'  ' * depth}{span.name} [{took}]{flag}")
            for child in self.children(span):
                walk(child, depth + 1)

        for root in self.children(None):
            walk(root, 0)
        return "\n".join(lines)


class _Spans(Protocol):
    def start(
        self, name: str, parent: object | None, client: bool, attrs: Attributes, time_ns: int
    ) -> object: ...

    def finish(
        self, span: object, name: str | None, attrs: Attributes, error: str | None, time_ns: int
    ) -> None: ...


class _BuiltinSpans:
    def __init__(self, tracer: SimpleTracer) -> None:
        self.tracer = tracer

    def start(
        self, name: str, parent: object | None, client: bool, attrs: Attributes, time_ns: int
    ) -> object:
        parent_id = cast(SimpleSpan, parent).span_id if parent is not None else None
        span = SimpleSpan(name, self.tracer.new_id(), parent_id, time_ns, None, dict(attrs))
        self.tracer.spans.append(span)
        return span

    def finish(
        self, span: object, name: str | None, attrs: Attributes, error: str | None, time_ns: int
    ) -> None:
        done = cast(SimpleSpan, span)
        done.name = name or done.name
        done.attributes.update(attrs)
        done.error = error
        done.end_ns = time_ns


class _OtelSpans:
    def __init__(self, tracer_provider: Any, tracer: Any) -> None:
        from opentelemetry import trace

        self._trace = trace
        if tracer is None:
            provider = tracer_provider or trace.get_tracer_provider()
            tracer = provider.get_tracer("looplet_core")
        self._tracer = cast("Tracer", tracer)

    def start(
        self, name: str, parent: object | None, client: bool, attrs: Attributes, time_ns: int
    ) -> object:
        trace = self._trace
        context = trace.set_span_in_context(cast("Span", parent)) if parent else None
        kind = trace.SpanKind.CLIENT if client else trace.SpanKind.INTERNAL
        return self._tracer.start_span(
            name, context=context, kind=kind, attributes=attrs, start_time=time_ns
        )

    def finish(
        self, span: object, name: str | None, attrs: Attributes, error: str | None, time_ns: int
    ) -> None:
        otel_span = cast("Span", span)
        if name:
            otel_span.update_name(name)
        otel_span.set_attributes(attrs)
        if error is not None:
            otel_span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error))
        otel_span.end(end_time=time_ns)


def _ns(event: Event) -> int:
    return int(event.time * 1e9)


class TracingHook:
    """Spans for the run, each model call and each tool execution (see the module docs).

    ``backend``: ``"auto"`` uses OpenTelemetry when importable, else the built-in tracer;
    ``"otel"`` requires it; ``"builtin"`` never uses it.  ``model`` names the requested model on
    chat spans (the response's model is recorded either way).  ``tracer`` is the ``SimpleTracer``
    when the built-in one is in use, else None.
    """

    name = "tracing"

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        tracer: Any = None,
        backend: Literal["auto", "otel", "builtin"] = "auto",
        agent_name: str = "looplet",
        model: str | None = None,
    ) -> None:
        self.agent_name = agent_name
        self.model = model
        self.tracer: SimpleTracer | None = None
        self._spans: _Spans
        if backend != "builtin":
            try:
                self._spans = _OtelSpans(tracer_provider, tracer)
            except ImportError:
                if backend == "otel":
                    raise ImportError(
                        'TracingHook(backend="otel") needs opentelemetry-api: '
                        'pip install "looplet-lab[otel]"'
                    ) from None
                backend = "builtin"
        if backend == "builtin":
            self.tracer = tracer if isinstance(tracer, SimpleTracer) else SimpleTracer()
            self._spans = _BuiltinSpans(self.tracer)
        self._run: object | None = None
        self._llm: object | None = None
        self._tool: object | None = None

    def on_event(self, event: Event) -> None:
        kind, data, spans = event.kind, event.data, self._spans
        if kind is EventKind.RUN_START:
            self._run = spans.start(
                f"invoke_agent {self.agent_name}",
                None,
                False,
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": self.agent_name,
                    "gen_ai.conversation.id": event.run_id,
                },
                _ns(event),
            )
        elif kind is EventKind.LLM_START:
            attrs: Attributes = {
                "gen_ai.operation.name": "chat",
                "looplet.llm.call": int(data.get("call") or 0),
            }
            if self.model:
                attrs["gen_ai.request.model"] = self.model
            name = f"chat {self.model}" if self.model else "chat"
            self._llm = spans.start(name, self._run, True, attrs, _ns(event))
        elif kind is EventKind.LLM_END and self._llm is not None:
            self._end_llm(event, None)
        elif kind in (EventKind.LLM_RETRY, EventKind.LLM_ERROR) and self._llm is not None:
            self._end_llm(event, str(data.get("error") or kind.value))
        elif kind is EventKind.TOOL_START:
            tool = str(data.get("tool"))
            self._tool = spans.start(
                f"execute_tool {tool}",
                self._run,
                False,
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": tool,
                    "looplet.step": event.step,
                },
                _ns(event),
            )
        elif kind is EventKind.TOOL_END and self._tool is not None:
            error_kind = data.get("error_kind")
            attrs = {"error.type": str(error_kind)} if error_kind else {}
            spans.finish(
                self._tool, None, attrs, str(error_kind) if error_kind else None, _ns(event)
            )
            self._tool = None
        elif kind is EventKind.RUN_END and self._run is not None:
            self._end_run(event)

    def _end_llm(self, event: Event, error: str | None) -> None:
        attrs: Attributes = {}
        name: str | None = None
        call = cast(dict[str, Any], event.data.get("call") or {})
        if call:
            model = call.get("model")
            if model:
                attrs["gen_ai.response.model"] = model
                name = f"chat {self.model or model}"
            if call.get("stop_reason"):
                attrs["gen_ai.response.finish_reasons"] = [str(call["stop_reason"])]
            usage = cast(dict[str, Any] | None, call.get("usage"))
            if usage:
                attrs["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens") or 0)
                attrs["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens") or 0)
        if error is not None:
            prefix = error.split(":", 1)[0]
            attrs["error.type"] = prefix if prefix.isidentifier() else event.kind.value
        assert self._llm is not None
        self._spans.finish(self._llm, name, attrs, error, _ns(event))
        self._llm = None

    def _end_run(self, event: Event) -> None:
        data = event.data
        stop = str(data.get("stop_reason"))
        usage = cast(dict[str, Any], data.get("usage") or {})
        attrs: Attributes = {
            "looplet.stop_reason": stop,
            "looplet.steps": int(data.get("steps") or 0),
            "gen_ai.usage.input_tokens": int(usage.get("input_tokens") or 0),
            "gen_ai.usage.output_tokens": int(usage.get("output_tokens") or 0),
        }
        error = None
        if stop in _FAILED_STOPS:
            attrs["error.type"] = stop
            error = str(data.get("message") or stop)
        assert self._run is not None
        self._spans.finish(self._run, None, attrs, error, _ns(event))
        self._run = None
