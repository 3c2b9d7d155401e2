"""Backend.settle on every backend: the event's deliveries and follow-up events appear exactly
when the event is gone, all together or not at all, and a follow-up is queued once (leased to
the settling executor when it claims it)."""

from __future__ import annotations

import asyncio

import pytest
from backends.helpers import (
    CLOCK_SLACK,
    delivery,
    event,
    id_of,
    integrity_error,
    rows,
    snapshot,
)

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import ON_FAILURE, Claim, Settlement


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


async def test_a_claimed_follow_up_is_queued_leased_to_the_settling_owner(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("executor-a", 1, 30)
    follow_ups = [event(10, "next"), event(11, "next")]
    before = backend.queue.now()

    settled = await backend.settle(
        id_of(leased),
        leased.lease_epoch,
        Settlement(events=follow_ups, claim=Claim("executor-a", 30)),
    )

    assert settled is True
    # Each comes back as a lease returns an event: its id, epoch 1 and expiry, stamped now.
    for follow_up in follow_ups:
        stored = await backend.queue.find(follow_up.request_id)
        assert stored is not None
        assert follow_up.event_id == stored.event_id is not None
        assert follow_up.lease_epoch == stored.lease_epoch == 1
        assert follow_up.lease_expires == pytest.approx(stored.lease_expires)
        assert follow_up.lease_expires == pytest.approx(before + 30, abs=CLOCK_SLACK)
        assert before - CLOCK_SLACK <= follow_up.enqueued_at == follow_up.visible_at
    # No other owner can take them while the claim's lease holds.
    assert await backend.queue.lease("executor-b", 10, 30) == []
    # They are the claimant's to run and ack, under that lease.
    assert await backend.queue.ack(id_of(follow_ups[0]), 1)
    assert await request_ids(backend) == ["request-11"]


async def test_a_claimed_follow_up_whose_owner_died_is_leased_again_when_its_lease_ends(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("executor-a", 1, 30)
    follow_up = event(10, "next")
    settlement = Settlement(events=[follow_up], claim=Claim("executor-a", 0.2))
    assert await backend.settle(id_of(leased), leased.lease_epoch, settlement)
    assert await backend.queue.lease("executor-b", 10, 30) == []

    await asyncio.sleep(0.3)  # the claimant never ran it
    (again,) = await backend.queue.lease("executor-b", 10, 30)

    assert (again.request_id, again.event_id, again.lease_epoch) == (
        "request-10",
        follow_up.event_id,
        2,
    )
    # The first lease is fenced off: the dead owner's late ack changes nothing.
    assert not await backend.queue.ack(id_of(follow_up), 1)
    assert await backend.queue.ack(id_of(again), again.lease_epoch)


async def test_a_claimed_follow_up_already_queued_is_not_the_claimants(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2))
    first, second = await backend.queue.lease("executor-a", 2, 30)
    assert await backend.settle(
        id_of(first), first.lease_epoch, Settlement(events=[event(10, "next")])
    )
    repeat = event(10, "next")

    settled = await backend.settle(
        id_of(second),
        second.lease_epoch,
        Settlement(events=[repeat], claim=Claim("executor-a", 30)),
    )

    assert settled is True
    # Queued by the first settle for any executor: the repeat leases nothing.
    assert repeat.event_id is None and repeat.lease_expires is None
    (taken,) = await backend.queue.lease("executor-b", 10, 30)
    assert taken.request_id == "request-10"


async def test_a_stale_settle_claims_nothing(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (stale,) = await backend.queue.lease("paused", 1, 0)
    await backend.queue.lease("new", 1, 30)
    follow_up = event(10, "next")

    settled = await backend.settle(
        id_of(stale), stale.lease_epoch, Settlement(events=[follow_up], claim=Claim("paused", 30))
    )

    assert settled is False
    assert follow_up.event_id is None
    assert await request_ids(backend) == ["request-1"]
