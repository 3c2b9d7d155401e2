"""GetInvocation: what became of an Event invocation. While it is queued, its event says (its
lease, its next try, the attempts recorded when it was retried); once settled, the invocation
log does, for ``invocation_retention``, and the outbox and the failed-delivery store say where
each delivery stands. Also the sweep that makes the log forget."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog

from eventinvoke.backends.base import EventQueue, InvocationLog
from eventinvoke.core.errors import ResourceNotFoundException
from eventinvoke.core.model import (
    FAILED,
    QUEUED,
    RETRY_SCHEDULED,
    RUNNING,
    SUCCEEDED,
    SUCCESS,
    Attempt,
    DeliveryState,
    QueuedEvent,
)

log = structlog.get_logger("eventinvoke.invoker")


@dataclass(frozen=True)
class InvocationReport:
    """An invocation as GetInvocation shows it. Times are epoch seconds by the backend's clock."""

    request_id: str
    function_name: str
    qualifier: str
    status: str  # QUEUED, RUNNING, RETRY_SCHEDULED, SUCCEEDED or FAILED
    enqueued_at: float
    attempts: tuple[Attempt, ...]
    next_attempt_at: float | None = None  # while RETRY_SCHEDULED
    condition: str | None = None  # once settled
    settled_at: float | None = None
    deliveries: tuple[DeliveryState, ...] = ()


class InvocationHistory:
    def __init__(self, queue: EventQueue, invocations: InvocationLog, retention: float) -> None:
        self.queue = queue
        self.invocations = invocations
        self.retention = retention

    async def get(self, request_id: str) -> InvocationReport:
        # The queue first: an event that settles between the two reads is in the log by the
        # second (the settle removes it and stores its row at once), never in neither.
        event = await self.queue.find(request_id)
        if event is not None:
            return waiting(event, self.queue.now())
        found = await self.invocations.get(request_id)
        if found is None:
            raise ResourceNotFoundException(
                f"Invocation not found: {request_id}. Event invocations are found while queued "
                f"and for {self.retention:g} s after they settle."
            )
        settled, deliveries = found
        return InvocationReport(
            request_id=settled.request_id,
            function_name=settled.function_name,
            qualifier=settled.qualifier,
            status=SUCCEEDED if settled.condition == SUCCESS else FAILED,
            enqueued_at=settled.enqueued_at,
            attempts=settled.attempts,
            condition=settled.condition,
            settled_at=settled.settled_at,
            deliveries=tuple(deliveries),
        )


def waiting(event: QueuedEvent, now: float) -> InvocationReport:
    """A queued event's status: RUNNING while a lease holds it (an executor took it: it is
    starting, running, or about to settle), RETRY_SCHEDULED while it waits for a later try
    (after a failed attempt, a throttle or a system error), else QUEUED."""
    next_attempt_at = None
    if event.lease_expires is not None and event.lease_expires > now:
        status = RUNNING
    elif event.visible_at > now:
        status, next_attempt_at = RETRY_SCHEDULED, event.visible_at
    else:
        status = QUEUED
    return InvocationReport(
        request_id=event.request_id,
        function_name=event.function_name,
        qualifier=event.qualifier,
        status=status,
        enqueued_at=event.enqueued_at,
        attempts=event.history,
        next_attempt_at=next_attempt_at,
    )


# How often the log is swept, at most (a short retention is swept more often), and how many
# rows one write forgets: the writer's other work waits for no long delete.
SWEEP_INTERVAL = 10.0
SWEEP_BATCH = 5000


class HistorySweeper:
    """Makes the invocation log forget what is older than ``retention`` seconds, and all but
    the ``keep`` settled last, every ``SWEEP_INTERVAL`` (a server's worker)."""

    def __init__(self, invocations: InvocationLog, retention: float, keep: int) -> None:
        self.invocations = invocations
        self.retention = retention
        self.keep = keep
        self.interval = min(SWEEP_INTERVAL, retention / 4)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="invocation-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sweep(self) -> int:
        """Forget what is due now, a batch at a time; how many were forgotten."""
        forgotten = 0
        while True:
            count = await self.invocations.sweep(self.retention, self.keep, SWEEP_BATCH)
            forgotten += count
            if count < SWEEP_BATCH:
                return forgotten

    async def _run(self) -> None:
        while True:
            try:
                forgotten = await self.sweep()
                if forgotten:
                    log.debug("invocations_forgotten", count=forgotten)
            except Exception:  # the backend is down: the next sweep catches up
                log.warning("invocation_sweep_failed", exc_info=True)
            await asyncio.sleep(self.interval)
