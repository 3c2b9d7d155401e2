"""Traces end to end (issue #17 §5, docs/deploy.md): ``eventinvoke up`` as a real process with
``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at an OTLP/gRPC receiver this test serves, the test
process tracing its own invokes with the SDK. One trace covers the client's invoke, the
Invoker's call and enqueue, every attempt with its sandbox run, the record and each delivery:
to an SQS queue on moto_server (``AWSTraceHeader``), a webhook (``traceparent``) and a function
(its attempts continue the record's span), across a retry and a restart of the suite on the
same data directory. Functions see ``_X_AMZN_TRACE_ID`` naming their run's span.

``EVENTINVOKE_TIME_SCALE=0.2``: the retry after a failed first attempt comes 12 s later, time
enough to stop the suite and start it again while the event waits in the queue.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from conftest import read_lines, wait_for
from destinations.harness import ACCOUNT, CREDENTIALS, REGION, Aws, MotoServer, Queue
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from processes import SuiteProcess, free_port

from eventinvoke.client import AsyncClient
from eventinvoke.server.tracing import xray_header

# Logs the trace id it was given and, for {"fail_once": true}, fails its first attempt.
TRACED = """
import json, os
def handler(event, context):
    path = os.environ["RUNS_FILE"]
    previous = open(path).read().count(context.aws_request_id) if os.path.exists(path) else 0
    with open(path, "a") as runs:
        runs.write(json.dumps({
            "function": context.function_name,
            "request_id": context.aws_request_id,
            "trace": os.environ.get("_X_AMZN_TRACE_ID", ""),
        }) + "\\n")
    if event.get("fail_once") and previous == 0:
        raise ValueError("first attempt fails")
    return {"ok": True}
"""
# The same in Node.js, for the sink: its bootstrap sets _X_AMZN_TRACE_ID as Python's does.
TRACED_NODE = """
const fs = require("fs");
exports.handler = async (event, context) => {
  const run = {
    function: context.functionName,
    request_id: context.awsRequestId,
    trace: process.env._X_AMZN_TRACE_ID || "",
  };
  fs.appendFileSync(process.env.RUNS_FILE, JSON.stringify(run) + "\\n");
  return { ok: true };
};
"""
INVOKE_RPC = "/eventinvoke.v1.Invoker/Invoke"


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver, as a collector serves it: every span exported to it, kept
    as a dict of what the assertions read."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "attributes": _attributes(span.attributes),
                            "error": span.status.code == span.status.STATUS_CODE_ERROR,
                            "pid": resource.get("process.pid"),
                            "service": resource.get("service.name"),
                        }
                    )
        return trace_service_pb2.ExportTraceServiceResponse()

    def find(self, name: str, **attributes: Any) -> list[dict[str, Any]]:
        return [
            span
            for span in list(self.spans)
            if span["name"] == name and attributes.items() <= span["attributes"].items()
        ]


def _attributes(pairs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        found[pair.key] = getattr(pair.value, kind) if kind else None
    return found


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiving = OtlpReceiver()
    receiving.server.start()
    try:
        yield receiving
    finally:
        receiving.server.stop(None)


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A receiver of webhook deliveries: its URL and the headers of each POST."""
    received: list[dict[str, str]] = []

    async def take(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


def _zip(source: str, name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def _arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


async def _deploy(
    client: AsyncClient, name: str, runs: Path, destination: str = "", node: bool = False
) -> None:
    await client.create_function(
        function_name=name,
        runtime="nodejs20.x" if node else "python3.11",
        handler="index.handler",
        zip_file=_zip(TRACED_NODE, "index.js") if node else _zip(TRACED, "index.py"),
        environment={"Variables": {"RUNS_FILE": str(runs)}},
    )
    if destination:
        await client.put_function_event_invoke_config(
            function_name=name, destination_config={"OnSuccess": {"Destination": destination}}
        )


async def _trace_headers(aws: Aws, queue: Queue, timeout: float = 30.0) -> list[str]:
    """Wait for a message; its AWSTraceHeader system attributes, as SQS's consumers read it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        response = await aws.call(
            aws.sqs.receive_message,
            QueueUrl=queue.url,
            MessageSystemAttributeNames=["AWSTraceHeader"],
            WaitTimeSeconds=1,
        )
        messages = response.get("Messages", [])
        if messages:
            return [m.get("Attributes", {}).get("AWSTraceHeader", "") for m in messages]
    raise AssertionError(f"no message on {queue.name} within {timeout}s")


def _environment(moto: MotoServer, receiver: OtlpReceiver, tmp_path: Path) -> dict[str, str]:
    return {
        "EVENTINVOKE_TIME_SCALE": "0.2",
        "EVENTINVOKE_LOG_FORMAT": "json",
        "EVENTINVOKE_DESTINATION_ALLOW_NETWORKS": "127.0.0.0/8",  # the webhook's receiver
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms between exports: spans arrive within the test
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


async def test_one_trace_from_the_invoke_to_every_delivery_across_a_retry_and_a_restart(
    tmp_path: Path,
    moto: MotoServer,
    receiver: OtlpReceiver,
    webhook: tuple[str, list[dict[str, str]]],
) -> None:
    aws = Aws(moto.endpoint)
    queue = await aws.queue("traced")
    hook_url, hooked = webhook
    runs = tmp_path / "runs.jsonl"
    listen = f"127.0.0.1:{free_port()}"
    args = ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", "127.0.0.1:0"]
    environment = _environment(moto, receiver, tmp_path)
    first = SuiteProcess(args, tmp_path / "first.log", environment)
    second = SuiteProcess(args, tmp_path / "second.log", environment)
    tracer = TracerProvider().get_tracer("the-application")  # the caller's own tracing
    try:
        await asyncio.to_thread(first.start, listen)
        async with AsyncClient(listen) as client:
            await _deploy(client, "flaky", runs, queue.arn)
            await _deploy(client, "hooked", runs, hook_url)
            await _deploy(client, "sink", runs, node=True)
            await _deploy(client, "chained", runs, _arn("sink"))
            with tracer.start_as_current_span("client invoke") as caller:
                ids = {}
                for name, payload in (
                    ("flaky", {"fail_once": True}),
                    ("hooked", {}),
                    ("chained", {}),
                ):
                    response = await client.invoke(
                        function_name=name, invocation_type="Event", payload=json.dumps(payload)
                    )
                    ids[name] = response["ResponseMetadata"]["RequestId"]
                # A synchronous invoke runs in the caller's trace too (through the Executor's
                # Execute call, on the suite's own traced channel).
                response = await client.invoke(function_name="sink", payload="{}")
                ids["sync"] = response["ResponseMetadata"]["RequestId"]
        # The first process: flaky's failed attempt, and everything of the other two.
        await wait_for(lambda: receiver.find("attempt", **{"faas.name": "flaky"}), timeout=30)
        await wait_for(lambda: hooked and receiver.find("deliver", **_of(ids["hooked"])))
        await wait_for(lambda: receiver.find("attempt", **{"faas.name": "sink"}))
        await asyncio.to_thread(first.terminate)
        # The second, on the same data: flaky's retry, record and SQS delivery.
        await asyncio.to_thread(second.start, listen)
        [aws_trace_header] = await _trace_headers(aws, queue)
        await wait_for(lambda: receiver.find("deliver", **_of(ids["flaky"])))
        await asyncio.to_thread(second.terminate)
    finally:
        first.cleanup()
        second.cleanup()

    trace_id = f"{caller.get_span_context().trace_id:032x}"
    caller_id = f"{caller.get_span_context().span_id:016x}"
    spans = [span for span in receiver.spans if span["trace_id"] == trace_id]
    assert {span["service"] for span in spans} == {"eventinvoke"}

    def one(name: str, **attributes: Any) -> dict[str, Any]:
        [found] = [
            s for s in spans if s["name"] == name and attributes.items() <= s["attributes"].items()
        ]
        return found

    # The client's invoke -> the Invoker's call (the gRPC instrumentation) -> enqueue.
    calls = [s for s in spans if s["name"] == INVOKE_RPC]  # three Event invokes, one sync
    assert len(calls) == 4 and {s["parent"] for s in calls} == {caller_id}
    enqueues = {name: one("enqueue", **_of(ids[name])) for name in ("flaky", "hooked", "chained")}
    assert len({s["parent"] for s in enqueues.values()} & {s["span_id"] for s in calls}) == 3

    # Each attempt continues the enqueue's span (stored with the event), across the restart.
    flaky = enqueues["flaky"]
    attempts = sorted(
        (s for s in spans if s["name"] == "attempt" and s["attributes"]["faas.name"] == "flaky"),
        key=lambda s: s["attributes"]["eventinvoke.attempt"],
    )
    assert [s["attributes"]["eventinvoke.attempt"] for s in attempts] == [1, 2]
    assert [s["parent"] for s in attempts] == [flaky["span_id"]] * 2
    assert [s["error"] for s in attempts] == [True, False]
    assert attempts[0]["pid"] != attempts[1]["pid"]  # the retry ran in the restarted suite
    run_spans = [
        s for s in spans if s["name"] == "run" and s["parent"] in {a["span_id"] for a in attempts}
    ]
    assert len(run_spans) == 2
    # The function saw each run's span as Lambda's _X_AMZN_TRACE_ID.
    seen = [line["trace"] for line in read_lines(runs) if line["function"] == "flaky"]
    parent_of_run = {s["span_id"]: s for s in run_spans}
    assert sorted(seen) == sorted(
        xray_header(f"00-{trace_id}-{run_id}-01") for run_id in parent_of_run
    )

    # The record continues the event's trace; each delivery is the record's child, and carries
    # its own span to the target.
    record = one("record", **_of(ids["flaky"]))
    assert record["parent"] == flaky["span_id"] and record["pid"] == attempts[1]["pid"]
    deliver = one("deliver", **_of(ids["flaky"]))
    assert deliver["parent"] == record["span_id"]
    assert deliver["attributes"]["eventinvoke.destination"] == queue.arn
    assert aws_trace_header == xray_header(f"00-{trace_id}-{deliver['span_id']}-01")

    hook_record = one("record", **_of(ids["hooked"]))
    hook_delivery = one("deliver", **_of(ids["hooked"]))
    assert hook_record["parent"] == enqueues["hooked"]["span_id"]
    assert hook_delivery["parent"] == hook_record["span_id"]
    [traceparent] = {headers["traceparent"] for headers in hooked}
    assert traceparent.split("-")[1:3] == [trace_id, hook_delivery["span_id"]]

    # A function destination's event continues the record's span: the sink's attempt is its
    # child, in the same trace.
    chained_record = one("record", **_of(ids["chained"]))
    sink_attempt = one("attempt", **{"faas.name": "sink"})
    assert sink_attempt["parent"] == chained_record["span_id"]
    [sink_run] = [s for s in spans if s["name"] == "run" and s["parent"] == sink_attempt["span_id"]]
    seen_by = {line["request_id"]: line["trace"] for line in read_lines(runs)}
    assert seen_by[sink_attempt["attributes"]["faas.invocation_id"]] == xray_header(
        f"00-{trace_id}-{sink_run['span_id']}-01"
    )

    # The synchronous invoke: caller -> Invoke -> Execute (client, then server) -> run.
    sync_run = one("run", **_of(ids["sync"]))
    [execute] = [s for s in spans if s["span_id"] == sync_run["parent"]]
    assert execute["name"] == "/eventinvoke.v1.Executor/Execute"
    [execute_client] = [s for s in spans if s["span_id"] == execute["parent"]]
    [sync_call] = [s for s in spans if s["span_id"] == execute_client["parent"]]
    assert sync_call["name"] == INVOKE_RPC and sync_call["parent"] == caller_id
    assert seen_by[ids["sync"]] == xray_header(f"00-{trace_id}-{sync_run['span_id']}-01")


def _of(request_id: str) -> dict[str, str]:
    return {"faas.invocation_id": request_id}


async def test_off_nothing_is_exported_and_functions_get_no_trace_id(
    tmp_path: Path, moto: MotoServer, receiver: OtlpReceiver
) -> None:
    """OpenTelemetry's own off switch, with an endpoint set: the suite exports nothing (and
    without an endpoint it does not even import OpenTelemetry: tests/server/
    test_startup_footprint.py)."""
    runs = tmp_path / "runs.jsonl"
    runs.touch()
    listen = f"127.0.0.1:{free_port()}"
    args = ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", "127.0.0.1:0"]
    environment = {**_environment(moto, receiver, tmp_path), "OTEL_SDK_DISABLED": "true"}
    suite = SuiteProcess(args, tmp_path / "suite.log", environment)
    tracer = TracerProvider().get_tracer("the-application")
    try:
        await asyncio.to_thread(suite.start, listen)
        async with AsyncClient(listen) as client:
            await _deploy(client, "plain", runs)
            with tracer.start_as_current_span("client invoke"):
                await client.invoke(function_name="plain", invocation_type="Event", payload="{}")
        [run] = await wait_for(lambda: read_lines(runs))
        await asyncio.to_thread(suite.terminate)
    finally:
        suite.cleanup()
    assert run["trace"] == ""
    assert receiver.spans == []
