"""Traces: OpenTelemetry spans exported over OTLP/gRPC, on when ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and nothing at all when not
(docs/architecture.md §4, docs/deploy.md §6).

Off, no OpenTelemetry module is imported, and each span costs a check of ``ENABLED`` and a
shared no-op context manager. On, every invocation's spans form one trace: the caller's invoke,
the Invoker's enqueue, each attempt with its sandbox run, the record, each delivery. The trace
crosses the queue, the outbox, retries and restarts as a W3C ``traceparent`` stored with the
event and with the record (``QueuedEvent.traceparent``, ``ExecutionRecord.traceparent``): work
picked up later continues from it with ``span(name, parent)``.

The rest is OpenTelemetry's own configuration, read by its SDK: the exporter's
``OTEL_EXPORTER_OTLP_*`` variables (headers, certificates, timeout), ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*`` for the batching.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

ENABLED = False  # the hot path's one check; set by ``setup``

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
# What ``span`` gives with tracing off. Hot paths write ``span(...) if ENABLED else OFF``, so
# that off they do not even build the span's arguments.
OFF: contextlib.nullcontext[None] = contextlib.nullcontext()
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# Spans of these services would be noise: probes every few seconds, tools' discovery.
_UNTRACED_SERVICES = ("grpc.health.v1.Health", "grpc.reflection")

_provider: Any = None  # the SDK's TracerProvider, once on
_tracer: Any = None


def configured() -> bool:
    """Whether the environment asks for traces. Raises ValueError for an OTLP protocol other
    than gRPC (the exporter this package ships)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if not any(os.environ.get(name, "").strip() for name in _ENDPOINTS):
        return False
    for name in _PROTOCOLS:
        protocol = os.environ.get(name, "").strip()
        if protocol and protocol != "grpc":
            raise ValueError(
                f"{name}={protocol}: eventinvoke exports traces over OTLP/gRPC only "
                "(set it to grpc, or leave it unset)"
            )
    return True


def setup(roles: tuple[str, ...] = (), exporter: Any = None) -> bool:
    """Turn tracing on for this process when ``configured()``, or when given an ``exporter``
    (a SpanExporter: tests' in-memory one) instead of OTLP's; whether it is on. Idempotent."""
    global ENABLED, _provider, _tracer
    if ENABLED or not (exporter is not None or configured()):
        return ENABLED
    # Imported here: ~12 MiB and ~0.3 s that a process with tracing off never pays.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The process id tells replicas, and a process from the one restarted after it, apart.
    attributes: dict[str, Any] = {"eventinvoke.roles": list(roles), "process.pid": os.getpid()}
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        attributes[SERVICE_NAME] = "eventinvoke"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
    _provider, _tracer = provider, provider.get_tracer("eventinvoke")
    ENABLED = True
    return True


def shutdown() -> None:
    """Export what is batched and turn tracing off (tests that turned it on)."""
    global ENABLED, _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    ENABLED, _provider, _tracer = False, None, None


def force_flush(timeout: float = 5.0) -> None:
    """Export the spans still batched (a stopping server's last ones)."""
    if _provider is not None:
        _provider.force_flush(int(timeout * 1000))


def span(
    name: str, parent: str | None = None, kind: str = "internal", /, **attributes: Any
) -> contextlib.AbstractContextManager[Any]:
    """A span around the ``with`` block, current inside it; the span is what ``as`` gives
    (None when tracing is off). ``parent``: a stored ``traceparent`` to continue from ("" for a
    trace of its own); None, the current span's. ``kind``: ``internal``, ``server``,
    ``client``, ``producer`` or ``consumer``."""
    if not ENABLED:
        return OFF
    return _span(name, parent, kind, attributes)


@contextlib.contextmanager
def _span(name: str, parent: str | None, kind: str, attributes: dict[str, Any]) -> Iterator[Any]:
    from opentelemetry.trace import SpanKind

    parent_context = None if parent is None else _context_of(parent)
    with _tracer.start_as_current_span(
        name, context=parent_context, kind=SpanKind[kind.upper()], attributes=attributes
    ) as current:
        yield current


def invocation(request_id: str, function_name: str) -> dict[str, str]:
    """An invocation's span attributes, by OpenTelemetry's FaaS conventions."""
    return {"faas.invocation_id": request_id, "faas.name": function_name}


def _context_of(traceparent: str) -> Any:
    """The context a stored ``traceparent`` names; an empty one (a new trace) for ""."""
    from opentelemetry import context, trace

    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None:
        return context.Context()
    trace_id, span_id, flags = match.groups()
    remote = trace.SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(flags, 16)),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(remote), context.Context())


def failed(current: Any, description: str) -> None:
    """Mark a span (from ``span``) as failed, with a short description."""
    if current is not None:
        from opentelemetry.trace import Status, StatusCode

        current.set_status(Status(StatusCode.ERROR, description))


def traceparent() -> str:
    """The current span as a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``), to
    store or send on; "" when tracing is off or no span is current."""
    if not ENABLED:
        return ""
    from opentelemetry import trace

    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return ""
    return f"00-{found.trace_id:032x}-{found.span_id:016x}-{int(found.trace_flags):02x}"


def xray_header(parent: str) -> str:
    """A W3C ``traceparent`` in AWS X-Ray's form, as Lambda's ``_X_AMZN_TRACE_ID`` and SQS's
    ``AWSTraceHeader`` carry it: ``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``.
    An X-Ray trace id is the W3C one cut after its first 8 digits (where X-Ray keeps the
    epoch seconds), as OpenTelemetry's X-Ray propagator does. "" for ""."""
    match = _TRACEPARENT.fullmatch(parent) if parent else None
    if match is None:
        return ""
    trace_id, span_id, flags = match.groups()
    sampled = int(flags, 16) & 1
    return f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={span_id};Sampled={sampled}"


def server_interceptors() -> list[Any]:
    """The gRPC server's span per call (parented by the caller's trace context in the call's
    metadata); none when tracing is off."""
    if not ENABLED:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

    untraced = filters.any_of(*(filters.service_prefix(s) for s in _UNTRACED_SERVICES))
    return [aio_server_interceptor(_provider, filter_=filters.negate(untraced))]


def client_interceptors() -> list[Any]:
    """A span per call on the suite's channels to its peers, the trace context sent in the
    call's metadata; none when tracing is off."""
    if not ENABLED:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(_provider))
