"""The ``sqs`` adapter against moto_server (docs/aws-behaviour.md §4.1–4.2; checks 40–43).

Records arrive as the message body, byte-compatible with AWS's (key order, values), with no
message attributes; deliveries waiting for one queue at the same time go out as a batch.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from destinations.harness import RECORD_KEYS, Aws, AwsRunning

from eventinvoke.core.arn import Partition
from eventinvoke.destinations.sqs import SqsDestination
from eventinvoke.destinations.sqs._batch import Coalescer
from eventinvoke.router.plugin import (
    ON_SUCCESS,
    Delivery,
    ExecutionRecord,
    PermanentDeliveryError,
    RouterContext,
)

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def test_success_and_failure_records_are_the_message_body(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Checks 40–43: the body is the record JSON (spec key order), requestPayload an object,
    functionArn qualified with $LATEST, the request id the Event invoke returned, and for a
    failure statusCode 200 + Unhandled + the runtime's error object. No message attributes."""
    successes = await aws.queue("ok")
    failures = await aws.queue("ko")
    await aws_suite.deploy_raiser("fn")
    await aws_suite.configure("fn", on_success=successes.arn, on_failure=failures.arn)

    ok = await aws_suite.event("fn", b'{"hello": "world"}')
    ko = await aws_suite.event("fn", b'{"error": "intentional failure"}')

    [message] = await aws.messages(successes, 1)
    record = json.loads(message["Body"])
    assert list(record) == RECORD_KEYS
    assert record["version"] == "1.0"
    assert ISO_MS_Z.match(record["timestamp"])
    assert record["requestContext"] == {
        "requestId": ok,
        "functionArn": aws_suite.function_arn("fn"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"hello": "world"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True}
    assert "MessageAttributes" not in message
    assert "MD5OfMessageAttributes" not in message

    [message] = await aws.messages(failures, 1)
    record = json.loads(message["Body"])
    assert list(record) == RECORD_KEYS
    assert record["requestContext"] == {
        "requestId": ko,
        "functionArn": aws_suite.function_arn("fn"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"error": "intentional failure"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    error = record["responsePayload"]
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "intentional failure"
    assert error["requestId"] == ko
    assert isinstance(error["stackTrace"], list)
    assert "MessageAttributes" not in message
    assert (await aws_suite.client.list_failed_deliveries())["FailedDeliveries"] == []


async def test_records_waiting_for_one_queue_are_sent_as_a_batch(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Many records for one queue: every one arrives exactly once, with its own body. The
    adapter sends deliveries waiting at the same time with SendMessageBatch (moto's access log
    shows fewer requests than messages)."""
    queue = await aws.queue("many")
    await aws_suite.deploy_raiser("fn")
    await aws_suite.configure("fn", on_success=queue.arn)

    sent = [await aws_suite.event("fn", json.dumps({"n": n}).encode()) for n in range(25)]

    messages = await aws.messages(queue, 25, timeout=30)
    records = [json.loads(m["Body"]) for m in messages]
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(sent)
    assert sorted(r["requestPayload"]["n"] for r in records) == list(range(25))
    assert all("MessageAttributes" not in m for m in messages)


def _delivery(target: str, n: int, kind: str = ON_SUCCESS) -> Delivery:
    record = ExecutionRecord(
        request_id=str(uuid.uuid4()),
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
        condition="Success",
        approximate_invoke_count=1,
        request_payload=json.dumps({"n": n}).encode(),
        timestamp=datetime.now(UTC),
        executed_version="$LATEST",
        response_payload=b"null",
    )
    return Delivery(str(uuid.uuid4()), target, kind, record)


async def test_concurrent_deliveries_for_one_queue_share_send_message_batch(
    aws_environment: dict[str, str], aws: Aws
) -> None:
    """The adapter as the Router drives it under load: 25 deliveries handed over at once go out
    in at most 3 SendMessageBatch requests (10 + 10 + 5), one GetQueueUrl, and each arrives once.
    Requests are counted with botocore's own event hooks on the adapter's real client."""
    queue = await aws.queue("batched")
    adapter = SqsDestination(RouterContext(Partition(), invoker=None))  # type: ignore[arg-type]
    requests: list[tuple[str, int]] = []  # (operation, entries)

    def observe(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.append((model.name, len(params.get("Entries", [params]))))

    client = await adapter.clients.get("us-east-1")
    client.meta.events.register("before-parameter-build.sqs.*", observe)
    try:
        deliveries = [_delivery(queue.arn, n) for n in range(25)]
        await asyncio.gather(*(adapter.deliver(d) for d in deliveries))
    finally:
        await adapter.close()

    messages = await aws.messages(queue, 25)
    assert sorted(json.loads(m["Body"])["requestPayload"]["n"] for m in messages) == list(range(25))
    assert requests[0] == ("GetQueueUrl", 1)
    assert sorted(requests[1:]) == [
        ("SendMessageBatch", 5),
        ("SendMessageBatch", 10),
        ("SendMessageBatch", 10),
    ]


async def test_each_entry_of_a_batch_succeeds_or_fails_on_its_own() -> None:
    """The coalescer hands each caller its own entry's result: one refused entry fails only its
    own delivery; a request that fails as a whole fails each of its callers."""
    batches: list[list[str]] = []

    async def send(key: str, entries: Sequence[str]) -> list[BaseException | None]:
        batches.append(list(entries))
        if key == "down":
            return [PermanentDeliveryError(f"{e}: down") for e in entries]
        return [PermanentDeliveryError(f"{e}: refused") if e == "bad" else None for e in entries]

    coalescer: Coalescer[str, str] = Coalescer(send, max_entries=3, max_bytes=100, max_senders=1)
    results = await asyncio.gather(
        *(coalescer.submit("q", entry, 10) for entry in ["a", "bad", "c", "d"]),
        coalescer.submit("q", "huge", 150),  # alone: bigger than a batch
        coalescer.submit("down", "x", 10),
        return_exceptions=True,
    )
    await coalescer.close()

    assert results[0] is None and results[2] is None and results[3] is None
    assert isinstance(results[1], PermanentDeliveryError) and "bad: refused" in str(results[1])
    assert results[4] is None
    assert isinstance(results[5], PermanentDeliveryError) and "x: down" in str(results[5])
    assert sorted(map(sorted, batches)) == sorted(
        map(sorted, [["a", "bad", "c"], ["d"], ["huge"], ["x"]])
    )
