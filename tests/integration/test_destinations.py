"""Lambda destinations and undeliverable records (docs/aws-behaviour.md §4.2; checks 45, 50).

A Lambda destination receives the record as the event of an *asynchronous* invocation, so its own
EventInvokeConfig (retries, destinations) applies. A record that cannot be delivered lands in the
failed-delivery store, listed by ``list_failed_deliveries``; the source invocation is unaffected.
"""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import TIME_SCALE, Running, read_lines, records_in, wait_for

LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}:$LATEST"


async def _event(suite: Running, name: str, payload: bytes) -> str:
    response = await suite.client.invoke(
        function_name=name, invocation_type="Event", payload=payload
    )
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


async def _failed_deliveries(suite: Running, count: int) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]]:
        return (await suite.client.list_failed_deliveries())["FailedDeliveries"]

    for _ in range(200):
        failed = await listed()
        if len(failed) >= count:
            await asyncio.sleep(0.2)
            failed = await listed()
            assert len(failed) == count, failed
            return failed
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} failed deliveries expected, got {await listed()}")


async def test_lambda_destination_chain(suite: Running) -> None:
    """Check 45: A → OnSuccess B → OnSuccess collector. B runs asynchronously with A's record as
    its event; the collector gets B's own record, whose requestPayload is A's record."""
    collected = await suite.collector("collector")
    b_runs = await suite.flaky("b")
    await suite.deploy("a", "tester")
    await suite.client.put_function_event_invoke_config(
        function_name="b", destination_config={"OnSuccess": {"Destination": suite.arn("collector")}}
    )
    await suite.client.put_function_event_invoke_config(
        function_name="a", destination_config={"OnSuccess": {"Destination": suite.arn("b")}}
    )

    a_request = await _event(suite, "a", b'{"Success": true}')

    [b_record] = await records_in(collected, 1)
    [b_run] = read_lines(b_runs)
    assert b_record["requestContext"] == {
        "requestId": b_run["request_id"],  # B's own invocation, with its own request id
        "functionArn": LAMBDA_ARN.format("b"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert b_run["request_id"] != a_request
    assert b_record["responsePayload"] == {"ok": True, "attempt": 1}
    a_record = b_record["requestPayload"]
    assert list(a_record) == [
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    ]
    assert a_record["requestContext"] == {
        "requestId": a_request,
        "functionArn": LAMBDA_ARN.format("a"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert a_record["requestPayload"] == {"Success": True}
    assert a_record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert a_record["responsePayload"] is None
    assert (await suite.client.list_failed_deliveries())["FailedDeliveries"] == []


async def test_lambda_destination_own_retries_apply(suite: Running) -> None:
    """Check 45: the destination function is invoked asynchronously, so when it fails its own
    retries run (same request id) and its own OnFailure gets the record of that."""
    collected = await suite.collector("collector")
    await suite.deploy("a", "tester")
    # B is the tester too: A's record has no "Success" key, so B fails on every attempt.
    await suite.deploy("b", "tester")
    await suite.client.put_function_event_invoke_config(
        function_name="b",
        maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": suite.arn("collector")}},
    )
    await suite.client.put_function_event_invoke_config(
        function_name="a",
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": suite.arn("b")}},
    )

    a_request = await _event(suite, "a", b'{"Success": false}')

    [b_record] = await records_in(collected, 1, timeout=20)
    assert b_record["requestContext"]["functionArn"] == LAMBDA_ARN.format("b")
    assert b_record["requestContext"]["condition"] == "RetriesExhausted"
    assert b_record["requestContext"]["approximateInvokeCount"] == 2
    assert b_record["responsePayload"]["requestId"] == b_record["requestContext"]["requestId"]
    a_record = b_record["requestPayload"]
    assert a_record["requestContext"]["requestId"] == a_request
    assert a_record["requestContext"]["condition"] == "RetriesExhausted"
    assert a_record["requestContext"]["approximateInvokeCount"] == 1
    assert a_record["responsePayload"]["errorMessage"] == (
        "Failure from event, Success = false, I am failing!"
    )


async def test_destination_is_invoked_once_per_record(suite: Running) -> None:
    """A Lambda destination gets one asynchronous invocation per record (no sync-path
    duplicates): N events → N records → N runs of the destination."""
    b_runs = await suite.flaky("b")
    await suite.deploy("a", "tester")
    await suite.client.put_function_event_invoke_config(
        function_name="a", destination_config={"OnSuccess": {"Destination": suite.arn("b")}}
    )

    for _ in range(3):
        await _event(suite, "a", b'{"Success": true}')

    await wait_for(lambda: len(read_lines(b_runs)) >= 3)
    await asyncio.sleep(0.3)
    assert len({r["request_id"] for r in read_lines(b_runs)}) == 3
    assert len(read_lines(b_runs)) == 3


async def test_undeliverable_sqs_destination_lands_in_failed_deliveries(suite: Running) -> None:
    """Check 50's spirit: an SQS OnSuccess (no SQS adapter in this build) cannot be delivered;
    the record is kept in the failed-delivery store with a reason, and the function itself ran
    once, succeeded, and was not retried."""
    runs = await suite.flaky("flaky")
    queue = "arn:aws:sqs:us-east-1:000000000000:nowhere"
    await suite.client.put_function_event_invoke_config(
        function_name="flaky", destination_config={"OnSuccess": {"Destination": queue}}
    )

    request_id = await _event(suite, "flaky", b'{"mode": "ok"}')

    [failed] = await _failed_deliveries(suite, 1)
    assert failed["Destination"] == {"Target": queue, "Kind": "OnSuccess"}
    assert queue in failed["Reason"]
    assert failed["Attempts"] >= 1
    assert failed["DeliveryId"]
    assert "FailTime" in failed
    record = failed["Record"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"mode": "ok"}
    assert record["responsePayload"] == {"ok": True, "attempt": 1}
    # The invocation itself is unaffected: one run, and no retry because of the delivery.
    await asyncio.sleep(120 * TIME_SCALE)
    assert [a["request_id"] for a in read_lines(runs)] == [request_id]
    assert len((await suite.client.list_failed_deliveries())["FailedDeliveries"]) == 1


async def test_deleted_lambda_destination_lands_in_failed_deliveries(suite: Running) -> None:
    """A Lambda OnFailure deleted after it was configured: the delivery fails for good (the
    target does not exist) and is listed with the reason; the source ran exactly once."""
    await suite.collector("gone")
    runs = await suite.flaky("flaky")
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": suite.arn("gone")}},
    )
    await suite.client.delete_function("gone")

    request_id = await _event(suite, "flaky", b'{"mode": "fail"}')

    [failed] = await _failed_deliveries(suite, 1)
    assert failed["Destination"] == {"Target": suite.arn("gone"), "Kind": "OnFailure"}
    assert "ResourceNotFoundException" in failed["Reason"]
    assert failed["Attempts"] == 1  # permanent: not retried
    record = failed["Record"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    await asyncio.sleep(120 * TIME_SCALE)
    assert [a["request_id"] for a in read_lines(runs)] == [request_id]


async def test_one_bad_destination_does_not_block_the_other(suite: Running) -> None:
    """Two events, one record each: the undeliverable one is stored, the good one delivered."""
    collected = await suite.collector("collector")
    await suite.flaky("flaky")
    topic = "arn:aws:sns:us-east-1:000000000000:nowhere"
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        maximum_retry_attempts=0,
        destination_config={
            "OnSuccess": {"Destination": topic},
            "OnFailure": {"Destination": suite.arn("collector")},
        },
    )

    ok = await _event(suite, "flaky", b'{"mode": "ok"}')
    failed_id = await _event(suite, "flaky", b'{"mode": "fail"}')

    [failure] = await records_in(collected, 1)
    assert failure["requestContext"]["requestId"] == failed_id
    [failed] = await _failed_deliveries(suite, 1)
    assert failed["Destination"]["Target"] == topic
    assert failed["Record"]["requestContext"]["requestId"] == ok


async def test_a_record_for_a_function_of_this_suite_is_queued_with_the_ack(
    suite: Running,
) -> None:
    """In one process a Lambda destination of this suite needs no Router round trip: the record
    becomes the target's event in the transaction that acks the source event. So it arrives with
    the Router's delivery worker stopped, while the record for a deleted target (a failure only
    the Router's adapter reports) waits in the outbox for it."""
    collected = await suite.collector("collector")
    await suite.collector("gone")
    await suite.flaky("flaky")
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        maximum_retry_attempts=0,
        destination_config={
            "OnSuccess": {"Destination": suite.arn("collector")},
            "OnFailure": {"Destination": suite.arn("gone")},
        },
    )
    await suite.client.delete_function("gone")
    assert suite.suite.delivery is not None and suite.suite.backend is not None
    await suite.suite.delivery.stop()

    succeeded = await _event(suite, "flaky", b'{"mode": "ok"}')
    failed = await _event(suite, "flaky", b'{"mode": "fail"}')

    [record] = await records_in(collected, 1)
    assert record["requestContext"]["requestId"] == succeeded
    assert record["requestContext"]["condition"] == "Success"
    for _ in range(100):  # the failure's record waits in the outbox for the Router
        if await suite.suite.backend.outbox.pending() == 1:
            break
        await asyncio.sleep(0.05)
    assert await suite.suite.backend.outbox.pending() == 1
    [waiting] = await suite.suite.backend.outbox.lease("test", 10, 30)
    assert (waiting.target, waiting.kind) == (suite.arn("gone"), "OnFailure")
    assert waiting.record.request_id == failed
