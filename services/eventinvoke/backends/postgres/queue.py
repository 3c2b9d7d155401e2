"""The event queue in PostgreSQL: leased with SKIP LOCKED, fenced by lease epochs, every write
one statement per batch (``Database.write``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from eventinvoke.backends.base import fair_order
from eventinvoke.backends.postgres.batches import (
    arrays,
    columns,
    fenced,
    inserting,
    matched,
    notifying,
)
from eventinvoke.backends.postgres.database import EVENTS, Database
from eventinvoke.backends.rows import EVENT_COLUMNS, attempts_json, column_names, event_from
from eventinvoke.core.model import Claim, QueuedEvent, Requeue

LEASED_COLUMNS = f"{EVENT_COLUMNS}, lease_epoch, lease_expires"

# Fair leasing: a skip scan walks the functions with queued events (one index probe each),
# each function offers its due events oldest first (at most $1, locked with SKIP LOCKED so that
# replicas leasing at once take different events), and ``turn`` ranks a function's events so
# that the first of every function goes before the second of any. One function's backlog never
# hides another function's events.
LEASE = f"""
WITH RECURSIVE names AS (
    (SELECT function_name FROM events ORDER BY function_name LIMIT 1)
    UNION ALL
    SELECT (SELECT e.function_name FROM events e WHERE e.function_name > n.function_name
            ORDER BY e.function_name LIMIT 1)
    FROM names n WHERE n.function_name IS NOT NULL
),
candidates AS (
    SELECT c.event_id, c.visible_at,
           row_number() OVER (PARTITION BY n.function_name
                              ORDER BY c.visible_at, c.event_id) AS turn
    FROM names n CROSS JOIN LATERAL (
        SELECT e.event_id, e.visible_at FROM events e
        WHERE e.function_name = n.function_name AND e.visible_at <= ei_now()
          AND (e.lease_expires IS NULL OR e.lease_expires <= ei_now())
        ORDER BY e.visible_at, e.event_id LIMIT $1
        FOR UPDATE SKIP LOCKED
    ) c
),
chosen AS (SELECT event_id FROM candidates ORDER BY turn, visible_at, event_id LIMIT $1)
UPDATE events e SET lease_owner = $2, lease_expires = ei_now() + $3,
    lease_epoch = e.lease_epoch + 1
-- An array, not a join: the planner then looks the few rows up by key instead of scanning.
WHERE e.event_id = ANY (ARRAY(SELECT event_id FROM chosen))
RETURNING {", ".join(f"e.{c}" for c in column_names(LEASED_COLUMNS))}, ei_now() AS server_now
"""

# The array types a list of events becomes (``event_columns``), and what they insert: each
# event stamped with the server's clock; a request id already queued is a repeat, left out.
EVENT_TYPES = ("text", "text", "text", "bytea", "integer", "text", "integer", "text")
EVENT_ALIASES = "r, f, q, p, a, c, d, tp"  # the columns of unnest(EVENT_TYPES) EVENT_VALUES reads
_INSERT = (
    "INSERT INTO events (request_id, function_name, qualifier, payload, enqueued_at, attempts, "
    "visible_at, chain_id, chain_depth, traceparent"
)
_SELECT = "SELECT r, f, q, p, ei_now(), a, ei_now(), c, d, tp"
EVENT_VALUES = f"{_INSERT}) {_SELECT} "
# The same, each event leased to the owner its claim names, or not leased where that is NULL:
# CLAIM_ALIASES are the owner and the lease's seconds (Backend.settle's claim).
CLAIM_ALIASES = "lo, ls"
CLAIMED_EVENT_VALUES = (
    f"{_INSERT}, lease_owner, lease_expires, lease_epoch) "
    f"{_SELECT}, lo, ei_now() + ls, CASE WHEN lo IS NULL THEN 0 ELSE 1 END "
)
INSERT_EVENTS = (
    f"{EVENT_VALUES} FROM unnest({arrays(EVENT_TYPES)}) AS t({EVENT_ALIASES}) "
    "ON CONFLICT (request_id) DO NOTHING"
)


def event_columns(events: Sequence[QueuedEvent]) -> tuple[list[Any], ...]:
    """The arrays INSERT_EVENTS takes (also the follow-ups of a settle)."""
    return (
        [e.request_id for e in events],
        [e.function_name for e in events],
        [e.qualifier for e in events],
        [e.payload for e in events],
        [e.attempts for e in events],
        [e.lineage.chain_id if e.lineage else None for e in events],
        [e.lineage.depth if e.lineage else None for e in events],
        [e.traceparent or None for e in events],
    )


class PostgresEventQueue:
    """The EventQueue of the PostgreSQL backend. Its clock is the server's."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def now(self) -> float:
        return self._database.now()

    async def enqueue(self, *events: QueuedEvent, claim: Claim | None = None) -> None:
        if claim is None:
            await self._database.write(_enqueue, events, durable=True)
        else:
            await self._database.write(_enqueue_claimed, (events, claim), durable=True)

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[QueuedEvent]:
        events, server_now = await self._database.write(_lease, (owner, limit, lease_seconds))
        if server_now is not None:  # every lease keeps the clock's correction fresh
            self._database.observe_clock(server_now, time.time())
        return events  # type: ignore[no-any-return]

    async def extend(self, event_id: int, epoch: int, lease_seconds: float) -> bool:
        return await self._database.write(_extend, (event_id, epoch, lease_seconds))  # type: ignore[no-any-return]

    async def release(self, leases: Sequence[tuple[int, int]]) -> None:
        if leases:
            await self._database.write(_release, list(leases))

    async def retry(self, event_id: int, epoch: int, requeue: Requeue) -> bool:
        log = None if requeue.history is None else attempts_json(requeue.history)
        r = requeue
        args = (event_id, epoch, r.attempts, r.visible_at, r.throttles, r.last_attempt, log)
        return await self._database.write(_retry, args)  # type: ignore[no-any-return]

    async def ack(self, event_id: int, epoch: int) -> bool:
        return await self._database.write(_ack, (event_id, epoch))  # type: ignore[no-any-return]

    async def find(self, request_id: str) -> QueuedEvent | None:
        query = f"SELECT {LEASED_COLUMNS} FROM events WHERE request_id = $1"
        row = await self._database.run(lambda c: c.fetchrow(query, request_id))
        return None if row is None else event_from(row, row["lease_expires"])

    async def depth(self) -> int:
        return await self._database.run(  # type: ignore[no-any-return]
            lambda c: c.fetchval("SELECT count(*) FROM events")
        )

    async def depth_by_function(self) -> dict[str, int]:
        rows = await self._database.run(
            lambda c: c.fetch("SELECT function_name, count(*) FROM events GROUP BY function_name")
        )
        return {row[0]: row[1] for row in rows}

    async def oldest_age(self) -> float | None:
        oldest = await self._database.run(
            lambda c: c.fetchval("SELECT min(enqueued_at) FROM events")
        )
        return None if oldest is None else self.now() - oldest


# --- batch functions: every write of one kind in one statement ---------------------------------


_enqueue = inserting(INSERT_EVENTS, event_columns, EVENTS)

# Events queued leased to their claims' owners: nobody else to tell.
_ARRAYS = len(EVENT_TYPES)
INSERT_CLAIMED = f"""
{CLAIMED_EVENT_VALUES}
FROM unnest({arrays(EVENT_TYPES)}, ${_ARRAYS + 1}::text[], ${_ARRAYS + 2}::float8[])
    AS t({EVENT_ALIASES}, {CLAIM_ALIASES})
ON CONFLICT (request_id) DO NOTHING
RETURNING event_id, request_id, lease_expires, enqueued_at
"""


async def _enqueue_claimed(
    connection: asyncpg.Connection, calls: list[tuple[Sequence[QueuedEvent], Claim]]
) -> list[None]:
    events = [event for queued, _ in calls for event in queued]
    claims = [claim for queued, claim in calls for _ in queued]
    rows = await connection.fetch(
        INSERT_CLAIMED,
        *event_columns(events),
        [claim.owner for claim in claims],
        [claim.lease_seconds for claim in claims],
    )
    take_claimed(events, rows)
    return [None] * len(calls)


def take_claimed(events: Sequence[QueuedEvent], rows: Sequence[asyncpg.Record]) -> None:
    """Give each event its lease from the row its claimed insert returned (by request id), as
    a lease would have (``Backend.settle``); one without a row was not queued by it."""
    claimed = {row["request_id"]: row for row in rows}
    for event in events if claimed else ():
        row = claimed.get(event.request_id)
        if row is not None:
            event.event_id, event.lease_epoch = row["event_id"], 1
            event.lease_expires, event.enqueued_at = row["lease_expires"], row["enqueued_at"]
            event.visible_at = event.enqueued_at


async def _lease(connection: asyncpg.Connection, calls: list[tuple[str, int, float]]) -> list[Any]:
    # Leases are not merged (each owner asks for its own count); each is one statement.
    answers = []
    for owner, limit, lease_seconds in calls:
        rows = await connection.fetch(LEASE, limit, owner, lease_seconds)
        # RETURNING has no order.
        events = fair_order(event_from(row, row["lease_expires"]) for row in rows)
        answers.append((events, rows[0]["server_now"] if rows else None))
    return answers


_extend = fenced(
    "UPDATE events e SET lease_expires = ei_now() + t.s "
    "FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) AS t(id, epoch, s) "
    "WHERE e.event_id = t.id AND e.lease_epoch = t.epoch AND e.lease_owner IS NOT NULL "
    "RETURNING e.event_id, e.lease_epoch",
    3,
    "event_id",
)


async def _release(
    connection: asyncpg.Connection, calls: list[list[tuple[int, int]]]
) -> list[None]:
    leases = [lease for call in calls for lease in call]
    await connection.execute(
        "WITH released AS (UPDATE events e SET lease_owner = NULL, lease_expires = NULL "
        "FROM unnest($1::bigint[], $2::bigint[]) AS t(id, epoch) "
        "WHERE e.event_id = t.id AND e.lease_epoch = t.epoch RETURNING 1) "
        + notifying(EVENTS, "released"),
        *columns(leases, 2),
    )
    return [None] * len(calls)


async def _retry(connection: asyncpg.Connection, calls: list[tuple[Any, ...]]) -> list[bool]:
    last = [call[5] for call in calls]
    rows = await connection.fetch(
        "UPDATE events e SET attempts = t.attempts, visible_at = t.at, "
        "throttles = t.throttles, lease_owner = NULL, lease_expires = NULL, "
        "last_response = CASE WHEN t.kept THEN t.response ELSE e.last_response END, "
        "last_function_error = CASE WHEN t.kept THEN t.error ELSE e.last_function_error END, "
        "last_executed_version = CASE WHEN t.kept THEN t.version "
        "ELSE e.last_executed_version END, "
        "attempt_log = coalesce(t.log, e.attempt_log) "
        "FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::float8[], $5::integer[], "
        "$6::boolean[], $7::bytea[], $8::text[], $9::text[], $10::text[]) "
        "AS t(id, epoch, attempts, at, throttles, kept, response, error, version, log) "
        "WHERE e.event_id = t.id AND e.lease_epoch = t.epoch RETURNING e.event_id, e.lease_epoch",
        *columns(calls, 5),
        [a is not None for a in last],
        [a.payload if a else None for a in last],
        [a.function_error if a else None for a in last],
        [a.executed_version if a else None for a in last],
        [call[6] for call in calls],
    )
    return matched(calls, rows, "event_id")


_ack = fenced(
    "DELETE FROM events e USING unnest($1::bigint[], $2::bigint[]) AS t(id, epoch) "
    "WHERE e.event_id = t.id AND e.lease_epoch = t.epoch RETURNING e.event_id, e.lease_epoch",
    2,
    "event_id",
    once=True,
)
