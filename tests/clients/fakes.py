"""A real ``grpc.aio`` server with tiny Invoker and Router servicers, for client and CLI tests.

The server runs its own event loop in a thread, so blocking callers (``Client``, the CLI through
``CliRunner``) and asyncio callers can all reach it. Errors go out exactly as the real servers
send them: a status whose details hold one ``google.rpc.ErrorInfo``.

A function named ``raise:<Reason>:<httpStatus>`` makes any Invoker RPC fail with that reason;
``plain-error`` fails with a bare NOT_FOUND (no details). Every request is recorded.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from eventinvoke.v1 import function_pb2, record_pb2
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import invoker_service_pb2_grpc as invoker_grpc
from eventinvoke.v1 import router_service_pb2 as router_pb2
from eventinvoke.v1 import router_service_pb2_grpc as router_grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
GRPC_CODES = {
    "ResourceNotFoundException": code_pb2.NOT_FOUND,
    "ResourceConflictException": code_pb2.ALREADY_EXISTS,
    "TooManyRequestsException": code_pb2.RESOURCE_EXHAUSTED,
    "ServiceException": code_pb2.INTERNAL,
}


def rich_status(reason: str, message: str, http_status: str) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain="lambda.eventinvoke", metadata={"httpStatus": http_status}
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(
        code=GRPC_CODES.get(reason, code_pb2.INVALID_ARGUMENT), message=message, details=[detail]
    )
    return rpc_status.to_status(status)


def configuration(name: str, **fields: Any) -> function_pb2.FunctionConfiguration:
    return function_pb2.FunctionConfiguration(
        function_name=name,
        function_arn=ARN + name,
        runtime="python3.12",
        handler="index.handler",
        timeout=3,
        memory_size=128,
        version="$LATEST",
        state="Active",
        **fields,
    )


class FakeInvoker(invoker_grpc.InvokerServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def _check(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.requests.append(request)
        name = getattr(request, "function_name", "")
        if name.startswith("raise:"):
            _, reason, http_status = name.split(":")
            await context.abort_with_status(rich_status(reason, f"{reason} for you", http_status))
        if name == "plain-error":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no details here")

    async def Invoke(self, request, context):  # noqa: N802 (gRPC method name)
        await self._check(request, context)
        if request.invocation_type == invoker_pb2.INVOCATION_TYPE_EVENT:
            return invoker_pb2.InvokeResponse(status_code=202, request_id="req-1")
        return invoker_pb2.InvokeResponse(
            status_code=200,
            payload=b'{"echo": ' + (request.payload or b"{}") + b"}",
            executed_version="$LATEST",
            function_error="Unhandled" if request.function_name == "failing" else "",
            log_result="bG9n" if request.log_type == invoker_pb2.LOG_TYPE_TAIL else "",
            request_id="req-2",
        )

    async def CreateFunction(self, request, context):  # noqa: N802
        await self._check(request, context)
        config = configuration(request.function_name, code_size=len(request.zip_file))
        config.environment.update(request.environment)
        if request.HasField("dead_letter_target_arn"):
            config.dead_letter_target_arn = request.dead_letter_target_arn
        return invoker_pb2.CreateFunctionResponse(configuration=config)

    async def GetFunction(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.GetFunctionResponse(configuration=configuration(request.function_name))

    async def ListFunctions(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.ListFunctionsResponse(
            functions=[configuration("a"), configuration("b")], next_marker="m2"
        )

    async def UpdateFunctionConfiguration(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.UpdateFunctionConfigurationResponse(
            configuration=configuration(request.function_name)
        )

    async def DeleteFunction(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.DeleteFunctionResponse()

    def _config(self, request: Any) -> function_pb2.FunctionEventInvokeConfig:
        # Echoes the request's settings; Get and List requests carry none.
        qualifier = getattr(request, "qualifier", "") or "$LATEST"
        config = function_pb2.FunctionEventInvokeConfig(
            function_arn=f"{ARN}{request.function_name}:{qualifier}", last_modified=1573686021.479
        )
        fields = request.DESCRIPTOR.fields_by_name
        for field in ("maximum_retry_attempts", "maximum_event_age_in_seconds"):
            if field in fields and request.HasField(field):
                setattr(config, field, getattr(request, field))
        if "destination_config" in fields:
            config.destination_config.CopyFrom(request.destination_config)
        return config

    async def PutFunctionEventInvokeConfig(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.PutFunctionEventInvokeConfigResponse(config=self._config(request))

    async def UpdateFunctionEventInvokeConfig(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.UpdateFunctionEventInvokeConfigResponse(config=self._config(request))

    async def GetFunctionEventInvokeConfig(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.GetFunctionEventInvokeConfigResponse(config=self._config(request))

    async def DeleteFunctionEventInvokeConfig(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.DeleteFunctionEventInvokeConfigResponse()

    async def ListFunctionEventInvokeConfigs(self, request, context):  # noqa: N802
        await self._check(request, context)
        return invoker_pb2.ListFunctionEventInvokeConfigsResponse(
            function_event_invoke_configs=[self._config(request)]
        )


class FakeRouter(router_grpc.RouterServicer):
    async def ListFailedDeliveries(self, request, context):  # noqa: N802
        record = record_pb2.ExecutionRecord(
            version="1.0",
            request_context=record_pb2.RequestContext(
                request_id="req-1",
                function_arn=ARN + "f:$LATEST",
                condition="RetriesExhausted",
                approximate_invoke_count=3,
            ),
            request_payload=b'{"k": 1}',
        )
        record.timestamp.FromSeconds(1_700_000_000)
        delivery = router_pb2.FailedDelivery(
            delivery_id="d-1",
            destination=router_pb2.Destination(
                target="arn:aws:sqs:us-east-1:000000000000:q",
                kind=router_pb2.DELIVERY_KIND_ON_FAILURE,
            ),
            record=record,
            reason="queue does not exist",
            attempts=5,
        )
        return router_pb2.ListFailedDeliveriesResponse(failed_deliveries=[delivery])


@contextmanager
def serve() -> Iterator[tuple[str, FakeInvoker]]:
    """Run the fake Invoker and Router on one port; yields ``(endpoint, invoker)``."""
    invoker = FakeInvoker()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        invoker_grpc.add_InvokerServicer_to_server(invoker, server)
        router_grpc.add_RouterServicer_to_server(FakeRouter(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"127.0.0.1:{port}", invoker
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def unused_endpoint() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"
