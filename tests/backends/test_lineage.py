"""An event's lineage (its place in a chain of invocations, for recursive loop detection) and a
function's RecursiveLoop setting, on every backend: kept through enqueue, retry, settle, the
outbox, the failed-delivery store and a reopened backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from backends.helpers import RECORD, delivery, event, function, id_of

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import Lineage, Requeue, Settlement

CHAIN = Lineage("request-0", 5)


async def test_an_events_lineage_survives_retries_and_a_reopened_backend(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    await backend.queue.enqueue(event(1, lineage=CHAIN), event(2))
    leased = {e.request_id: e for e in await backend.queue.lease("owner", 10, 30)}
    assert leased["request-1"].lineage == CHAIN
    assert leased["request-2"].lineage is None  # a chain's first: its own
    assert leased["request-2"].chain == Lineage("request-2", 1)
    retried = leased["request-1"]
    assert await backend.queue.retry(id_of(retried), retried.lease_epoch, Requeue(1, 0))

    another = await open_another()
    again = {e.request_id: e for e in await another.queue.lease("other", 10, 30)}

    assert again["request-1"].lineage == CHAIN
    assert again["request-1"].attempts == 1


async def test_settle_queues_follow_ups_and_deliveries_with_their_lineage(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(event(1, lineage=CHAIN))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    record = replace(RECORD, lineage=CHAIN)

    assert await backend.settle(
        id_of(leased),
        leased.lease_epoch,
        Settlement([delivery("a", record=record)], [event(10, "next", lineage=CHAIN.next())]),
    )

    (follow_up,) = await backend.queue.lease("owner", 10, 30)
    assert follow_up.lineage == Lineage("request-0", 6)
    (routed,) = await backend.outbox.lease("router", 10, 30)
    assert routed.record.lineage == CHAIN
    assert await backend.outbox.fail(routed.delivery_id, routed.lease_epoch, 1, "gone")
    (failed,), _ = await backend.outbox.list_failed(None, 10)
    assert failed.delivery.record.lineage == CHAIN


async def test_the_recursion_setting_is_kept_per_function_and_goes_with_it(
    backend: Backend,
) -> None:
    assert not await backend.store.put_recursion_config("fn", "Allow")  # no such function
    await backend.store.create_function(function("fn"))
    assert await backend.store.get_recursion_config("fn") is None  # never set

    assert await backend.store.put_recursion_config("fn", "Allow")
    assert await backend.store.get_recursion_config("fn") == "Allow"
    assert await backend.store.put_recursion_config("fn", "Terminate")
    assert await backend.store.get_recursion_config("fn") == "Terminate"

    await backend.store.delete_function("fn")
    assert await backend.store.get_recursion_config("fn") is None
