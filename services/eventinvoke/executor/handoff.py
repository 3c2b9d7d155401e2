"""Handing a settled event's record to the Router, then acking the event.

The executor acks an event only once the Router holds its record (docs/architecture.md §3.2).
When the Router shares this process and backend, both happen in one transaction; otherwise the
record goes over gRPC first and the ack follows.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from eventinvoke.backends.base import Backend, EventQueue
from eventinvoke.core.model import ExecutionRecord, QueuedEvent, deliveries_for
from eventinvoke.router.client import RouterClient

log = structlog.get_logger("eventinvoke.executor")


class Handoff(Protocol):
    async def settle(
        self, event_id: int, record: ExecutionRecord, destinations: list[tuple[str, str]]
    ) -> None:
        """Return once the record is with the Router (or queued as the event of a function of
        this suite) and the event is acked."""


class DirectRoutes(Protocol):
    async def event_for(
        self, target: str, kind: str, record: ExecutionRecord
    ) -> QueuedEvent | None:
        """The event that delivers ``record`` to ``target`` when queued, or None."""


class LocalHandoff:
    """The Router is in this process: outbox insert and ack are one transaction.

    With ``direct`` routes, a record bound for a function of this suite is queued as that
    function's event in the same transaction, and ``on_enqueued`` wakes the executor.
    """

    def __init__(
        self,
        backend: Backend,
        router_doorbell: asyncio.Event,
        direct: DirectRoutes | None = None,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self.backend = backend
        self.router_doorbell = router_doorbell
        self.direct = direct
        self.on_enqueued = on_enqueued

    async def settle(
        self, event_id: int, record: ExecutionRecord, destinations: list[tuple[str, str]]
    ) -> None:
        events: list[QueuedEvent] = []
        routed: list[tuple[str, str]] = []
        for target, kind in destinations:
            event = await self.direct.event_for(target, kind, record) if self.direct else None
            if event is None:
                routed.append((target, kind))
            else:
                events.append(event)
        await self.backend.settle(event_id, deliveries_for(record, routed), events)
        if routed:
            self.router_doorbell.set()
        if events:
            self.on_enqueued()


class RemoteHandoff:
    """The Router is elsewhere: Route over gRPC (retried briefly), then ack.

    If the Router stays down, the lease expires and the event runs again later: at least once,
    nothing lost. A crash between Route and ack may deliver a record twice.
    """

    def __init__(self, router: RouterClient, queue: EventQueue, patience: float) -> None:
        self.router = router
        self.queue = queue
        self.patience = patience  # seconds to keep retrying Route, well within the lease

    async def settle(
        self, event_id: int, record: ExecutionRecord, destinations: list[tuple[str, str]]
    ) -> None:
        if destinations:
            await self._route(record, destinations)
        await self.queue.ack(event_id)

    async def _route(self, record: ExecutionRecord, destinations: list[tuple[str, str]]) -> None:
        delay = 0.05
        deadline = time.monotonic() + self.patience
        while True:
            try:
                await self.router.route(record, destinations)
                return
            except Exception:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("route_retry", delay_s=delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)
