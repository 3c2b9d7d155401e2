"""What GetInvocation reads, on every backend: a queued event's lease, next try and attempts
(``EventQueue.find``, ``retry``'s history), the invocation a settle remembers with its ack, each
delivery's state read from the outbox and the failed-delivery store, and the sweep that forgets
by age and by count."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from backends.helpers import CLOCK_SLACK, delivery, event, id_of, rows

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import (
    DELIVERED,
    FAILED,
    ON_FAILURE,
    ON_SUCCESS,
    PENDING,
    PURGED,
    SUCCESS,
    Attempt,
    DeliveryState,
    FailureFilter,
    Handover,
    QueuedEvent,
    Requeue,
    SettledInvocation,
    Settlement,
)

FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
FAILED_ONCE = Attempt(10.0, 11.5, "Unhandled", "ValueError", "boom")
SUCCEEDED_ONCE = Attempt(20.0, 20.25)


def settled(leased: QueuedEvent, *handovers: Handover, **changes: object) -> SettledInvocation:
    fields: dict[str, object] = {
        "request_id": leased.request_id,
        "function_name": leased.function_name,
        "qualifier": leased.qualifier,
        "condition": SUCCESS,
        "enqueued_at": leased.enqueued_at,
        "attempts": (FAILED_ONCE, SUCCEEDED_ONCE),
        "handovers": handovers,
    }
    fields.update(changes)
    return SettledInvocation(**fields)  # type: ignore[arg-type]


async def settle_one(backend: Backend, number: int) -> SettledInvocation:
    await backend.queue.enqueue(event(number))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    invocation = settled(leased)
    assert await backend.settle(
        id_of(leased), leased.lease_epoch, Settlement(invocation=invocation)
    )
    return invocation


async def test_find_shows_a_queued_events_lease_next_try_and_attempts(backend: Backend) -> None:
    assert await backend.queue.find("request-1") is None
    await backend.queue.enqueue(event(1))
    waiting = await backend.queue.find("request-1")
    assert waiting is not None and waiting.lease_expires is None and waiting.history == ()

    (leased,) = await backend.queue.lease("owner", 1, 30)
    running = await backend.queue.find("request-1")
    assert running is not None and running.lease_expires == leased.lease_expires
    assert running.lease_expires is not None
    assert running.lease_expires >= backend.queue.now() + 30 - CLOCK_SLACK

    later = backend.queue.now() + 60
    assert await backend.queue.retry(
        id_of(leased), leased.lease_epoch, Requeue(1, later, history=[FAILED_ONCE])
    )
    scheduled = await backend.queue.find("request-1")
    assert scheduled is not None and scheduled.lease_expires is None
    assert (scheduled.attempts, scheduled.history) == (1, (FAILED_ONCE,))
    assert abs(scheduled.visible_at - later) < 0.01


async def test_a_retry_without_history_keeps_the_attempts_recorded(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    await backend.queue.retry(
        id_of(leased), leased.lease_epoch, Requeue(1, 0, history=[FAILED_ONCE])
    )
    (leased,) = await backend.queue.lease("owner", 1, 30)
    assert leased.history == (FAILED_ONCE,)

    # A throttle or a system error: no execution, the attempts stay as they were.
    await backend.queue.retry(id_of(leased), leased.lease_epoch, Requeue(1, 0, throttles=1))
    (leased,) = await backend.queue.lease("owner", 1, 30)

    assert (leased.history, leased.throttles) == ((FAILED_ONCE,), 1)


async def test_a_settle_remembers_the_invocation_stamped_with_the_backends_clock(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    direct = Handover(f"{FUNCTION_ARN}next", ON_SUCCESS, request_id="request-next")
    invocation = settled(leased, direct)
    before = backend.queue.now()

    assert await backend.settle(
        id_of(leased), leased.lease_epoch, Settlement(invocation=invocation)
    )

    found = await backend.invocations.get("request-1")
    assert found is not None
    remembered, states = found
    assert remembered == replace(invocation, settled_at=remembered.settled_at)
    assert before - CLOCK_SLACK <= remembered.settled_at <= backend.queue.now() + CLOCK_SLACK
    # An event queued for a function of the suite is delivered as soon as it is queued.
    assert states == [DeliveryState(direct, DELIVERED)]
    assert await backend.queue.find("request-1") is None
    assert await backend.invocations.get("request-2") is None


async def test_a_settle_under_a_lost_lease_remembers_nothing(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (stale,) = await backend.queue.lease("paused", 1, 0)
    (current,) = await backend.queue.lease("new", 1, 30)

    assert not await backend.settle(
        id_of(stale), stale.lease_epoch, Settlement(invocation=settled(stale))
    )

    assert await backend.invocations.get("request-1") is None
    assert await rows(backend, "events") != []
    assert current.lease_epoch > stale.lease_epoch


async def test_each_delivery_is_pending_failed_or_delivered_where_it_is_now(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    sent, refused = delivery("sent"), delivery("refused", kind=ON_FAILURE)
    handovers = [Handover(d.target, d.kind, delivery_id=d.delivery_id) for d in (sent, refused)]
    await backend.settle(
        id_of(leased),
        leased.lease_epoch,
        Settlement([sent, refused], invocation=settled(leased, *handovers)),
    )

    async def states() -> list[tuple[str, int, str]]:
        found = await backend.invocations.get("request-1")
        assert found is not None
        return [(s.state, s.attempts, s.reason) for s in found[1]]

    assert await states() == [(PENDING, 0, ""), (PENDING, 0, "")]
    leases = {d.delivery_id: d.lease_epoch for d in await backend.outbox.lease("router", 10, 30)}
    await backend.outbox.retry("delivery-sent", leases["delivery-sent"], 1, 0)
    assert await states() == [(PENDING, 1, ""), (PENDING, 0, "")]

    (again,) = await backend.outbox.lease("router", 10, 30)
    assert await backend.outbox.delivered("delivery-sent", again.lease_epoch)
    assert await backend.outbox.fail("delivery-refused", leases["delivery-refused"], 3, "410 Gone")

    assert await states() == [(DELIVERED, 0, ""), (FAILED, 3, "410 Gone")]

    # Purged from the store, it is not delivered: it says so, until the sweep forgets it.
    assert await backend.outbox.purge_failed(FailureFilter(delivery_id="delivery-refused")) == 1
    assert await states() == [(DELIVERED, 0, ""), (PURGED, 0, "")]
    assert await backend.invocations.sweep(3600, 100, 100) == 0
    assert await states() == [(DELIVERED, 0, ""), (PURGED, 0, "")]
    await asyncio.sleep(0.3)
    await backend.invocations.sweep(0.2, 100, 100)
    assert await rows(backend, "purged_deliveries") == []


async def settle_again(backend: Backend, number: int, condition: str) -> None:
    """The same request id queued again once it settled (a repeated delivery to a function of
    the suite), and settled with ``condition``."""
    await backend.queue.enqueue(event(number))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    await backend.settle(
        id_of(leased),
        leased.lease_epoch,
        Settlement(invocation=settled(leased, condition=condition)),
    )


async def test_the_latest_settle_of_a_request_id_is_the_one_shown(backend: Backend) -> None:
    await settle_one(backend, 1)
    # The newer settle is what happened last.
    await settle_again(backend, 1, "RetriesExhausted")

    found = await backend.invocations.get("request-1")

    assert found is not None and found[0].condition == "RetriesExhausted"


async def test_the_sweep_forgets_what_is_older_than_the_retention(backend: Backend) -> None:
    await settle_one(backend, 1)
    await asyncio.sleep(0.5)
    await settle_one(backend, 2)

    assert await backend.invocations.sweep(60, 100, 100) == 0
    assert await backend.invocations.sweep(0.3, 100, 100) == 1

    assert await backend.invocations.get("request-1") is None
    assert await backend.invocations.get("request-2") is not None
    assert await backend.invocations.sweep(0.3, 100, 100) == 0


async def test_the_sweep_keeps_only_the_last_settled_a_batch_at_a_time(backend: Backend) -> None:
    for number in range(1, 6):
        await settle_one(backend, number)

    assert await backend.invocations.sweep(3600, 2, 2) == 2  # at most the batch
    assert await backend.invocations.sweep(3600, 2, 2) == 1
    assert await backend.invocations.sweep(3600, 2, 2) == 0

    kept = [n for n in range(1, 6) if await backend.invocations.get(f"request-{n}") is not None]
    assert kept == [4, 5]
