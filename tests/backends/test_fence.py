"""The current lease decides, on every backend: once a lease expired and another owner leased the
item again, every write the old owner makes with its stale epoch returns False and changes no row
(no delivery, no follow-up event, no failed delivery); the new owner's writes still work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from backends.helpers import delivery, event, id_of, rows, snapshot

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import Delivery, LastAttempt, QueuedEvent, Requeue, Settlement

# The writes an owner makes after its lease, each with the epoch it was leased with.
QUEUE_WRITES: dict[str, Callable[[Backend, int, int], Awaitable[Any]]] = {
    "extend": lambda b, id_, epoch: b.queue.extend(id_, epoch, 300),
    "release": lambda b, id_, epoch: b.queue.release([(id_, epoch)]),
    "retry": lambda b, id_, epoch: b.queue.retry(id_, epoch, Requeue(5, b.queue.now() - 1, 2)),
    "retry with a response": lambda b, id_, epoch: b.queue.retry(
        id_, epoch, Requeue(5, b.queue.now() + 60, 0, LastAttempt(b"stale", "Unhandled", "9"))
    ),
    "ack": lambda b, id_, epoch: b.queue.ack(id_, epoch),
    "settle": lambda b, id_, epoch: b.settle(
        id_, epoch, Settlement([delivery("from-stale")], [event(99, "follow-up")])
    ),
}

OUTBOX_WRITES: dict[str, Callable[[Backend, str, int], Awaitable[bool]]] = {
    "delivered": lambda b, id_, epoch: b.outbox.delivered(id_, epoch),
    "retry": lambda b, id_, epoch: b.outbox.retry(id_, epoch, 4, 0),
    "fail": lambda b, id_, epoch: b.outbox.fail(id_, epoch, 4, "stale"),
}


async def taken_over(backend: Backend) -> tuple[QueuedEvent, QueuedEvent]:
    """An event leased by an owner that paused past its lease, then by another owner."""
    await backend.queue.enqueue(event(1), event(2))
    (stale,) = await backend.queue.lease("paused", 1, 0)  # expired at once
    current = next(
        e for e in await backend.queue.lease("new", 10, 30) if e.event_id == stale.event_id
    )
    assert current.lease_epoch > stale.lease_epoch
    return stale, current


@pytest.mark.parametrize("write", QUEUE_WRITES)
async def test_a_stale_epoch_changes_no_event(backend: Backend, write: str) -> None:
    stale, current = await taken_over(backend)
    before = await snapshot(backend)

    result = await QUEUE_WRITES[write](backend, id_of(stale), stale.lease_epoch)

    assert result in (False, None)  # release answers nothing
    if write != "release":
        assert result is False
    assert await snapshot(backend) == before
    # The owner of the current lease is unaffected: its lease holds, and its ack works.
    assert await backend.queue.lease("third", 10, 30) == []
    assert await backend.queue.ack(id_of(current), current.lease_epoch)


@pytest.mark.parametrize("write", QUEUE_WRITES)
async def test_an_epoch_never_leased_changes_no_event(backend: Backend, write: str) -> None:
    _, current = await taken_over(backend)
    before = await snapshot(backend)

    result = await QUEUE_WRITES[write](backend, id_of(current), current.lease_epoch + 1)

    assert result in (False, None)
    assert await snapshot(backend) == before


@pytest.mark.parametrize("write", ["extend", "retry", "ack", "settle"])
async def test_an_expired_lease_nobody_took_over_still_writes(backend: Backend, write: str) -> None:
    await backend.queue.enqueue(event(1))
    (late,) = await backend.queue.lease("late", 1, 0)  # expired, but no newer lease

    assert await QUEUE_WRITES[write](backend, id_of(late), late.lease_epoch) is True


async def test_two_acks_under_one_lease_remove_the_event_once(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)

    results = await asyncio.gather(
        *(backend.queue.ack(id_of(leased), leased.lease_epoch) for _ in range(3))
    )

    assert sorted(results) == [False, False, True]
    assert await backend.queue.depth() == 0


async def outbox_taken_over(backend: Backend) -> tuple[Delivery, Delivery]:
    await backend.outbox.add([delivery(1), delivery(2)])
    (stale,) = await backend.outbox.lease("paused", 1, 0)
    current = next(
        d for d in await backend.outbox.lease("new", 10, 30) if d.delivery_id == stale.delivery_id
    )
    assert current.lease_epoch > stale.lease_epoch
    return stale, current


@pytest.mark.parametrize("write", OUTBOX_WRITES)
async def test_a_stale_epoch_changes_no_delivery(backend: Backend, write: str) -> None:
    stale, current = await outbox_taken_over(backend)
    before = await snapshot(backend)

    assert await OUTBOX_WRITES[write](backend, stale.delivery_id, stale.lease_epoch) is False

    assert await snapshot(backend) == before
    assert await backend.outbox.list_failed(None, 10) == ([], None)
    assert await backend.outbox.lease("third", 10, 30) == []
    assert await backend.outbox.delivered(current.delivery_id, current.lease_epoch)


@pytest.mark.parametrize("write", OUTBOX_WRITES)
async def test_the_current_epoch_writes_a_delivery(backend: Backend, write: str) -> None:
    _, current = await outbox_taken_over(backend)

    assert await OUTBOX_WRITES[write](backend, current.delivery_id, current.lease_epoch) is True

    kept = [row["delivery_id"] for row in await rows(backend, "deliveries")]
    failed = [row["delivery_id"] for row in await rows(backend, "failed_deliveries")]
    assert (kept, failed) == {
        "delivered": (["delivery-2"], []),
        "retry": (["delivery-1", "delivery-2"], []),
        "fail": (["delivery-2"], ["delivery-1"]),
    }[write]


async def test_two_marks_under_one_delivery_lease_take_effect_once(backend: Backend) -> None:
    await backend.outbox.add([delivery(1), delivery(2)])
    first, second = await backend.outbox.lease("router", 10, 30)

    delivered = await asyncio.gather(
        *(backend.outbox.delivered(first.delivery_id, first.lease_epoch) for _ in range(3))
    )
    failed = await asyncio.gather(
        *(backend.outbox.fail(second.delivery_id, second.lease_epoch, 1, "no") for _ in range(3))
    )

    assert sorted(delivered) == sorted(failed) == [False, False, True]
    assert await backend.outbox.pending() == 0
    assert len((await backend.outbox.list_failed(None, 10))[0]) == 1
