"""The Router's outbox on every backend: deliveries round-trip exactly, lease like events, are
retried after a delay, and failures are kept."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from backends.helpers import CLOCK_SLACK, RECORD, delivery, integrity_error, rows

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import DEAD_LETTER, ON_FAILURE, RETRIES_EXHAUSTED


async def test_deliveries_round_trip_every_field(backend: Backend) -> None:
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
    assert all(d.lease_epoch >= 1 for d in leased)


async def test_add_is_all_or_nothing(backend: Backend) -> None:
    await backend.outbox.add([delivery(1)])

    with pytest.raises(integrity_error(backend)):
        await backend.outbox.add([delivery(2), delivery(1), delivery(3)])

    assert await backend.outbox.pending() == 1


async def test_a_refused_add_does_not_undo_the_adds_written_with_it(backend: Backend) -> None:
    await backend.outbox.add([delivery(1)])

    outcomes = await asyncio.gather(
        backend.outbox.add([delivery(2)]),
        backend.outbox.add([delivery(3), delivery(1)]),
        backend.outbox.add([delivery(4), delivery(5)]),
        return_exceptions=True,
    )

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], integrity_error(backend))
    ids = [row["delivery_id"] for row in await rows(backend, "deliveries")]
    assert sorted(ids) == ["delivery-1", "delivery-2", "delivery-4", "delivery-5"]


async def test_add_of_nothing_is_fine(backend: Backend) -> None:
    await backend.outbox.add([])

    assert await backend.outbox.pending() == 0


async def test_lease_takes_the_oldest_first_up_to_the_limit(backend: Backend) -> None:
    for number in range(5):
        await backend.outbox.add([delivery(number)])

    first = await backend.outbox.lease("router", 3, 30)
    second = await backend.outbox.lease("router", 3, 30)

    assert [d.delivery_id for d in first] == ["delivery-0", "delivery-1", "delivery-2"]
    assert [d.delivery_id for d in second] == ["delivery-3", "delivery-4"]
    assert await backend.outbox.lease("router", 3, 30) == []


async def test_lease_is_exclusive_and_expires(backend: Backend) -> None:
    await backend.outbox.add([delivery(n) for n in range(10)])

    batches = await asyncio.gather(*(backend.outbox.lease(f"r{n}", 3, 0.5) for n in range(5)))
    ids = [d.delivery_id for batch in batches for d in batch]
    assert len(ids) == len(set(ids)) == 10
    assert await backend.outbox.lease("early", 20, 30) == []

    await asyncio.sleep(0.6)
    again = await backend.outbox.lease("late", 20, 30)
    assert len(again) == 10
    epochs = {d.delivery_id: d.lease_epoch for batch in batches for d in batch}
    assert all(d.lease_epoch > epochs[d.delivery_id] for d in again)


async def test_retry_records_attempts_and_waits_the_delay(backend: Backend) -> None:
    await backend.outbox.add([delivery(1), delivery(2)])
    later, sooner = await backend.outbox.lease("router", 10, 30)
    now = backend.queue.now()

    assert await backend.outbox.retry(later.delivery_id, later.lease_epoch, 1, 60)
    assert await backend.outbox.retry(sooner.delivery_id, sooner.lease_epoch, 3, 0)

    (again,) = await backend.outbox.lease("router", 10, 30)
    assert (again.delivery_id, again.attempts) == ("delivery-2", 3)
    later_row = (await rows(backend, "deliveries"))[0]
    assert later_row["attempts"] == 1 and later_row["lease_owner"] is None
    assert abs(later_row["available_at"] - (now + 60)) < CLOCK_SLACK


async def test_delivered_removes_it(backend: Backend) -> None:
    await backend.outbox.add([delivery(1), delivery(2)])
    (leased,) = await backend.outbox.lease("router", 1, 30)

    assert await backend.outbox.delivered(leased.delivery_id, leased.lease_epoch)
    assert not await backend.outbox.delivered(leased.delivery_id, leased.lease_epoch)

    assert await backend.outbox.pending() == 1
    assert [d.delivery_id for d in await backend.outbox.lease("r", 10, 30)] == ["delivery-2"]


async def test_fail_moves_it_to_the_failed_store(backend: Backend) -> None:
    original = delivery(1, kind=ON_FAILURE)
    await backend.outbox.add([original])
    (leased,) = await backend.outbox.lease("router", 10, 30)
    before = backend.queue.now()

    assert await backend.outbox.fail("delivery-1", leased.lease_epoch, 3, "AccessDenied: nope")
    assert not await backend.outbox.fail("delivery-1", leased.lease_epoch, 3, "again")

    assert await backend.outbox.pending() == 0
    assert await backend.outbox.lease("router", 10, 30) == []
    (failed,), marker = await backend.outbox.list_failed(None, 10)
    assert marker is None
    assert failed.delivery == replace(original, attempts=3)
    assert failed.reason == "AccessDenied: nope"
    assert before - CLOCK_SLACK <= failed.failed_at <= backend.queue.now() + CLOCK_SLACK


async def test_fail_of_an_unknown_delivery_changes_nothing(backend: Backend) -> None:
    assert not await backend.outbox.fail("missing", 1, 1, "why")

    assert await backend.outbox.list_failed(None, 10) == ([], None)


async def test_list_failed_pages_with_a_marker(backend: Backend) -> None:
    await backend.outbox.add([delivery(n) for n in range(5)])
    for leased in await backend.outbox.lease("router", 10, 30):
        assert await backend.outbox.fail(leased.delivery_id, leased.lease_epoch, 1, "reason")

    first, marker = await backend.outbox.list_failed(None, 2)
    second, marker2 = await backend.outbox.list_failed(marker, 2)
    third, marker3 = await backend.outbox.list_failed(marker2, 2)

    pages = [[f.delivery.delivery_id for f in page] for page in (first, second, third)]
    assert pages == [["delivery-0", "delivery-1"], ["delivery-2", "delivery-3"], ["delivery-4"]]
    assert marker is not None and marker2 is not None and marker3 is None
    assert (await backend.outbox.list_failed(None, 5))[1] is None


async def test_pending_counts_leased_deliveries_until_delivered(backend: Backend) -> None:
    assert await backend.outbox.pending() == 0
    await backend.outbox.add([delivery(1), delivery(2), delivery(3)])
    one, two, _ = await backend.outbox.lease("router", 10, 30)

    assert await backend.outbox.pending() == 3
    assert await backend.outbox.retry(one.delivery_id, one.lease_epoch, 1, 60)
    assert await backend.outbox.fail(two.delivery_id, two.lease_epoch, 1, "no")
    assert await backend.outbox.pending() == 2
