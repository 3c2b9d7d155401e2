"""The event queue: leases are exclusive, expire, and survive restarts and other processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.core.model import QueuedEvent


def event(number: int, **changes: Any) -> QueuedEvent:
    fresh = QueuedEvent(
        f"request-{number}", "fn", "$LATEST", f'{{"n": {number}}}'.encode(), time.time()
    )
    return replace(fresh, **changes)


def id_of(event: QueuedEvent) -> int:
    assert event.event_id is not None
    return event.event_id


async def test_event_round_trips_every_field(backend: SqliteBackend) -> None:
    stored = event(
        1,
        qualifier="live",
        payload=b"\x00\xffnot json\n",
        enqueued_at=1700000000.123456,
        attempts=2,
        visible_at=1700000001.25,
    )
    await backend.queue.enqueue(stored)

    (leased,) = await backend.queue.lease("owner", 10, 30)

    assert leased.event_id is not None
    assert leased == replace(stored, event_id=leased.event_id)


async def test_empty_payload_stays_bytes(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1, payload=b""))

    (leased,) = await backend.queue.lease("owner", 10, 30)

    assert leased.payload == b""


async def test_lease_takes_visible_events_in_visible_order(backend: SqliteBackend) -> None:
    now = time.time()
    await backend.queue.enqueue(event(1, visible_at=now - 1))
    await backend.queue.enqueue(event(2, visible_at=now - 3))
    await backend.queue.enqueue(event(3, visible_at=now + 60))
    await backend.queue.enqueue(event(4, visible_at=now - 2))

    leased = await backend.queue.lease("owner", 10, 30)

    assert [e.request_id for e in leased] == ["request-2", "request-4", "request-1"]


async def test_lease_respects_limit(backend: SqliteBackend) -> None:
    for number in range(5):
        await backend.queue.enqueue(event(number))

    assert len(await backend.queue.lease("a", 3, 30)) == 3
    assert len(await backend.queue.lease("b", 3, 30)) == 2
    assert await backend.queue.lease("c", 3, 30) == []


async def test_concurrent_owners_never_share_an_event(backend: SqliteBackend) -> None:
    await asyncio.gather(*(backend.queue.enqueue(event(number)) for number in range(100)))

    batches = await asyncio.gather(*(backend.queue.lease(f"owner-{n}", 7, 30) for n in range(20)))

    ids = [e.event_id for batch in batches for e in batch]
    assert len(ids) == len(set(ids)) == 100


async def test_expired_lease_is_delivered_again(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1))
    (first,) = await backend.queue.lease("dies", 10, 0.2)

    assert await backend.queue.lease("other", 10, 30) == []
    await asyncio.sleep(0.25)
    (again,) = await backend.queue.lease("other", 10, 30)

    assert again.event_id == first.event_id
    assert again.request_id == "request-1"


async def test_a_leased_event_carries_when_its_lease_ends(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1))
    before = time.time()

    (leased,) = await backend.queue.lease("owner", 10, 30)

    assert leased.lease_expires is not None
    assert before + 30 <= leased.lease_expires <= time.time() + 30


async def test_release_gives_back_only_the_owners_events_unchanged(
    backend: SqliteBackend,
) -> None:
    now = time.time()
    await backend.queue.enqueue(
        event(1, attempts=1, visible_at=now - 5),
        event(2, visible_at=now - 4),
        event(3, visible_at=now - 3),
    )
    mine = await backend.queue.lease("mine", 2, 30)
    (theirs,) = await backend.queue.lease("theirs", 10, 30)

    await backend.queue.release("mine", [id_of(e) for e in mine] + [id_of(theirs)])

    again = await backend.queue.lease("next", 10, 30)
    assert [e.request_id for e in again] == [e.request_id for e in mine]
    assert [(e.attempts, e.visible_at) for e in again] == [(e.attempts, e.visible_at) for e in mine]
    assert again[0].attempts == 1  # released, not retried: nothing about the event changed
    assert await backend.queue.depth() == 3


async def test_extend_keeps_the_lease(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 10, 0.2)

    await backend.queue.extend(id_of(leased), 30)
    await asyncio.sleep(0.25)

    assert await backend.queue.lease("other", 10, 30) == []


async def test_extend_does_not_hide_a_released_event(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 10, 30)
    await backend.queue.retry(id_of(leased), 1, time.time())

    await backend.queue.extend(id_of(leased), 30)

    assert len(await backend.queue.lease("other", 10, 30)) == 1


async def test_retry_records_attempts_and_delays_visibility(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 10, 30)
    visible_at = time.time() + 0.2

    await backend.queue.retry(id_of(leased), 1, visible_at)

    assert await backend.queue.lease("owner", 10, 30) == []
    await asyncio.sleep(0.25)
    (again,) = await backend.queue.lease("owner", 10, 30)
    assert again.event_id == leased.event_id
    assert again.attempts == 1
    assert again.visible_at == visible_at


async def test_ack_removes_the_event(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1))
    (leased,) = await backend.queue.lease("owner", 10, 0.1)

    await backend.queue.ack(id_of(leased))
    await asyncio.sleep(0.15)

    assert await backend.queue.depth() == 0
    assert await backend.queue.lease("owner", 10, 30) == []


async def test_depth_and_oldest_age(backend: SqliteBackend) -> None:
    assert await backend.queue.depth() == 0
    assert await backend.queue.oldest_age() is None

    await backend.queue.enqueue(event(1, enqueued_at=time.time() - 10))
    await backend.queue.enqueue(event(2))
    await backend.queue.lease("owner", 1, 30)  # leased events are still queued

    assert await backend.queue.depth() == 2
    age = await backend.queue.oldest_age()
    assert age is not None and 10 <= age < 12


async def test_leases_survive_reopen(tmp_path: Path) -> None:
    backend = await SqliteBackend.open(tmp_path)
    await backend.queue.enqueue(event(1))
    await backend.queue.enqueue(event(2))
    await backend.queue.lease("before-restart", 1, 30)
    await backend.close()

    reopened = await SqliteBackend.open(tmp_path)
    try:
        leased = await reopened.queue.lease("after-restart", 10, 30)
        assert [e.request_id for e in leased] == ["request-2"]
        assert await reopened.queue.depth() == 2
    finally:
        await reopened.close()


async def test_two_processes_lease_without_duplicates(tmp_path: Path) -> None:
    first = await SqliteBackend.open(tmp_path)
    second = await SqliteBackend.open(tmp_path)
    try:
        await asyncio.gather(
            *(first.queue.enqueue(event(n)) for n in range(100)),
            *(second.queue.enqueue(event(n)) for n in range(100, 200)),
        )

        async def drain(backend: SqliteBackend, owner: str) -> list[int]:
            ids: list[int] = []
            while batch := await backend.queue.lease(owner, 5, 30):
                ids.extend(id_of(e) for e in batch)
                await asyncio.gather(*(backend.queue.ack(id_of(e)) for e in batch))
            return ids

        results = await asyncio.gather(
            *(drain(first, f"first-{n}") for n in range(4)),
            *(drain(second, f"second-{n}") for n in range(4)),
        )

        ids = [event_id for result in results for event_id in result]
        assert len(ids) == len(set(ids)) == 200
        assert await first.queue.depth() == 0
    finally:
        await first.close()
        await second.close()


# A separate process that leases three events, reports their ids, then waits to be killed.
LEASE_AND_HANG = """
import asyncio, json, sys
from pathlib import Path
from eventinvoke.backends.sqlite import SqliteBackend

async def main():
    backend = await SqliteBackend.open(Path(sys.argv[1]))
    leased = await backend.queue.lease("doomed", 3, 0.5)
    print(json.dumps([e.event_id for e in leased]), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_leases_of_a_killed_process_are_redelivered(tmp_path: Path) -> None:
    backend = await SqliteBackend.open(tmp_path)
    child = None
    try:
        for number in range(5):
            await backend.queue.enqueue(event(number))
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LEASE_AND_HANG,
            str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert child.stdout is not None
        doomed = json.loads(await asyncio.wait_for(child.stdout.readline(), 10))
        child.send_signal(signal.SIGKILL)
        await child.wait()

        survivors = await backend.queue.lease("survivor", 10, 30)
        assert len(doomed) == 3
        assert not {e.event_id for e in survivors} & set(doomed)
        await asyncio.sleep(0.5)
        redelivered = await backend.queue.lease("survivor", 10, 30)
        assert sorted(id_of(e) for e in redelivered) == sorted(doomed)
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        await backend.close()


async def test_events_enqueued_together_are_stored_all_or_none(backend: SqliteBackend) -> None:
    await backend.queue.enqueue(event(1), event(2), event(3))
    leased = await backend.queue.lease("owner", 10, 30)
    assert [e.request_id for e in leased] == ["request-1", "request-2", "request-3"]

    # One row the table refuses (payload is NOT NULL) and none of its batch is stored.
    refused = replace(event(5), payload=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        await backend.queue.enqueue(event(4), refused)
    assert await backend.queue.lease("owner", 10, 30) == []
