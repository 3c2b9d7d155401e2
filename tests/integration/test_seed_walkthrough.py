"""The 2019 announcement's walkthrough, against the real suite (docs/aws-behaviour.md §4.1, checks
31, 34, 40–43).

A Python port of its tester function; OnSuccess and OnFailure are Lambda destinations (collector
functions), so each record arrives as the event of an asynchronous invocation of the collector.
"""

from __future__ import annotations

import re

from conftest import Running, records_in

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def _setup(suite: Running) -> tuple:
    successes = await suite.collector("on-success")
    failures = await suite.collector("on-failure")
    await suite.deploy("event-destinations", "tester")
    config = await suite.client.put_function_event_invoke_config(
        function_name="event-destinations",
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=600,
        destination_config={
            "OnSuccess": {"Destination": suite.arn("on-success")},
            "OnFailure": {"Destination": suite.arn("on-failure")},
        },
    )
    assert config["FunctionArn"].endswith(":function:event-destinations:$LATEST")
    return successes, failures


async def test_success_record_reaches_on_success(suite: Running) -> None:
    successes, failures = await _setup(suite)

    response = await suite.client.invoke(
        function_name="event-destinations", invocation_type="Event", payload=b'{ "Success": true }'
    )

    assert response["StatusCode"] == 202
    assert response.get("Payload", b"") == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    [record] = await records_in(successes, 1)
    assert list(record) == [
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    ]
    assert record["version"] == "1.0"
    assert ISO_MS_Z.match(record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:event-destinations:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"Success": True}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] is None
    assert failures.read_text() == ""


async def test_failure_record_after_three_attempts(suite: Running) -> None:
    successes, failures = await _setup(suite)

    response = await suite.client.invoke(
        function_name="event-destinations", invocation_type="Event", payload=b'{ "Success": false }'
    )

    request_id = response["ResponseMetadata"]["RequestId"]
    [record] = await records_in(failures, 1, timeout=20)
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:event-destinations:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"Success": False}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    payload = record["responsePayload"]
    assert payload["errorMessage"] == "Failure from event, Success = false, I am failing!"
    assert payload["errorType"] == "Exception"
    assert payload["requestId"] == request_id
    assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]
    assert "index.py" in "".join(payload["stackTrace"])
    assert successes.read_text() == ""
