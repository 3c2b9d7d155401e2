"""The pure retry / event-age policy (docs/aws-behaviour.md §3.2, §3.4; checks 29–33).

Ages and delays are AWS's seconds with ``time_scale=1``; one test checks the scaling.
"""

from __future__ import annotations

import pytest

from eventinvoke.core.model import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, SUCCESS, EventInvokeConfig
from eventinvoke.executor.policy import Retry, RetryPolicy, Settle

T0 = 1_700_000_000.0  # enqueue time
RUN = 1.0  # seconds an attempt takes in these scenarios


def config(retries: int | None = None, age: int | None = None) -> EventInvokeConfig:
    return EventInvokeConfig(
        function_name="f",
        qualifier="$LATEST",
        last_modified=T0,
        maximum_retry_attempts=retries,
        maximum_event_age_in_seconds=age,
    )


def after(
    attempts: int,
    now: float,
    cfg: EventInvokeConfig | None,
    *,
    failed: bool = True,
    scale: float = 1.0,
) -> Settle | Retry:
    return RetryPolicy(scale).after_attempt(
        failed=failed, attempts=attempts, enqueued_at=T0, now=now, config=cfg
    )


@pytest.mark.parametrize("cfg", [None, config(0), config(2, 60)])
@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_success_settles_as_success_on_any_attempt(
    cfg: EventInvokeConfig | None, attempts: int
) -> None:
    """Check 34/35: a success ends the event, whatever the attempt and config."""
    assert after(attempts, T0 + RUN, cfg, failed=False) == Settle(SUCCESS)


@pytest.mark.parametrize("cfg", [None, config(), config(age=21600), config(retries=2)])
def test_defaults_give_three_attempts_one_then_two_minutes_apart(
    cfg: EventInvokeConfig | None,
) -> None:
    """Checks 29/31: no config (or unset fields) means 2 retries, after 60 s and then 120 s."""
    first = T0 + RUN
    assert after(1, first, cfg) == Retry(first + 60)
    second = first + 60 + RUN
    assert after(2, second, cfg) == Retry(second + 120)
    third = second + 120 + RUN
    assert after(3, third, cfg) == Settle(RETRIES_EXHAUSTED)


def test_zero_retries_exhausts_after_the_first_attempt() -> None:
    """Check 30."""
    assert after(1, T0 + RUN, config(0)) == Settle(RETRIES_EXHAUSTED)


def test_one_retry() -> None:
    assert after(1, T0 + RUN, config(1)) == Retry(T0 + RUN + 60)
    assert after(2, T0 + RUN + 60 + RUN, config(1)) == Settle(RETRIES_EXHAUSTED)


def test_zero_retries_is_retries_exhausted_even_with_a_short_age() -> None:
    """No retry is left, so the look-ahead does not apply: RetriesExhausted (docs/aws-behaviour.md
    §3.2)."""
    assert after(1, T0 + RUN, config(0, 60)) == Settle(RETRIES_EXHAUSTED)


def test_age_60_gives_up_after_the_first_attempt() -> None:
    """Check 32: the retry at +60 s would fall past the age, so EventAgeExceeded now."""
    assert after(1, T0 + RUN, config(2, 60)) == Settle(EVENT_AGE_EXCEEDED)
    # Even an instant first attempt: the retry would start exactly at the expiry.
    assert after(1, T0, config(2, 60)) == Settle(EVENT_AGE_EXCEEDED)


def test_age_90_allows_one_retry_then_gives_up() -> None:
    """Check 33: attempt 2 at about 60 s, then its retry (+120 s) is past 90 s."""
    assert after(1, T0 + RUN, config(2, 90)) == Retry(T0 + RUN + 60)
    assert after(2, T0 + 2 * RUN + 60, config(2, 90)) == Settle(EVENT_AGE_EXCEEDED)


def test_age_120_allows_one_retry() -> None:
    assert after(1, T0 + RUN, config(2, 120)) == Retry(T0 + RUN + 60)
    assert after(2, T0 + 2 * RUN + 60, config(2, 120)) == Settle(EVENT_AGE_EXCEEDED)


def test_age_with_no_retry_configured_uses_default_retries() -> None:
    """Only the age set: retries default to 2, and the age decides."""
    assert after(1, T0 + RUN, config(age=90)) == Retry(T0 + RUN + 60)
    assert after(2, T0 + 2 * RUN + 60, config(age=90)) == Settle(EVENT_AGE_EXCEEDED)


def test_age_21600_never_cuts_the_retries_short() -> None:
    cfg = config(2, 21600)
    assert after(1, T0 + RUN, cfg) == Retry(T0 + RUN + 60)
    assert after(2, T0 + 2 * RUN + 60, cfg) == Retry(T0 + 2 * RUN + 180)
    assert after(3, T0 + 3 * RUN + 180, cfg) == Settle(RETRIES_EXHAUSTED)


def test_late_failure_near_the_maximum_age_is_event_age_exceeded() -> None:
    """A long throttled wait: the first attempt ran at 6 h minus 30 s, no room for a retry."""
    assert after(1, T0 + 21600 - 30, None) == Settle(EVENT_AGE_EXCEEDED)


def test_time_scale_scales_delays_and_ages() -> None:
    """The test suite's clock: delays 0.6 s and 1.2 s, ages / 100."""
    scale = 0.01
    assert after(1, T0 + 0.1, None, scale=scale) == Retry(pytest.approx(T0 + 0.1 + 0.6))
    assert after(2, T0 + 0.8, None, scale=scale) == Retry(pytest.approx(T0 + 0.8 + 1.2))
    assert after(1, T0 + 0.01, config(2, 60), scale=scale) == Settle(EVENT_AGE_EXCEEDED)
    assert after(1, T0 + 0.01, config(2, 90), scale=scale) == Retry(pytest.approx(T0 + 0.61))
    assert RetryPolicy(scale).max_age(None) == pytest.approx(216.0)
    assert RetryPolicy(scale).max_age(config(age=60)) == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("cfg", "age", "expected"),
    [
        (None, 21600 - 0.001, False),
        (None, 21600, True),
        (config(2), 21599, False),  # an age never set is the default 6 h
        (config(age=60), 59.999, False),
        (config(age=60), 60, True),
        (config(age=90), 90.5, True),
        (config(age=120), 119, False),
        (config(age=21600), 21600, True),
    ],
)
def test_expired_at_the_configured_age(
    cfg: EventInvokeConfig | None, age: float, expected: bool
) -> None:
    """docs/aws-behaviour.md §3.4: age is measured from enqueue; at the maximum age it is
    expired."""
    assert RetryPolicy().expired(T0, T0 + age, cfg) is expected


def test_max_age_defaults() -> None:
    assert RetryPolicy().max_age(None) == 21600
    assert RetryPolicy().max_age(config(retries=0)) == 21600
    assert RetryPolicy().max_age(config(age=60)) == 60
