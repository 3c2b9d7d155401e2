"""The Invoke API against the real suite (docs/aws-behaviour.md §1, checks 1–4, 6–9, 13)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from conftest import Running, read_lines, wait_for

from eventinvoke.client import RequestEntityTooLargeException, ResourceNotFoundException

MAX_SYNC = 6291456
MAX_ASYNC = 1048576


async def _echo(suite: Running, name: str = "echo") -> Path:
    """Deploy the echo function; returns the file that logs each of its runs."""
    runs = suite.tmp_path / f"{name}-runs.jsonl"
    runs.touch()
    await suite.deploy(name, "echo", RUNS_FILE=str(runs))
    return runs


def _padded(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    skeleton = b'{"pad":""}'
    return b'{"pad":"' + b"x" * (size - len(skeleton)) + b'"}'


async def test_event_invoke_returns_202_with_empty_body_and_no_version_or_error(
    suite: Running,
) -> None:
    """Check 1."""
    runs = await _echo(suite)

    response = await suite.client.invoke("echo", b'{"k": 1}', invocation_type="Event")

    assert response["StatusCode"] == 202
    assert response.get("Payload", b"") == b""
    assert "ExecutedVersion" not in response
    assert "FunctionError" not in response
    assert "LogResult" not in response
    [run] = await wait_for(lambda: read_lines(runs))
    assert run["event"] == {"k": 1}


async def test_event_request_id_is_the_one_the_function_sees(suite: Running) -> None:
    """Check 6: x-amzn-RequestId of an Event invoke == the function's aws_request_id."""
    runs = await _echo(suite)

    response = await suite.client.invoke("echo", b"{}", invocation_type="Event")

    request_id = response["ResponseMetadata"]["RequestId"]
    assert request_id
    [run] = await wait_for(lambda: read_lines(runs))
    assert run["request_id"] == request_id


async def test_dry_run_returns_204_and_does_not_run_the_function(suite: Running) -> None:
    """Check 2."""
    runs = await _echo(suite)

    response = await suite.client.invoke("echo", b'{"dry": true}', invocation_type="DryRun")

    assert response["StatusCode"] == 204
    assert response.get("Payload", b"") == b""
    assert "ExecutedVersion" not in response
    assert "FunctionError" not in response
    # A later Event run is observed; had the DryRun been queued, it would have run too.
    event = await suite.client.invoke("echo", b'{"dry": false}', invocation_type="Event")
    await wait_for(lambda: read_lines(runs))
    sync = await suite.client.invoke("echo", b'{"sync": true}')
    assert sync["StatusCode"] == 200
    assert [run["event"] for run in read_lines(runs)] == [{"dry": False}, {"sync": True}]
    assert read_lines(runs)[0]["request_id"] == event["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("invocation_type", [None, "RequestResponse"])
async def test_sync_invoke_returns_200_with_result_and_latest_version(
    suite: Running, invocation_type: str | None
) -> None:
    """Check 3: RequestResponse, or no invocation type at all."""
    await _echo(suite)
    kwargs = {"invocation_type": invocation_type} if invocation_type else {}

    response = await suite.client.invoke("echo", b'{"hello": "world"}', **kwargs)

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    result = json.loads(response["Payload"])
    assert result["event"] == {"hello": "world"}
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["invoked_function_arn"] == suite.arn("echo")
    assert result["function_version"] == "$LATEST"


async def test_sync_invoke_of_throwing_function_is_200_unhandled_with_error_object(
    suite: Running,
) -> None:
    """Check 4: the API status never reflects the function error."""
    await suite.deploy("tester", "tester")

    response = await suite.client.invoke("tester", b'{"Success": false}')

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    error = json.loads(response["Payload"])
    assert error["errorType"] == "Exception"
    assert error["errorMessage"] == "Failure from event, Success = false, I am failing!"
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]


async def test_sync_invoke_of_function_returning_nothing_returns_null(suite: Running) -> None:
    """Check 13: the body is the 4 bytes ``null``, not empty."""
    await suite.deploy("tester", "tester")

    response = await suite.client.invoke("tester", b'{"Success": true}')

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["Payload"] == b"null"


async def test_empty_payload_reaches_the_function_as_empty_object(suite: Running) -> None:
    """§1.1 [UNVERIFIED default]: an empty body reaches the function as ``{}``, as LocalStack
    and the runtimes do; our code does the same, which is sensible."""
    await _echo(suite)

    response = await suite.client.invoke("echo", b"")

    assert json.loads(response["Payload"])["event"] == {}


@pytest.mark.parametrize(
    "function_name",
    [
        "echo",
        "echo:$LATEST",
        "arn:aws:lambda:us-east-1:000000000000:function:echo",
        "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST",
        "000000000000:function:echo",
    ],
)
async def test_function_name_forms_all_invoke_the_function(
    suite: Running, function_name: str
) -> None:
    """§1.1: bare name, name:qualifier, full ARN, qualified ARN and partial ARN."""
    await _echo(suite)

    response = await suite.client.invoke(function_name, b'{"n": 1}')

    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"])["event"] == {"n": 1}


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event", "DryRun"])
async def test_missing_function_is_404_function_not_found(
    suite: Running, invocation_type: str
) -> None:
    """Check 9, for all three invocation types."""
    with pytest.raises(ResourceNotFoundException) as raised:
        await suite.client.invoke("nope", b"{}", invocation_type=invocation_type)

    assert raised.value.code == "ResourceNotFoundException"
    assert raised.value.http_status == 404
    assert raised.value.message == f"Function not found: {suite.arn('nope')}:$LATEST"


async def test_missing_function_message_carries_the_qualifier(suite: Running) -> None:
    """§1.4: the ARN in "Function not found" carries the qualifier if one was given."""
    await _echo(suite)

    with pytest.raises(ResourceNotFoundException) as raised:
        await suite.client.invoke("nope:10", b"{}")
    assert raised.value.message == f"Function not found: {suite.arn('nope')}:10"

    # The function exists but version 10 does not.
    with pytest.raises(ResourceNotFoundException) as raised:
        await suite.client.invoke("echo", b"{}", qualifier="10")
    assert raised.value.message == f"Function not found: {suite.arn('echo')}:10"


async def test_async_payload_of_300_kb_is_accepted(suite: Running) -> None:
    """Check 8: about 300 KB is fine since the 1 MB async limit (was 256 KB)."""
    runs = await _echo(suite)
    payload = _padded(300 * 1024)

    response = await suite.client.invoke("echo", payload, invocation_type="Event")

    assert response["StatusCode"] == 202
    [run] = await wait_for(lambda: read_lines(runs))
    assert run["event"] == json.loads(payload)


async def test_async_payload_limit_is_1_mib(suite: Running) -> None:
    """Check 8. The exact async threshold and message are [UNVERIFIED]; we use 1 MiB =
    1048576 bytes and the sync limit's message with that number, which is the sensible reading."""
    await _echo(suite)

    accepted = await suite.client.invoke("echo", _padded(MAX_ASYNC), invocation_type="Event")
    assert accepted["StatusCode"] == 202

    with pytest.raises(RequestEntityTooLargeException) as raised:
        await suite.client.invoke("echo", _padded(MAX_ASYNC + 1), invocation_type="Event")
    assert raised.value.code == "RequestEntityTooLargeException"
    assert raised.value.http_status == 413
    assert raised.value.message == (
        "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    )


async def test_sync_payload_limit_is_6291456_bytes(suite: Running) -> None:
    """Check 8: over 6291456 bytes is 413 RequestEntityTooLargeException; exactly 6291456
    is fine."""
    await suite.deploy("tester", "tester")

    with pytest.raises(RequestEntityTooLargeException) as raised:
        await suite.client.invoke("tester", _padded(MAX_SYNC + 1))
    assert raised.value.http_status == 413
    assert raised.value.message == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )

    payload = json.loads(_padded(MAX_SYNC))
    payload["Success"] = True
    body = json.dumps(payload, separators=(",", ":")).encode()
    body = body.replace(b"x" * (len(body) - MAX_SYNC), b"", 1)
    assert len(body) == MAX_SYNC
    response = await suite.client.invoke("tester", body)
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["Payload"] == b"null"


async def test_request_ids_are_distinct_version_4_uuids(suite: Running) -> None:
    await _echo(suite)
    responses = await asyncio.gather(
        *(suite.client.invoke("echo", b"{}", invocation_type="Event") for _ in range(50)),
        *(suite.client.invoke("echo", b"{}", invocation_type="DryRun") for _ in range(5)),
    )
    ids = [response["ResponseMetadata"]["RequestId"] for response in responses]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        parsed = uuid.UUID(request_id)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, request_id)
