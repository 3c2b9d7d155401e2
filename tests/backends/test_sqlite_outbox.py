"""The Router's outbox: deliveries round-trip exactly, lease like events, and failures are kept."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.core.model import (
    DEAD_LETTER,
    ON_FAILURE,
    ON_SUCCESS,
    RETRIES_EXHAUSTED,
    SUCCESS,
    Delivery,
    ExecutionRecord,
)

RECORD = ExecutionRecord(
    request_id="request-1",
    function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
    condition=SUCCESS,
    approximate_invoke_count=1,
    request_payload=b'{"in": 1}',
    timestamp=datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    executed_version="$LATEST",
    response_payload=b'{"out": 2}',
)


def delivery(number: int, **changes: Any) -> Delivery:
    return replace(
        Delivery(f"delivery-{number}", "arn:aws:sqs:us-east-1:000000000000:q", ON_SUCCESS, RECORD),
        **changes,
    )


async def test_deliveries_round_trip_every_field(backend: SqliteBackend) -> None:
    full = delivery(1, attempts=2)
    never_ran = delivery(
        2,
        kind=ON_FAILURE,
        record=replace(
            RECORD,
            condition=RETRIES_EXHAUSTED,
            request_payload=b"\x00\xff raw",
            # a non-UTC offset is the same instant; it comes back in UTC
            timestamp=datetime(2024, 1, 2, 5, 4, 5, 1000, tzinfo=timezone(timedelta(hours=2))),
            executed_version=None,
            response_payload=None,
            status_code=500,
        ),
    )
    errored = delivery(
        3,
        kind=DEAD_LETTER,
        record=replace(RECORD, function_error="Unhandled", response_payload=b""),
    )

    await backend.outbox.add([full, never_ran, errored])
    leased = await backend.outbox.lease("router", 10, 30)

    assert leased == [full, never_ran, errored]
    timestamp = leased[1].record.timestamp
    assert timestamp.tzinfo is not None and timestamp.utcoffset() == timedelta(0)
    assert timestamp == datetime(2024, 1, 2, 3, 4, 5, 1000, tzinfo=UTC)
    assert leased[1].record.response_payload is None
    assert leased[2].record.response_payload == b""


async def test_add_is_all_or_nothing(backend: SqliteBackend) -> None:
    await backend.outbox.add([delivery(1)])

    with pytest.raises(sqlite3.IntegrityError):
        await backend.outbox.add([delivery(2), delivery(1), delivery(3)])

    assert await backend.outbox.pending() == 1


async def test_lease_is_exclusive_and_expires(backend: SqliteBackend) -> None:
    await backend.outbox.add([delivery(n) for n in range(10)])

    batches = await asyncio.gather(*(backend.outbox.lease(f"r{n}", 3, 0.2) for n in range(5)))
    ids = [d.delivery_id for batch in batches for d in batch]
    assert len(ids) == len(set(ids)) == 10

    await asyncio.sleep(0.25)
    assert len(await backend.outbox.lease("late", 20, 30)) == 10


async def test_retry_delays_and_records_attempts(backend: SqliteBackend) -> None:
    await backend.outbox.add([delivery(1)])
    await backend.outbox.lease("router", 10, 30)

    await backend.outbox.retry("delivery-1", 1, time.time() + 0.2)

    assert await backend.outbox.lease("router", 10, 30) == []
    await asyncio.sleep(0.25)
    (again,) = await backend.outbox.lease("router", 10, 30)
    assert again.attempts == 1


async def test_delivered_removes_it(backend: SqliteBackend) -> None:
    await backend.outbox.add([delivery(1), delivery(2)])

    await backend.outbox.delivered("delivery-1")

    assert await backend.outbox.pending() == 1
    assert [d.delivery_id for d in await backend.outbox.lease("r", 10, 30)] == ["delivery-2"]


async def test_fail_moves_to_failed_store(backend: SqliteBackend) -> None:
    original = delivery(1, kind=ON_FAILURE)
    await backend.outbox.add([original])
    await backend.outbox.lease("router", 10, 30)
    before = time.time()

    await backend.outbox.fail("delivery-1", 3, "AccessDenied: nope")

    assert await backend.outbox.pending() == 0
    assert await backend.outbox.lease("router", 10, 30) == []
    (failed,), marker = await backend.outbox.list_failed(None, 10)
    assert marker is None
    assert failed.delivery == replace(original, attempts=3)
    assert failed.reason == "AccessDenied: nope"
    assert before <= failed.failed_at <= time.time()


async def test_fail_of_unknown_delivery_changes_nothing(backend: SqliteBackend) -> None:
    await backend.outbox.fail("missing", 1, "why")

    assert await backend.outbox.list_failed(None, 10) == ([], None)


async def test_list_failed_pages_with_marker(backend: SqliteBackend) -> None:
    await backend.outbox.add([delivery(n) for n in range(5)])
    for n in range(5):
        await backend.outbox.fail(f"delivery-{n}", 1, f"reason {n}")

    first, marker = await backend.outbox.list_failed(None, 2)
    second, marker2 = await backend.outbox.list_failed(marker, 2)
    third, marker3 = await backend.outbox.list_failed(marker2, 2)

    pages = [[f.delivery.delivery_id for f in page] for page in (first, second, third)]
    assert pages == [["delivery-0", "delivery-1"], ["delivery-2", "delivery-3"], ["delivery-4"]]
    assert marker is not None and marker2 is not None and marker3 is None
    assert (await backend.outbox.list_failed(None, 5))[1] is None
