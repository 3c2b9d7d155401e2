"""Leasing under load, on every backend: fair across functions, never one event to two owners
(concurrent callers, two backends on the same data, a process killed holding leases)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from backends.helpers import Storage, event, id_of

from eventinvoke.backends.base import Backend
from eventinvoke.core.model import QueuedEvent, Requeue

OpenAnother = Callable[[], Awaitable[Backend]]


def names(events: list[QueuedEvent]) -> list[str]:
    return [e.request_id for e in events]


def of(function: str, events: list[QueuedEvent]) -> list[str]:
    return [e.request_id for e in events if e.function_name == function]


async def test_one_functions_backlog_does_not_hold_back_another(backend: Backend) -> None:
    await backend.queue.enqueue(*(event(n, "A") for n in range(3000)))
    await backend.queue.enqueue(*(event(10_000 + n, "B") for n in range(3)))

    leased = await backend.queue.lease("owner", 10, 30)

    # Turns: A's oldest and B's oldest, then the second of each, ... until B has none left.
    assert of("B", leased) == ["request-10000", "request-10001", "request-10002"]
    assert of("A", leased) == [f"request-{n}" for n in range(7)]


async def test_the_first_of_every_function_goes_before_the_second_of_any(
    backend: Backend,
) -> None:
    await backend.queue.enqueue(*(event(n, "A") for n in range(500)))
    await backend.queue.enqueue(*(event(1000 + n, "B") for n in range(3)))
    await backend.queue.enqueue(event(2000, "C"))

    first = await backend.queue.lease("owner", 3, 30)
    second = await backend.queue.lease("owner", 2, 30)
    third = await backend.queue.lease("owner", 3, 30)

    assert sorted(names(first)) == ["request-0", "request-1000", "request-2000"]
    assert sorted(names(second)) == ["request-1", "request-1001"]
    assert of("B", third) == ["request-1002"] and len(of("A", third)) == 2


async def test_within_a_function_the_oldest_due_event_goes_first(backend: Backend) -> None:
    await backend.queue.enqueue(*(event(n, "A") for n in range(3)))
    await backend.queue.enqueue(*(event(10 + n, "B") for n in range(3)))
    now = backend.queue.now()
    # Visible again at other times than enqueued: a retried event is due by its visible_at.
    due = {"request-0": -1, "request-1": -9, "request-2": -5, "request-10": -2, "request-11": -3}
    due["request-12"] = -7
    for leased in await backend.queue.lease("scheduler", 10, 30):
        at = now + due[leased.request_id]
        assert await backend.queue.retry(id_of(leased), leased.lease_epoch, Requeue(1, at))

    first = await backend.queue.lease("owner", 2, 30)
    rest = await backend.queue.lease("owner", 10, 30)

    assert sorted(names(first)) == ["request-1", "request-12"]
    assert of("A", rest) == ["request-2", "request-0"]
    assert of("B", rest) == ["request-11", "request-10"]


async def test_concurrent_enqueues_and_leases_never_lease_an_event_twice(
    backend: Backend, open_another: OpenAnother
) -> None:
    other = await open_another()
    enqueues = [
        (backend if n % 2 else other).queue.enqueue(event(n, f"fn-{n % 7}")) for n in range(300)
    ]
    # Leases of an hour: a lease that expired (the machine paused for a minute under load) would
    # rightly lease its event again, and read here as a double lease.
    leases = [(backend if n % 2 else other).queue.lease(f"o{n}", 5, 3600) for n in range(200)]

    outcomes = await asyncio.gather(*enqueues, *leases)

    ids = [id_of(e) for batch in outcomes[300:] if batch for e in batch]
    while batch := await backend.queue.lease("drain", 50, 3600):
        ids.extend(id_of(e) for e in batch)
    assert len(ids) == len(set(ids)) == 300
    assert await other.queue.depth() == 300


async def test_two_backends_on_the_same_data_drain_it_without_duplicates(
    backend: Backend, open_another: OpenAnother
) -> None:
    other = await open_another()
    await asyncio.gather(
        *(backend.queue.enqueue(event(n)) for n in range(100)),
        *(other.queue.enqueue(event(n, "g")) for n in range(100, 200)),
    )

    async def drain(on: Backend, owner: str) -> list[int]:
        ids: list[int] = []
        while batch := await on.queue.lease(owner, 5, 30):
            ids.extend(id_of(e) for e in batch)
            acks = await asyncio.gather(*(on.queue.ack(id_of(e), e.lease_epoch) for e in batch))
            assert all(acks)
        return ids

    results = await asyncio.gather(
        *(drain(backend, f"first-{n}") for n in range(4)),
        *(drain(other, f"second-{n}") for n in range(4)),
    )

    ids = [event_id for result in results for event_id in result]
    assert len(ids) == len(set(ids)) == 200
    assert await backend.queue.depth() == 0


async def test_leases_survive_closing_and_opening_again(
    backend: Backend, open_another: OpenAnother
) -> None:
    await backend.queue.enqueue(event(1), event(2))
    await backend.queue.lease("before-restart", 1, 30)
    await backend.close()

    reopened = await open_another()

    assert names(await reopened.queue.lease("after-restart", 10, 30)) == ["request-2"]
    assert await reopened.queue.depth() == 2


# A separate process that leases three events, reports them, then waits to be killed.
LEASE_AND_HANG = """
import asyncio, json, sys
from pathlib import Path

async def main():
    kind, location = sys.argv[1], sys.argv[2]
    if kind == "sqlite":
        from eventinvoke.backends.sqlite import SqliteBackend
        backend = await SqliteBackend.open(Path(location))
    else:
        from eventinvoke.backends.postgres import PostgresBackend
        backend = await PostgresBackend.open(location)
    leased = await backend.queue.lease("doomed", 3, 1.5)
    print(json.dumps([[e.event_id, e.lease_epoch, e.lease_expires] for e in leased]), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_leases_of_a_killed_process_are_leased_again(
    backend: Backend, storage: Storage
) -> None:
    await backend.queue.enqueue(*(event(number) for number in range(5)))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LEASE_AND_HANG,
        storage.kind,
        storage.location,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        doomed = json.loads(await asyncio.wait_for(child.stdout.readline(), 30))
        child.send_signal(signal.SIGKILL)
        await child.wait()

        survivors = await backend.queue.lease("survivor", 10, 30)
        assert len(doomed) == 3 and len(survivors) == 2
        assert not {id_of(e) for e in survivors} & {event_id for event_id, _, _ in doomed}
        await asyncio.sleep(max(expires for _, _, expires in doomed) - backend.queue.now() + 0.1)
        again = await backend.queue.lease("survivor", 10, 30)
        assert sorted((id_of(e), e.lease_epoch) for e in again) == sorted(
            (event_id, epoch + 1) for event_id, epoch, _ in doomed
        )
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
