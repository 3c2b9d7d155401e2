"""Undeliverable destinations (docs/aws-behaviour.md §4.2, §5.2; check 50): a missing queue, a FIFO
queue, a missing topic, bus or bucket, and a missing dead-letter queue each become a failed delivery
with its reason, at the first attempt, and count ``DestinationDeliveryFailures`` /
``DeadLetterErrors``; the function is unaffected and good deliveries still arrive."""

from __future__ import annotations

import json

from destinations.harness import ACCOUNT, REGION, Aws, AwsRunning


async def test_permanent_failures_are_kept_and_do_not_block_good_deliveries(
    aws_suite: AwsRunning, aws: Aws
) -> None:
    missing_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{aws.unique('missing')}"
    fifo = await aws.queue("fifo", fifo=True)
    missing_topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{aws.unique('missing')}"
    missing_bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{aws.unique('missing')}"
    missing_bucket = f"arn:aws:s3:::{aws.unique('missing')}"
    missing_dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{aws.unique('missing-dlq')}"
    good = await aws.queue("good")
    runs = aws_suite.tmp_path / "runs.jsonl"

    await aws_suite.deploy_raiser("to-missing-queue", runs=runs)
    await aws_suite.configure("to-missing-queue", on_success=missing_queue)
    await aws_suite.deploy_raiser("to-fifo", runs=runs)
    await aws_suite.configure("to-fifo", on_success=fifo.arn)
    await aws_suite.deploy_raiser("to-missing-topic", runs=runs)
    await aws_suite.configure("to-missing-topic", on_success=missing_topic)
    await aws_suite.deploy_raiser("to-missing-bus", runs=runs)
    await aws_suite.configure("to-missing-bus", on_success=missing_bus)
    await aws_suite.deploy_raiser("to-missing-bucket", dead_letter_target=missing_dlq, runs=runs)
    await aws_suite.configure("to-missing-bucket", on_failure=missing_bucket)
    await aws_suite.deploy_raiser("to-good", runs=runs)
    await aws_suite.configure("to-good", on_success=good.arn)

    ids = {
        missing_queue: await aws_suite.event("to-missing-queue", b'{"n": 1}'),
        fifo.arn: await aws_suite.event("to-fifo", b'{"n": 2}'),
        missing_topic: await aws_suite.event("to-missing-topic", b'{"n": 3}'),
        missing_bus: await aws_suite.event("to-missing-bus", b'{"n": 4}'),
        missing_bucket: await aws_suite.event("to-missing-bucket", b'{"error": "x"}'),
    }
    ids[missing_dlq] = ids[missing_bucket]
    good_id = await aws_suite.event("to-good", b'{"n": 6}')

    failed = {f["Destination"]["Target"]: f for f in await aws_suite.failed_deliveries(6)}
    assert set(failed) == set(ids)
    for target, entry in failed.items():
        assert entry["Attempts"] == 1, entry  # permanent: no retries
        assert target in entry["Reason"]
        assert entry["Record"]["requestContext"]["requestId"] == ids[target]
    reasons = {target: entry["Reason"] for target, entry in failed.items()}
    assert (
        "NonExistentQueue" in reasons[missing_queue]
        or "QueueDoesNotExist" in (reasons[missing_queue])
    )
    assert "FIFO queues are not supported" in reasons[fifo.arn]
    assert "NotFound" in reasons[missing_topic]
    assert "ResourceNotFoundException" in reasons[missing_bus]
    assert "NoSuchBucket" in reasons[missing_bucket]
    assert (
        "NonExistentQueue" in reasons[missing_dlq] or "QueueDoesNotExist" in (reasons[missing_dlq])
    )
    assert failed[missing_dlq]["Destination"]["Kind"] == "DeadLetter"
    assert aws_suite.metrics == {"DestinationDeliveryFailures": 5, "DeadLetterErrors": 1}

    [message] = await aws.messages(good, 1)
    assert json.loads(message["Body"])["requestContext"]["requestId"] == good_id
    assert await aws.messages(fifo, 0) == []
    # Each function ran once: delivery failures never retry the invocation.
    assert sorted(json.loads(line)["request_id"] for line in runs.read_text().splitlines()) == (
        sorted({*ids.values(), good_id})
    )
