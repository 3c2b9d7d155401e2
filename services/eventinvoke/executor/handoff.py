"""Handing a settled event's record to the Router and acking the event, in one transaction.

The executor acks an event only once the Router holds its record (docs/architecture.md §3.2).
Every role of a deployment shares one backend, so the record's deliveries enter the Router's
outbox in the transaction that acks the event, wherever the Router runs: no window in which a
crash could lose the record or deliver it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from eventinvoke.backends.base import Backend
from eventinvoke.core.leasing import LocalExecutor, dispatch
from eventinvoke.core.model import (
    Attempt,
    Delivery,
    ExecutionRecord,
    Handover,
    QueuedEvent,
    SettledInvocation,
    Settlement,
    deliveries_for,
)
from eventinvoke.server import tracing

if TYPE_CHECKING:
    from eventinvoke.server.metrics import Metrics


class DirectRoutes(Protocol):
    async def event_for(
        self, target: str, kind: str, record: ExecutionRecord
    ) -> QueuedEvent | None:
        """The event that delivers ``record`` to ``target`` when queued, or None."""


@dataclass
class Handoff:
    """Outbox insert and ack in one transaction of the shared backend.

    With ``direct`` routes, a record bound for a function of this suite is queued as that
    function's event in the same transaction: leased to ``local_executor`` (the settling one)
    while it has room, else for any executor, which ``on_enqueued`` wakes.
    """

    backend: Backend
    router_doorbell: asyncio.Event
    direct: DirectRoutes | None = None
    on_enqueued: Callable[[], None] = lambda: None
    metrics: Metrics | None = None
    local_executor: LocalExecutor | None = None

    async def settle(
        self,
        event: QueuedEvent,
        epoch: int,
        record: ExecutionRecord,
        destinations: list[tuple[str, str]],
        attempts: tuple[Attempt, ...],
    ) -> bool:
        """Return once the record is with the Router (or queued as the event of a function of
        this suite), the invocation is remembered for GetInvocation with its ``attempts``, and
        the event is acked; False, with nothing handed over, when the event's lease (of
        ``epoch``) was lost to a newer one."""
        # The record's span, in the event's trace: its deliveries, and a function destination's
        # event, continue from it (the record carries it).
        with (
            tracing.span(
                "record",
                event.traceparent,
                **tracing.invocation(event.request_id, event.function_name),
                **{"eventinvoke.condition": record.condition},
            )
            if tracing.ENABLED
            else tracing.OFF
        ) as span:
            if span is not None:
                record = replace(record, traceparent=tracing.traceparent())
                if record.failed:
                    tracing.failed(span, record.condition)
            assert event.event_id is not None
            deliveries, queued, handovers = await self._route(record, destinations)
            invocation = remembered(event, record.condition, attempts, handovers)
            executor = self.local_executor
            claim = executor.claim(len(queued)) if queued and executor is not None else None
            settlement = Settlement(deliveries, queued, invocation, claim)
            if not await self.backend.settle(event.event_id, epoch, settlement):
                return False
        if deliveries:
            self.router_doorbell.set()
        await dispatch(queued, self.local_executor, self.on_enqueued)
        if self.metrics is not None:
            for follow_up in queued:
                self.metrics.received(follow_up.function_name)
        return True

    async def _route(
        self, record: ExecutionRecord, destinations: list[tuple[str, str]]
    ) -> tuple[list[Delivery], list[QueuedEvent], tuple[Handover, ...]]:
        """Where the record goes: the Router's deliveries, the events queued at once for
        functions of this suite, and the handovers GetInvocation shows, in ``destinations``'
        order."""
        queued: dict[tuple[str, str], QueuedEvent] = {}
        routed: list[tuple[str, str]] = []
        for target, kind in destinations:
            follow_up = await self.direct.event_for(target, kind, record) if self.direct else None
            if follow_up is None:
                routed.append((target, kind))
            else:
                queued[(target, kind)] = follow_up
        deliveries = deliveries_for(record, routed)
        ids = {(d.target, d.kind): d.delivery_id for d in deliveries}
        handovers = tuple(
            Handover(target, kind, request_id=queued[(target, kind)].request_id)
            if (target, kind) in queued
            else Handover(target, kind, delivery_id=ids[(target, kind)])
            for target, kind in destinations
        )
        return deliveries, list(queued.values()), handovers

    async def drop(self, event: QueuedEvent, condition: str) -> bool:
        """Ack an event that leaves no record, remembering why (``condition``)."""
        assert event.event_id is not None
        invocation = remembered(event, condition, event.history, ())
        settlement = Settlement(invocation=invocation)
        return await self.backend.settle(event.event_id, event.lease_epoch, settlement)


def remembered(
    event: QueuedEvent,
    condition: str,
    attempts: tuple[Attempt, ...],
    handovers: tuple[Handover, ...],
) -> SettledInvocation:
    """What GetInvocation remembers of a settled event."""
    return SettledInvocation(
        request_id=event.request_id,
        function_name=event.function_name,
        qualifier=event.qualifier,
        condition=condition,
        enqueued_at=event.enqueued_at,
        attempts=attempts,
        handovers=handovers,
    )
