"""AWS's retry and event-age policy for asynchronous invocations (docs/aws-behaviour.md §3).

All durations are AWS's, multiplied by ``time_scale`` (EVENTINVOKE_TIME_SCALE) so that tests and
demos run the real policy in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from eventinvoke.core.model import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    EventInvokeConfig,
)

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE = 21600.0  # seconds, 6 h
RETRY_DELAYS = (60.0, 120.0)  # before attempt 2, before attempt 3
THROTTLE_BACKOFF = (1.0, 300.0)  # first delay after a throttle, cap (doubling in between)


@dataclass(frozen=True)
class Settle:
    """The event is done: route a record with this condition."""

    condition: str


@dataclass(frozen=True)
class Retry:
    """Run the event again at ``at`` (epoch seconds)."""

    at: float


Decision = Settle | Retry


@dataclass(frozen=True)
class RetryPolicy:
    time_scale: float = 1.0
    # Spreads throttled retries: events held back together must not come back together.
    random: Random = field(default_factory=Random, compare=False, repr=False)

    def max_age(self, config: EventInvokeConfig | None) -> float:
        age = config.maximum_event_age_in_seconds if config else None
        return (DEFAULT_MAXIMUM_EVENT_AGE if age is None else age) * self.time_scale

    def expired(self, enqueued_at: float, now: float, config: EventInvokeConfig | None) -> bool:
        """Too old to run at all (it waited past its age, e.g. after a crash)."""
        return now - enqueued_at >= self.max_age(config)

    def after_attempt(
        self,
        *,
        failed: bool,
        attempts: int,
        enqueued_at: float,
        now: float,
        config: EventInvokeConfig | None,
    ) -> Decision:
        """What follows attempt number ``attempts`` (1-based), read with the config of now."""
        if not failed:
            return Settle(SUCCESS)
        retries = config.maximum_retry_attempts if config else None
        retries = DEFAULT_MAXIMUM_RETRY_ATTEMPTS if retries is None else retries
        if attempts > retries:
            return Settle(RETRIES_EXHAUSTED)
        delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1] * self.time_scale
        # AWS's look-ahead: give up now when the next retry would start past the event's age.
        if now + delay - enqueued_at >= self.max_age(config):
            return Settle(EVENT_AGE_EXCEEDED)
        return Retry(now + delay)

    def after_throttle(
        self,
        *,
        throttles: int,
        enqueued_at: float,
        now: float,
        config: EventInvokeConfig | None,
    ) -> Decision:
        """What follows a throttled try when ``throttles`` tries were throttled before it.

        No attempt is spent (docs/aws-behaviour.md §3.3): the event waits up to 1 s, 2 s, 4 s
        ... capped at 5 min, each wait between half its ceiling and all of it (jitter, so that
        events throttled together do not all come back together; a slot that frees wakes one
        of them at once anyway), and expires with EventAgeExceeded once the next try would fall
        past its maximum age.
        """
        first, cap = THROTTLE_BACKOFF
        ceiling = min(first * 2 ** min(throttles, 16), cap) * self.time_scale
        delay = self.random.uniform(ceiling / 2, ceiling)
        if now + delay - enqueued_at >= self.max_age(config):
            return Settle(EVENT_AGE_EXCEEDED)
        return Retry(now + delay)
