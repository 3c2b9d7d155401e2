"""server/tracing.py: off unless configured, spans that continue a stored trace context, the
W3C and X-Ray forms, and the client's context in gRPC metadata. End to end, with a real OTLP
receiver: tests/integration/test_traces.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from eventinvoke.client._tracing import trace_metadata
from eventinvoke.server import tracing

STORED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.setup(("executor",), exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def finished(exporter: InMemorySpanExporter) -> dict[str, object]:
    tracing.force_flush()
    return {span.name: span for span in exporter.get_finished_spans()}


def test_off_unless_an_otlp_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.configured()
    assert not tracing.setup()
    with tracing.span("attempt", STORED) as span:
        assert span is None
        assert tracing.traceparent() == ""
    assert tracing.server_interceptors() == [] and tracing.client_interceptors() == []

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    assert tracing.configured()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")  # OpenTelemetry's own off switch
    assert not tracing.configured()


def test_an_otlp_protocol_other_than_grpc_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: .*OTLP/gRPC"):
        tracing.configured()
    with pytest.raises(ValueError, match="OTLP/gRPC only"):
        tracing.setup()
    assert not tracing.ENABLED


def test_xray_form_of_a_traceparent() -> None:
    assert tracing.xray_header(STORED) == (
        "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1"
    )
    assert tracing.xray_header(STORED[:-2] + "00").endswith(";Sampled=0")
    assert tracing.xray_header("") == ""
    assert tracing.xray_header("not a traceparent") == ""


def test_a_span_continues_the_stored_trace_context(exported: InMemorySpanExporter) -> None:
    with tracing.span("attempt", STORED, "consumer", **{"eventinvoke.attempt": 2}) as attempt:
        current = tracing.traceparent()
        with tracing.span("run"):  # no parent given: the current span's child
            inner = tracing.traceparent()
        tracing.failed(attempt, "Unhandled")
    with tracing.span("record", "") as record:  # "": a trace of its own
        assert record is not None

    spans = finished(exported)
    trace_id = int(STORED[3:35], 16)
    attempt_span, run_span = spans["attempt"], spans["run"]
    assert attempt_span.context.trace_id == trace_id  # type: ignore[attr-defined]
    assert attempt_span.parent.span_id == int(STORED[36:52], 16)  # type: ignore[attr-defined]
    assert attempt_span.status.status_code == StatusCode.ERROR  # type: ignore[attr-defined]
    assert attempt_span.attributes["eventinvoke.attempt"] == 2  # type: ignore[attr-defined]
    assert attempt_span.resource.attributes["service.name"] == "eventinvoke"  # type: ignore[attr-defined]
    assert run_span.parent.span_id == attempt_span.context.span_id  # type: ignore[attr-defined]
    assert current == f"00-{STORED[3:35]}-{attempt_span.context.span_id:016x}-01"  # type: ignore[attr-defined]
    assert inner.split("-")[2] == f"{run_span.context.span_id:016x}"  # type: ignore[attr-defined]
    assert spans["record"].context.trace_id != trace_id  # type: ignore[attr-defined]
    assert spans["record"].parent is None  # type: ignore[attr-defined]


def test_the_client_sends_the_callers_trace_context_in_metadata() -> None:
    assert trace_metadata() == ()  # no span current
    tracer = TracerProvider().get_tracer("app")
    with tracer.start_as_current_span("caller") as caller:
        metadata = dict(trace_metadata())
    context = caller.get_span_context()
    flags = int(context.trace_flags)
    assert metadata["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    )
