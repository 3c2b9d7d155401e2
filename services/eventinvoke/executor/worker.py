"""The asynchronous path: lease events, run them, retry or settle, ack once the Router has the
record."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from eventinvoke.backends.base import (
    ConcurrencySlots,
    EventQueue,
    FunctionStore,
    resolve_qualifier,
)
from eventinvoke.core.errors import RESERVED_CONCURRENCY_EXCEEDED
from eventinvoke.core.leasing import LeaseLoop, Prefetch
from eventinvoke.core.model import (
    EVENT_AGE_EXCEEDED,
    FUNCTION_DELETED,
    LATEST,
    QUALIFIER_NOT_FOUND,
    RECURSIVE_INVOCATION,
    RECURSIVE_LOOP_ALLOW,
    ZERO_RESERVED_CONCURRENCY,
    Attempt,
    Claim,
    EventInvokeConfig,
    ExecutionRecord,
    FunctionConfig,
    LastAttempt,
    QueuedEvent,
    Requeue,
)
from eventinvoke.executor.code import CodeCache
from eventinvoke.executor.handoff import Handoff
from eventinvoke.executor.policy import Retry, RetryPolicy
from eventinvoke.executor.records import (
    answered,
    build_record,
    chain_fields,
    destinations_for,
    error_fields,
)
from eventinvoke.executor.sandbox import Invocation, Sandboxes, Throttled
from eventinvoke.server import tracing

if TYPE_CHECKING:
    from eventinvoke.server.metrics import Metrics

log = structlog.get_logger("eventinvoke.executor")

# AWS: exponential backoff from 1 s, capped at 5 min (docs/aws-behaviour.md §3.3).
SYSTEM_BACKOFF_CAP = 300.0
DEFAULT_TIMEOUT = 3.0  # AWS's default function timeout
ATTEMPT = "eventinvoke.attempt"  # an attempt span's number (1 for the first execution)


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 16
    lease_margin: float = 30.0
    keep_failures_without_destination: bool = False


class AsyncWorker:
    """Runs queued events with at most ``concurrency`` in flight."""

    def __init__(
        self,
        queue: EventQueue,
        store: FunctionStore,
        pool: Sandboxes,
        code: CodeCache,
        handoff: Handoff,
        policy: RetryPolicy,
        settings: WorkerSettings,
        slots: ConcurrencySlots,
        doorbell: asyncio.Event | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.queue = queue
        self.slots = slots
        self.store = store
        self.pool = pool
        self.code = code
        self.handoff = handoff
        self.policy = policy
        self.settings = settings
        self.owner = f"executor-{uuid.uuid4()}"
        self.metrics = metrics
        # Settles that left their slot, by event id. Their events stay leased until the settle
        # commits; one leased again meanwhile (its lease ran out) is not run a second time.
        self._settling: dict[int, asyncio.Task[None]] = {}
        self._settling_events: dict[int, QueuedEvent] = {}
        self.loop: LeaseLoop[QueuedEvent] = LeaseLoop(
            "executor-worker",
            lease=lambda limit: self.queue.lease(self.owner, limit, self._base_lease),
            work=self._process,
            key=lambda event: event.event_id,
            concurrency=settings.concurrency,
            doorbell=doorbell or asyncio.Event(),
            # As many events wait beside the slots as run in them, so a slot that frees starts
            # the next event at once instead of waiting for a lease to commit. One waits at most
            # a third of its lease: started, it has two thirds left, as if leased just then.
            prefetch=Prefetch(
                count=settings.concurrency,
                hold=self._base_lease / 3,
                release=self._release,
            ),
            adopt=adopt_lease,
        )

    def claim(self, count: int) -> Claim | None:
        """A claim on ``count`` events about to be queued (eager dispatch), when this executor
        has room to run them all; once queued, they go to ``offer``."""
        return Claim(self.owner, self._base_lease) if self.loop.room() >= count else None

    async def offer(self, events: list[QueuedEvent]) -> None:
        """Run events queued leased to this executor, as if it had just leased them."""
        await self.loop.offer(events)

    async def _release(self, events: list[QueuedEvent]) -> None:
        # One leased again while its settle commits stays ours: the settle acks it.
        leases = [
            (e.event_id, e.lease_epoch)
            for e in events
            if e.event_id is not None and e.event_id not in self._settling
        ]
        await self.queue.release(leases)

    @property
    def _base_lease(self) -> float:
        """What a lease covers before the event's function is known: the default timeout."""
        return DEFAULT_TIMEOUT + self.settings.lease_margin

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        """Stop leasing and let in-flight events finish and settle (their leases cover a
        crash)."""
        await self.loop.stop()
        while self._settling:
            await asyncio.gather(*self._settling.values(), return_exceptions=True)

    async def _process(self, event: QueuedEvent) -> None:
        settling = self._settling_events.get(event.event_id or 0)
        if settling is not None:  # leased again while its settle commits: the settle decides
            adopt_lease(settling, event)
            return
        structlog.contextvars.bind_contextvars(
            request_id=event.request_id, function=event.function_name
        )
        try:
            await self._attempt(event)
        except Exception as error:
            await self._system_error(event, error)

    async def _system_error(self, event: QueuedEvent, error: Exception) -> None:
        """Not the function's fault: back off without spending a retry attempt."""
        log.error("event_system_error", attempts=event.attempts, exc_info=error)
        # Exponential without a stored counter: waiting as long as the event is old doubles
        # the wait each time, from 1 s up to 5 min (both scaled).
        scale = self.policy.time_scale
        now = self.queue.now()
        delay = min(max(now - event.enqueued_at, scale), SYSTEM_BACKOFF_CAP * scale)
        assert event.event_id is not None
        try:
            await self.queue.retry(
                event.event_id, event.lease_epoch, Requeue(event.attempts, now + delay)
            )
        except Exception:  # the backend is down too: the lease expires, the event runs again
            log.warning("event_retry_failed", exc_info=True)

    async def _attempt(self, event: QueuedEvent) -> None:
        assert event.event_id is not None
        # The event keeps the qualifier it was invoked through: an alias resolves to the version
        # it points at now, at dequeue time (docs/aws-behaviour.md §3.1), while the event invoke
        # config stays the alias's own (§2.2). ``function`` is the resolved version's
        # configuration.
        function = await resolve_qualifier(self.store, event.function_name, event.qualifier)
        if function is None:
            await self._qualifier_gone(event)
            return
        config = await self.store.get_event_invoke_config(event.function_name, event.qualifier)
        if await self._loop_stopped(event):
            # Not run: straight to OnFailure and the DLQ, as AWS does (docs/aws-behaviour.md §7).
            await self._settle(event, function, config, RECURSIVE_INVOCATION, event.attempts, None)
            return
        if self.policy.expired(event.enqueued_at, self.queue.now(), config):
            await self._settle(
                event, function, config, EVENT_AGE_EXCEEDED, event.attempts, event.last_attempt
            )
            return
        reserved = function.reserved_concurrent_executions
        if reserved == 0:
            # Straight to OnFailure and the DLQ, nothing run (docs/aws-behaviour.md §3.5).
            await self._settle(
                event, function, config, ZERO_RESERVED_CONCURRENCY, event.attempts, None
            )
            return
        # Held while the attempt waits for a sandbox, starts one and runs: a lease that expired
        # meanwhile would let the event run a second time although nothing crashed.
        lease = function.timeout + self.settings.lease_margin
        # A reservation is counted across every executor: one slot per execution, leased
        # with the event and renewed with it.
        holder = None
        asked = self.queue.now()
        if reserved is not None:
            holder = f"{self.owner}/{event.event_id}/{event.lease_epoch}"
            if not await self.slots.acquire(function.name, reserved, holder, lease):
                await self._throttled(event, function, config, RESERVED_CONCURRENCY_EXCEEDED)
                return
        first = first_renewal(self._base_lease, lease, event.lease_expires, self.queue.now())
        renewal = _LeaseRenewal(self.queue, event, lease, first, self.slots, holder)
        throttle: Throttled | None = None
        # Each attempt a span of the event's trace, parented by its enqueue (stored with it).
        # Made only with tracing on: off, the hot path pays a flag check (so for every span).
        with (
            tracing.span(
                "attempt",
                event.traceparent,
                "consumer",
                **tracing.invocation(event.request_id, function.name),
                **{ATTEMPT: event.attempts + 1},
            )
            if tracing.ENABLED
            else tracing.OFF
        ) as attempt:
            try:
                code_dir = await self.code.ensure(function)
                if holder is not None and self.queue.now() - asked > lease / 3:
                    # This executor stalled since it asked for the slot (a GC pause, SIGSTOP, a
                    # starved loop): the slot may have lapsed and gone to another executor, and
                    # renewing it would not say. Run only with two thirds of its lease left, as
                    # an event leased ahead starts; else back to the queue, as a throttle.
                    raise Throttled(RESERVED_CONCURRENCY_EXCEEDED)
                invoked_arn = (
                    function.arn
                    if event.qualifier == LATEST
                    else f"{function.arn}:{event.qualifier}"
                )
                started = self.queue.now()
                if self.metrics is not None:
                    self.metrics.dequeued(function.name, started - event.enqueued_at)
                with tracing.span("run") if tracing.ENABLED else tracing.OFF:
                    # The function's _X_AMZN_TRACE_ID names its sandbox run's span.
                    trace_id = tracing.xray_header(tracing.traceparent())
                    outcome = await self.pool.run(
                        function,
                        code_dir,
                        Invocation(event.request_id, event.payload, invoked_arn, trace_id=trace_id),
                    )
                ended = self.queue.now()
            except Throttled as throttled:
                throttle = throttled
                tracing.failed(attempt, throttle.reason)
            finally:
                await renewal.stop()
                if holder is not None:
                    # A slot freed by a run is handed to a throttled event of the function; one
                    # given back because this process had no room is not (it would bounce).
                    await self.slots.release(function.name, holder, wake=throttle is None)
            if throttle is None and outcome.function_error is not None:
                tracing.failed(attempt, outcome.function_error)
        if throttle is not None:
            await self._throttled(event, function, config, throttle.reason)
            return
        attempts = event.attempts + 1
        # Configuration is read at execution time (docs/aws-behaviour.md §3.1).
        config = await self.store.get_event_invoke_config(event.function_name, event.qualifier)
        now = self.queue.now()
        decision = self.policy.after_attempt(
            failed=outcome.function_error is not None,
            attempts=attempts,
            enqueued_at=event.enqueued_at,
            now=now,
            config=config,
        )
        response = answered(outcome, function)
        error = error_fields(response.function_error, response.payload)
        ran = Attempt(started, ended, response.function_error, **error)
        if isinstance(decision, Retry):
            kept = await self.queue.retry(
                event.event_id,
                event.lease_epoch,
                Requeue(
                    attempts, decision.at, last_attempt=response, history=(*event.history, ran)
                ),
            )
            log.info(
                "event_retry_scheduled" if kept else "event_lease_lost",
                attempts=attempts,
                delay_s=round(decision.at - now, 3),
                **error,
            )
            return
        await self._settle(event, function, config, decision.condition, attempts, response, ran)

    async def _loop_stopped(self, event: QueuedEvent) -> bool:
        """Whether the event is one invocation too many in its chain, for a function that
        terminates loops (AWS's default). The setting is read only for such an event."""
        if not event.chain.past_limit:
            return False
        setting = await self.store.get_recursion_config(event.function_name)
        return setting != RECURSIVE_LOOP_ALLOW

    async def _qualifier_gone(self, event: QueuedEvent) -> None:
        """The version or alias the event was invoked through was deleted while it waited:
        a failure record to the function's unqualified OnFailure and its $LATEST dead-letter
        queue. With the function itself gone there is nothing left to route to."""
        latest = await self.store.get_function(event.function_name, LATEST)
        if latest is None:
            await self.handoff.drop(event, FUNCTION_DELETED)
            log.warning("event_dropped", reason="the function was deleted")
            return
        config = await self.store.get_event_invoke_config(event.function_name, LATEST)
        await self._settle(event, latest, config, QUALIFIER_NOT_FOUND, event.attempts, None)

    async def _throttled(
        self,
        event: QueuedEvent,
        function: FunctionConfig,
        config: EventInvokeConfig | None,
        reason: str,
    ) -> None:
        """No concurrency free: back to the queue without spending an attempt, after 1 s,
        2 s, 4 s ... up to 5 min (docs/aws-behaviour.md §3.3), or expire when the next try would
        be too late."""
        assert event.event_id is not None
        if self.metrics is not None:
            self.metrics.throttled(function.name)
        now = self.queue.now()
        decision = self.policy.after_throttle(
            throttles=event.throttles, enqueued_at=event.enqueued_at, now=now, config=config
        )
        if isinstance(decision, Retry):
            await self.queue.retry(
                event.event_id,
                event.lease_epoch,
                Requeue(event.attempts, decision.at, throttles=event.throttles + 1),
            )
            delay = round(decision.at - now, 3)
            log.info("event_throttled", reason=reason, throttles=event.throttles + 1, delay_s=delay)
            return
        # Expired while throttled: the latest execution's response, if there was one (§3.7).
        await self._settle(
            event, function, config, decision.condition, event.attempts, event.last_attempt
        )

    async def _settle(
        self,
        event: QueuedEvent,
        function: FunctionConfig,
        config: EventInvokeConfig | None,
        condition: str,
        attempts: int,
        response: LastAttempt | None,
        ran: Attempt | None = None,
    ) -> None:
        """Hand the record over and ack the event (``ran``: the execution just made, if one
        was). Outside the event's slot: the next event may start while this one's write
        commits, unless as many settles already wait (then the slot waits too, so settles that
        lag hold back leasing)."""
        record = build_record(event, function, condition, attempts, response)
        destinations = destinations_for(
            record, function, config, self.settings.keep_failures_without_destination
        )
        history = event.history if ran is None else (*event.history, ran)
        handover = self._hand_over(event, record, destinations, history)
        if len(self._settling) >= self.settings.concurrency:
            await handover
            return
        event_id = event.event_id
        assert event_id is not None
        self._settling_events[event_id] = event
        task = self._settling[event_id] = asyncio.create_task(handover)
        task.add_done_callback(lambda _: self._settled(event_id))

    def _settled(self, event_id: int) -> None:
        self._settling.pop(event_id, None)
        self._settling_events.pop(event_id, None)

    async def _hand_over(
        self,
        event: QueuedEvent,
        record: ExecutionRecord,
        destinations: list[tuple[str, str]],
        history: tuple[Attempt, ...],
    ) -> None:
        try:
            epoch = event.lease_epoch
            settled = await self.handoff.settle(event, epoch, record, destinations, history)
            while not settled and event.lease_epoch != epoch:
                # This executor leased it again while the settle was on its way: settle under
                # the newer lease, which is its own.
                epoch = event.lease_epoch
                settled = await self.handoff.settle(event, epoch, record, destinations, history)
        except Exception as error:
            await self._system_error(event, error)
            return
        if settled and self.metrics is not None:
            self.metrics.settled(event.function_name, record.condition)
        log.info(
            "event_settled" if settled else "event_lease_lost",
            condition=record.condition,
            attempts=record.approximate_invoke_count,
            destinations=[t for t, _ in destinations],
            **chain_fields(event.lineage),
            **error_fields(record.function_error, record.response_payload),
        )


def adopt_lease(event: QueuedEvent, fresh: QueuedEvent) -> None:
    """``event`` is being worked on here and was leased again by this executor (its lease ran
    out meanwhile): its writes must now carry the newer lease."""
    event.lease_epoch = fresh.lease_epoch
    event.lease_expires = fresh.lease_expires


def first_renewal(taken: float, needed: float, expires: float | None, now: float) -> float:
    """Seconds from ``now`` until an attempt's lease is first renewed to ``needed`` seconds.

    At once when ``needed`` is longer than the lease ``taken`` (which covers the default
    timeout); else when a third of the lease taken has passed, counting the time the event
    waited to start (it ``expires`` then): so it always has two thirds left at that point.
    """
    if needed > taken:
        return 0.0
    left = taken if expires is None else expires - now
    return max(left - taken * 2 / 3, 0.0)


@dataclass
class _LeaseRenewal:
    """Renews an event's lease (and its concurrency slot, if it holds one) to ``lease``
    seconds, ``first`` seconds after the attempt starts and then every third of it, so it has
    two thirds left when the attempt ends: time to settle and hand over the record.

    A timer until the first renewal is due: the many attempts that end sooner start no task.
    """

    queue: EventQueue
    event: QueuedEvent
    lease: float
    first: float
    slots: ConcurrencySlots
    holder: str | None
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.first, self._start)

    def _start(self) -> None:
        self._task = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        event_id = self.event.event_id
        assert event_id is not None
        while True:
            try:
                # The epoch is read each time: this executor may have leased it again meanwhile.
                if not await self.queue.extend(event_id, self.event.lease_epoch, self.lease):
                    # Another executor leased it (this one was paused past its lease): its
                    # outcome will be refused, the newer lease decides.
                    log.warning("event_lease_lost")
                    return
                if self.holder is not None:
                    await self.slots.renew(self.holder, self.lease)
            except Exception:
                log.warning("lease_renewal_failed", exc_info=True)
            await asyncio.sleep(self.lease / 3)

    async def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
