"""GetInvocation against real suites, on SQLite and on PostgreSQL: an Event invocation followed
through each status it passes (QUEUED, RUNNING, RETRY_SCHEDULED, SUCCEEDED or FAILED), its
attempts, and where its record went (a function of the suite; a webhook that is slow, takes it,
or refuses it); the not-found answer; the log's retention and bound.

The front suite (Invoker, Router) starts without an executor, so that an event stays QUEUED
until one starts on the same backend. Retry delays are AWS's at ``SCALE``: 1.2 s, 2.4 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import Running, read_lines, records_in, test_settings

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient, ResourceNotFoundException

SCALE = 0.02
FIRST_DELAY = 60 * SCALE
NOWHERE = "127.0.0.1:9"  # the front suite's executor address: no synchronous invokes


@pytest.fixture(params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings every suite of a test shares: one SQLite data dir, or one PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"backend": request.getfixturevalue("postgres_url")}


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, shared: dict[str, Any], roles: tuple[str, ...], **overrides: Any
) -> AsyncIterator[Suite]:
    settings = {"time_scale": SCALE, **shared, **overrides}
    suite = Suite(test_settings(tmp_path / "data", **settings), roles=roles)
    await suite.start()
    try:
        yield suite
    finally:
        await suite.stop(grace=1)


@contextlib.asynccontextmanager
async def front(tmp_path: Path, shared: dict[str, Any], **overrides: Any) -> AsyncIterator[Running]:
    """The Invoker and the Router, without an executor; a client to them."""
    async with started(
        tmp_path, shared, ("invoker", "router"), executor_endpoint=NOWHERE, **overrides
    ) as suite:
        running = Running(suite, AsyncClient(suite.address), tmp_path)
        try:
            yield running
        finally:
            await running.client.close()


def executor(tmp_path: Path, shared: dict[str, Any], **overrides: Any) -> Any:
    return started(tmp_path, shared, ("executor",), **overrides)


async def invoke(running: Running, name: str, event: dict[str, Any]) -> str:
    response = await running.client.invoke(
        function_name=name, invocation_type="Event", payload=json.dumps(event).encode()
    )
    return str(response["ResponseMetadata"]["RequestId"])


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


class Watcher:
    """Asks GetInvocation over and over, keeping each answer whose status or attempt count
    differs from the one before: the path the invocation took."""

    def __init__(self, client: AsyncClient, request_id: str) -> None:
        self.client = client
        self.request_id = request_id
        self.seen: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            answer = dict(await self.client.get_invocation(request_id=self.request_id))
            last = self.seen[-1] if self.seen else None
            key = (answer["Status"], len(answer["Attempts"]))
            if last is None or key != (last["Status"], len(last["Attempts"])):
                self.seen.append(answer)
            if answer["Status"] in ("SUCCEEDED", "FAILED"):
                return
            await asyncio.sleep(0.02)

    async def done(self, timeout: float = 30) -> list[dict[str, Any]]:
        await asyncio.wait_for(self._task, timeout)
        return self.seen


async def test_a_failing_then_retried_event_through_each_status(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """QUEUED until an executor comes; RUNNING; RETRY_SCHEDULED after its first attempt fails,
    with when; RUNNING again; SUCCEEDED, with both attempts and its OnSuccess delivery."""
    async with front(tmp_path, shared) as running:
        runs = await running.flaky("flaky")
        successes = await running.collector("on-success")
        await running.client.put_function_event_invoke_config(
            function_name="flaky",
            destination_config={"OnSuccess": {"Destination": running.arn("on-success")}},
        )
        request_id = await invoke(running, "flaky", {"mode": "fail_once", "seconds": 0.6})

        queued = await running.client.get_invocation(request_id=request_id)
        assert queued == {
            "RequestId": request_id,
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST",
            "Status": "QUEUED",
            "EnqueueTime": queued["EnqueueTime"],
            "Attempts": [],
            "Deliveries": [],
        }
        assert abs(epoch(queued["EnqueueTime"]) - time.time()) < 5

        watcher = Watcher(running.client, request_id)
        async with executor(tmp_path, shared):
            path = await watcher.done()
            [record] = await records_in(successes, 1, timeout=20)

    statuses = [(answer["Status"], len(answer["Attempts"])) for answer in path]
    if ("QUEUED", 1) in statuses:  # due again, for the moment before it is leased
        statuses.remove(("QUEUED", 1))
    assert statuses == [
        ("QUEUED", 0),
        ("RUNNING", 0),
        ("RETRY_SCHEDULED", 1),
        ("RUNNING", 1),
        ("SUCCEEDED", 2),
    ]
    scheduled = next(a for a in path if a["Status"] == "RETRY_SCHEDULED")
    [failed] = scheduled["Attempts"]
    assert {k: v for k, v in failed.items() if not k.endswith("Time")} == {
        "Outcome": "FAILED",
        "FunctionError": "Unhandled",
        "ErrorType": "ValueError",
        "ErrorMessage": "first attempt fails",
    }
    # The next try is AWS's first delay after the failed attempt ended.
    wait = epoch(scheduled["NextAttemptTime"]) - epoch(failed["EndTime"])
    assert FIRST_DELAY - 0.1 <= wait <= FIRST_DELAY + 0.5
    assert epoch(failed["EndTime"]) - epoch(failed["StartTime"]) >= 0.6

    done = path[-1]
    first, second = done["Attempts"]
    assert first == failed
    assert {k: v for k, v in second.items() if not k.endswith("Time")} == {"Outcome": "SUCCEEDED"}
    assert epoch(second["StartTime"]) >= epoch(scheduled["NextAttemptTime"]) - 0.05
    assert done["Condition"] == "Success"
    assert epoch(done["EndTime"]) >= epoch(second["EndTime"])
    assert "NextAttemptTime" not in done
    # Its record went to a function of the suite: queued there at once, as its own invocation.
    [delivery] = done["Deliveries"]
    follow_up = delivery["RequestId"]
    assert delivery == {
        "Destination": {"Target": running.arn("on-success"), "Kind": "OnSuccess"},
        "Status": "DELIVERED",
        "RequestId": follow_up,
    }
    assert record["requestContext"]["requestId"] == request_id
    assert [run["request_id"] for run in read_lines(runs)] == [request_id] * 2


async def test_a_successful_event_and_its_delivery_that_is_pending_then_delivered(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """One attempt; its webhook delivery PENDING while the receiver answers 503, then
    DELIVERED once it takes the record."""
    receiver = Receiver()
    async with receiver.serving() as url, front(tmp_path, shared, **WEBHOOKS) as running:
        await running.deploy("echo", "echo")
        await running.client.put_function_event_invoke_config(
            function_name="echo", destination_config={"OnSuccess": {"Destination": url}}
        )
        async with executor(tmp_path, shared, **WEBHOOKS):
            request_id = await invoke(running, "echo", {"hello": "world"})

            async def answer() -> dict[str, Any]:
                return dict(await running.client.get_invocation(request_id=request_id))

            pending = await wait_until_answered(
                answer,
                lambda a: a["Status"] == "SUCCEEDED" and a["Deliveries"][0].get("Attempts", 0) >= 1,
            )
            receiver.available.set()
            delivered = await wait_until_answered(
                answer, lambda a: a["Deliveries"][0]["Status"] == "DELIVERED"
            )

    assert receiver.answered[-1] == 200 and set(receiver.answered[:-1]) == {503}
    [attempt] = pending["Attempts"]
    assert attempt["Outcome"] == "SUCCEEDED" and set(attempt) == {"Outcome", "StartTime", "EndTime"}
    [waiting] = pending["Deliveries"]
    assert waiting == {
        "Destination": {"Target": url, "Kind": "OnSuccess"},
        "Status": "PENDING",
        "DeliveryId": waiting["DeliveryId"],
        "Attempts": waiting["Attempts"],
    }
    assert delivered == {
        **pending,
        "Deliveries": [
            {
                "Destination": {"Target": url, "Kind": "OnSuccess"},
                "Status": "DELIVERED",
                "DeliveryId": waiting["DeliveryId"],
            }
        ],
    }


async def test_an_event_whose_retries_ran_out_and_whose_record_was_refused(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """FAILED with RetriesExhausted and each attempt's error; its OnFailure webhook refused the
    record (410): FAILED, with the reason the failed-delivery store keeps; PURGED once purged."""
    receiver = Receiver(refuse=True)
    async with receiver.serving() as url, front(tmp_path, shared, **WEBHOOKS) as running:
        await running.flaky("flaky")
        await running.client.put_function_event_invoke_config(
            function_name="flaky",
            maximum_retry_attempts=1,
            destination_config={"OnFailure": {"Destination": url}},
        )
        async with executor(tmp_path, shared, **WEBHOOKS):
            request_id = await invoke(running, "flaky", {"mode": "fail"})

            async def answer() -> dict[str, Any]:
                return dict(await running.client.get_invocation(request_id=request_id))

            failed = await wait_until_answered(
                answer,
                lambda a: a["Status"] == "FAILED" and a["Deliveries"][0]["Status"] == "FAILED",
            )
            [stored] = (await running.client.list_failed_deliveries())["FailedDeliveries"]
            await running.client.purge_failed_deliveries(delivery_id=stored["DeliveryId"])
            purged = await answer()

    assert failed["Condition"] == "RetriesExhausted"
    assert [(a["Outcome"], a["ErrorType"], a["ErrorMessage"]) for a in failed["Attempts"]] == [
        ("FAILED", "ValueError", "intentional failure")
    ] * 2
    [delivery] = failed["Deliveries"]
    assert delivery == {
        "Destination": {"Target": url, "Kind": "OnFailure"},
        "Status": "FAILED",
        "DeliveryId": stored["DeliveryId"],
        "Attempts": 1,
        "Reason": stored["Reason"],
    }
    assert "410" in delivery["Reason"]
    # Purged from the store, the delivery was not made, and GetInvocation says so.
    assert purged["Deliveries"] == [
        {
            "Destination": {"Target": url, "Kind": "OnFailure"},
            "Status": "PURGED",
            "DeliveryId": stored["DeliveryId"],
        }
    ]


async def test_an_unknown_request_id_is_not_found(tmp_path: Path, shared: dict[str, Any]) -> None:
    async with front(tmp_path, shared) as running:
        with pytest.raises(ResourceNotFoundException) as raised:
            await running.client.get_invocation(request_id="no-such-request")

    error = raised.value  # from the google.rpc.ErrorInfo the server attached
    assert (error.code, error.http_status, error.operation_name) == (
        "ResourceNotFoundException",
        404,
        "GetInvocation",
    )
    assert error.message == (
        "Invocation not found: no-such-request. Event invocations are found while queued and "
        "for 86400 s after they settle."
    )


async def test_settled_invocations_are_forgotten_after_the_retention(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    async with front(tmp_path, shared, invocation_retention=1.0) as running:
        await running.deploy("echo", "echo")
        async with executor(tmp_path, shared):
            request_id = await invoke(running, "echo", {})

            async def status() -> str:
                try:
                    answer = await running.client.get_invocation(request_id=request_id)
                except ResourceNotFoundException:
                    return "forgotten"
                return str(answer["Status"])

            assert await wait_until_answered(status, lambda s: s == "SUCCEEDED") == "SUCCEEDED"
            remembered_at = time.monotonic()
            await wait_until_answered(status, lambda s: s == "forgotten")
            # Kept for the retention (1 s, counted from the settle), forgotten within a sweep
            # (every 0.25 s) after it.
            assert time.monotonic() - remembered_at < 1.0 + 0.25 + 1.0


async def test_only_the_last_settled_invocations_are_kept(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    async with front(tmp_path, shared, max_retained_invocations=2) as running:
        await running.deploy("echo", "echo")
        async with executor(tmp_path, shared):
            ids = []
            for n in range(4):
                ids.append(await invoke(running, "echo", {"n": n}))
                await wait_for_status(running, ids[-1], "SUCCEEDED")

            async def kept() -> list[str]:
                found = []
                for request_id in ids:
                    with contextlib.suppress(ResourceNotFoundException):
                        await running.client.get_invocation(request_id=request_id)
                        found.append(request_id)
                return found

            assert await wait_until_answered(kept, lambda k: len(k) == 2, timeout=30) == ids[2:]


# --- helpers -------------------------------------------------------------------------------

# Webhooks to this test's own receiver, on loopback; deliveries retried at once.
WEBHOOKS = {
    "destination_allow_networks": ("127.0.0.0/8",),
    "delivery_backoff_base": 0.2,
    "delivery_max_attempts": 5,
}


async def wait_until_answered(ask: Any, done: Any, timeout: float = 30) -> Any:
    """Ask (a coroutine function) until ``done(answer)``; the answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await ask()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout} s: {answer!r}")
        await asyncio.sleep(0.05)


async def wait_for_status(running: Running, request_id: str, status: str) -> None:
    async def ask() -> str:
        try:
            return str((await running.client.get_invocation(request_id=request_id))["Status"])
        except ResourceNotFoundException:
            return "not found"

    await wait_until_answered(ask, lambda s: s == status)


class Receiver:
    """A webhook receiver: 410 for every record (``refuse``), else 503 until ``available`` is
    set, then 200. Keeps each status it answered."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.available = asyncio.Event()
        self.answered: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        status = 410 if self.refuse else 200 if self.available.is_set() else 503
        self.answered.append(status)
        return web.Response(status=status, text="gone" if status == 410 else "")

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            await runner.cleanup()
