"""Reserved concurrency and throttling against the real suite (docs/aws-behaviour.md §1.4,
§3.3–§3.5, §3.7; checks 11, 12, 36, 37). ``TIME_SCALE = 0.01``: the throttle backoff is 10 ms,
20 ms, 40 ms ... capped at 3 s, and a maximum event age of 60 s is 0.6 s."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FUNCTIONS,
    TIME_SCALE,
    Running,
    read_lines,
    records_in,
    test_settings,
    wait_for,
    zip_dir,
)

from eventinvoke.app import Suite
from eventinvoke.backends.sqlite import DATABASE_FILE
from eventinvoke.client import (
    AsyncClient,
    InvalidParameterValueException,
    ResourceNotFoundException,
    TooManyRequestsException,
    ValidationException,
)
from eventinvoke.core.model import EventInvokeConfig
from eventinvoke.executor.policy import Retry, RetryPolicy, Settle
from eventinvoke.testing import running_suite

RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"


async def _sleeper(suite: Running, name: str, seconds: float, timeout: int = 5) -> Path:
    """Deploys the sleeper; its runs go to the returned file, the runs it began to
    ``<file>.started``."""
    runs = suite.tmp_path / f"{name}-runs.jsonl"
    runs.touch()
    _started(runs).touch()
    await suite.deploy(
        name,
        "sleeper",
        timeout=timeout,
        RUNS_FILE=str(runs),
        STARTS_FILE=str(_started(runs)),
        SLEEP_SECONDS=str(seconds),
    )
    return runs


def _started(runs: Path) -> Path:
    return runs.with_suffix(".started")


async def _destinations(suite: Running, name: str, **config: Any) -> tuple[Path, Path]:
    successes = await suite.collector(f"{name}-ok")
    failures = await suite.collector(f"{name}-failed")
    await suite.client.put_function_event_invoke_config(
        function_name=name,
        destination_config={
            "OnSuccess": {"Destination": suite.arn(f"{name}-ok")},
            "OnFailure": {"Destination": suite.arn(f"{name}-failed")},
        },
        **config,
    )
    return successes, failures


async def _event(suite: Running, name: str, event: dict[str, Any]) -> str:
    response = await suite.client.invoke(
        function_name=name, invocation_type="Event", payload=json.dumps(event).encode()
    )
    assert response["StatusCode"] == 202
    assert "Payload" not in response
    return str(response["ResponseMetadata"]["RequestId"])


# --- the API ----------------------------------------------------------------------------


async def test_put_get_delete_function_concurrency(suite: Running) -> None:
    await suite.deploy("fn", "echo")
    client = suite.client
    assert await client.get_function_concurrency("fn") == {}
    assert "Concurrency" not in await client.get_function("fn")

    assert await client.put_function_concurrency("fn", 3) == {"ReservedConcurrentExecutions": 3}
    assert await client.get_function_concurrency("fn") == {"ReservedConcurrentExecutions": 3}
    got = await client.get_function("fn")
    assert got["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    assert got["Configuration"]["FunctionName"] == "fn"
    # By ARN too, and a configuration update keeps it.
    assert await client.put_function_concurrency(suite.arn("fn"), 0) == {
        "ReservedConcurrentExecutions": 0
    }
    await client.update_function_configuration("fn", timeout=4)
    assert await client.get_function_concurrency("fn") == {"ReservedConcurrentExecutions": 0}

    assert await client.delete_function_concurrency("fn") is None
    assert await client.get_function_concurrency("fn") == {}
    assert "Concurrency" not in await client.get_function("fn")
    # Deleting twice is fine, as on AWS.
    await client.delete_function_concurrency("fn")


async def test_concurrency_validation(suite: Running) -> None:
    await suite.deploy("fn", "echo")
    await suite.deploy("other", "echo")
    client = suite.client
    with pytest.raises(ValidationException) as negative:
        await client.put_function_concurrency("fn", -1)
    assert negative.value.message == (
        "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value greater than or equal to 0"
    )
    assert negative.value.http_status == 400
    # The account limit is max_sandboxes (32 by default): all of it may be reserved, no more.
    limit = suite.suite.settings.max_sandboxes
    too_many = (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [0]."
    )
    with pytest.raises(InvalidParameterValueException) as above:
        await client.put_function_concurrency("fn", limit + 1)
    assert above.value.message == too_many
    await client.put_function_concurrency("other", 10)
    with pytest.raises(InvalidParameterValueException):
        await client.put_function_concurrency("fn", limit - 9)
    assert await client.put_function_concurrency("fn", limit - 10) == {
        "ReservedConcurrentExecutions": limit - 10
    }
    # Replacing a function's own reservation does not count it twice.
    await client.put_function_concurrency("fn", limit - 10)
    assert await client.get_function_concurrency("other") == {"ReservedConcurrentExecutions": 10}

    for call in (
        client.put_function_concurrency("nope", 1),
        client.get_function_concurrency("nope"),
        client.delete_function_concurrency("nope"),
    ):
        with pytest.raises(ResourceNotFoundException) as missing:
            await call
        assert missing.value.message == f"Function not found: {suite.arn('nope')}"


# --- synchronous: 429 ---------------------------------------------------------------------


async def test_sync_invoke_with_zero_reserved_concurrency_is_throttled(suite: Running) -> None:
    """Check 11: 429 TooManyRequestsException, "Rate Exceeded.", Reason reserved; no run."""
    runs = await _sleeper(suite, "fn", 0)
    await suite.client.put_function_concurrency("fn", 0)

    with pytest.raises(TooManyRequestsException) as throttled:
        await suite.client.invoke("fn", b"{}")
    assert throttled.value.http_status == 429
    assert throttled.value.message == "Rate Exceeded."
    assert throttled.value.metadata["Reason"] == RESERVED
    assert throttled.value.operation_name == "Invoke"
    # DryRun still validates only.
    assert (await suite.client.invoke("fn", b"{}", invocation_type="DryRun"))["StatusCode"] == 204
    assert read_lines(runs) == []

    await suite.client.delete_function_concurrency("fn")
    assert (await suite.client.invoke("fn", b"{}"))["StatusCode"] == 200
    assert len(read_lines(runs)) == 1


async def test_sync_invoke_beyond_reserved_concurrency_is_throttled(suite: Running) -> None:
    """Reserved 1 with one invocation running: a second sync invoke gets 429 at once (with a
    Retry-After hint); once the first is done, invokes run again."""
    runs = await _sleeper(suite, "fn", 1.0)
    await suite.client.put_function_concurrency("fn", 1)

    first = asyncio.create_task(suite.client.invoke("fn", b'{"n": 1}'))
    await wait_for(lambda: read_lines(_started(runs)) != [], timeout=10)
    started = time.monotonic()
    with pytest.raises(TooManyRequestsException) as throttled:
        await suite.client.invoke("fn", b'{"n": 2}')
    assert time.monotonic() - started < 0.5  # not queued behind the first
    assert throttled.value.metadata["Reason"] == RESERVED
    assert throttled.value.metadata["retryAfterSeconds"] == "1"
    assert (await first)["StatusCode"] == 200
    assert (await suite.client.invoke("fn", b'{"n": 3}'))["StatusCode"] == 200
    assert len(read_lines(runs)) == 2


# --- asynchronous: backoff, no attempt spent -----------------------------------------------


async def test_throttled_events_wait_and_all_run_once(suite: Running) -> None:
    """Check 36: reserved 1, a function taking ~1 s, five events at once: all run, one at a
    time, none lost, no failure record, and each success record says approximateInvokeCount 1
    (throttled tries are not attempts)."""
    runs = await _sleeper(suite, "fn", 1.0)
    successes, failures = await _destinations(suite, "fn")
    await suite.client.put_function_concurrency("fn", 1)

    request_ids = [await _event(suite, "fn", {"n": n}) for n in range(5)]

    records = await records_in(successes, 5, timeout=40)
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(request_ids)
    assert {r["requestContext"]["condition"] for r in records} == {"Success"}
    assert [r["requestContext"]["approximateInvokeCount"] for r in records] == [1] * 5
    assert sorted(r["request_id"] for r in read_lines(runs)) == sorted(request_ids)
    assert read_lines(failures) == []
    # Never more than the reservation: one sandbox served them all.
    assert len({r["pid"] for r in read_lines(runs)}) == 1


async def test_throttled_event_expires_without_response_fields(suite: Running) -> None:
    """docs/aws-behaviour.md §3.4 / §3.7: an event throttled until its maximum age goes to OnFailure
    with EventAgeExceeded, approximateInvokeCount 0 and no responseContext / responsePayload."""
    runs = await _sleeper(suite, "fn", 3.0)
    successes, failures = await _destinations(suite, "fn", maximum_event_age_in_seconds=60)
    await suite.client.put_function_concurrency("fn", 1)
    busy = asyncio.create_task(suite.client.invoke("fn", b'{"hold": true}'))
    await wait_for(lambda: read_lines(_started(runs)) != [], timeout=10)

    request_id = await _event(suite, "fn", {"late": True})

    [record] = await records_in(failures, 1, timeout=15)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"late": True}
    assert "responseContext" not in record
    assert "responsePayload" not in record
    # It gave up before the age ran out with time to spare (look-ahead), not after.
    assert (await busy)["StatusCode"] == 200
    assert [r["request_id"] for r in read_lines(runs)] != [request_id]
    assert request_id not in {r["request_id"] for r in read_lines(runs)}
    assert read_lines(successes) == []


async def test_zero_reserved_concurrency_event_goes_straight_to_on_failure(
    suite: Running,
) -> None:
    """Checks 12 and 37: Event invoke 202; at once an OnFailure record ZeroReservedConcurrency
    with approximateInvokeCount 0 and no response fields; the function never runs."""
    runs = await _sleeper(suite, "fn", 0)
    successes, failures = await _destinations(suite, "fn")
    await suite.client.put_function_concurrency("fn", 0)

    started = time.monotonic()
    request_id = await _event(suite, "fn", {"k": "v"})

    [record] = await records_in(failures, 1, timeout=10)
    assert time.monotonic() - started < 5  # no retries, no backoff
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload"]
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{suite.arn('fn')}:$LATEST",
        "condition": "ZeroReservedConcurrency",
        "approximateInvokeCount": 0,
    }
    assert record["requestPayload"] == {"k": "v"}
    await asyncio.sleep(60 * TIME_SCALE * 2)  # beyond any would-be retry
    assert read_lines(runs) == []
    assert read_lines(successes) == []
    assert len(read_lines(failures)) == 1


async def test_memory_limit_failure_is_retried_then_next_invocation_works(
    suite: Running,
) -> None:
    """Memory size is enforced: 300 MB in a 128 MB function fails with Runtime.OutOfMemory
    (sync: 200 + Unhandled), and the next invocation runs in a new sandbox."""
    await suite.client.create_function(
        function_name="hog",
        runtime="python3.12",
        handler="index.handler",
        zip_file=_zip("hog"),
        memory_size=128,
    )
    failed = await suite.client.invoke("hog", b'{"mb": 300}')
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"])
    request_id = failed["ResponseMetadata"]["RequestId"]
    assert error == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }
    ok = await suite.client.invoke("hog", b'{"mb": 0}')
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"])["allocated"] == 0
    # With more memory the same allocation succeeds.
    await suite.client.update_function_configuration("hog", memory_size=512)
    bigger = await suite.client.invoke("hog", b'{"mb": 300}')
    assert "FunctionError" not in bigger


def _zip(source: str) -> bytes:
    return zip_dir(FUNCTIONS / source)


# --- policy and restart ------------------------------------------------------------------


def test_throttle_backoff_doubles_from_one_second_to_five_minutes() -> None:
    """docs/aws-behaviour.md §3.3: 1 s, 2 s, 4 s ... capped at 300 s, until the maximum event
    age."""
    ceilings = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    for edge in (0.0, 1.0):  # the jitter's two extremes: half the ceiling, and all of it
        policy = RetryPolicy(time_scale=1.0, random=_Fixed(edge))
        delays = []
        for throttles in range(12):
            decision = policy.after_throttle(throttles=throttles, enqueued_at=0, now=0, config=None)
            assert isinstance(decision, Retry)
            delays.append(decision.at)
        assert delays == [c * (0.5 + edge / 2) for c in ceilings]
    config = EventInvokeConfig("fn", "$LATEST", 0.0, maximum_event_age_in_seconds=60)
    longest = RetryPolicy(time_scale=1.0, random=_Fixed(1.0))
    assert isinstance(
        longest.after_throttle(throttles=5, enqueued_at=0, now=27, config=config), Retry
    )
    assert longest.after_throttle(throttles=5, enqueued_at=0, now=28, config=config) == Settle(
        "EventAgeExceeded"
    )


def test_throttled_retries_are_spread() -> None:
    """Events throttled together come back at different moments, within their ceiling."""
    policy = RetryPolicy(time_scale=1.0)
    moments = set()
    for _ in range(50):
        decision = policy.after_throttle(throttles=3, enqueued_at=0, now=0, config=None)
        assert isinstance(decision, Retry)
        assert 4 <= decision.at <= 8
        moments.add(decision.at)
    assert len(moments) == 50


class _Fixed(random.Random):
    """uniform(a, b) at a fixed point of the interval: 0.0 is a, 1.0 is b."""

    def __init__(self, point: float) -> None:
        super().__init__()
        self.point = point

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.point


async def test_reservation_survives_restart(tmp_path: Path) -> None:
    settings = test_settings(tmp_path / "data")
    for expected in (None, 2):
        suite = Suite(settings)
        await suite.start()
        client = AsyncClient(suite.address)
        try:
            if expected is None:
                running = Running(suite, client, tmp_path)
                await running.deploy("fn", "echo")
                await client.put_function_concurrency("fn", 2)
            else:
                assert await client.get_function_concurrency("fn") == {
                    "ReservedConcurrentExecutions": expected
                }
        finally:
            await client.close()
            await suite.stop(grace=1)


async def test_events_leased_ahead_go_back_at_stop(tmp_path: Path) -> None:
    """The executor leases as many events ahead as it runs. A stop gives back those it did not
    start, so the next executor runs them at once, not when their lease (33 s here) ends."""
    data_dir = tmp_path / "data"
    settings = {"executor_concurrency": 1, "lease_margin": 30.0}

    def leased() -> int:
        with contextlib.closing(sqlite3.connect(data_dir / DATABASE_FILE)) as connection:
            query = "SELECT COUNT(*) FROM events WHERE lease_owner IS NOT NULL"
            return int(connection.execute(query).fetchone()[0])

    async with running_suite(data_dir, **settings) as first:
        running = Running(first.suite, first.client, tmp_path)
        runs = await _sleeper(running, "fn", 0.5)
        request_ids = [await _event(running, "fn", {"n": n}) for n in range(3)]
        await wait_for(lambda: read_lines(_started(runs)))
        await wait_for(lambda: leased() == 2)  # one running, one waiting beside it
    async with running_suite(data_dir, **settings):
        await wait_for(lambda: len(read_lines(runs)) == 3, timeout=10)
    assert sorted(r["request_id"] for r in read_lines(runs)) == sorted(request_ids)


async def test_an_event_that_ran_then_expired_throttled_keeps_its_last_response(
    suite: Running,
) -> None:
    """docs/aws-behaviour.md §3.7: EventAgeExceeded carries responseContext/responsePayload when an
    attempt ran. Attempt 1 fails; before its retry the only concurrency slot is taken, the retry is
    throttled until the event's age runs out, and the record holds attempt 1's error."""
    failures = await suite.collector("failures")
    runs = await suite.flaky("busy", timeout=5)
    await suite.client.put_function_event_invoke_config(
        function_name="busy",
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=120,  # 1.2 s scaled; the retry is due at 0.6 s
        destination_config={"OnFailure": {"Destination": suite.arn("failures")}},
    )
    await suite.client.put_function_concurrency(
        function_name="busy", reserved_concurrent_executions=1
    )

    response = await suite.client.invoke(
        function_name="busy", invocation_type="Event", payload=b'{"mode": "fail"}'
    )
    request_id = response["ResponseMetadata"]["RequestId"]
    await wait_for(lambda: any(r["request_id"] == request_id for r in read_lines(runs)))
    # Take the one slot past the retry and the event's age.
    hog = asyncio.create_task(
        suite.client.invoke(function_name="busy", payload=b'{"mode": "sleep", "seconds": 2.5}')
    )

    [record] = await records_in(failures, 1, timeout=20)
    await hog
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    assert [r["request_id"] for r in read_lines(runs)].count(request_id) == 1
