"""Dead-letter queues (docs/aws-behaviour.md §5; checks 49, 51–54): the original event, byte for
byte, with the RequestID / ErrorCode / ErrorMessage attributes, to an SQS queue or an SNS topic;
only for failed asynchronous invocations; alongside an OnFailure destination."""

from __future__ import annotations

import hashlib
import json

from destinations.harness import Aws, AwsRunning

# Odd whitespace, escapes and multi-byte characters: only the exact bytes have this MD5.
EVENT = '{ "error" :\t"boom – é ✓",\n   "n" : [1,  2.50 ], "s": "\\u00e9" }  '.encode()
ERROR_MESSAGE = "boom – é ✓"


async def test_sqs_dead_letter_message_is_the_original_event(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Check 51: body MD5 = MD5 of the bytes the client sent; attributes exact."""
    dlq = await aws.queue("dlq")
    await aws_suite.deploy_raiser("fn", dead_letter_target=dlq.arn)
    await aws_suite.configure("fn", retries=0)

    request_id = await aws_suite.event("fn", EVENT)

    [message] = await aws.messages(dlq, 1)
    assert message["MD5OfBody"] == hashlib.md5(EVENT).hexdigest()
    assert hashlib.md5(message["Body"].encode()).digest() == hashlib.md5(EVENT).digest()
    assert message["MessageAttributes"] == {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": ERROR_MESSAGE},
    }


async def test_error_message_attribute_is_the_first_kilobyte(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Check 51: ErrorMessage holds the first 1 KB (1024 bytes) of errorMessage, never half a
    character."""
    dlq = await aws.queue("dlq")
    await aws_suite.deploy_raiser("ascii", dead_letter_target=dlq.arn)
    await aws_suite.deploy_raiser("wide", dead_letter_target=dlq.arn)
    await aws_suite.configure("ascii", retries=0)
    await aws_suite.configure("wide", retries=0)

    await aws_suite.event("ascii", json.dumps({"error": "x" * 3000}).encode())
    await aws_suite.event("wide", json.dumps({"error": "é" * 600 + "tail"}).encode())

    messages = await aws.messages(dlq, 2)
    texts = sorted(m["MessageAttributes"]["ErrorMessage"]["StringValue"] for m in messages)
    assert texts == sorted(["x" * 1024, "é" * 512])


async def test_sns_dead_letter_message_is_the_original_event(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """docs/aws-behaviour.md §5.2 for SNS: Message = the event, the same attributes as SNS message
    attributes."""
    topic, subscriber = await aws.topic_to_queue()
    await aws_suite.deploy_raiser("fn", dead_letter_target=topic)
    await aws_suite.configure("fn", retries=0)

    request_id = await aws_suite.event("fn", EVENT)

    [message] = await aws.messages(subscriber, 1)
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic
    assert hashlib.md5(envelope["Message"].encode()).digest() == hashlib.md5(EVENT).digest()
    assert envelope["MessageAttributes"] == {
        "RequestID": {"Type": "String", "Value": request_id},
        "ErrorCode": {"Type": "Number", "Value": "200"},
        "ErrorMessage": {"Type": "String", "Value": ERROR_MESSAGE},
    }


async def test_dead_letter_queue_and_on_failure_each_get_one_message(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Check 52: one failure after retries: one DLQ message (the event) and one OnFailure record."""
    dlq = await aws.queue("dlq")
    failures = await aws.queue("failures")
    runs = aws_suite.tmp_path / "runs.jsonl"
    await aws_suite.deploy_raiser("fn", dead_letter_target=dlq.arn, runs=runs)
    await aws_suite.configure("fn", on_failure=failures.arn, retries=1)

    request_id = await aws_suite.event("fn", EVENT)

    [dead] = await aws.messages(dlq, 1, timeout=20)
    [record_message] = await aws.messages(failures, 1)
    assert hashlib.md5(dead["Body"].encode()).digest() == hashlib.md5(EVENT).digest()
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == request_id
    record = json.loads(record_message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == json.loads(EVENT)
    assert len(runs.read_text().splitlines()) == 2


async def test_no_dead_letter_message_for_successes_or_sync_invocations(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Checks 49 and 53: a successful Event invoke, and a failing RequestResponse or DryRun
    invoke, produce no DLQ message and no record. A failing Event invoke afterwards shows the
    queues were being written to."""
    dlq = await aws.queue("dlq")
    successes = await aws.queue("successes")
    failures = await aws.queue("failures")
    await aws_suite.deploy_raiser("fn", dead_letter_target=dlq.arn)
    await aws_suite.configure("fn", on_success=successes.arn, on_failure=failures.arn)

    ok = await aws_suite.event("fn", b'{"fine": true}')
    sync = await aws_suite.client.invoke(
        function_name="fn", invocation_type="RequestResponse", payload=b'{"error": "sync"}'
    )
    assert sync["FunctionError"] == "Unhandled"
    dry = await aws_suite.client.invoke(
        function_name="fn", invocation_type="DryRun", payload=b'{"error": "dry"}'
    )
    assert dry["StatusCode"] == 204
    [success] = await aws.messages(successes, 1)
    assert json.loads(success["Body"])["requestContext"]["requestId"] == ok

    failed = await aws_suite.event("fn", b'{"error": "async"}')

    [dead] = await aws.messages(dlq, 1)
    [record] = await aws.messages(failures, 1)
    assert dead["Body"] == '{"error": "async"}'
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == failed
    assert json.loads(record["Body"])["requestContext"]["requestId"] == failed


async def test_dead_letter_config_is_shown_and_an_empty_target_removes_it(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    """Check 54: GetFunctionConfiguration shows DeadLetterConfig.TargetArn; updating it to ""
    removes it, and later failures go to OnFailure only."""
    dlq = await aws.queue("dlq")
    failures = await aws.queue("failures")
    await aws_suite.deploy_raiser("fn", dead_letter_target=dlq.arn)
    await aws_suite.configure("fn", on_failure=failures.arn)

    shown = await aws_suite.client.get_function_configuration("fn")
    assert shown["DeadLetterConfig"] == {"TargetArn": dlq.arn}

    await aws_suite.client.update_function_configuration("fn", dead_letter_config={"TargetArn": ""})
    assert "DeadLetterConfig" not in await aws_suite.client.get_function_configuration("fn")

    request_id = await aws_suite.event("fn", b'{"error": "after removal"}')

    [record] = await aws.messages(failures, 1)
    assert json.loads(record["Body"])["requestContext"]["requestId"] == request_id
    assert await aws.messages(dlq, 0) == []
