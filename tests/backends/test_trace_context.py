"""The trace context stored with events and records (server/tracing.py), on every backend: kept
through enqueue, retry, settle (deliveries and follow-up events), the failed-delivery store, a
redrive and a reopened backend, so a trace crosses the queue, retries and restarts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from backends.helpers import RECORD, delivery, event, id_of

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import EVERY_FAILURE, Requeue, Settlement

ENQUEUED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
RECORDED = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"


async def test_an_events_trace_context_survives_retries_and_a_reopened_backend(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    await backend.queue.enqueue(event(1, traceparent=ENQUEUED), event(2))
    leased = {e.request_id: e for e in await backend.queue.lease("owner", 10, 30)}
    assert leased["request-1"].traceparent == ENQUEUED
    assert leased["request-2"].traceparent == ""  # queued with tracing off
    retried = leased["request-1"]
    assert await backend.queue.retry(id_of(retried), retried.lease_epoch, Requeue(1, 0))

    another = await open_another()
    again = {e.request_id: e for e in await another.queue.lease("other", 10, 30)}

    assert again["request-1"].traceparent == ENQUEUED
    assert again["request-1"].attempts == 1


async def test_settle_keeps_the_records_trace_context_in_deliveries_and_follow_ups(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(event(1, traceparent=ENQUEUED))
    (leased,) = await backend.queue.lease("owner", 1, 30)
    record = replace(RECORD, traceparent=RECORDED)

    assert await backend.settle(
        id_of(leased),
        leased.lease_epoch,
        Settlement(
            [delivery("a", record=record), delivery("b")], [event(10, "next", traceparent=RECORDED)]
        ),
    )

    (follow_up,) = await backend.queue.lease("owner", 10, 30)
    assert follow_up.traceparent == RECORDED  # a function destination continues the trace
    routed = {d.delivery_id: d for d in await backend.outbox.lease("router", 10, 30)}
    assert routed["delivery-a"].record.traceparent == RECORDED
    assert routed["delivery-b"].record.traceparent == ""
    failing = routed["delivery-a"]
    assert await backend.outbox.fail(failing.delivery_id, failing.lease_epoch, 1, "gone")
    (failed,), _ = await backend.outbox.list_failed(None, 10)
    assert failed.delivery.record.traceparent == RECORDED

    assert await backend.outbox.redrive_failed(EVERY_FAILURE) == 1
    (redriven,) = await backend.outbox.lease("router", 10, 30)
    assert redriven.record.traceparent == RECORDED
