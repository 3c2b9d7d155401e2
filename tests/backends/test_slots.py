"""Reserved concurrency slots on every backend: at most R holders, across backends sharing the
data; a slot frees itself when its lease expires, on release, and not while renewed; a release
can wake one throttled event of the function."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from backends.helpers import CLOCK_SLACK, event, function, id_of, rows

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import Requeue

OpenAnother = Callable[[], Awaitable[Backend]]


async def test_at_most_r_holders(backend: Backend) -> None:
    taken = [await backend.slots.acquire("fn", 2, f"h{n}", 30) for n in range(4)]

    assert taken == [True, True, False, False]
    assert await backend.slots.acquire("other", 1, "h9", 30)  # each function its own slots


async def test_racing_acquires_take_exactly_r_slots(
    backend: Backend, open_another: OpenAnother
) -> None:
    other = await open_another()

    taken = await asyncio.gather(
        *((backend if n % 2 else other).slots.acquire("fn", 5, f"h{n}", 30) for n in range(60))
    )

    assert taken.count(True) == 5


async def test_release_frees_the_slot(backend: Backend) -> None:
    assert await backend.slots.acquire("fn", 1, "first", 30)
    assert not await backend.slots.acquire("fn", 1, "second", 30)

    await backend.slots.release("fn", "first", wake=False)

    assert await backend.slots.acquire("fn", 1, "second", 30)
    assert not await backend.slots.acquire("fn", 1, "third", 30)


async def test_a_slot_whose_lease_expired_is_free_again(backend: Backend) -> None:
    assert await backend.slots.acquire("fn", 1, "died", 0)  # its lease ends at once

    assert await backend.slots.acquire("fn", 1, "next", 30)
    # The late holder's release and renew do not touch the slot it lost.
    await backend.slots.renew("died", 30)
    await backend.slots.release("fn", "died", wake=False)
    assert not await backend.slots.acquire("fn", 1, "third", 30)


async def test_a_slot_expires_in_real_time(backend: Backend) -> None:
    assert await backend.slots.acquire("fn", 1, "slow", 0.5)
    assert not await backend.slots.acquire("fn", 1, "early", 30)

    await asyncio.sleep(0.6)

    assert await backend.slots.acquire("fn", 1, "late", 30)


async def test_renew_extends_the_slot_lease_from_now(backend: Backend) -> None:
    assert await backend.slots.acquire("fn", 1, "running", 0)

    await backend.slots.renew("running", 30)

    assert not await backend.slots.acquire("fn", 1, "other", 30)
    [slot] = [row for row in await rows(backend, "concurrency_slots") if row["holder"]]
    assert abs(slot["expires_at"] - (backend.queue.now() + 30)) < CLOCK_SLACK


async def test_a_grown_reservation_has_more_slots(backend: Backend) -> None:
    assert await backend.slots.acquire("fn", 1, "a", 30)
    assert not await backend.slots.acquire("fn", 1, "b", 30)

    assert await backend.slots.acquire("fn", 3, "b", 30)
    assert await backend.slots.acquire("fn", 3, "c", 30)
    assert not await backend.slots.acquire("fn", 3, "d", 30)


async def test_a_reduced_reservation_admits_no_more_than_the_new_count(backend: Backend) -> None:
    await backend.store.create_function(function())
    assert await backend.store.put_function_concurrency("fn", 3)
    assert all([await backend.slots.acquire("fn", 3, f"old-{n}", 30) for n in range(3)])

    assert await backend.store.put_function_concurrency("fn", 1)

    # The three running go on; nobody new starts while one of them holds the remaining slot.
    assert not await backend.slots.acquire("fn", 1, "new-1", 30)
    await backend.slots.release("fn", "old-1", wake=False)
    await backend.slots.release("fn", "old-2", wake=False)
    assert not await backend.slots.acquire("fn", 1, "new-1", 30)
    await backend.slots.release("fn", "old-0", wake=False)
    assert await backend.slots.acquire("fn", 1, "new-1", 30)
    assert not await backend.slots.acquire("fn", 1, "new-2", 30)


async def throttled_queue(backend: Backend) -> dict[str, int]:
    """Events in every state a wake must tell apart; their ids by request id."""
    await backend.queue.enqueue(event(1), event(2), event(3), event(4, "other"), event(5), event(6))
    now = backend.queue.now()
    later = {  # request -> (visible in seconds, throttles)
        "request-1": (60, 1),  # throttled, due last
        "request-2": (30, 2),  # throttled, due first: the one to wake
        "request-3": (10, 0),  # waiting out a retry backoff, not a throttle
        "request-4": (5, 1),  # another function's
        "request-5": (-1, 1),  # throttled, but due already (and leased below)
        "request-6": (-1, 0),  # due, not throttled
    }
    ids = {}
    for leased in await backend.queue.lease("scheduler", 10, 30):
        delay, throttles = later[leased.request_id]
        assert await backend.queue.retry(
            id_of(leased), leased.lease_epoch, Requeue(0, now + delay, throttles)
        )
        ids[leased.request_id] = id_of(leased)
    # A throttled event that is leased right now is its owner's, not the wake's.
    (running,) = await backend.queue.lease("runner", 1, 30)
    assert running.request_id == "request-5"
    return ids


async def test_release_with_wake_makes_one_throttled_event_visible_now(backend: Backend) -> None:
    ids = await throttled_queue(backend)
    assert await backend.slots.acquire("fn", 1, "holder", 30)
    before = await rows(backend, "events")

    await backend.slots.release("fn", "holder", wake=True)

    woken = [e for e in await backend.queue.lease("owner", 10, 30) if e.request_id != "request-6"]
    assert [e.request_id for e in woken] == ["request-2"]
    assert abs(woken[0].visible_at - backend.queue.now()) < CLOCK_SLACK
    assert woken[0].throttles == 2  # still counts its throttles
    after = {row["event_id"]: row for row in await rows(backend, "events")}
    for row in before:
        if row["event_id"] not in (ids["request-2"], ids["request-6"]):
            assert after[row["event_id"]] == row
    # The next release wakes the next throttled event.
    assert await backend.slots.acquire("fn", 1, "holder-2", 30)
    await backend.slots.release("fn", "holder-2")
    assert [e.request_id for e in await backend.queue.lease("owner", 10, 30)] == ["request-1"]


async def test_release_without_wake_leaves_throttled_events_waiting(backend: Backend) -> None:
    await throttled_queue(backend)
    assert await backend.slots.acquire("fn", 1, "holder", 30)
    before = await rows(backend, "events")

    await backend.slots.release("fn", "holder", wake=False)

    assert [e.request_id for e in await backend.queue.lease("owner", 10, 30)] == ["request-6"]
    after = await rows(backend, "events")
    assert [r for r in after if r["request_id"] != "request-6"] == [
        r for r in before if r["request_id"] != "request-6"
    ]


async def test_first_acquires_from_two_backends_both_get_a_slot(
    backend: Backend, open_another: OpenAnother
) -> None:
    other = await open_another()

    # No slot rows exist yet for these functions: both backends make them at once.
    taken = await asyncio.gather(
        *(
            on.slots.acquire(f"fn-{n}", 2, f"{name}-{n}", 30)
            for n in range(30)
            for name, on in (("a", backend), ("b", other))
        )
    )

    assert all(taken)
