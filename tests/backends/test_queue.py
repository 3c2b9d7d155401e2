"""The event queue's contract (base.EventQueue) on every backend: what an event keeps, the
backend's clock, leases, release, extend, retry, ack, and dedupe by request id."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from backends.helpers import CLOCK_SLACK, event, id_of, integrity_error, rows

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import Claim, LastAttempt, QueuedEvent, Requeue


async def reschedule(backend: Backend, visible_at: dict[str, float]) -> None:
    """Lease every due event and retry each at its ``visible_at`` (by request id): how an event
    comes to be visible at another time than its enqueue."""
    for leased in await backend.queue.lease("scheduler", 1000, 30):
        at = visible_at[leased.request_id]
        assert await backend.queue.retry(
            id_of(leased), leased.lease_epoch, Requeue(leased.attempts, at)
        )


async def test_event_round_trips_every_field(backend: Backend) -> None:
    stored = event(1, qualifier="live", payload=b"\x00\xffnot json\n", attempts=2)
    before = backend.queue.now()
    await backend.queue.enqueue(stored)
    after = backend.queue.now()

    (leased,) = await backend.queue.lease("owner", 10, 30)

    assert before - CLOCK_SLACK <= leased.enqueued_at <= after + CLOCK_SLACK
    assert leased.visible_at == leased.enqueued_at
    stamped = replace(stored, enqueued_at=leased.enqueued_at, visible_at=leased.visible_at)
    assert leased == replace(stamped, event_id=leased.event_id)
    assert leased.last_attempt is None and leased.throttles == 0


async def test_empty_payload_stays_bytes(backend: Backend) -> None:
    await backend.queue.enqueue(event(1, payload=b""))

    (leased,) = await backend.queue.lease("owner", 10, 30)

    assert leased.payload == b""


async def test_enqueue_stamps_the_backends_clock_whatever_the_event_says(backend: Backend) -> None:
    now = backend.queue.now()
    # Times from another host's clock (or none) are not the queue's: both are ignored.
    await backend.queue.enqueue(event(1, enqueued_at=1.0, visible_at=now + 3600))

    (leased,) = await backend.queue.lease("owner", 10, 30)

    assert abs(leased.enqueued_at - now) < CLOCK_SLACK
    assert leased.visible_at == leased.enqueued_at


async def test_enqueue_skips_a_request_id_already_queued(backend: Backend) -> None:
    await backend.queue.enqueue(event(1, payload=b"first"))
    await backend.queue.enqueue(event(1, payload=b"second"))
    await backend.queue.enqueue(event(2), event(2, payload=b"twice in one call"))
    await asyncio.gather(*(backend.queue.enqueue(event(3)) for _ in range(20)))

    assert await backend.queue.depth() == 3
    leased = await backend.queue.lease("owner", 10, 30)
    assert [(e.request_id, e.payload) for e in leased] == [
        ("request-1", b"first"),
        ("request-2", b'{"n": 2}'),
        ("request-3", b'{"n": 3}'),
    ]


async def test_a_request_id_is_queued_again_once_its_event_is_gone(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 10, 30)
    assert await backend.queue.ack(id_of(leased), leased.lease_epoch)

    await backend.queue.enqueue(event(1))

    (again,) = await backend.queue.lease("owner", 10, 30)
    assert again.request_id == "request-1" and again.event_id != leased.event_id


async def test_events_enqueued_together_are_stored_all_or_none(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2), event(3))
    leased = await backend.queue.lease("owner", 10, 30)
    assert [e.request_id for e in leased] == ["request-1", "request-2", "request-3"]

    # One row the table refuses (payload is NOT NULL) and none of its call is stored.
    refused = replace(event(5), payload=None)
    with pytest.raises(integrity_error(backend)):
        await backend.queue.enqueue(event(4), refused)

    assert await backend.queue.depth() == 3
    assert await backend.queue.lease("owner", 10, 30) == []


async def test_lease_takes_due_events_oldest_first(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2), event(3), event(4))
    now = backend.queue.now()
    await reschedule(
        backend,
        {"request-1": now - 1, "request-2": now - 3, "request-3": now + 60, "request-4": now - 2},
    )

    leased = await backend.queue.lease("owner", 10, 30)

    assert [e.request_id for e in leased] == ["request-2", "request-4", "request-1"]
    assert [e.visible_at for e in leased] == [now - 3, now - 2, now - 1]


async def test_lease_respects_limit(backend: Backend) -> None:
    await backend.queue.enqueue(*(event(number) for number in range(5)))

    assert len(await backend.queue.lease("a", 3, 30)) == 3
    assert len(await backend.queue.lease("b", 3, 30)) == 2
    assert await backend.queue.lease("c", 3, 30) == []


async def test_each_lease_carries_a_newer_epoch(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))

    epochs = []
    for owner in ("a", "b", "c"):
        (leased,) = await backend.queue.lease(owner, 10, 0)  # expired at once: free again
        epochs.append(leased.lease_epoch)

    assert epochs[0] >= 1
    assert epochs == sorted(set(epochs))


async def test_an_expired_lease_is_taken_again(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (first,) = await backend.queue.lease("dies", 10, 0.5)

    assert await backend.queue.lease("other", 10, 30) == []
    await asyncio.sleep(0.6)
    (again,) = await backend.queue.lease("other", 10, 30)

    assert again.event_id == first.event_id
    assert again.request_id == "request-1"
    assert again.lease_epoch > first.lease_epoch


async def test_a_leased_event_carries_when_its_lease_ends(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    before = backend.queue.now()

    (leased,) = await backend.queue.lease("owner", 10, 30)

    after = backend.queue.now()
    assert leased.lease_expires is not None
    assert before + 30 - CLOCK_SLACK <= leased.lease_expires <= after + 30 + CLOCK_SLACK
    [row] = await rows(backend, "events")
    assert row["lease_owner"] == "owner"
    assert row["lease_expires"] == pytest.approx(leased.lease_expires, abs=1e-3)


async def test_release_gives_events_back_unchanged(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2), event(3))
    now = backend.queue.now()
    await reschedule(backend, {"request-1": now - 5, "request-2": now - 4, "request-3": now - 3})
    mine = await backend.queue.lease("mine", 2, 30)

    await backend.queue.release([(id_of(e), e.lease_epoch) for e in mine])

    again = await backend.queue.lease("next", 10, 30)
    assert [e.request_id for e in again] == ["request-1", "request-2", "request-3"]
    assert [(e.attempts, e.visible_at) for e in again[:2]] == [(0, now - 5), (0, now - 4)]
    assert [e.lease_epoch for e in again[:2]] == [e.lease_epoch + 1 for e in mine]
    assert await backend.queue.depth() == 3


async def test_release_of_nothing_is_fine(backend: Backend) -> None:
    await backend.queue.release([])

    assert await backend.queue.depth() == 0


async def test_extend_renews_the_lease_from_now(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 10, 0)  # would be free again at once

    assert await backend.queue.extend(id_of(leased), leased.lease_epoch, 30)

    assert await backend.queue.lease("other", 10, 30) == []
    [row] = await rows(backend, "events")
    assert abs(row["lease_expires"] - (backend.queue.now() + 30)) < CLOCK_SLACK


async def test_extend_does_not_hide_a_retried_or_acked_event(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2))
    first, second = await backend.queue.lease("owner", 10, 30)
    assert await backend.queue.retry(
        id_of(first), first.lease_epoch, Requeue(1, backend.queue.now())
    )
    assert await backend.queue.ack(id_of(second), second.lease_epoch)

    assert not await backend.queue.extend(id_of(first), first.lease_epoch, 30)
    assert not await backend.queue.extend(id_of(second), second.lease_epoch, 30)

    assert [e.request_id for e in await backend.queue.lease("other", 10, 30)] == ["request-1"]


async def test_retry_records_the_attempt_and_delays_visibility(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2))
    later, sooner = await backend.queue.lease("owner", 10, 30)
    now = backend.queue.now()
    response = LastAttempt(b'{"errorMessage": "boom"}', "Unhandled", "3")

    assert await backend.queue.retry(id_of(later), later.lease_epoch, Requeue(1, now + 60))
    assert await backend.queue.retry(
        id_of(sooner), sooner.lease_epoch, Requeue(2, now - 1, throttles=3, last_attempt=response)
    )

    (again,) = await backend.queue.lease("owner", 10, 30)  # the other is not due for a minute
    assert again.event_id == sooner.event_id
    assert (again.attempts, again.visible_at, again.throttles) == (2, now - 1, 3)
    assert again.last_attempt == response
    later_row = next(
        row for row in await rows(backend, "events") if row["event_id"] == later.event_id
    )
    assert (later_row["attempts"], later_row["visible_at"]) == (1, now + 60)
    assert later_row["lease_owner"] is None


async def test_retry_without_a_response_keeps_the_stored_one(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))
    first = LastAttempt(b'{"first": 1}', None, "$LATEST")
    second = LastAttempt(b'{"ok": false}', "Handled", "7")

    async def retry_once(last_attempt: LastAttempt | None) -> QueuedEvent:
        (leased,) = await backend.queue.lease("owner", 10, 30)
        at = backend.queue.now() - 1
        assert await backend.queue.retry(
            id_of(leased),
            leased.lease_epoch,
            Requeue(leased.attempts + 1, at, last_attempt=last_attempt),
        )
        return leased

    await retry_once(first)
    assert (await retry_once(None)).last_attempt == first
    assert (await retry_once(second)).last_attempt == first
    (leased,) = await backend.queue.lease("owner", 10, 30)
    assert leased.last_attempt == second
    assert leased.last_attempt.payload == b'{"ok": false}'
    assert leased.attempts == 3


async def test_ack_removes_the_event(backend: Backend) -> None:
    await backend.queue.enqueue(event(1), event(2))
    (leased,) = await backend.queue.lease("owner", 1, 0)

    assert await backend.queue.ack(id_of(leased), leased.lease_epoch)
    assert not await backend.queue.ack(id_of(leased), leased.lease_epoch)

    assert await backend.queue.depth() == 1
    assert [row["request_id"] for row in await rows(backend, "events")] == ["request-2"]
    assert [e.request_id for e in await backend.queue.lease("owner", 10, 30)] == ["request-2"]


async def test_depth_and_oldest_age(backend: Backend) -> None:
    assert await backend.queue.depth() == 0
    assert await backend.queue.oldest_age() is None

    await backend.queue.enqueue(event(1))
    await asyncio.sleep(0.3)
    await backend.queue.enqueue(event(2))
    await backend.queue.lease("owner", 1, 30)  # leased events are still queued

    assert await backend.queue.depth() == 2
    age = await backend.queue.oldest_age()
    assert age is not None and 0.3 - CLOCK_SLACK <= age < 5


async def test_events_enqueued_with_a_claim_are_leased_to_its_owner(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))  # already queued: not the claimant's
    claimed = [event(1), event(2), event(3)]
    before = backend.queue.now()

    await backend.queue.enqueue(*claimed, claim=Claim("executor-a", 30))

    assert claimed[0].event_id is None and claimed[0].lease_expires is None
    for queued in claimed[1:]:
        stored = await backend.queue.find(queued.request_id)
        assert stored is not None and queued.event_id == stored.event_id is not None
        assert queued.lease_epoch == stored.lease_epoch == 1
        assert queued.lease_expires == pytest.approx(stored.lease_expires)
        assert queued.lease_expires == pytest.approx(before + 30, abs=CLOCK_SLACK)
        assert before - CLOCK_SLACK <= queued.enqueued_at == queued.visible_at
    # Only the event queued without a claim is there for another owner.
    assert [e.request_id for e in await backend.queue.lease("executor-b", 10, 30)] == ["request-1"]
    assert await backend.queue.ack(id_of(claimed[1]), 1)
    assert await backend.queue.depth() == 2


async def test_concurrent_claimed_and_unclaimed_enqueues_each_keep_their_own(
    backend: Backend,
) -> None:
    claimed = [event(n) for n in range(10)]
    await asyncio.gather(
        backend.queue.enqueue(*claimed[:5], claim=Claim("executor-a", 30)),
        backend.queue.enqueue(*(event(n) for n in range(10, 15))),
        backend.queue.enqueue(*claimed[5:], claim=Claim("executor-c", 30)),
    )

    assert all(e.event_id is not None and e.lease_epoch == 1 for e in claimed)
    taken = await backend.queue.lease("executor-b", 20, 30)
    assert sorted(e.request_id for e in taken) == [f"request-{n}" for n in range(10, 15)]
