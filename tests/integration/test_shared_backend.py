"""What several executors sharing one backend must do, on SQLite and on PostgreSQL alike:
lease fairly across functions, count reserved concurrency across processes, drain a held-back
backlog as slots free, fail an event whose alias vanished instead of dropping it, and run the
events they claim themselves: the follow-ups of the records they settle, and, beside an
Invoker, the events it accepts.

Each test runs real suites in this process (real gRPC servers, real sandboxes) on a fresh
SQLite file or a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FUNCTIONS, Running, read_lines, records_in, test_settings, wait_for, zip_dir

from eventinvoke.app import Suite
from eventinvoke.backends.base import Backend
from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.client import AsyncClient
from eventinvoke.core.model import QueuedEvent


@pytest.fixture(params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings every suite of a test shares: one SQLite data dir, or one PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"backend": request.getfixturevalue("postgres_url")}


@contextlib.asynccontextmanager
async def suites(
    tmp_path: Path, shared: dict[str, Any], *roles: tuple[str, ...], **overrides: Any
) -> AsyncIterator[list[Suite]]:
    """Started suites with the given roles, sharing one backend and data dir; stopped after."""
    started: list[Suite] = []
    try:
        for these in roles:
            suite = Suite(test_settings(tmp_path / "data", **shared, **overrides), roles=these)
            await suite.start()
            started.append(suite)
        yield started
    finally:
        for suite in reversed(started):
            await suite.stop(grace=1)


async def _deploy(client: AsyncClient, name: str, source: str, **env: str) -> None:
    await client.create_function(
        function_name=name,
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(FUNCTIONS / source),
        timeout=10,
        environment={"Variables": env},
    )


def _overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


async def test_one_functions_throttled_backlog_does_not_hold_back_another(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """20,000 events of a function held back by its reservation; another function's event is
    done within 2 s. (With one queue over all functions, it waited behind the backlog.)"""
    runs = tmp_path / "runs.jsonl"
    runs.touch()
    async with (
        suites(tmp_path, shared, ("invoker", "executor", "router"), time_scale=1.0) as [suite],
        AsyncClient(suite.address) as client,
    ):
        await _deploy(client, "flood", "sleeper", RUNS_FILE=str(tmp_path / "flood.jsonl"))
        await client.put_function_concurrency(
            function_name="flood", reserved_concurrent_executions=1
        )
        await _deploy(client, "other", "echo", RUNS_FILE=str(runs))
        payload = json.dumps({"n": 0}).encode()
        for start in range(0, 20_000, 2_000):
            await asyncio.gather(
                *(
                    client.invoke(function_name="flood", invocation_type="Event", payload=payload)
                    for _ in range(start, start + 2_000)
                )
            )
        await asyncio.sleep(1.0)  # the executor is now busy throttling the flood

        started = time.monotonic()
        await client.invoke(function_name="other", invocation_type="Event", payload=b"{}")
        await wait_for(lambda: read_lines(runs), timeout=10)
        took = time.monotonic() - started
    assert took < 2.0, f"the other function's event took {took:.2f} s"


async def test_reserved_concurrency_holds_across_executors_and_a_backlog_drains_as_slots_free(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """Reserved concurrency 2, two executors, 16 events of 0.3 s: never more than 2 run at
    once (measured by the function), and the backlog is done in about 16 x 0.3 / 2 s, not
    after the throttle backoff's 1, 2, 4, 8 ... s (real, unscaled delays here)."""
    runs = tmp_path / "runs.jsonl"
    runs.touch()
    roles = [("invoker", "executor", "router"), ("executor",)]
    async with (
        suites(tmp_path, shared, *roles, time_scale=1.0) as [suite, _],
        AsyncClient(suite.address) as client,
    ):
        await _deploy(
            client, "held", "sleeper", RUNS_FILE=str(runs), SLEEP_SECONDS="0.3",
            STARTS_FILE=str(tmp_path / "starts.jsonl"),
        )  # fmt: skip
        await client.put_function_concurrency(
            function_name="held", reserved_concurrent_executions=2
        )
        started = time.monotonic()
        await asyncio.gather(
            *(
                client.invoke(function_name="held", invocation_type="Event", payload=b"{}")
                for _ in range(16)
            )
        )
        await wait_for(lambda: len(read_lines(runs)) == 16, timeout=30)
        took = time.monotonic() - started
    lines = read_lines(runs)
    intervals = [(line["started"], line["ended"]) for line in lines]
    assert _overlap(intervals) <= 2
    assert len({line["pid"] for line in lines}) >= 2  # more than one sandbox ran them
    assert took < 8.0, f"16 events at concurrency 2 took {took:.1f} s"


async def test_an_event_whose_alias_was_deleted_while_queued_gets_a_failure_record(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """Nothing is dropped: the record goes to the function's unqualified OnFailure, with the
    condition QualifierNotFound (this project's; AWS documents none)."""
    # No executor yet (no synchronous invokes either: its address leads nowhere).
    front_roles = ("invoker", "router")
    async with suites(tmp_path, shared, front_roles, executor_endpoint="127.0.0.1:9") as [front]:
        running = Running(front, AsyncClient(front.address), tmp_path)
        try:
            failures = await running.collector("failures")
            await running.deploy("fn", "echo")
            await running.client.publish_version(function_name="fn")
            await running.client.create_alias(function_name="fn", name="live", function_version="1")
            await running.client.put_function_event_invoke_config(
                function_name="fn",
                destination_config={"OnFailure": {"Destination": running.arn("failures")}},
            )
            response = await running.client.invoke(
                function_name="fn", qualifier="live", invocation_type="Event", payload=b'{"a": 1}'
            )
            await running.client.delete_alias(function_name="fn", name="live")
            # Only now does an executor come: the event's alias is gone.
            async with suites(tmp_path, shared, ("executor",)):
                [record] = await records_in(failures, 1, timeout=20)
        finally:
            await running.client.close()
    assert record["requestContext"] == {
        "requestId": response["ResponseMetadata"]["RequestId"],
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn:live",
        "condition": "QualifierNotFound",
        "approximateInvokeCount": 0,
    }
    assert record["requestPayload"] == {"a": 1}
    assert "responseContext" not in record


class _Slots:
    """An executor's own slots, passed through (subclasses script ``acquire``)."""

    def __init__(self, slots: Any) -> None:
        self._slots = slots

    async def acquire(self, function_name: str, reserved: int, holder: str, lease: float) -> bool:
        return bool(await self._slots.acquire(function_name, reserved, holder, lease))

    async def renew(self, holder: str, lease_seconds: float) -> None:
        await self._slots.renew(holder, lease_seconds)

    async def release(self, function_name: str, holder: str, *, wake: bool = True) -> None:
        await self._slots.release(function_name, holder, wake=wake)


class _StallAfterFirstSlot(_Slots):
    """The first slot taken is answered ``stall`` seconds late, as an executor paused (a GC
    pause, SIGSTOP) right after its acquire committed sees it; meanwhile this executor takes
    no other slot."""

    def __init__(self, slots: Any, stall: float) -> None:
        super().__init__(slots)
        self._stall = stall
        self._stalling = False
        self.stalled = asyncio.Event()  # set when the stall begins

    async def acquire(self, function_name: str, reserved: int, holder: str, lease: float) -> bool:
        if self._stalling:
            return False
        taken = await super().acquire(function_name, reserved, holder, lease)
        if taken and not self.stalled.is_set():
            self.stalled.set()
            self._stalling = True
            await asyncio.sleep(self._stall)
            self._stalling = False
        return taken


class _ClosedUntil(_Slots):
    """No slot is taken (all answer "taken") until ``opened`` is set."""

    def __init__(self, slots: Any, opened: asyncio.Event) -> None:
        super().__init__(slots)
        self._opened = opened

    async def acquire(self, function_name: str, reserved: int, holder: str, lease: float) -> bool:
        if not self._opened.is_set():
            return False
        return await super().acquire(function_name, reserved, holder, lease)


async def test_an_executor_that_stalls_past_its_slot_lease_does_not_run_on_the_slot(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """Reserved concurrency 1: executor A takes the slot, then stalls past the slot's lease
    (3 s: the 1 s timeout plus the 2 s margin) before it starts the run. Meanwhile B takes the
    lapsed slot and runs events back to back. A must not run on the slot it no longer holds:
    never 2 at once, as timed by the function; A's event runs later, once."""
    runs = tmp_path / "runs.jsonl"
    runs.touch()
    roles = [("invoker", "executor", "router"), ("executor",)]
    # Throttle backoffs of at most 0.3 s: B is quick to take the lapsed slot.
    async with (
        suites(tmp_path, shared, *roles, time_scale=0.001) as [first, second],
        AsyncClient(first.address) as client,
    ):
        assert first.worker is not None and second.worker is not None
        stalling = _StallAfterFirstSlot(first.worker.slots, stall=4.0)
        first.worker.slots = stalling
        # B takes nothing before A has the slot: the slot then reaches B only by lapsing.
        second.worker.slots = _ClosedUntil(second.worker.slots, stalling.stalled)
        await _deploy(client, "held", "sleeper", RUNS_FILE=str(runs), SLEEP_SECONDS="0.3")
        await client.update_function_configuration("held", timeout=1)
        await client.put_function_concurrency(
            function_name="held", reserved_concurrent_executions=1
        )
        await asyncio.gather(
            *(
                client.invoke(function_name="held", invocation_type="Event", payload=b"{}")
                for _ in range(12)
            )
        )
        await wait_for(lambda: len(read_lines(runs)) >= 12, timeout=60)
        await asyncio.sleep(1.0)  # a run that should not happen would show by now
    lines = read_lines(runs)
    assert _overlap([(line["started"], line["ended"]) for line in lines]) <= 1
    assert len({line["request_id"] for line in lines}) == 12


async def _open_backend(tmp_path: Path, shared: dict[str, Any]) -> Backend:
    """One more backend on the suites' data, as another executor's process opens it."""
    if "backend" in shared:
        from eventinvoke.backends.postgres import PostgresBackend

        return await PostgresBackend.open(shared["backend"])
    return await SqliteBackend.open(tmp_path / "data")


class Rival:
    """Another executor's process, as greedy as can be: it leases every few milliseconds and
    keeps whatever it gets (for five minutes), never running it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.taken: list[QueuedEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._lease_everything())

    async def _lease_everything(self) -> None:
        while not self._stop.is_set():
            self.taken.extend(await self.backend.queue.lease("rival", 10, 300))
            await asyncio.sleep(0.002)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.backend.close()


async def _chained(running: Running, source: str, **env: str) -> Path:
    """Deploy ``source`` (a test function) with its OnSuccess the collector's; return the
    collector's file."""
    collected = await running.collector("collector")
    await running.deploy("source", source, **env)
    await running.client.put_function_event_invoke_config(
        function_name="source",
        destination_config={"OnSuccess": {"Destination": running.arn("collector")}},
    )
    return collected


async def test_a_follow_up_event_is_leased_to_the_executor_that_settled_its_source(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """Eager dispatch: a record bound for a function of the suite is queued already leased to
    the executor settling it, so no other executor can take it, however eagerly it leases.
    The rival starts once the ten sources run (0.5 s each): it never gets a follow-up, and
    every record reaches the collector."""
    runs = tmp_path / "runs.jsonl"
    runs.touch()
    rival = Rival(await _open_backend(tmp_path, shared))
    async with (
        suites(tmp_path, shared, ("invoker", "executor", "router")) as [suite],
        AsyncClient(suite.address) as client,
    ):
        running = Running(suite, client, tmp_path)
        collected = await _chained(running, "sleeper", RUNS_FILE=str(runs), SLEEP_SECONDS="0.5")
        sent = [
            (await client.invoke(function_name="source", invocation_type="Event", payload=b"{}"))[
                "ResponseMetadata"
            ]["RequestId"]
            for _ in range(10)
        ]
        queue = suite.backend.queue if suite.backend else None
        assert queue is not None

        async def all_leased() -> bool:
            found = [await queue.find(request_id) for request_id in sent]
            return all(e is not None and e.lease_expires is not None for e in found)

        deadline = time.monotonic() + 10
        while not await all_leased():
            assert time.monotonic() < deadline, "the sources were not all leased"
            await asyncio.sleep(0.02)
        assert not read_lines(runs)  # still running: their records are yet to come
        rival.start()
        try:
            records = await records_in(collected, 10)
        finally:
            await rival.stop()
    assert rival.taken == []
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(sent)


async def test_an_accepted_event_is_leased_to_the_executor_of_the_invoker_that_took_it(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    """Eager dispatch from the Invoker: in a process that runs an executor too, an accepted
    event is queued leased to it while it has room, and runs at once. A rival leasing every few
    milliseconds gets none of forty events sent one by one, nor their follow-ups."""
    rival = Rival(await _open_backend(tmp_path, shared))
    async with (
        suites(tmp_path, shared, ("invoker", "executor", "router")) as [suite],
        AsyncClient(suite.address) as client,
    ):
        collected = await _chained(Running(suite, client, tmp_path), "echo")
        rival.start()
        try:
            sent = []
            for n in range(40):
                payload = json.dumps({"n": n}).encode()
                response = await client.invoke(
                    function_name="source", invocation_type="Event", payload=payload
                )
                sent.append(response["ResponseMetadata"]["RequestId"])
                await asyncio.sleep(0.01)
            records = await records_in(collected, 40)
        finally:
            await rival.stop()
    assert rival.taken == []
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(sent)
