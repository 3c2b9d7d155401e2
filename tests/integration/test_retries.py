"""The asynchronous retry path against the real suite (docs/aws-behaviour.md §3.2–§3.4; checks
29–33, 35, 38, 39).

``TIME_SCALE = 0.01``: the retry delays are 0.6 s and 1.2 s and a maximum age of 60 s is 0.6 s.
The ``flaky`` function logs every attempt (request id, time) to its runs file.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import TIME_SCALE, Running, read_lines, records_in, test_settings, wait_for

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient

FIRST_DELAY = 60 * TIME_SCALE
SECOND_DELAY = 120 * TIME_SCALE


async def _flaky_with_collectors(suite: Running, **config: Any) -> tuple[Path, Path, Path]:
    """A flaky function with OnSuccess / OnFailure collectors: (runs, successes, failures)."""
    successes = await suite.collector("on-success")
    failures = await suite.collector("on-failure")
    runs = await suite.flaky("flaky", timeout=config.pop("timeout", 3))
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        destination_config={
            "OnSuccess": {"Destination": suite.arn("on-success")},
            "OnFailure": {"Destination": suite.arn("on-failure")},
        },
        **config,
    )
    return runs, successes, failures


async def _invoke(suite: Running, event: dict[str, Any], name: str = "flaky") -> str:
    response = await suite.client.invoke(
        function_name=name, invocation_type="Event", payload=json.dumps(event).encode()
    )
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


async def _assert_no_more_runs(runs: Path, count: int, seconds: float) -> None:
    """Wait ``seconds`` (beyond any would-be retry) and check nothing else ran."""
    await asyncio.sleep(seconds)
    assert len(read_lines(runs)) == count


async def test_default_config_runs_three_times_spaced_one_then_two_minutes(suite: Running) -> None:
    """Checks 29 and 31: 3 attempts, gaps ≈ 60 s and ≈ 120 s (scaled), one request id throughout,
    then one RetriesExhausted record with approximateInvokeCount 3."""
    runs, successes, failures = await _flaky_with_collectors(suite)

    request_id = await _invoke(suite, {"mode": "fail"})

    [record] = await records_in(failures, 1, timeout=20)
    attempts = read_lines(runs)
    assert [a["request_id"] for a in attempts] == [request_id] * 3
    first_gap = attempts[1]["at"] - attempts[0]["at"]
    second_gap = attempts[2]["at"] - attempts[1]["at"]
    assert FIRST_DELAY - 0.05 <= first_gap < 3 * FIRST_DELAY
    assert SECOND_DELAY - 0.1 <= second_gap < 3 * SECOND_DELAY
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    assert record["responsePayload"]["requestId"] == request_id
    await _assert_no_more_runs(runs, 3, SECOND_DELAY)
    assert successes.read_text() == ""
    assert len(read_lines(failures)) == 1


async def test_zero_retries_runs_once(suite: Running) -> None:
    """Check 30: MaximumRetryAttempts 0 → one run, RetriesExhausted with count 1."""
    runs, successes, failures = await _flaky_with_collectors(suite, maximum_retry_attempts=0)

    request_id = await _invoke(suite, {"mode": "fail"})

    [record] = await records_in(failures, 1)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"
    await _assert_no_more_runs(runs, 1, FIRST_DELAY * 2)
    assert successes.read_text() == ""


async def test_one_retry_runs_twice(suite: Running) -> None:
    """MaximumRetryAttempts 1 → two runs, RetriesExhausted with count 2."""
    runs, _, failures = await _flaky_with_collectors(suite, maximum_retry_attempts=1)

    request_id = await _invoke(suite, {"mode": "fail"})

    [record] = await records_in(failures, 1)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert [a["request_id"] for a in read_lines(runs)] == [request_id] * 2
    await _assert_no_more_runs(runs, 2, SECOND_DELAY * 1.5)


async def test_age_60_gives_up_after_one_attempt(suite: Running) -> None:
    """Check 32: age 60 + 2 retries → 1 run, then at once EventAgeExceeded with count 1 and the
    attempt's responseContext / responsePayload; no retry follows."""
    runs, successes, failures = await _flaky_with_collectors(
        suite, maximum_retry_attempts=2, maximum_event_age_in_seconds=60
    )

    request_id = await _invoke(suite, {"mode": "fail"})

    [record] = await records_in(failures, 1)
    [attempt] = read_lines(runs)
    assert attempt["request_id"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    # Well before the would-be retry (and the age): right after the failed attempt.
    assert _epoch(record["timestamp"]) - attempt["at"] < FIRST_DELAY
    await _assert_no_more_runs(runs, 1, FIRST_DELAY * 2)
    assert len(read_lines(failures)) == 1
    assert successes.read_text() == ""


async def test_age_90_gives_up_after_two_attempts(suite: Running) -> None:
    """Check 33: age 90 + 2 retries → 2 runs (the second ≈ 60 s later), then EventAgeExceeded
    with count 2; the third attempt never happens."""
    runs, successes, failures = await _flaky_with_collectors(
        suite, maximum_retry_attempts=2, maximum_event_age_in_seconds=90
    )

    request_id = await _invoke(suite, {"mode": "fail"})

    [record] = await records_in(failures, 1)
    attempts = read_lines(runs)
    assert [a["request_id"] for a in attempts] == [request_id] * 2
    assert FIRST_DELAY - 0.05 <= attempts[1]["at"] - attempts[0]["at"] < 3 * FIRST_DELAY
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    assert _epoch(record["timestamp"]) - attempts[1]["at"] < FIRST_DELAY
    await _assert_no_more_runs(runs, 2, SECOND_DELAY * 1.5)
    assert successes.read_text() == ""


async def test_fail_once_then_success(suite: Running) -> None:
    """Check 35: one OnSuccess record with approximateInvokeCount 2, no OnFailure record."""
    runs, successes, failures = await _flaky_with_collectors(suite)

    request_id = await _invoke(suite, {"mode": "fail_once"})

    [record] = await records_in(successes, 1)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True, "attempt": 2}
    assert [a["request_id"] for a in read_lines(runs)] == [request_id] * 2
    await _assert_no_more_runs(runs, 2, SECOND_DELAY)
    assert failures.read_text() == ""
    assert len(read_lines(successes)) == 1


async def test_timeouts_are_retried(suite: Running) -> None:
    """Check 38: a timeout is a function error on the async path, retried like a thrown one; the
    record carries the Sandbox.Timedout error object (docs/aws-behaviour.md §1.5)."""
    runs, successes, failures = await _flaky_with_collectors(
        suite, maximum_retry_attempts=1, timeout=1
    )

    request_id = await _invoke(suite, {"mode": "sleep", "seconds": 30})

    [record] = await records_in(failures, 1, timeout=20)
    assert [a["request_id"] for a in read_lines(runs)] == [request_id] * 2
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"] == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    assert successes.read_text() == ""


async def test_runtime_crashes_are_retried(suite: Running) -> None:
    """Check 38: a runtime exit is retried like a thrown error; Runtime.ExitError in the record."""
    runs, successes, failures = await _flaky_with_collectors(suite)

    request_id = await _invoke(suite, {"mode": "exit"})

    [record] = await records_in(failures, 1, timeout=20)
    assert [a["request_id"] for a in read_lines(runs)] == [request_id] * 3
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"] == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    assert successes.read_text() == ""


async def test_crashed_sandbox_does_not_hurt_the_next_event(suite: Running) -> None:
    """After crashes and timeouts the function still serves new events."""
    runs, successes, failures = await _flaky_with_collectors(suite, maximum_retry_attempts=0)

    crashed = await _invoke(suite, {"mode": "exit"})
    await records_in(failures, 1)
    fine = await _invoke(suite, {"mode": "ok"})

    [record] = await records_in(successes, 1)
    assert record["requestContext"]["requestId"] == fine
    assert [a["request_id"] for a in read_lines(runs)] == [crashed, fine]


async def test_config_is_read_at_execution_time(suite: Running) -> None:
    """Check 39: the event was queued under {retries 2, OnFailure first}; the config changes before
    its retry runs, and the retry follows the new one (1 retry, OnFailure second)."""
    first = await suite.collector("first")
    second = await suite.collector("second")
    runs = await suite.flaky("flaky")
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        maximum_retry_attempts=2,
        destination_config={"OnFailure": {"Destination": suite.arn("first")}},
    )

    request_id = await _invoke(suite, {"mode": "fail"})
    await wait_for(lambda: len(read_lines(runs)) >= 1)
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": suite.arn("second")}},
    )

    [record] = await records_in(second, 1)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    await _assert_no_more_runs(runs, 2, SECOND_DELAY * 1.5)
    assert first.read_text() == ""


async def test_config_deleted_before_retry_means_defaults(suite: Running) -> None:
    """Check 39, the other way: queued under {retries 1, OnFailure}; with the config deleted
    before the retry, the defaults apply (3 attempts) and no destination receives a record."""
    failures = await suite.collector("on-failure")
    runs = await suite.flaky("flaky")
    await suite.client.put_function_event_invoke_config(
        function_name="flaky",
        maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": suite.arn("on-failure")}},
    )

    request_id = await _invoke(suite, {"mode": "fail"})
    await wait_for(lambda: len(read_lines(runs)) >= 1)
    await suite.client.delete_function_event_invoke_config(function_name="flaky")

    await wait_for(lambda: len(read_lines(runs)) >= 3, timeout=20)
    assert [a["request_id"] for a in read_lines(runs)] == [request_id] * 3
    await _assert_no_more_runs(runs, 3, SECOND_DELAY)
    assert failures.read_text() == ""


async def test_event_waiting_for_a_sandbox_runs_once(tmp_path: Path) -> None:
    """At-least-once must not mean "twice whenever busy": an event that waits for a free sandbox
    longer than its lease is still the worker's, and runs exactly once (docs/aws-behaviour.md
    §3.6)."""
    settings = test_settings(tmp_path / "data", max_sandboxes_per_function=1, lease_margin=0.5)
    running_suite = Suite(settings)
    await running_suite.start()
    client = AsyncClient(running_suite.address)
    try:
        suite = Running(running_suite, client, tmp_path)
        runs = await suite.flaky("flaky")
        ids = [await _invoke(suite, {"mode": "sleep", "seconds": 1.5}) for _ in range(3)]

        await wait_for(lambda: len(read_lines(runs)) >= 3, timeout=20)
        await asyncio.sleep(2.0)  # a duplicate of the last one would have started by now
        assert sorted(a["request_id"] for a in read_lines(runs)) == sorted(ids)
    finally:
        await client.close()
        await running_suite.stop(grace=1)
