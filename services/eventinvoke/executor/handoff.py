"""Handing a settled event's record to the Router and acking the event, in one transaction.

The executor acks an event only once the Router holds its record (docs/architecture.md §3.2).
Every role of a deployment shares one backend, so the record's deliveries enter the Router's
outbox in the transaction that acks the event, wherever the Router runs: no window in which a
crash could lose the record or deliver it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import ExecutionRecord, QueuedEvent, deliveries_for

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
    function's event in the same transaction, and ``on_enqueued`` wakes the executor.
    """

    backend: Backend
    router_doorbell: asyncio.Event
    direct: DirectRoutes | None = None
    on_enqueued: Callable[[], None] = lambda: None
    metrics: Metrics | None = None

    async def settle(
        self,
        event_id: int,
        epoch: int,
        record: ExecutionRecord,
        destinations: list[tuple[str, str]],
    ) -> bool:
        """Return once the record is with the Router (or queued as the event of a function of
        this suite) and the event is acked; False, with nothing handed over, when the event's
        lease (of ``epoch``) was lost to a newer one."""
        events: list[QueuedEvent] = []
        routed: list[tuple[str, str]] = []
        for target, kind in destinations:
            event = await self.direct.event_for(target, kind, record) if self.direct else None
            if event is None:
                routed.append((target, kind))
            else:
                events.append(event)
        settled = await self.backend.settle(event_id, epoch, deliveries_for(record, routed), events)
        if settled and routed:
            self.router_doorbell.set()
        if settled and events:
            self.on_enqueued()
            if self.metrics is not None:
                for event in events:
                    self.metrics.received(event.function_name)
        return settled
