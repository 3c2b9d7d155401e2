"""The Runtime API server over real HTTP, with an aiohttp client (docs/aws-behaviour.md §6, checks
55–59)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from eventinvoke.executor.runtime_api import MAX_RESPONSE_BYTES, Event, Handle, RuntimeApi

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


# -- the HTTP layer over a raw socket: what curl, node and awslambdaric may send ---------------

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"


def post(path: str, body: bytes, headers: str = "") -> bytes:
    head = f"POST {RUNTIME}{path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}"
    return head.encode() + b"\r\n" + body


async def connect(api: RuntimeApi) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = api.address.split(":")
    return await asyncio.open_connection(host, int(port))


async def taken(
    api: RuntimeApi, request_id: str = "req-1"
) -> tuple[Handle, asyncio.StreamReader, asyncio.StreamWriter]:
    """An event submitted and taken with /next on a new connection."""
    handle = api.submit(event(request_id))
    reader, writer = await connect(api)
    writer.write(NEXT)
    await read_response(reader)
    return handle, reader, writer


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head.decode().split("\r\n")[:-2]
    headers = dict(line.split(": ", 1) for line in lines)
    body = await reader.readexactly(int(headers["Content-Length"]))
    return int(status_line.split()[1]), headers, body


async def test_a_chunked_response_body_is_read_whole(api) -> None:
    handle = api.submit(event())
    reader, writer = await connect(api)
    writer.write(NEXT)
    assert (await read_response(reader))[0] == 200
    writer.write(
        f"POST {RUNTIME}/invocation/req-1/response HTTP/1.1\r\nHost: x\r\n".encode()
        + b'Transfer-Encoding: chunked\r\n\r\n4\r\n{"ok\r\n7\r\n":true}\r\n0\r\n\r\n'
    )
    status, _, body = await read_response(reader)
    assert (status, body) == (202, b'{"status":"OK"}')
    assert (await handle.result).payload == b'{"ok":true}'
    writer.close()


async def test_an_oversized_chunked_body_is_413(api) -> None:
    handle, reader, writer = await taken(api)
    chunk = b"x" * (1 << 20)
    writer.write(
        f"POST {RUNTIME}/invocation/req-1/response HTTP/1.1\r\nHost: x\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 7
        + b"0\r\n\r\n"
    )
    assert (await read_response(reader))[0] == 413
    assert (await handle.result).error
    writer.close()


async def test_pipelined_requests_are_answered_in_order(api) -> None:
    first = api.submit(event("req-1"))
    reader, writer = await connect(api)
    # All at once: take req-1, answer it, then wait in /next for the one after.
    writer.write(NEXT + post("/invocation/req-1/response", b'"one"') + NEXT)
    status, headers, _ = await read_response(reader)
    assert (status, headers["Lambda-Runtime-Aws-Request-Id"]) == (200, "req-1")
    assert (await read_response(reader))[0] == 202
    assert (await first.result).payload == b'"one"'

    waiting = asyncio.create_task(read_response(reader))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the third request waits for an event
    api.submit(event("req-2"))
    status, headers, _ = await waiting
    assert (status, headers["Lambda-Runtime-Aws-Request-Id"]) == (200, "req-2")
    writer.close()


async def test_a_202_pipelined_before_next_leaves_with_the_next_event(api) -> None:
    first, reader, writer = await taken(api)
    # What our Python runtime sends: its answer and its next /next in one write.
    writer.write(post("/invocation/req-1/response", b'"one"') + NEXT)
    assert (await first.result).payload == b'"one"'  # the answer counts at once...

    # ...while its 202 waits to leave with the next event, one wake-up for the runtime.
    waiting = asyncio.create_task(read_response(reader))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    api.submit(event("req-2"))
    assert (await waiting)[0] == 202
    status, headers, _ = await read_response(reader)
    assert (status, headers["Lambda-Runtime-Aws-Request-Id"]) == (200, "req-2")
    writer.close()


async def test_an_answer_not_pipelined_is_accepted_at_once(api) -> None:
    handle, reader, writer = await taken(api, "req-1")
    writer.write(post("/invocation/req-1/response", b'"one"'))
    assert (await asyncio.wait_for(read_response(reader), 0.5))[0] == 202
    assert (await handle.result).payload == b'"one"'
    writer.close()


async def test_expect_100_continue_is_answered_at_once(api) -> None:
    handle, reader, writer = await taken(api)
    body = b'"' + b"x" * 2000 + b'"'
    request = post("/invocation/req-1/response", body, "Expect: 100-continue\r\n")
    head, _, _ = request.partition(b"\r\n\r\n")
    writer.write(head + b"\r\n\r\n")
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    assert (await read_response(reader))[0] == 202
    assert (await handle.result).payload == body
    writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        # An upgrade whose body llhttp would skip.
        b"POST /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nab",
    ],
)
async def test_malformed_http_is_400_and_closed(api, request_bytes: bytes) -> None:
    reader, writer = await connect(api)
    writer.write(request_bytes)
    status, _, _ = await read_response(reader)
    assert status == 400
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
    writer.close()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/2018-06-01/runtime/unknown", 404, None),
        ("GET", "/", 404, None),
        ("POST", f"{RUNTIME}/invocation//response", 404, None),
        ("POST", f"{RUNTIME}/invocation/req-1/other", 404, None),
        ("POST", f"{RUNTIME}/invocation/next", 405, "GET"),
        ("GET", f"{RUNTIME}/invocation/req-1/response", 405, "POST"),
        ("PUT", f"{RUNTIME}/invocation/req-1/error", 405, "POST"),
        ("GET", f"{RUNTIME}/init/error", 405, "POST"),
    ],
)
async def test_unknown_paths_and_wrong_methods(api, method, path, status, allow) -> None:
    handle = api.submit(event())
    reader, writer = await connect(api)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    got, headers, body = await read_response(reader)
    assert (got, headers.get("Allow")) == (status, allow)
    assert json.loads(body)["errorType"]
    assert not handle.taken.done()
    writer.write(NEXT)  # the connection is still usable
    assert (await read_response(reader))[0] == 200
    writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n",
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nConnection: close\r\n\r\n",
    ],
)
async def test_a_connection_not_kept_alive_is_closed_after_the_response(
    api, request_bytes: bytes
) -> None:
    api.submit(event())
    reader, writer = await connect(api)
    writer.write(request_bytes)
    status, _, body = await read_response(reader)
    assert (status, body) == (200, b'{"a":1}')
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


@pytest.mark.parametrize("pipelined", [1, 2], ids=["next", "next+next"])
async def test_a_runtime_that_hung_up_in_next_is_not_handed_the_event(api, pipelined) -> None:
    _, gone = await connect(api)
    gone.write(NEXT * pipelined)  # a second /next waits behind the parked one
    await asyncio.sleep(0.05)
    gone.close()
    await asyncio.sleep(0.05)
    reader, writer = await connect(api)
    writer.write(NEXT)
    await asyncio.sleep(0.05)
    api.submit(event())
    status, headers, _ = await read_response(reader)
    assert (status, headers["Lambda-Runtime-Aws-Request-Id"]) == (200, "req-1")
    writer.close()


async def test_close_answers_a_parked_next_quickly(api) -> None:
    reader, writer = await connect(api)
    writer.write(NEXT)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(api.close(), 1)
    status, _, body = await read_response(reader)
    assert status == 500
    assert json.loads(body)["errorMessage"] == "The sandbox is shutting down"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_an_upgrade_to_http2_is_ignored(api) -> None:
    api.submit(event())
    reader, writer = await connect(api)
    # What curl --http2 sends on an http:// URL: the answer is plain HTTP/1.1.
    writer.write(
        NEXT[:-2] + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
    )
    status, _, body = await read_response(reader)
    assert (status, body) == (200, b'{"a":1}')
    writer.write(post("/invocation/req-1/response", b"{}"))
    assert (await read_response(reader))[0] == 202
    writer.close()
