"""The ``sns`` adapter against moto_server, observed through an SQS subscription with raw
delivery off (docs/aws-behaviour.md §4.2; checks 40–44): each record is one notification whose
``Message`` is the record JSON; a record over SNS's 256 KB loses its request and response
payloads."""

from __future__ import annotations

import json

from destinations.harness import RECORD_KEYS, Aws, AwsRunning


async def test_success_and_failure_records_are_the_notification_message(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Check 44: one notification per record, ``Message`` = the record JSON, no attributes."""
    topic, subscriber = await aws.topic_to_queue()
    await aws_suite.deploy_raiser("fn")
    await aws_suite.configure("fn", on_success=topic, on_failure=topic)

    ok = await aws_suite.event("fn", b'{"hello": "world"}')
    [message] = await aws.messages(subscriber, 1)
    ko = await aws_suite.event("fn", b'{"error": "intentional failure"}')
    [failed] = await aws.messages(subscriber, 1)

    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic
    assert "MessageAttributes" not in envelope
    record = json.loads(envelope["Message"])
    assert list(record) == RECORD_KEYS
    assert record["requestContext"] == {
        "requestId": ok,
        "functionArn": aws_suite.function_arn("fn"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"hello": "world"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True}

    envelope = json.loads(failed["Body"])
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert list(record) == RECORD_KEYS
    assert record["requestContext"]["requestId"] == ko
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    assert record["responsePayload"]["errorType"] == "ValueError"


async def test_a_record_over_256_kb_is_published_without_its_payloads(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """SNS takes 256 KB: a 300 KB event's record arrives without requestPayload and
    responsePayload; the rest of the record is intact."""
    topic, subscriber = await aws.topic_to_queue()
    await aws_suite.deploy_raiser("fn")
    await aws_suite.configure("fn", on_success=topic)
    big = json.dumps({"blob": "x" * 300_000}).encode()

    request_id = await aws_suite.event("fn", big)

    [message] = await aws.messages(subscriber, 1)
    record = json.loads(json.loads(message["Body"])["Message"])
    assert list(record) == ["version", "timestamp", "requestContext", "responseContext"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert (await aws_suite.client.list_failed_deliveries())["FailedDeliveries"] == []
