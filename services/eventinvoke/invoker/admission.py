"""Admission control, opt-in: a bound on the events queued per function and in all.

Over a bound, an Event invoke gets 429 ``TooManyRequestsException`` with a ``Retry-After``
(gRPC RESOURCE_EXHAUSTED), never a 202 for an event that is then dropped.

Counting stays off the database's hot path: the queue's depth per function is read from the
backend at most every ``REFRESH_SECONDS`` (one index scan), and the events this Invoker admits
in between are added to it. The bound is exact for one Invoker and approximate for several
sharing a backend: each may admit up to what the others accepted since its last reading.
"""

from __future__ import annotations

import asyncio
import time

from eventinvoke.backends.base import EventQueue
from eventinvoke.core.errors import TooManyRequestsException, rate_exceeded

# TooManyRequestsException's Reason for each bound: eventinvoke's own values, since AWS's
# asynchronous queue has no bound to report (docs/aws-behaviour.md §8.3).
FUNCTION_QUEUE_FULL = "FunctionQueuedEventLimitExceeded"
QUEUE_FULL = "QueuedEventLimitExceeded"
RETRY_AFTER_SECONDS = 1
REFRESH_SECONDS = 0.1


class Admission:
    """Admits Event invocations while the queue is under its bounds (0: no bound)."""

    def __init__(self, queue: EventQueue, per_function: int = 0, total: int = 0) -> None:
        self.queue = queue
        self.per_function = per_function
        self.total = total
        self._depths: dict[str, int] = {}
        self._queued = 0
        self._read_at: float | None = None
        self._reading: asyncio.Future[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.per_function or self.total)

    async def admit(self, function_name: str) -> None:
        """Count one more event of ``function_name``, or raise the 429 when a bound is
        reached. An admitted event that then fails to be queued stays counted until the next
        reading, a tenth of a second at most."""
        if not self.enabled:
            return
        await self._fresh()
        depth = self._depths.get(function_name, 0)
        if self.per_function and depth >= self.per_function:
            raise _full(FUNCTION_QUEUE_FULL)
        if self.total and self._queued >= self.total:
            raise _full(QUEUE_FULL)
        self._depths[function_name] = depth + 1
        self._queued += 1

    async def _fresh(self) -> None:
        """The backend's depths, read again when the last reading is older than
        ``REFRESH_SECONDS``; callers that come meanwhile share one reading."""
        if self._read_at is not None and time.monotonic() - self._read_at < REFRESH_SECONDS:
            return
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
        reading = self._reading
        await asyncio.shield(reading)

    async def _read(self) -> None:
        try:
            depths = await self.queue.depth_by_function()
            self._depths = depths
            self._queued = sum(depths.values())
            self._read_at = time.monotonic()
        finally:
            self._reading = None


def _full(reason: str) -> TooManyRequestsException:
    return rate_exceeded(reason, retry_after=RETRY_AFTER_SECONDS)
