"""The failed-delivery store, operated (issue #17): an SQS destination is down (its queue does
not exist yet) until its deliveries fail for good; then it is up, and a redrive delivers each
record exactly once; the same redrive again, or several at once, delivers nothing more; a purge
by filter removes only what it names. On SQLite, and on PostgreSQL with two Routers sharing the
database, redriving at once through both."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from destinations.harness import ACCOUNT, REGION, Aws, AwsRunning, Queue, StartSuite

from eventinvoke.client import ResourceNotFoundException
from eventinvoke.core.model import NO_DESTINATION


@pytest.fixture(params=["sqlite", "postgres"])
async def suites(request: pytest.FixtureRequest, start_suite: StartSuite) -> list[AwsRunning]:
    """One suite on SQLite; two sharing one PostgreSQL database (each a Router, among others)."""
    if request.param == "sqlite":
        return [await start_suite()]
    url = request.getfixturevalue("postgres_url")
    return [await start_suite(backend=url), await start_suite(backend=url)]


def _request_ids(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(json.loads(m["Body"])["requestContext"]["requestId"] for m in messages)


async def test_down_then_up_then_redriven_each_record_arrives_once(
    suites: list[AwsRunning], aws: Aws
) -> None:
    suite = suites[0]
    name = aws.unique("down")
    down = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    other = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{aws.unique('never')}"
    await suite.deploy_raiser("to-down")
    await suite.configure("to-down", on_success=down)
    await suite.deploy_raiser("to-other")
    await suite.configure("to-other", on_success=other)
    sent = [await suite.event("to-down", json.dumps({"n": n}).encode()) for n in range(5)]
    elsewhere = await suite.event("to-other", b'{"n": 9}')

    failed = await suite.failed_deliveries(6)
    assert sorted(f["Record"]["requestContext"]["requestId"] for f in failed) == sorted(
        [*sent, elsewhere]
    )
    listed = await suite.client.list_failed_deliveries(function_name="to-down", max_items=3)
    rest = await suite.client.list_failed_deliveries(
        function_name="to-down", marker=listed["NextMarker"]
    )
    mine = listed["FailedDeliveries"] + rest["FailedDeliveries"]
    assert {f["Destination"]["Target"] for f in mine} == {down}
    assert len(mine) == 5 and "NextMarker" not in rest
    one = await suite.client.get_failed_delivery(mine[0]["DeliveryId"])
    assert one == mine[0]

    created = await aws.call(aws.sqs.create_queue, QueueName=name)  # the destination is up
    queue = Queue(name, created["QueueUrl"], down)
    redrives = [s.client.redrive_failed_deliveries(destination=down) for s in suites for _ in "ab"]
    counts = [r["RedrivenCount"] for r in await asyncio.gather(*redrives)]

    assert sum(counts) == 5
    received = await aws.messages(queue, 5, settle=1.0)
    assert _request_ids(received) == sorted(sent)
    # Delivered: gone from the store, and the same redrive again moves nothing.
    assert (await suite.client.redrive_failed_deliveries(destination=down))["RedrivenCount"] == 0
    for entry in mine:
        again = await suite.client.redrive_failed_deliveries(delivery_id=entry["DeliveryId"])
        assert again["RedrivenCount"] == 0
        with pytest.raises(ResourceNotFoundException):
            await suite.client.get_failed_delivery(entry["DeliveryId"])
    assert await aws.messages(queue, 0, settle=0.5) == []

    [left] = (await suite.client.list_failed_deliveries())["FailedDeliveries"]
    assert left["Record"]["requestContext"]["requestId"] == elsewhere
    purged = await suite.client.purge_failed_deliveries(function_name="to-down")
    assert purged["PurgedCount"] == 0  # nothing of to-down is left to purge
    purged = await suite.client.purge_failed_deliveries(function_name="to-other", reason="Queue")
    assert purged["PurgedCount"] == 1
    assert (await suite.client.list_failed_deliveries())["FailedDeliveries"] == []


async def test_purge_by_filter_removes_only_what_it_names(aws_suite: AwsRunning, aws: Aws) -> None:
    queues = {n: f"arn:aws:sqs:{REGION}:{ACCOUNT}:{aws.unique('missing')}" for n in "ab"}
    for n, target in queues.items():
        await aws_suite.deploy_raiser(f"fn-{n}")
        await aws_suite.configure(f"fn-{n}", on_success=target)
        await aws_suite.event(f"fn-{n}", b"{}")
        await aws_suite.event(f"fn-{n}", b"{}")
    await aws_suite.failed_deliveries(4)

    purged = await aws_suite.client.purge_failed_deliveries(destination=queues["a"])

    assert purged == {"PurgedCount": 2}
    left = (await aws_suite.client.list_failed_deliveries())["FailedDeliveries"]
    assert {f["Destination"]["Target"] for f in left} == {queues["b"]}
    assert len(left) == 2
    one = await aws_suite.client.purge_failed_deliveries(delivery_id=left[0]["DeliveryId"])
    assert one == {"PurgedCount": 1}
    assert (await aws_suite.client.list_failed_deliveries())["FailedDeliveries"] == left[1:]


async def test_a_failed_event_with_nowhere_to_go_is_kept_when_asked(
    start_suite: StartSuite,
) -> None:
    kept = await start_suite(keep_failures_without_destination=True)
    await kept.deploy_raiser("lonely")
    await kept.configure("lonely", retries=0)

    request_id = await kept.event("lonely", b'{"error": "no luck"}')
    await kept.event("lonely", b'{"fine": true}')  # a success with no OnSuccess is not kept

    [entry] = await kept.failed_deliveries(1)
    assert entry["Destination"] == {"Target": "", "Kind": "OnFailure"}
    assert entry["Reason"] == NO_DESTINATION
    assert entry["Attempts"] == 0
    assert entry["Record"]["requestContext"]["requestId"] == request_id
    assert entry["Record"]["requestContext"]["condition"] == "RetriesExhausted"
    assert kept.metrics == {}  # no delivery failed
    # Nowhere to send it: a redrive leaves it; a purge removes it.
    assert (await kept.client.redrive_failed_deliveries())["RedrivenCount"] == 0
    assert (await kept.client.purge_failed_deliveries(reason="OnFailure")) == {"PurgedCount": 1}


async def test_failures_with_nowhere_to_go_are_not_kept_by_default(aws_suite: AwsRunning) -> None:
    runs = aws_suite.tmp_path / "lonely-runs.jsonl"
    await aws_suite.deploy_raiser("lonely", runs=runs)
    await aws_suite.configure("lonely", retries=0)

    await aws_suite.event("lonely", b'{"error": "no luck"}')

    for _ in range(100):
        if runs.exists() and runs.read_text():
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert (await aws_suite.client.list_failed_deliveries())["FailedDeliveries"] == []
