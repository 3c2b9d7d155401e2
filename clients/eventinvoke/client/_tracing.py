"""The caller's trace context, sent with its calls when the application traces with
OpenTelemetry: the server's spans of an invocation (enqueue, attempts, record, deliveries) then
join the caller's trace.

The client never imports OpenTelemetry itself: an application that does not trace pays a
dictionary lookup per call. One that instruments its gRPC channels itself
(``GrpcAioInstrumentorClient``) sends the context from its own call spans: nothing is added.
"""

from __future__ import annotations

import sys


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """The current span's context as gRPC metadata (``traceparent``, with the application's
    propagators); nothing without OpenTelemetry, a current span, or when its gRPC
    instrumentation sends it already."""
    if "opentelemetry.trace" not in sys.modules:
        return ()
    from opentelemetry import propagate, trace

    if not trace.get_current_span().get_span_context().is_valid or _channels_instrumented():
        return ()
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())


def _channels_instrumented() -> bool:
    """Whether the application's gRPC instrumentation adds the context to every channel's calls
    (its instrumentor patches the channel constructors this client uses)."""
    if "opentelemetry.instrumentation.grpc" not in sys.modules:
        return False
    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcInstrumentorClient,
    )

    return any(
        instrumentor().is_instrumented_by_opentelemetry
        for instrumentor in (GrpcAioInstrumentorClient, GrpcInstrumentorClient)
    )
