"""The 2019 announcement's walkthrough with its own Node.js function, against the real suite.

The seed's function is saved verbatim as ``tests/functions/seed-nodejs/index.js`` and deployed
with ``--runtime nodejs12.x --handler index.handler``; OnSuccess and OnFailure are collector
functions, as in ``test_seed_walkthrough.py``. On nodejs12.x the failure record matches the
seed's: ``functionError: "Handled"`` and a ``stackTrace`` of frames. The same code on
nodejs20.x fails ``Unhandled`` with a ``trace`` (docs/aws-behaviour.md §1.2, §1.5). Then the
synchronous checks for Node.js through the client: 5, 10, 13, 14 and 38.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from conftest import FUNCTIONS, Running, records_in, zip_dir

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FAILURE_MESSAGE = "Failure from event, Success = false, I am failing!"


async def deploy_node(
    suite: Running, name: str, source: str, runtime: str, handler: str = "index.handler", **kw
) -> dict[str, Any]:
    return await suite.client.create_function(
        function_name=name,
        runtime=runtime,
        handler=handler,
        zip_file=zip_dir(FUNCTIONS / source),
        **kw,
    )


async def _setup(suite: Running, runtime: str) -> tuple[Path, Path]:
    successes = await suite.collector("on-success")
    failures = await suite.collector("on-failure")
    await deploy_node(suite, "event-destinations", "seed-nodejs", runtime)
    await suite.client.put_function_event_invoke_config(
        function_name="event-destinations",
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=600,
        destination_config={
            "OnSuccess": {"Destination": suite.arn("on-success")},
            "OnFailure": {"Destination": suite.arn("on-failure")},
        },
    )
    return successes, failures


async def _invoke_event(suite: Running, payload: bytes) -> str:
    response = await suite.client.invoke(
        function_name="event-destinations", invocation_type="Event", payload=payload
    )
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


async def test_seed_success_record(suite: Running) -> None:
    successes, failures = await _setup(suite, "nodejs12.x")
    request_id = await _invoke_event(suite, b'{ "Success": true }')

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


async def test_seed_failure_record_is_handled_with_a_stack_trace(suite: Running) -> None:
    successes, failures = await _setup(suite, "nodejs12.x")
    request_id = await _invoke_event(suite, b'{ "Success": false }')

    [record] = await records_in(failures, 1, timeout=20)
    assert record["version"] == "1.0"
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
        "functionError": "Handled",
    }
    payload = record["responsePayload"]
    assert list(payload) == ["errorMessage", "errorType", "stackTrace"]  # the seed's order
    assert payload["errorMessage"] == FAILURE_MESSAGE
    assert payload["errorType"] == "Error"
    # The seed: "exports.handler (/var/task/index.js:18:18)"; ours names the code directory.
    assert re.fullmatch(r"exports\.handler \(/.*/index\.js:\d+:\d+\)", payload["stackTrace"][0])
    assert successes.read_text() == ""


async def test_same_function_on_nodejs20_fails_unhandled_with_trace(suite: Running) -> None:
    successes, failures = await _setup(suite, "nodejs20.x")
    request_id = await _invoke_event(suite, b'{ "Success": false }')

    [record] = await records_in(failures, 1, timeout=20)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    payload = record["responsePayload"]
    assert list(payload) == ["errorType", "errorMessage", "trace"]
    assert payload["errorType"] == "Error"
    assert payload["errorMessage"] == FAILURE_MESSAGE
    assert payload["trace"][0] == f"Error: {FAILURE_MESSAGE}"
    assert "index.js" in payload["trace"][1]
    assert successes.read_text() == ""


# -- synchronous checks for Node.js ------------------------------------------------------


async def _sync(suite: Running, name: str, payload: bytes = b"{}", **kw) -> dict[str, Any]:
    return await suite.client.invoke(function_name=name, payload=payload, **kw)


async def test_sync_checks_5_10_13_14(suite: Running) -> None:
    await deploy_node(suite, "node", "node-handlers", "nodejs20.x", "index.nothing", timeout=1)

    # 13: a function returning nothing gives the body null.
    response = await _sync(suite, "node")
    assert response["StatusCode"] == 200
    assert response["Payload"] == b"null"
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"

    # 10: Tail gives the base64 of at most 4 KB of the log.
    response = await _sync(suite, "node", log_type="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    assert len(log.encode()) <= 4096
    assert "\tINFO\treturning nothing" in log
    assert "REPORT RequestId: " + response["ResponseMetadata"]["RequestId"] in log
    response = await suite.client.invoke(
        function_name="node", invocation_type="Event", payload=b"{}", log_type="Tail"
    )
    assert "LogResult" not in response

    # 5: a timeout (the function's timeout is 1 s).
    await suite.client.update_function_configuration(function_name="node", handler="index.sleep")
    response = await _sync(suite, "node", b'{"ms": 10000}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    request_id = response["ResponseMetadata"]["RequestId"]
    assert json.loads(response["Payload"]) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }

    # 14: a 7 MB response fails; the next invocation still works.
    await suite.client.update_function_configuration(function_name="node", handler="index.big")
    response = await _sync(suite, "node")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"]) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    await suite.client.update_function_configuration(function_name="node", handler="index.echo")
    response = await _sync(suite, "node", b'{"again": true}')
    assert "FunctionError" not in response
    assert json.loads(response["Payload"])["event"] == {"again": True}


async def test_sync_error_and_legacy_handled(suite: Running) -> None:
    # Check 4 for Node, and the sync view of a nodejs12.x callback error.
    await deploy_node(suite, "current", "node-handlers", "nodejs22.x", "index.callbackTypeError")
    await deploy_node(suite, "legacy", "node-handlers", "nodejs12.x", "index.callbackTypeError")
    response = await _sync(suite, "current")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"])["trace"][0] == "TypeError: x"
    response = await _sync(suite, "legacy")
    assert response["FunctionError"] == "Handled"
    assert json.loads(response["Payload"])["stackTrace"][0].startswith("exports.callbackTypeError")


async def test_timeouts_and_crashes_are_retried_check_38(suite: Running) -> None:
    failures = await suite.collector("on-failure")
    for name, handler in [("slow", "index.sleep"), ("crashing", "index.crash")]:
        await deploy_node(suite, name, "node-handlers", "nodejs20.x", handler, timeout=1)
        await suite.client.put_function_event_invoke_config(
            function_name=name,
            destination_config={"OnFailure": {"Destination": suite.arn("on-failure")}},
        )
    await suite.client.invoke(
        function_name="slow", invocation_type="Event", payload=b'{"ms": 5000}'
    )
    await suite.client.invoke(function_name="crashing", invocation_type="Event", payload=b"{}")

    records = await records_in(failures, 2, timeout=30)
    by_function = {r["requestContext"]["functionArn"].split(":")[-2]: r for r in records}
    assert set(by_function) == {"slow", "crashing"}
    for record in records:
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["responseContext"]["functionError"] == "Unhandled"
    assert by_function["slow"]["responsePayload"]["errorType"] == "Sandbox.Timedout"
    assert by_function["crashing"]["responsePayload"]["errorType"] == "Runtime.ExitError"
