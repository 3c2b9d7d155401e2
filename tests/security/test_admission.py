"""Admission control (issue #16 §7): with ``max_queued_events_per_function`` or
``max_queued_events`` set, an Event invoke over the bound gets 429 TooManyRequestsException with
Retry-After (gRPC RESOURCE_EXHAUSTED), never a 202 for an event then dropped; once the queue
drains, invokes are admitted again. On SQLite and PostgreSQL.

The suites here carry no executor at first, so accepted events stay queued; one with an
executor then joins the same backend and drains them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import FUNCTIONS, test_settings, zip_dir
from gateway.harness import http

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient, TooManyRequestsException
from eventinvoke.invoker.admission import FUNCTION_QUEUE_FULL, QUEUE_FULL


@pytest.fixture(params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {}
    return {"backend": request.getfixturevalue("postgres_url")}


@pytest.fixture
async def front(
    tmp_path: Path, shared: dict[str, Any], dead_endpoint: str
) -> AsyncIterator[tuple[Suite, AsyncClient]]:
    """An Invoker and the gateway, bounded to 3 events per function and 5 in all."""
    suite = Suite(
        test_settings(
            tmp_path / "data",
            http_listen="127.0.0.1:0",
            max_queued_events_per_function=3,
            max_queued_events=5,
            executor_endpoint=dead_endpoint,  # Event invokes need none
            **shared,
        ),
        roles=("invoker", "gateway"),
    )
    await suite.start()
    client = AsyncClient(suite.address)
    for name in ("first", "second"):
        await client.create_function(
            function_name=name,
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "echo"),
        )
    try:
        yield suite, client
    finally:
        await client.close()
        await suite.stop(grace=1)


async def _event(client: AsyncClient, name: str) -> int:
    answer = await client.invoke(name, b"{}", invocation_type="Event")
    return int(answer["StatusCode"])


async def test_over_a_functions_bound_an_event_invoke_is_429_with_retry_after(
    front: tuple[Suite, AsyncClient],
) -> None:
    suite, client = front
    assert [await _event(client, "first") for _ in range(3)] == [202, 202, 202]

    with pytest.raises(TooManyRequestsException) as raised:
        await _event(client, "first")
    error = raised.value
    assert error.http_status == 429
    assert error.message == "Rate Exceeded."
    assert error.metadata["Reason"] == FUNCTION_QUEUE_FULL
    assert error.metadata["retryAfterSeconds"] == "1"

    # The gRPC status, as any client sees it.
    async with grpc.aio.insecure_channel(suite.address) as channel:
        from eventinvoke.v1 import invoker_service_pb2 as pb
        from eventinvoke.v1 import invoker_service_pb2_grpc as rpc

        with pytest.raises(grpc.aio.AioRpcError) as status:
            await rpc.InvokerStub(channel).Invoke(
                pb.InvokeRequest(
                    function_name="first",
                    payload=b"{}",
                    invocation_type=pb.INVOCATION_TYPE_EVENT,
                )
            )
    assert status.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    # Over HTTP: AWS's 429, its Reason, and the Retry-After header.
    assert suite.gateway is not None
    answer = await http(
        suite.gateway.url,
        "POST",
        "/2015-03-31/functions/first/invocations",
        b"{}",
        {"X-Amz-Invocation-Type": "Event"},
    )
    assert answer.status == 429
    assert answer.headers["X-Amzn-ErrorType"] == "TooManyRequestsException"
    assert answer.headers["Retry-After"] == "1"
    assert answer.json() == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": FUNCTION_QUEUE_FULL,
    }
    legacy = await http(
        suite.gateway.url, "POST", "/2014-11-13/functions/first/invoke-async/", b"{}"
    )
    assert legacy.status == 429

    # Synchronous invokes are not queued, so not bounded; another function has room.
    assert await _event(client, "second") == 202


async def test_over_the_total_bound_every_function_is_refused(
    front: tuple[Suite, AsyncClient],
) -> None:
    _, client = front
    assert [await _event(client, "first") for _ in range(3)] == [202] * 3
    assert [await _event(client, "second") for _ in range(2)] == [202] * 2

    for name in ("first", "second"):
        with pytest.raises(TooManyRequestsException) as raised:
            await _event(client, name)
        assert raised.value.metadata["Reason"] in (FUNCTION_QUEUE_FULL, QUEUE_FULL)
    with pytest.raises(TooManyRequestsException) as raised:
        await _event(client, "second")
    assert raised.value.metadata["Reason"] == QUEUE_FULL


async def test_invoke_batch_refuses_each_invocation_over_the_bound(
    front: tuple[Suite, AsyncClient],
) -> None:
    from eventinvoke.v1 import invoker_service_pb2 as pb

    _, client = front
    request = pb.InvokeBatchRequest(
        invocations=[
            pb.InvokeRequest(
                function_name="first", payload=b"{}", invocation_type=pb.INVOCATION_TYPE_EVENT
            )
            for _ in range(4)
        ]
    )
    reply = await client._call("InvokeBatch", client._invoker.InvokeBatch, request)  # noqa: SLF001

    assert [r.response.status_code for r in reply.results[:3]] == [202, 202, 202]
    assert reply.results[3].error.reason == "TooManyRequestsException"
    assert reply.results[3].error.metadata["Reason"] == FUNCTION_QUEUE_FULL


async def test_once_the_queue_drains_events_are_admitted_again(
    front: tuple[Suite, AsyncClient], tmp_path: Path, shared: dict[str, Any]
) -> None:
    """The count is the backend's: an executor elsewhere that runs the events frees room."""
    _, client = front
    assert [await _event(client, "first") for _ in range(3)] == [202] * 3
    with pytest.raises(TooManyRequestsException):
        await _event(client, "first")

    executor = Suite(test_settings(tmp_path / "data", **shared), roles=("executor",))
    await executor.start()
    try:
        for _ in range(200):  # the queue drains, and the next reading (every 100 ms) sees it
            try:
                assert await _event(client, "first") == 202
                break
            except TooManyRequestsException:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the drained queue never admitted an event again")
    finally:
        await executor.stop(grace=1)


async def test_without_bounds_nothing_is_counted(tmp_path: Path, dead_endpoint: str) -> None:
    """The default: no bound."""
    suite = Suite(
        test_settings(tmp_path / "data", executor_endpoint=dead_endpoint), roles=("invoker",)
    )
    await suite.start()
    client = AsyncClient(suite.address)
    try:
        await client.create_function(
            function_name="free",
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "echo"),
        )
        assert [await _event(client, "free") for _ in range(20)] == [202] * 20
    finally:
        await client.close()
        await suite.stop(grace=1)
