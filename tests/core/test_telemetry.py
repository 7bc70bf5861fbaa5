"""TracingHook (OpenTelemetry GenAI spans, or the built-in tracer) and MetricsHook."""

from __future__ import annotations

import sys

import pytest

from looplet_core import (
    Deny,
    LoopConfig,
    MetricsHook,
    MockLLMBackend,
    TracingHook,
    TransientBackendError,
    composable_loop,
)
from looplet_core.state import DefaultState
from looplet_core.telemetry import SimpleTracer, percentile

from .helpers import make_tools

SCRIPT = [
    TransientBackendError("overloaded"),
    {"tool": "greet", "args": {"name": "Alice"}},
    [{"tool": "boom"}, {"tool": "nosuch"}],
    {"tool": "done", "args": {"answer": "ok"}},
]


def run_with(hooks: list[object]) -> DefaultState:
    state = DefaultState()
    list(
        composable_loop(
            llm=MockLLMBackend(SCRIPT, report_usage=True),
            tools=make_tools(),
            task="t",
            config=LoopConfig(max_steps=10, retry_backoff=0.0),
            state=state,
            hooks=hooks,
        )
    )
    return state


@pytest.fixture
def exporter():
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def test_otel_spans_form_a_run_tree_with_genai_attributes(exporter):
    provider, memory = exporter
    state = run_with([TracingHook(tracer_provider=provider, model="gpt-test")])
    spans = memory.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_agent looplet"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.conversation.id"] == state.run_id
    assert root.attributes["looplet.stop_reason"] == "done"
    assert root.attributes["gen_ai.usage.input_tokens"] == state.usage.input_tokens > 0
    children = [s for s in spans if s.parent is not None]
    assert all(by_id[s.parent.span_id] is root for s in children)
    assert all(s.context.trace_id == root.context.trace_id for s in spans)

    chats = sorted((s for s in children if s.name.startswith("chat")), key=lambda s: s.start_time)
    assert [s.name for s in chats] == ["chat gpt-test"] * 4  # a failed attempt, then 3 replies
    failed, first = chats[0], chats[1]
    assert failed.status.status_code.name == "ERROR" and "overloaded" in failed.status.description
    assert first.kind.name == "CLIENT"
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.request.model"] == "gpt-test"
    assert first.attributes["gen_ai.response.model"] == "scripted"
    assert first.attributes["gen_ai.usage.input_tokens"] > 0
    assert first.attributes["gen_ai.usage.output_tokens"] > 0
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)

    tools = sorted(
        (s for s in children if s.name.startswith("execute_tool")), key=lambda s: s.start_time
    )
    assert [s.name for s in tools] == [
        "execute_tool greet",
        "execute_tool boom",
        "execute_tool done",
    ]
    assert tools[0].attributes["gen_ai.tool.name"] == "greet"
    assert tools[0].status.status_code.name == "UNSET"
    assert tools[1].attributes["error.type"] == "execution"
    assert tools[1].status.status_code.name == "ERROR"


def tree(names_and_parents: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return sorted(names_and_parents, key=lambda t: (t[1] or "", t[0]))


def test_builtin_tracer_builds_the_same_span_tree_as_opentelemetry(exporter):
    provider, memory = exporter
    builtin = TracingHook(backend="builtin")
    run_with([TracingHook(tracer_provider=provider), builtin])
    otel = memory.get_finished_spans()
    names = {s.context.span_id: s.name for s in otel}
    otel_tree = [(s.name, names[s.parent.span_id] if s.parent else None) for s in otel]
    assert builtin.tracer is not None
    own = {s.span_id: s.name for s in builtin.tracer.spans}
    builtin_tree = [
        (s.name, own.get(s.parent_id) if s.parent_id else None) for s in builtin.tracer.spans
    ]
    assert tree(builtin_tree) == tree(otel_tree)
    boom = next(s for s in builtin.tracer.spans if s.name == "execute_tool boom")
    assert boom.error == "execution" and boom.attributes["error.type"] == "execution"
    assert all(s.end_ns is not None and s.end_ns >= s.start_ns for s in builtin.tracer.spans)
    assert builtin.tracer.format().splitlines()[0].startswith("invoke_agent looplet [")


def test_without_opentelemetry_auto_falls_back_and_otel_backend_explains(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # makes the import fail
    hook = TracingHook()
    assert isinstance(hook.tracer, SimpleTracer)
    run_with([hook])
    assert {s.name for s in hook.tracer.spans} >= {"invoke_agent looplet", "execute_tool greet"}
    with pytest.raises(ImportError, match=r"looplet-lab\[otel\]"):
        TracingHook(backend="otel")


def test_metrics_count_steps_tools_errors_tokens_and_latency():
    class NoGreetingBob:
        def pre_dispatch(self, state, log, tc, step):
            return Deny("no") if tc.args.get("name") == "Bob" else None

    metrics = MetricsHook()
    run_with([metrics])
    state = DefaultState()
    list(
        composable_loop(
            llm=MockLLMBackend(
                [
                    {"tool": "greet", "args": {"name": "Bob"}},
                    {"tool": "done", "args": {"answer": "x"}},
                ],
                report_usage=True,
            ),
            tools=make_tools(),
            task="t",
            state=state,
            hooks=[NoGreetingBob(), metrics],
        )
    )
    report = metrics.report()
    assert report.runs == 2 and report.steps == 6
    assert report.status == {"ok": 1, "error": 2, "done": 2, "denied": 1}
    assert report.tools == {"greet": 2, "boom": 1, "nosuch": 1, "done": 2}
    assert report.error_kinds == {"execution": 1, "validation": 1, "permission": 1}
    assert report.tool_errors == {"boom": 1, "nosuch": 1, "greet": 1}
    assert report.llm_calls == 5 and report.llm_retries == 1
    assert report.input_tokens > 0 and report.output_tokens > 0
    assert report.stop_reasons == {"done": 2}
    assert report.latency_ms["llm"]["n"] == 5 and report.latency_ms["step"]["n"] == 6
    text = report.format()
    assert "greet" in text and "p90" in text and "validation 1" in text
    assert report.to_dict()["tools"]["done"] == 2


def test_percentile_uses_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (
        50.0,
        90.0,
        99.0,
    )
    assert percentile([], 50) == 0.0 and percentile([7.0], 99) == 7.0
