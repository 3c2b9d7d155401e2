"""Check 37 with a real dead-letter queue (moto): reserved concurrency 0 sends an Event invoke
straight to OnFailure and the DLQ, with nothing run (docs/aws-behaviour.md §3.5)."""

from __future__ import annotations

import json

from conftest import read_lines
from destinations.harness import Aws, AwsRunning


async def test_zero_reserved_concurrency_goes_to_on_failure_and_the_dlq(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    dlq = await aws.queue("dlq")
    failures = await aws.queue("on-failure")
    runs = aws_suite.tmp_path / "runs.jsonl"
    runs.touch()
    await aws_suite.deploy_raiser("fn", dead_letter_target=dlq.arn, runs=runs)
    await aws_suite.configure("fn", on_failure=failures.arn, retries=2)
    await aws_suite.client.put_function_concurrency("fn", 0)

    request_id = await aws_suite.event("fn", b'{"k": "v"}')

    [record_message] = await aws.messages(failures, 1)
    record = json.loads(record_message["Body"])
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    [dead_letter] = await aws.messages(dlq, 1)
    assert dead_letter["Body"] == '{"k": "v"}'
    assert dead_letter["MessageAttributes"]["RequestID"]["StringValue"] == request_id
    assert read_lines(runs) == []
