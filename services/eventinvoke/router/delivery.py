"""Delivering the outbox: lease, hand to the adapter, retry with jittered backoff, or give up
into the failed-delivery store. Nothing is dropped."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import structlog

from eventinvoke.backends.base import Outbox
from eventinvoke.core.model import DEAD_LETTER, Delivery
from eventinvoke.router.plugin import PermanentDeliveryError, RetryableDeliveryError
from eventinvoke.router.registry import Destinations

log = structlog.get_logger("eventinvoke.router")

BATCH = 64
IDLE_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class DeliverySettings:
    max_attempts: int = 8
    backoff_base: float = 1.0  # seconds, before time_scale
    backoff_cap: float = 300.0
    time_scale: float = 1.0
    lease_seconds: float = 60.0
    concurrency: int = 64


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        destinations: Destinations,
        settings: DeliverySettings,
        doorbell: asyncio.Event | None = None,
    ) -> None:
        self.outbox = outbox
        self.destinations = destinations
        self.settings = settings
        self.doorbell = doorbell or asyncio.Event()
        self.owner = f"router-{uuid.uuid4()}"
        # AWS's metric names: record deliveries and dead-letter deliveries that failed for good.
        self.metrics: Counter[str] = Counter()
        self._inflight: set[asyncio.Task[None]] = set()
        # Delivery ids being attempted here. A slow attempt can outlive its lease; leasing the
        # same delivery again must not start a second attempt beside the first.
        self._delivering: set[str] = set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="router-delivery")

    async def stop(self) -> None:
        self._stopping = True
        self.doorbell.set()
        if self._task:
            await self._task
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        await self.destinations.close()

    async def _run(self) -> None:
        while not self._stopping:
            free = min(BATCH, self.settings.concurrency - len(self._inflight))
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            self.doorbell.clear()
            try:
                deliveries = await self.outbox.lease(self.owner, free, self.settings.lease_seconds)
            except Exception:
                log.exception("outbox_lease_failed")
                deliveries = []
            for delivery in deliveries:
                if delivery.delivery_id in self._delivering:
                    continue
                self._delivering.add(delivery.delivery_id)
                task = asyncio.create_task(self._deliver(delivery))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            if not deliveries:
                try:
                    await asyncio.wait_for(self.doorbell.wait(), IDLE_POLL_SECONDS)
                except TimeoutError:
                    pass

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        finally:
            self._delivering.discard(delivery.delivery_id)

    async def _attempt(self, delivery: Delivery) -> None:
        structlog.contextvars.bind_contextvars(
            request_id=delivery.record.request_id, target=delivery.target, kind=delivery.kind
        )
        attempts = delivery.attempts + 1
        adapter = self.destinations.adapter_for(delivery.target, delivery.kind)
        if adapter is None:
            await self._give_up(
                delivery, attempts, f"No destination adapter claims {delivery.target}"
            )
            return
        try:
            await adapter.deliver(delivery)
        except PermanentDeliveryError as error:
            await self._give_up(delivery, attempts, f"{adapter.name}: {error}")
        except Exception as error:
            reason = f"{adapter.name}: {type(error).__name__}: {error}"
            if attempts >= self.settings.max_attempts:
                await self._give_up(delivery, attempts, reason)
                return
            delay = self._backoff(attempts)
            if isinstance(error, RetryableDeliveryError) and error.retry_after is not None:
                delay = max(delay, error.retry_after)  # the target's wish: not time-scaled
            await self.outbox.retry(delivery.delivery_id, attempts, time.time() + delay)
            log.warning(
                "delivery_retry_scheduled",
                attempts=attempts,
                delay_s=round(delay, 3),
                reason=reason,
            )
        else:
            await self.outbox.delivered(delivery.delivery_id)
            log.debug("record_delivered", adapter=adapter.name, attempts=attempts)

    def _backoff(self, attempts: int) -> float:
        """Full jitter, capped (the AWS architecture blog's recommendation)."""
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempts - 1))
        return random.uniform(0, ceiling) * self.settings.time_scale

    async def _give_up(self, delivery: Delivery, attempts: int, reason: str) -> None:
        metric = (
            "DeadLetterErrors" if delivery.kind == DEAD_LETTER else "DestinationDeliveryFailures"
        )
        self.metrics[metric] += 1
        await self.outbox.fail(delivery.delivery_id, attempts, reason)
        log.error("delivery_failed", metric=metric, attempts=attempts, reason=reason)
