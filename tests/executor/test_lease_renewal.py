"""When an attempt first renews its event's lease: the lease taken covers the default timeout
(33 s with the default margin), and an event may have waited, leased, before it started."""

from __future__ import annotations

import pytest

from eventinvoke.executor.worker import first_renewal

TAKEN = 33.0
NOW = 1_000.0


@pytest.mark.parametrize(
    ("waited", "first"),
    [
        (0.0, 11.0),  # started as leased: renewed a third of the way in
        (5.0, 6.0),  # waited 5 s: renewed 5 s sooner
        (11.0, 0.0),  # waited a third of the lease: renewed at once
        (20.0, 0.0),  # never later than at once
    ],
)
def test_the_time_an_event_waited_counts(waited: float, first: float) -> None:
    expires = NOW - waited + TAKEN
    assert first_renewal(TAKEN, TAKEN, expires, NOW) == pytest.approx(first)


def test_a_function_needing_a_longer_lease_renews_at_once() -> None:
    assert first_renewal(TAKEN, 60.0 + 30.0, NOW + TAKEN, NOW) == 0.0


def test_a_queue_that_does_not_say_when_the_lease_ends_counts_no_wait() -> None:
    assert first_renewal(TAKEN, TAKEN, None, NOW) == pytest.approx(11.0)
