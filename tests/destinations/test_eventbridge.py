"""The ``eventbridge`` adapter against moto_server, observed through a rule with an SQS target
(docs/aws-behaviour.md §4.2; check 46): the event's ``source``, ``detail-type``, ``resources`` and
``detail`` are exactly what Lambda puts on the bus."""

from __future__ import annotations

import json
import re

from destinations.harness import RECORD_KEYS, REGION, Aws, AwsRunning


async def test_success_and_failure_events_on_the_bus(aws_suite: AwsRunning, aws: Aws) -> None:
    bus, target = await aws.bus_to_queue()
    await aws_suite.deploy_raiser("fn")
    await aws_suite.configure("fn", on_success=bus, on_failure=bus)

    ok = await aws_suite.event("fn", b'{"hello": "world"}')
    [success] = await aws.messages(target, 1)
    ko = await aws_suite.event("fn", b'{"error": "intentional failure"}')
    [failure] = await aws.messages(target, 1)

    event = json.loads(success["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert event["detail-type"].isascii()
    assert event["resources"] == [bus, aws_suite.function_arn("fn")]
    # "account" and "time" are EventBridge's own (moto leaves "account" out of SQS targets).
    assert event["region"] == REGION
    assert event["version"] == "0"
    assert re.fullmatch(r"[0-9a-f-]{36}", event["id"])
    record = event["detail"]
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

    event = json.loads(failure["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert event["resources"] == [bus, aws_suite.function_arn("fn")]
    record = event["detail"]
    assert list(record) == RECORD_KEYS
    assert record["requestContext"]["requestId"] == ko
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
