"""Delivering the outbox: lease, hand to the adapter, retry with jittered backoff, or give up
into the failed-delivery store. Nothing is dropped."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from eventinvoke.backends.base import Outbox
from eventinvoke.core.leasing import LeaseLoop
from eventinvoke.core.model import DEAD_LETTER, NO_DESTINATION, Delivery
from eventinvoke.router.plugin import PermanentDeliveryError, RetryableDeliveryError
from eventinvoke.router.registry import Destinations
from eventinvoke.server import tracing

if TYPE_CHECKING:
    from eventinvoke.server.metrics import Metrics

log = structlog.get_logger("eventinvoke.router")

BATCH = 64


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
        metrics: Metrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.destinations = destinations
        self.settings = settings
        self.owner = f"router-{uuid.uuid4()}"
        self.metrics = metrics
        self.loop: LeaseLoop[Delivery] = LeaseLoop(
            "router-delivery",
            lease=lambda limit: self.outbox.lease(self.owner, limit, settings.lease_seconds),
            work=self._attempt,
            key=lambda delivery: delivery.delivery_id,
            concurrency=settings.concurrency,
            doorbell=doorbell or asyncio.Event(),
            batch=BATCH,
            adopt=_adopt_lease,
        )

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        await self.destinations.close()

    async def _attempt(self, delivery: Delivery) -> None:
        structlog.contextvars.bind_contextvars(
            request_id=delivery.record.request_id, target=delivery.target, kind=delivery.kind
        )
        if not delivery.target:
            # A failed event's record kept with nowhere to go: straight to the store, as no
            # delivery failed (nothing for the metrics).
            kept = await self.outbox.fail(
                delivery.delivery_id, delivery.lease_epoch, delivery.attempts, NO_DESTINATION
            )
            log.info("record_kept" if kept else "delivery_lease_lost", reason=NO_DESTINATION)
            return
        attempts = delivery.attempts + 1
        adapter = self.destinations.adapter_for(delivery.target, delivery.kind)
        if adapter is None:
            await self._give_up(
                delivery, attempts, f"No destination adapter claims {delivery.target}"
            )
            return
        # Each try a span of the record's trace, current while the adapter delivers: adapters
        # send it on where the target's protocol has a place for it (router/plugin.py).
        with (
            tracing.span(
                "deliver",
                delivery.record.traceparent,
                "producer",
                **{
                    "faas.invocation_id": delivery.record.request_id,
                    "eventinvoke.destination": delivery.target,
                    "eventinvoke.destination_kind": delivery.kind,
                    "eventinvoke.adapter": adapter.name,
                    "eventinvoke.attempt": attempts,
                },
            )
            if tracing.ENABLED
            else tracing.OFF
        ) as span:
            try:
                await adapter.deliver(delivery)
            except PermanentDeliveryError as error:
                tracing.failed(span, str(error))
                await self._give_up(delivery, attempts, f"{adapter.name}: {error}")
            except Exception as error:
                reason = f"{adapter.name}: {type(error).__name__}: {error}"
                tracing.failed(span, reason)
                wish = (
                    error if isinstance(error, RetryableDeliveryError) else RetryableDeliveryError()
                )
                # An adapter may ask to keep trying past the attempts (an internal target that is
                # briefly away), until a moment it names.
                until = wish.until
                if attempts >= self.settings.max_attempts and (
                    until is None or until < time.time()
                ):
                    await self._give_up(delivery, attempts, reason)
                    return
                delay = self._backoff(attempts)
                if wish.retry_after is not None:
                    delay = max(delay, wish.retry_after)  # the target's wish: not time-scaled
                kept = await self.outbox.retry(
                    delivery.delivery_id, delivery.lease_epoch, attempts, delay
                )
                log.warning(
                    "delivery_retry_scheduled" if kept else "delivery_lease_lost",
                    attempts=attempts,
                    delay_s=round(delay, 3),
                    reason=reason,
                )
            else:
                if await self.outbox.delivered(delivery.delivery_id, delivery.lease_epoch):
                    log.debug("record_delivered", adapter=adapter.name, attempts=attempts)
                else:  # another Router took it over meanwhile, and delivers it too
                    log.warning("delivery_lease_lost", adapter=adapter.name, attempts=attempts)

    def _backoff(self, attempts: int) -> float:
        """Full jitter, capped (the AWS architecture blog's recommendation)."""
        exponent = min(attempts - 1, 32)  # attempts past max_attempts (``until``) keep the cap
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2**exponent)
        return random.uniform(0, ceiling) * self.settings.time_scale

    async def _give_up(self, delivery: Delivery, attempts: int, reason: str) -> None:
        if await self.outbox.fail(delivery.delivery_id, delivery.lease_epoch, attempts, reason):
            if self.metrics is not None:
                self.metrics.delivery_failed(delivery.record.function_arn, delivery.kind)
            # AWS's name for what failed: a record's delivery, or a dead letter.
            metric = (
                "DeadLetterErrors"
                if delivery.kind == DEAD_LETTER
                else "DestinationDeliveryFailures"
            )
            log.error("delivery_failed", metric=metric, attempts=attempts, reason=reason)
        else:
            log.warning("delivery_lease_lost", attempts=attempts, reason=reason)


def _adopt_lease(delivery: Delivery, fresh: Delivery) -> None:
    """A delivery under way here was leased again by this Router (it outlasted its lease):
    its outcome is written under the newer lease."""
    delivery.lease_epoch = fresh.lease_epoch
