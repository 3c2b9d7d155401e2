"""The seed's configuration end to end (the 2019 announcement's walkthrough): the tester
function with OnSuccess to an SNS topic (observed through an SQS subscription) and OnFailure to a
Lambda function (a collector), MaximumRetryAttempts 2, MaximumEventAgeInSeconds 600."""

from __future__ import annotations

import json

from conftest import records_in
from destinations.harness import RECORD_KEYS, Aws, AwsRunning


async def test_seed_configuration_sns_on_success_lambda_on_failure(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    topic, subscriber = await aws.topic_to_queue()
    failures = await aws_suite.collector("on-failure")
    await aws_suite.deploy("event-destinations", "tester")
    await aws_suite.client.put_function_event_invoke_config(
        function_name="event-destinations",
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=600,
        destination_config={
            "OnSuccess": {"Destination": topic},
            "OnFailure": {"Destination": aws_suite.arn("on-failure")},
        },
    )

    ok = await aws_suite.event("event-destinations", b'{ "Success": true }')
    ko = await aws_suite.event("event-destinations", b'{ "Success": false }')

    [notification] = await aws.messages(subscriber, 1)
    success = json.loads(json.loads(notification["Body"])["Message"])
    assert list(success) == RECORD_KEYS
    assert success["requestContext"] == {
        "requestId": ok,
        "functionArn": aws_suite.function_arn("event-destinations"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert success["requestPayload"] == {"Success": True}
    assert success["responsePayload"] is None

    [failure] = await records_in(failures, 1, timeout=20)
    assert list(failure) == RECORD_KEYS
    assert failure["requestContext"] == {
        "requestId": ko,
        "functionArn": aws_suite.function_arn("event-destinations"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorMessage"] == (
        "Failure from event, Success = false, I am failing!"
    )
    assert await aws.messages(subscriber, 0) == []
    assert (await aws_suite.client.list_failed_deliveries())["FailedDeliveries"] == []
