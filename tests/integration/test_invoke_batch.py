"""InvokeBatch, and the asyncio client gathering concurrent Event invokes into it.

Each invocation of a batch is answered as Invoke would answer it alone: accepted (202 and its
own request id) or refused with Invoke's error, and a refused one queues nothing.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
import structlog
from conftest import Running, read_lines, wait_for

from eventinvoke.client import (
    AsyncClient,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ResourceNotFoundException,
)
from eventinvoke.server.interceptors import ServerInterceptor
from eventinvoke.v1 import invoker_service_pb2 as pb
from eventinvoke.v1 import invoker_service_pb2_grpc as pb_grpc

MAX_ASYNC = 1048576


async def _echo(suite: Running) -> Path:
    runs = suite.tmp_path / "echo-runs.jsonl"
    runs.touch()
    await suite.deploy("echo", "echo", RUNS_FILE=str(runs))
    return runs


def _event(function_name: str, payload: bytes = b"{}", **fields: object) -> pb.InvokeRequest:
    return pb.InvokeRequest(
        function_name=function_name,
        payload=payload,
        invocation_type=fields.pop("invocation_type", pb.INVOCATION_TYPE_EVENT),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


async def test_each_invocation_of_a_batch_is_answered_on_its_own_in_order(
    suite: Running,
) -> None:
    runs = await _echo(suite)
    async with grpc.aio.insecure_channel(suite.address) as channel:
        stub = pb_grpc.InvokerStub(channel)
        reply = await stub.InvokeBatch(
            pb.InvokeBatchRequest(
                invocations=[
                    _event("echo", b'{"n": 1}'),
                    _event("missing"),
                    _event("echo", b"{not json"),
                    _event("echo", invocation_type=pb.INVOCATION_TYPE_REQUEST_RESPONSE),
                    _event("echo", b'{"n": 2}'),
                ]
            )
        )

    accepted, missing, not_json, sync, accepted_too = reply.results
    assert [accepted.response.status_code, accepted_too.response.status_code] == [202, 202]
    assert accepted.response.request_id != accepted_too.response.request_id
    assert missing.error.reason == "ResourceNotFoundException"
    assert missing.error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert missing.error.metadata["httpStatus"] == "404"
    assert missing.error.message == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST"
    )
    assert not_json.error.reason == "InvalidRequestContentException"
    assert not_json.error.message.startswith("Could not parse request body into json")
    assert sync.error.reason == "ValidationException"
    assert sync.error.message == "InvokeBatch queues Event invocations only"

    # Only the two accepted invocations ran, with the request ids the batch answered.
    ran = await wait_for(lambda: len(read_lines(runs)) >= 2 and read_lines(runs))
    assert sorted(run["request_id"] for run in ran) == sorted(
        [accepted.response.request_id, accepted_too.response.request_id]
    )
    assert sorted(run["event"]["n"] for run in ran) == [1, 2]
    await asyncio.sleep(0.3)  # nothing else shows up later
    assert len(read_lines(runs)) == 2


async def test_concurrent_event_invokes_share_rpcs_and_keep_their_own_answers(
    suite: Running,
) -> None:
    runs = await _echo(suite)
    count = 60

    async def bad(invoke: object) -> BaseException:
        with pytest.raises(Exception) as caught:
            await invoke  # type: ignore[misc]
        return caught.value

    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logged:
        results = await asyncio.gather(
            *(
                suite.client.invoke("echo", b'{"i": %d}' % i, invocation_type="Event")
                for i in range(count)
            ),
            bad(suite.client.invoke("nope", b"{}", invocation_type="Event")),
            bad(suite.client.invoke("echo", b"[1,", invocation_type="Event")),
            bad(suite.client.invoke("echo", b"1" * (MAX_ASYNC + 1), invocation_type="Event")),
        )

    responses, errors = results[:count], results[count:]
    assert all(response["StatusCode"] == 202 for response in responses)
    request_ids = [response["ResponseMetadata"]["RequestId"] for response in responses]
    assert len(set(request_ids)) == count
    missing, not_json, too_large = errors
    assert isinstance(missing, ResourceNotFoundException)
    assert missing.operation_name == "Invoke"
    assert isinstance(not_json, InvalidRequestContentException)
    assert isinstance(too_large, RequestEntityTooLargeException)
    assert str(too_large) == (
        f"Request must be smaller than {MAX_ASYNC} bytes for the InvokeFunction operation"
    )

    batches = [line for line in logged if line.get("rpc") == "InvokeBatch"]
    assert sum(line["invocations"] for line in batches) == count + 3
    assert sum(line["refused"] for line in batches) == 3
    assert len(batches) < count  # they were gathered, not sent one by one

    ran = await wait_for(lambda: len(read_lines(runs)) >= count and read_lines(runs))
    assert sorted(run["request_id"] for run in ran) == sorted(request_ids)


class _Handlers:
    """Stands in for a grpc.aio.Server to collect the method handlers a generated
    ``add_*Servicer_to_server`` registers, so a test can serve some of them."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.handlers.update(handlers)


class _CallCounter(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        self.counts[handler_call_details.method.rsplit("/", 1)[-1]] += 1
        return await continuation(handler_call_details)


async def test_a_server_without_invoke_batch_gets_each_event_invoke_on_its_own(
    suite: Running,
) -> None:
    """An older server, the real Invoker without InvokeBatch: the client's concurrent Event
    invokes, the refused call's included, go out as Invoke calls and each is answered."""
    runs = await _echo(suite)
    [invoker] = [s for s in suite.suite.server.services if s.full_name.endswith(".Invoker")]
    collected = _Handlers()
    pb_grpc.add_InvokerServicer_to_server(invoker.servicer, collected)
    del collected.handlers["InvokeBatch"]
    calls = _CallCounter()
    # Errors mapped as on our server; calls counted by method, InvokeBatch's refusals included.
    older = grpc.aio.server(interceptors=[calls, ServerInterceptor()])
    older.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(invoker.full_name, collected.handlers),)
    )
    port = older.add_insecure_port("127.0.0.1:0")
    await older.start()
    try:
        async with AsyncClient(f"127.0.0.1:{port}") as client:
            first = await asyncio.gather(
                *(
                    client.invoke("echo", f'{{"n": {n}}}'.encode(), invocation_type="Event")
                    for n in range(5)
                )
            )
            tried = calls.counts["InvokeBatch"]
            with pytest.raises(ResourceNotFoundException):
                await client.invoke("missing", b"{}", invocation_type="Event")
            later = await client.invoke("echo", b'{"n": 5}', invocation_type="Event")
    finally:
        await older.stop(None)

    # InvokeBatch was tried by the calls on the wire at the start (at most two), never after.
    assert 1 <= tried <= 2
    assert calls.counts["InvokeBatch"] == tried
    assert calls.counts["Invoke"] == 7
    request_ids = [r["ResponseMetadata"]["RequestId"] for r in [*first, later]]
    assert [r["StatusCode"] for r in [*first, later]] == [202] * 6
    assert len(set(request_ids)) == 6
    await wait_for(lambda: len(read_lines(runs)) == 6, timeout=20)
    assert sorted(r["request_id"] for r in read_lines(runs)) == sorted(request_ids)
