"""Telemetry hooks: ``TracingHook`` (spans, OpenTelemetry GenAI conventions) and ``MetricsHook``.

Neither imports anything outside the standard library at import time; ``TracingHook`` imports
OpenTelemetry when it is created, if it is installed.

May import: the loop's data (``events``, ``step``, ``records``) and nothing else of looplet_core:
they are hooks like any user's.
"""

from looplet_core.telemetry.metrics import MetricsHook, MetricsReport, percentile
from looplet_core.telemetry.tracing import SimpleSpan, SimpleTracer, TracingHook

__all__ = [
    "MetricsHook",
    "MetricsReport",
    "SimpleSpan",
    "SimpleTracer",
    "TracingHook",
    "percentile",
]
