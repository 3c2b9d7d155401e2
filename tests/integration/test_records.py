"""Execution records as destinations receive them (docs/aws-behaviour.md §4.1, §1.5; checks 34,
40–43, 49)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from conftest import Running, read_lines, records_in, wait_for

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
KEYS = [
    "version",
    "timestamp",
    "requestContext",
    "requestPayload",
    "responseContext",
    "responsePayload",
]
ON_SUCCESS_ARN = "arn:aws:lambda:us-east-1:000000000000:function:on-success"
SUCCESS_TO_COLLECTOR = {"OnSuccess": {"Destination": ON_SUCCESS_ARN}}


def read_lines_events(path: Path) -> list[dict[str, Any]]:
    """Every event a collector received so far."""
    return [line["event"] for line in read_lines(path)]


async def _flaky(suite: Running, **config: Any) -> tuple[Path, Path, Path]:
    successes = await suite.collector("on-success")
    failures = await suite.collector("on-failure")
    runs = await suite.flaky("flaky")
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        destination_config={
            "OnSuccess": {"Destination": suite.arn("on-success")},
            "OnFailure": {"Destination": suite.arn("on-failure")},
        },
        **config,
    )
    return runs, successes, failures


async def _event(suite: Running, payload: bytes, name: str = "flaky") -> str:
    response = await suite.client.invoke(
        function_name=name, invocation_type="Event", payload=payload
    )
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


async def test_success_record_format(suite: Running) -> None:
    """Checks 34, 40, 41, 42: exactly one Success record, the §4.1 fields, payloads parsed."""
    runs, successes, failures = await _flaky(suite)

    request_id = await _event(suite, b'{"mode": "ok", "items": [1, 2]}')

    [record] = await records_in(successes, 1)
    assert list(record) == KEYS
    assert record["version"] == "1.0"
    assert ISO_MS_Z.match(record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"mode": "ok", "items": [1, 2]}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True, "attempt": 1}
    # The function saw the same request id as the Event invoke returned (check 6 / 42).
    assert [a["request_id"] for a in read_lines(runs)] == [request_id]
    # Exactly one record, even a while later.
    await asyncio.sleep(0.5)
    assert len(read_lines(successes)) == 1
    assert failures.read_text() == ""


async def test_failure_record_format_python_error_object(suite: Running) -> None:
    """Checks 40–43: a failure record's responseContext (200, Unhandled) and the Python error
    object with errorMessage, errorType, requestId and stackTrace (docs/aws-behaviour.md §1.5)."""
    _, successes, failures = await _flaky(suite, maximum_retry_attempts=0)

    request_id = await _event(suite, b'{"mode": "fail"}')

    [record] = await records_in(failures, 1)
    assert list(record) == KEYS
    assert ISO_MS_Z.match(record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"mode": "fail"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    error = record["responsePayload"]
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorMessage"] == "intentional failure"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == request_id
    assert isinstance(error["stackTrace"], list)
    assert any("index.py" in frame for frame in error["stackTrace"])
    assert successes.read_text() == ""


async def test_request_payload_that_is_not_an_object(suite: Running) -> None:
    """Check 40: requestPayload is the event parsed as JSON, whatever JSON value it is."""
    await suite.collector("on-success")
    await suite.deploy("echo", "sleeper", RUNS_FILE=str(suite.tmp_path / "echo-runs.jsonl"))
    await suite.client.put_function_event_invoke_config(
        function_name="echo", destination_config=SUCCESS_TO_COLLECTOR
    )
    successes = suite.tmp_path / "on-success.jsonl"

    payloads = (b'[1, "two", null]', b'"text"', b"42")
    ids = [await _event(suite, payload, "echo") for payload in payloads]

    records = await records_in(successes, 3)
    by_id = {r["requestContext"]["requestId"]: r for r in records}
    assert set(by_id) == set(ids)
    assert by_id[ids[0]]["requestPayload"] == [1, "two", None]
    assert by_id[ids[0]]["responsePayload"] == [1, "two", None]
    assert by_id[ids[1]]["requestPayload"] == "text"
    assert by_id[ids[1]]["responsePayload"] == "text"
    assert by_id[ids[2]]["requestPayload"] == 42
    assert by_id[ids[2]]["responsePayload"] == 42


async def test_empty_event_and_null_response(suite: Running) -> None:
    """An empty Event body is the event ``{}``; a handler returning nothing gives null."""
    successes = await suite.collector("on-success")
    await suite.deploy("tester", "tester")
    await suite.client.put_function_event_invoke_config(
        function_name="tester", destination_config=SUCCESS_TO_COLLECTOR
    )
    failures = await suite.collector("on-failure")
    await suite.client.update_function_event_invoke_config(
        function_name="tester",
        maximum_retry_attempts=0,
        destination_config={
            "OnSuccess": {"Destination": suite.arn("on-success")},
            "OnFailure": {"Destination": suite.arn("on-failure")},
        },
    )

    ok = await _event(suite, b'{"Success": true}', "tester")
    empty = await _event(suite, b"", "tester")

    [success] = await records_in(successes, 1)
    assert success["requestContext"]["requestId"] == ok
    assert "responsePayload" in success and success["responsePayload"] is None
    [failure] = await records_in(failures, 1)
    assert failure["requestContext"]["requestId"] == empty
    assert failure["requestPayload"] == {}


async def test_no_record_for_sync_or_dry_run(suite: Running) -> None:
    """Check 49: RequestResponse and DryRun never reach a destination. An Event invoke of each
    outcome is the barrier: only its records arrive."""
    successes = await suite.collector("on-success")
    failures = await suite.collector("on-failure")
    await suite.deploy("tester", "tester")
    await suite.client.put_function_event_invoke_config(
        function_name="tester",
        maximum_retry_attempts=0,
        destination_config={
            "OnSuccess": {"Destination": suite.arn("on-success")},
            "OnFailure": {"Destination": suite.arn("on-failure")},
        },
    )

    sync_ok = await suite.client.invoke(function_name="tester", payload=b'{"Success": true}')
    assert sync_ok["StatusCode"] == 200 and "FunctionError" not in sync_ok
    sync_failed = await suite.client.invoke(
        function_name="tester", invocation_type="RequestResponse", payload=b'{"Success": false}'
    )
    assert sync_failed["StatusCode"] == 200 and sync_failed["FunctionError"] == "Unhandled"
    for payload in (b'{"Success": true}', b'{"Success": false}'):
        dry = await suite.client.invoke(
            function_name="tester", invocation_type="DryRun", payload=payload
        )
        assert dry["StatusCode"] == 204
    barrier_ok = await _event(suite, b'{"Success": true, "barrier": 1}', "tester")
    barrier_failed = await _event(suite, b'{"Success": false, "barrier": 2}', "tester")

    [success] = await records_in(successes, 1)
    [failure] = await records_in(failures, 1)
    await asyncio.sleep(0.3)
    assert [r["requestContext"]["requestId"] for r in read_lines_events(successes)] == [barrier_ok]
    assert [r["requestContext"]["requestId"] for r in read_lines_events(failures)] == [
        barrier_failed
    ]
    assert success["requestPayload"] == {"Success": True, "barrier": 1}
    assert failure["requestPayload"] == {"Success": False, "barrier": 2}


async def test_no_destination_configured_means_no_record_anywhere(suite: Running) -> None:
    """Without an EventInvokeConfig the event runs and nothing is delivered or failed."""
    runs = await suite.flaky("flaky")

    request_id = await _event(suite, b'{"mode": "ok"}')

    await wait_for(lambda: read_lines(runs))
    assert [a["request_id"] for a in read_lines(runs)] == [request_id]
    await asyncio.sleep(0.3)
    assert (await suite.client.list_failed_deliveries())["FailedDeliveries"] == []
