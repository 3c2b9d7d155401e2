"""Backend.settle on every backend: the event's deliveries and follow-up events appear exactly
when the event is gone, all together or not at all, and a follow-up is queued once."""

from __future__ import annotations

import asyncio

import pytest
from backends.helpers import delivery, event, id_of, integrity_error, rows, snapshot

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import ON_FAILURE, Settlement


async def request_ids(backend: Backend) -> list[str]:
    return sorted(row["request_id"] for row in await rows(backend, "events"))


async def delivery_ids(backend: Backend) -> list[str]:
    return sorted(row["delivery_id"] for row in await rows(backend, "deliveries"))


async def test_settle_removes_the_event_and_hands_over_what_it_produced(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    deliveries = [delivery("a"), delivery("b", kind=ON_FAILURE, attempts=2)]
    before = backend.queue.now()

    settled = await backend.settle(
        id_of(leased),
        leased.lease_epoch,
        Settlement(deliveries, [event(10, "next"), event(11, "next")]),
    )

    assert settled is True
    assert await request_ids(backend) == ["request-10", "request-11", "request-2"]
    assert await backend.outbox.lease("router", 10, 30) == deliveries
    follow_ups = [
        e for e in await backend.queue.lease("owner", 10, 30) if e.function_name == "next"
    ]
    assert [e.request_id for e in follow_ups] == ["request-10", "request-11"]
    # Follow-ups are queued as any event: stamped by the backend's clock, due at once.
    assert all(before - 0.25 <= e.enqueued_at == e.visible_at for e in follow_ups)


async def test_settle_with_nothing_produced_is_an_ack(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)

    assert await backend.settle(id_of(leased), leased.lease_epoch, Settlement())

    assert await backend.queue.depth() == 0
    assert await backend.outbox.pending() == 0


async def test_a_stale_settle_hands_over_nothing(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (stale,) = await backend.queue.lease("paused", 1, 0)
    (current,) = await backend.queue.lease("new", 1, 30)
    before = await snapshot(backend)

    settled = await backend.settle(
        id_of(stale), stale.lease_epoch, Settlement([delivery("stale")], [event(10, "next")])
    )

    assert settled is False
    assert await snapshot(backend) == before
    assert await backend.outbox.pending() == 0 and await backend.queue.depth() == 1
    assert await backend.settle(
        id_of(current), current.lease_epoch, Settlement([delivery("current")])
    )
    assert await delivery_ids(backend) == ["delivery-current"]


async def test_a_settle_that_fails_changes_nothing(backend: Backend) -> None:
    await backend.outbox.add([delivery("taken")])
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    before = await snapshot(backend)

    # The second delivery's id is taken: the outbox refuses it, and so the whole settle.
    with pytest.raises(integrity_error(backend)):
        await backend.settle(
            id_of(leased),
            leased.lease_epoch,
            Settlement([delivery("new"), delivery("taken")], [event(10, "next")]),
        )

    assert await snapshot(backend) == before
    # The lease still holds: settling again without the clash works.
    assert await backend.settle(id_of(leased), leased.lease_epoch, Settlement([delivery("new")]))


async def test_racing_settles_hand_over_only_the_current_owners_records(backend: Backend) -> None:
    await backend.queue.enqueue(*(event(n) for n in range(40)))
    stale = await backend.queue.lease("paused", 40, 0)
    current = await backend.queue.lease("new", 40, 30)
    assert len(stale) == len(current) == 40

    def settle(owner: str, number: int, epoch: int, event_id: int) -> object:
        deliveries = [delivery(f"{owner}-{number}")]
        return backend.settle(
            event_id, epoch, Settlement(deliveries, [event(1000 + number, f"{owner}-next")])
        )

    results = await asyncio.gather(
        *(settle("stale", n, e.lease_epoch, id_of(e)) for n, e in enumerate(stale)),
        *(settle("current", n, e.lease_epoch, id_of(e)) for n, e in enumerate(current)),
    )

    assert results == [False] * 40 + [True] * 40
    assert await delivery_ids(backend) == sorted(f"delivery-current-{n}" for n in range(40))
    functions = {row["function_name"] for row in await rows(backend, "events")}
    assert functions == {"current-next"}
    assert await backend.queue.depth() == 40


async def test_concurrent_settles_of_one_lease_take_effect_once(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)

    results = await asyncio.gather(
        *(
            backend.settle(
                id_of(leased), leased.lease_epoch, Settlement([delivery(n)], [event(10 + n, "g")])
            )
            for n in range(3)
        )
    )

    assert sorted(results) == [False, False, True]
    winner = results.index(True)
    assert await delivery_ids(backend) == [f"delivery-{winner}"]
    assert await request_ids(backend) == [f"request-{10 + winner}"]


async def test_settling_twice_queues_a_follow_up_once(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2))
    first, second = await backend.queue.lease("owner", 2, 30)
    follow_up = event(10, "next")

    # The same record routed twice (two events settling it, or one settled again after a crash
    # lost the first settle's answer) derives the same request id.
    assert await backend.settle(id_of(first), first.lease_epoch, Settlement(events=[follow_up]))
    assert await backend.settle(
        id_of(second), second.lease_epoch, Settlement(events=[follow_up, follow_up])
    )
    assert not await backend.settle(
        id_of(first), first.lease_epoch, Settlement(events=[event(11, "next")])
    )

    assert await request_ids(backend) == ["request-10"]


async def test_concurrent_settles_queue_a_shared_follow_up_once(backend: Backend) -> None:
    await backend.queue.enqueue(*(event(n) for n in range(20)))
    leased = await backend.queue.lease("owner", 20, 30)

    results = await asyncio.gather(
        *(
            backend.settle(id_of(e), e.lease_epoch, Settlement(events=[event(100, "next")]))
            for e in leased
        )
    )

    assert all(results)
    assert await request_ids(backend) == ["request-100"]
