"""The cluster backend: one PostgreSQL database shared by every replica of every service.

Events, deliveries, functions and concurrency slots live in the database; every process runs
its hot writes through batching writers (group commit, ``database.py``), leases with
``FOR UPDATE SKIP LOCKED``, fences every write after a lease with the lease's epoch, reads all
times from the server's clock, and hears the others' writes through LISTEN/NOTIFY.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from eventinvoke.backends import Wakeups
from eventinvoke.backends.postgres.batches import arrays, columns, notifying
from eventinvoke.backends.postgres.database import (
    DELIVERIES,
    EVENTS,
    Database,
    Listeners,
    redacted,
)
from eventinvoke.backends.postgres.invocations import (
    SETTLED_TYPES,
    PostgresInvocationLog,
    settled_columns,
)
from eventinvoke.backends.postgres.outbox import DELIVERY_TYPES, PostgresOutbox, delivery_columns
from eventinvoke.backends.postgres.queue import (
    CLAIM_ALIASES,
    CLAIMED_EVENT_VALUES,
    EVENT_ALIASES,
    EVENT_TYPES,
    PostgresEventQueue,
    event_columns,
    take_claimed,
)
from eventinvoke.backends.postgres.slots import PostgresConcurrencySlots
from eventinvoke.backends.postgres.store import PostgresFunctionStore
from eventinvoke.backends.rows import DELIVERY_COLUMNS, INVOCATION_COLUMNS, SETTLED_COLUMNS
from eventinvoke.core.model import Settlement

__all__ = ["PostgresBackend"]

# Every settle of a batch in one statement. The events still leased with the epoch given are
# deleted ($1 ids, $2 epochs), and only their deliveries ($3, $4: the lease each belongs to, then
# the delivery arrays), follow-up events and settled invocations (likewise) inserted. Keyed by
# (event, epoch), not by event alone: a stale settle batched with the current one must not ride
# on the current one's delete. A follow-up with a claim (its owner and lease seconds, else
# NULLs) is queued leased, epoch 1. Rows with an event id and no request id answer the settles;
# rows with a request id are the claimed follow-ups; the others are the notifications, sent
# when deliveries, or events for any executor, went in.
_FOLLOW_UPS = 5 + len(DELIVERY_TYPES)
_CLAIMS = _FOLLOW_UPS + 2 + len(EVENT_TYPES)
_SETTLED = _CLAIMS + 2
SETTLE = f"""
WITH gone AS (
    DELETE FROM events e USING unnest($1::bigint[], $2::bigint[]) AS t(id, epoch)
    WHERE e.event_id = t.id AND e.lease_epoch = t.epoch
    RETURNING e.event_id, e.lease_epoch
),
routed AS (
    INSERT INTO deliveries ({DELIVERY_COLUMNS}, available_at)
    SELECT {DELIVERY_COLUMNS}, ei_now()
    FROM unnest($3::bigint[], $4::bigint[], {arrays(DELIVERY_TYPES, 5)})
        AS d(source, source_epoch, {DELIVERY_COLUMNS})
    WHERE (d.source, d.source_epoch) IN (SELECT event_id, lease_epoch FROM gone)
    RETURNING 1
),
queued AS (
    {CLAIMED_EVENT_VALUES}
    FROM unnest(${_FOLLOW_UPS}::bigint[], ${_FOLLOW_UPS + 1}::bigint[],
                {arrays(EVENT_TYPES, _FOLLOW_UPS + 2)},
                ${_CLAIMS}::text[], ${_CLAIMS + 1}::float8[])
        AS t(source, source_epoch, {EVENT_ALIASES}, {CLAIM_ALIASES})
    WHERE (t.source, t.source_epoch) IN (SELECT event_id, lease_epoch FROM gone)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING event_id, request_id, lease_owner, lease_expires, enqueued_at
),
unclaimed AS (SELECT FROM queued WHERE lease_owner IS NULL),
remembered AS (
    INSERT INTO invocations ({SETTLED_COLUMNS})
    SELECT {INVOCATION_COLUMNS}, ei_now()
    FROM unnest(${_SETTLED}::bigint[], ${_SETTLED + 1}::bigint[],
                {arrays(SETTLED_TYPES, _SETTLED + 2)})
        AS i(source, source_epoch, {INVOCATION_COLUMNS})
    WHERE (i.source, i.source_epoch) IN (SELECT event_id, lease_epoch FROM gone)
)
SELECT event_id, lease_epoch, NULL AS request_id, NULL AS lease_expires, NULL AS enqueued_at
FROM gone
UNION ALL SELECT event_id, 1, request_id, lease_expires, enqueued_at
FROM queued WHERE lease_owner IS NOT NULL
UNION ALL SELECT NULL, NULL, NULL, NULL, NULL FROM ({notifying(DELIVERIES, "routed")}) AS n
UNION ALL SELECT NULL, NULL, NULL, NULL, NULL FROM ({notifying(EVENTS, "unclaimed")}) AS n
"""


class PostgresBackend:
    """The store, queue, outbox, slots and invocation log over one ``Database`` (and its group
    commit)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.store = PostgresFunctionStore(database)
        self.queue = PostgresEventQueue(database)
        self.outbox = PostgresOutbox(database)
        self.slots = PostgresConcurrencySlots(database)
        self.invocations = PostgresInvocationLog(database)

    @classmethod
    async def open(cls, url: str, wakeups: Wakeups | None = None) -> PostgresBackend:
        """Connect and migrate. Raises BackendUnavailable with one line when the server cannot
        be reached or refuses the login."""
        listeners = Listeners()
        if wakeups is not None:
            listeners = Listeners(
                events=wakeups.events.set,
                deliveries=wakeups.deliveries.set,
                functions=wakeups.function_changed,
            )
        return cls(await Database.open(url, listeners))

    async def settle(self, event_id: int, epoch: int, settlement: Settlement) -> bool:
        args = (event_id, epoch, settlement)
        return await self.database.write(_settle, args)  # type: ignore[no-any-return]

    def describe(self) -> str:
        return redacted(self.database.url)

    async def close(self) -> None:
        await self.database.close()


async def _settle(connection: asyncpg.Connection, calls: list[tuple[Any, ...]]) -> list[bool]:
    # A settle repeated under the same lease in one batch takes effect once, as it would in its
    # own transaction (the first deletes the event; the repeat finds it gone): only the first
    # of each (event, epoch) goes into the statement.
    first: dict[tuple[int, int], int] = {}
    for index, call in enumerate(calls):
        first.setdefault((call[0], call[1]), index)
    taking = [calls[index] for index in sorted(first.values())]
    deliveries = [(call[0], call[1], d) for call in taking for d in call[2].deliveries]
    events = [(call[0], call[1], e) for call in taking for e in call[2].events]
    claims = [call[2].claim for call in taking for _ in call[2].events]  # one per event
    settled = [
        (call[0], call[1], call[2].invocation) for call in taking if call[2].invocation is not None
    ]
    rows = await connection.fetch(
        SETTLE,
        *columns(taking, 2),
        [event_id for event_id, _, _ in deliveries],
        [epoch for _, epoch, _ in deliveries],
        *delivery_columns([d for _, _, d in deliveries]),
        [event_id for event_id, _, _ in events],
        [epoch for _, epoch, _ in events],
        *event_columns([e for _, _, e in events]),
        [claim.owner if claim else None for claim in claims],
        [claim.lease_seconds if claim else None for claim in claims],
        [event_id for event_id, _, _ in settled],
        [epoch for _, epoch, _ in settled],
        *settled_columns([s for _, _, s in settled]),
    )
    gone = {(row["event_id"], row["lease_epoch"]) for row in rows if row["request_id"] is None}
    take_claimed([event for _, _, event in events], [r for r in rows if r["request_id"]])
    return [
        first[(call[0], call[1])] == index and (call[0], call[1]) in gone
        for index, call in enumerate(calls)
    ]
