"""The failed-delivery store on every backend: filtered and paged lists, one failure by its
delivery id, redrive (each failure moved back into the outbox once, however many redrives run at
once, from however many replicas) and purge (only what the filter names)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from backends.helpers import RECORD, delivery, rows

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import (
    EVERY_FAILURE,
    ON_FAILURE,
    Delivery,
    ExecutionRecord,
    FailureFilter,
)

ARN = "arn:aws:lambda:us-east-1:000000000000:function"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:q"
TOPIC = "arn:aws:sns:us-east-1:000000000000:t"


async def _fail(backend: Backend, *failures: tuple[Delivery, str]) -> None:
    """Add the deliveries, lease them and fail each for good with its reason, in order."""
    for each, reason in failures:
        await backend.outbox.add([each])
        (leased,) = await backend.outbox.lease("router", 10, 30)
        assert await backend.outbox.fail(leased.delivery_id, leased.lease_epoch, 8, reason)


def _of(function: str, qualifier: str = "$LATEST") -> ExecutionRecord:
    return replace(RECORD, function_arn=f"{ARN}:{function}:{qualifier}")


async def _ids(backend: Backend, which: FailureFilter = EVERY_FAILURE) -> list[str]:
    failed, _ = await backend.outbox.list_failed(None, 100, which)
    return [f.delivery.delivery_id for f in failed]


async def _store(backend: Backend) -> None:
    await _fail(
        backend,
        (delivery("a1", record=_of("alpha")), "sqs: QueueDoesNotExist: gone"),
        (delivery("a2", record=_of("alpha", "1"), target=TOPIC), "sns: NotFound: no topic"),
        (delivery("b1", record=_of("alpha-beta")), "sqs: AccessDenied: no"),
        (delivery("b2", record=_of("beta"), kind=ON_FAILURE), "webhook: HTTP 503"),
    )


async def test_list_filters_by_function_destination_reason_and_id(backend: Backend) -> None:
    await _store(backend)

    assert await _ids(backend) == ["delivery-a1", "delivery-a2", "delivery-b1", "delivery-b2"]
    # A function's records of every qualifier, not those of a function whose name starts alike.
    assert await _ids(backend, FailureFilter(function_arn=f"{ARN}:alpha")) == [
        "delivery-a1",
        "delivery-a2",
    ]
    assert await _ids(backend, FailureFilter(function_arn=f"{ARN}:alpha:1")) == ["delivery-a2"]
    assert await _ids(backend, FailureFilter(target=TOPIC)) == ["delivery-a2"]
    assert await _ids(backend, FailureFilter(reason="sqs: ")) == ["delivery-a1", "delivery-b1"]
    assert await _ids(backend, FailureFilter(reason="%")) == []  # plain text, not a pattern
    assert await _ids(backend, FailureFilter(function_arn=f"{ARN}:alpha", reason="sqs")) == [
        "delivery-a1"
    ]
    assert await _ids(backend, FailureFilter(delivery_id="delivery-b2")) == ["delivery-b2"]


async def test_list_filters_by_time_and_pages_within_the_filter(backend: Backend) -> None:
    await _store(backend)
    failed, _ = await backend.outbox.list_failed(None, 100)
    third = failed[2].failed_at

    assert await _ids(backend, FailureFilter(failed_after=third)) == [
        "delivery-b1",
        "delivery-b2",
    ]
    assert await _ids(backend, FailureFilter(failed_before=third)) == [
        "delivery-a1",
        "delivery-a2",
    ]
    which = FailureFilter(reason="s")  # every reason but the webhook's has an s
    first, marker = await backend.outbox.list_failed(None, 2, which)
    second, last = await backend.outbox.list_failed(marker, 2, which)
    assert [f.delivery.delivery_id for f in first + second] == [
        "delivery-a1",
        "delivery-a2",
        "delivery-b1",
    ]
    assert marker is not None and last is None


async def test_get_failed_by_delivery_id(backend: Backend) -> None:
    await _store(backend)

    found = await backend.outbox.get_failed("delivery-b2")

    assert found is not None
    assert found.delivery == delivery("b2", record=_of("beta"), kind=ON_FAILURE, attempts=8)
    assert found.reason == "webhook: HTTP 503"
    assert await backend.outbox.get_failed("delivery-none") is None


async def test_redrive_moves_failures_back_once_with_no_attempts(backend: Backend) -> None:
    await _store(backend)

    assert await backend.outbox.redrive_failed(FailureFilter(reason="sqs")) == 2
    assert await backend.outbox.redrive_failed(FailureFilter(reason="sqs")) == 0

    assert await _ids(backend) == ["delivery-a2", "delivery-b2"]
    assert await backend.outbox.pending() == 2
    leased = await backend.outbox.lease("router", 10, 30)
    assert [d.delivery_id for d in leased] == ["delivery-a1", "delivery-b1"]
    assert [d.attempts for d in leased] == [0, 0]
    assert leased[0].record == _of("alpha")
    # Delivered, it is gone; failed again, it is back in the store for another redrive.
    assert await backend.outbox.delivered("delivery-a1", leased[0].lease_epoch)
    assert await backend.outbox.fail("delivery-b1", leased[1].lease_epoch, 8, "sqs: again")
    assert await _ids(backend) == ["delivery-a2", "delivery-b2", "delivery-b1"]
    assert await backend.outbox.redrive_failed(FailureFilter(delivery_id="delivery-a1")) == 0
    assert await backend.outbox.redrive_failed(FailureFilter(delivery_id="delivery-b1")) == 1


async def test_redrive_all_leaves_records_kept_without_a_destination(backend: Backend) -> None:
    await _store(backend)
    await _fail(backend, (delivery("kept", target="", kind=ON_FAILURE), "nowhere to go"))

    assert await backend.outbox.redrive_failed(FailureFilter()) == 4

    assert await _ids(backend) == ["delivery-kept"]
    assert await backend.outbox.pending() == 4


async def test_concurrent_redrives_on_several_replicas_move_each_failure_once(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    await _fail(backend, *((delivery(n), f"reason {n}") for n in range(30)))
    replicas = [backend, await open_another(), await open_another()]

    moved = await asyncio.gather(
        *(replica.outbox.redrive_failed(FailureFilter()) for replica in replicas for _ in range(3))
    )

    assert sum(moved) == 30
    assert await _ids(backend) == []
    queued = [row["delivery_id"] for row in await rows(backend, "deliveries")]
    assert sorted(queued) == sorted(f"delivery-{n}" for n in range(30))


async def test_purge_deletes_only_what_the_filter_names(backend: Backend) -> None:
    await _store(backend)

    assert await backend.outbox.purge_failed(FailureFilter(function_arn=f"{ARN}:alpha")) == 2
    assert await backend.outbox.purge_failed(FailureFilter(function_arn=f"{ARN}:alpha")) == 0

    assert await _ids(backend) == ["delivery-b1", "delivery-b2"]
    assert await backend.outbox.pending() == 0
    assert await backend.outbox.purge_failed(FailureFilter()) == 2
    assert await _ids(backend) == []
