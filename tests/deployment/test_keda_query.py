"""The KEDA ScaledObject's query (kubernetes/components/keda), run as KEDA runs it: the text
from the rendered manifest, on a real PostgreSQL database that eventinvoke's backend created
and filled. It counts the events whose time has come, leased or not, and leaves out those
waiting for a retry."""

from __future__ import annotations

import asyncio

import asyncpg
from deployment.harness import find, render

from eventinvoke.backends.postgres import PostgresBackend
from eventinvoke.core.model import QueuedEvent, Requeue


def _query() -> str:
    [scaled] = find(render("cluster-keda"), "ScaledObject")
    [trigger] = scaled["spec"]["triggers"]
    query: str = trigger["metadata"]["query"]
    # One read-only statement: KEDA scans one integer from it.
    assert query.lstrip().upper().startswith("SELECT") and ";" not in query
    return query


async def _count(url: str, query: str) -> float:
    connection = await asyncpg.connect(url)
    try:
        return float(await connection.fetchval(query))
    finally:
        await connection.close()


def _event(number: int, function: str) -> QueuedEvent:
    return QueuedEvent(f"keda-{number}", function, "$LATEST", b"{}", 0)


async def test_the_query_counts_due_events_leased_or_not_and_skips_retries(
    postgres_url: str,
) -> None:
    query = _query()
    backend = await PostgresBackend.open(postgres_url)
    try:
        queue = backend.queue
        assert await _count(postgres_url, query) == 0  # on the schema as migrated, empty

        await queue.enqueue(*[_event(n, "a") for n in range(4)], *[_event(n, "b") for n in (4, 5)])
        assert await _count(postgres_url, query) == 6  # waiting for an executor

        leased = await queue.lease("executor-1", 3, 60)
        assert len(leased) == 3
        assert await _count(postgres_url, query) == 6  # being run: still the executors' work

        first, second = leased[0], leased[1]
        assert first.event_id is not None and second.event_id is not None
        # A failed attempt waits a minute for its retry: not work for now.
        await queue.retry(first.event_id, first.lease_epoch, Requeue(1, queue.now() + 60))
        # A throttled one backs off a second: not work for now either.
        await queue.retry(
            second.event_id, second.lease_epoch, Requeue(0, queue.now() + 1, throttles=1)
        )
        assert await _count(postgres_url, query) == 4

        await asyncio.sleep(1.2)  # the backoff ends: due again
        assert await _count(postgres_url, query) == 5

        # Every due event is settled: the one executor-1 still runs, and those executor-2 takes.
        for event in [leased[2], *await queue.lease("executor-2", 10, 60)]:
            assert event.event_id is not None
            assert await queue.ack(event.event_id, event.lease_epoch)
        assert await _count(postgres_url, query) == 0  # the retry is still ahead
        assert await queue.depth() == 1
    finally:
        await backend.close()
