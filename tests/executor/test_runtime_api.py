"""The Runtime API server over real HTTP, with an aiohttp client (spec §6, checks 55–59)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from eventinvoke.executor.runtime_api import MAX_RESPONSE_BYTES, Event, RuntimeApi

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


@pytest.fixture
async def api() -> AsyncIterator[RuntimeApi]:
    server = RuntimeApi()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http(api: RuntimeApi) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://{api.address}") as session:
        yield session


def event(request_id: str = "req-1", **kwargs: object) -> Event:
    fields: dict = {"payload": b'{"a":1}', "invoked_function_arn": ARN, "timeout": 3.0}
    fields.update(kwargs)
    return Event(request_id=request_id, **fields)


RUNTIME = "/2018-06-01/runtime"


async def take(http: aiohttp.ClientSession) -> aiohttp.ClientResponse:
    response = await http.get(f"{RUNTIME}/invocation/next")
    await response.read()
    return response


async def test_next_blocks_until_an_event_and_carries_its_headers(api, http) -> None:
    pending = asyncio.create_task(take(http))
    await asyncio.sleep(0.1)
    assert not pending.done()  # /next blocks while there is nothing to run

    handle = api.submit(event(client_context='{"custom":{"k":"v"}}'))
    response = await pending
    assert response.status == 200
    assert await response.read() == b'{"a":1}'
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert response.headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert response.headers["Lambda-Runtime-Client-Context"] == '{"custom":{"k":"v"}}'
    deadline = int(response.headers["Lambda-Runtime-Deadline-Ms"])
    assert abs(deadline - (time.time() * 1000 + 3000)) < 1000
    assert handle.taken.done()


async def test_empty_headers_are_left_out(api, http) -> None:
    api.submit(event())
    response = await take(http)
    assert "Lambda-Runtime-Client-Context" not in response.headers


async def test_response_is_accepted_once(api, http) -> None:
    handle = api.submit(event())
    await take(http)

    first = await http.post(f"{RUNTIME}/invocation/req-1/response", data=b'{"ok":true}')
    assert first.status == 202
    assert await first.json() == {"status": "OK"}
    result = await handle.result
    assert (result.payload, result.error) == (b'{"ok":true}', False)

    second = await http.post(f"{RUNTIME}/invocation/req-1/response", data=b"{}")
    assert second.status == 400
    assert await second.json() == {
        "errorMessage": "Invalid request ID",
        "errorType": "InvalidRequestID",
    }


async def test_response_for_a_wrong_id_is_rejected(api, http) -> None:
    handle = api.submit(event())
    await take(http)
    response = await http.post(f"{RUNTIME}/invocation/other/response", data=b"{}")
    assert response.status == 400
    assert (await response.json())["errorType"] == "InvalidRequestID"
    assert not handle.result.done()


async def test_response_before_next_is_a_wrong_state(api, http) -> None:
    api.submit(event())
    response = await http.post(f"{RUNTIME}/invocation/req-1/response", data=b"{}")
    assert response.status == 403
    assert (await response.json())["errorType"] == "InvalidStateTransition"


async def test_error_body_is_passed_on_unchanged(api, http) -> None:
    handle = api.submit(event())
    await take(http)
    body = b'{"errorType":"MyError","errorMessage":"boom","extra":[1,2]}'
    response = await http.post(
        f"{RUNTIME}/invocation/req-1/error",
        data=body,
        headers={"Lambda-Runtime-Function-Error-Type": "Runtime.Whatever"},
    )
    assert response.status == 202
    result = await handle.result
    assert (result.payload, result.error) == (body, True)


async def test_init_error_fails_the_pending_and_next_invocations(api, http) -> None:
    handle = api.submit(event())
    body = b'{"errorMessage":"bad init","errorType":"Runtime.ImportModuleError"}'
    response = await http.post(f"{RUNTIME}/init/error", data=body)
    assert response.status == 202
    result = await handle.result
    assert (result.payload, result.error) == (body, True)

    later = api.submit(event("req-2"))
    assert later.result.done()
    assert later.result.result().payload == body


async def test_oversized_response_is_413_and_the_function_fails(api, http) -> None:
    handle = api.submit(event())
    await take(http)
    response = await http.post(
        f"{RUNTIME}/invocation/req-1/response", data=b"x" * (MAX_RESPONSE_BYTES + 1)
    )
    assert response.status == 413
    assert await response.json() == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    result = await handle.result
    assert result.error
    assert json.loads(result.payload) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


async def test_response_of_exactly_the_limit_is_accepted(api, http) -> None:
    handle = api.submit(event())
    await take(http)
    body = b'"' + b"x" * (MAX_RESPONSE_BYTES - 2) + b'"'
    response = await http.post(f"{RUNTIME}/invocation/req-1/response", data=body)
    assert response.status == 202
    assert (await handle.result).payload == body


async def test_close_releases_a_parked_next(api, http) -> None:
    pending = asyncio.create_task(take(http))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(api.close(), 5)
    with pytest.raises((aiohttp.ClientError, AssertionError)):
        response = await pending
        assert response.status == 200
