"""The event queue in SQLite: events are leased, never popped (docs/architecture.md §3.2)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence

from eventinvoke.backends.base import fair_order
from eventinvoke.backends.rows import EVENT_COLUMNS, attempts_json, event_from, lineage_values
from eventinvoke.backends.sqlite.database import Database
from eventinvoke.core.model import Claim, QueuedEvent, Requeue


class SqliteEventQueue:
    """The EventQueue of the embedded backend. Its clock is this host's: every process sharing
    the file runs on the same host."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def now(self) -> float:
        return time.time()

    async def enqueue(self, *events: QueuedEvent, claim: Claim | None = None) -> None:
        """Store the events in one transaction; the queue assigns each its own ``event_id``
        (the one given is ignored)."""

        def enqueue(connection: sqlite3.Connection) -> None:
            insert_events(connection, events, claim)

        await self._database.write(enqueue)

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[QueuedEvent]:
        """Select and mark in one statement of a write transaction, which holds SQLite's write
        lock: two owners, even in two processes, can never lease the same event at once."""

        def lease(connection: sqlite3.Connection) -> list[QueuedEvent]:
            now = time.time()
            expires = now + lease_seconds
            rows = connection.execute(
                f"{FAIR_CANDIDATES} UPDATE events SET lease_owner = :owner, "
                "lease_expires = :expires, available_at = :expires, "
                "lease_epoch = lease_epoch + 1 WHERE event_id IN (SELECT event_id FROM "
                "candidates ORDER BY turn, available_at, event_id LIMIT :limit) "
                f"RETURNING {EVENT_COLUMNS}, lease_epoch",
                {"now": now, "limit": limit, "owner": owner, "expires": expires},
            ).fetchall()
            events = [event_from(row, lease_expires=expires) for row in rows]
            return fair_order(events)  # RETURNING gives no order of its own

        return await self._database.write(lease, durable=False)

    async def extend(self, event_id: int, epoch: int, lease_seconds: float) -> bool:
        """Renew a lease; an event no longer leased (retried or acked) is left alone."""

        def extend(connection: sqlite3.Connection) -> bool:
            expires = time.time() + lease_seconds
            return (
                connection.execute(
                    "UPDATE events SET lease_expires = ?, available_at = ? "
                    "WHERE event_id = ? AND lease_epoch = ? AND lease_owner IS NOT NULL",
                    (expires, expires, event_id, epoch),
                ).rowcount
                > 0
            )

        return await self._database.write(extend, durable=False)

    async def release(self, leases: Sequence[tuple[int, int]]) -> None:
        def release(connection: sqlite3.Connection) -> None:
            connection.executemany(
                "UPDATE events SET lease_owner = NULL, lease_expires = NULL, "
                "available_at = visible_at WHERE event_id = ? AND lease_epoch = ?",
                list(leases),
            )

        await self._database.write(release, durable=False)

    async def retry(self, event_id: int, epoch: int, requeue: Requeue) -> bool:
        attempts, visible_at, throttles = requeue.attempts, requeue.visible_at, requeue.throttles
        last_attempt, history = requeue.last_attempt, requeue.history

        def retry(connection: sqlite3.Connection) -> bool:
            updated = connection.execute(
                "UPDATE events SET attempts = ?, visible_at = ?, available_at = ?, "
                "throttles = ?, lease_owner = NULL, lease_expires = NULL "
                "WHERE event_id = ? AND lease_epoch = ?",
                (attempts, visible_at, visible_at, throttles, event_id, epoch),
            ).rowcount
            if updated and last_attempt is not None:
                connection.execute(
                    "UPDATE events SET last_response = ?, last_function_error = ?, "
                    "last_executed_version = ? WHERE event_id = ?",
                    (
                        last_attempt.payload,
                        last_attempt.function_error,
                        last_attempt.executed_version,
                        event_id,
                    ),
                )
            if updated and history is not None:
                connection.execute(
                    "UPDATE events SET attempt_log = ? WHERE event_id = ?",
                    (attempts_json(history), event_id),
                )
            return updated > 0

        return await self._database.write(retry, durable=False)

    async def ack(self, event_id: int, epoch: int) -> bool:
        return await self._database.write(
            lambda connection: delete_event(connection, event_id, epoch), durable=False
        )

    async def find(self, request_id: str) -> QueuedEvent | None:
        def find(connection: sqlite3.Connection) -> QueuedEvent | None:
            row = connection.execute(
                f"SELECT {EVENT_COLUMNS}, lease_epoch, lease_expires FROM events "
                "WHERE request_id = ?",
                (request_id,),
            ).fetchone()
            return None if row is None else event_from(row, row["lease_expires"])

        return await self._database.read(find)

    async def depth(self) -> int:
        def depth(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM events").fetchone()[0])

        return await self._database.read(depth)

    async def depth_by_function(self) -> dict[str, int]:
        def depths(connection: sqlite3.Connection) -> dict[str, int]:
            query = "SELECT function_name, COUNT(*) FROM events GROUP BY function_name"
            return {name: int(count) for name, count in connection.execute(query)}

        return await self._database.read(depths)

    async def oldest_age(self) -> float | None:
        def oldest(connection: sqlite3.Connection) -> float | None:
            return connection.execute("SELECT MIN(enqueued_at) FROM events").fetchone()[0]

        enqueued_at = await self._database.read(oldest)
        return None if enqueued_at is None else time.time() - enqueued_at


# The events a lease may take, fairly: a skip scan finds each function with queued events
# (one index probe per function), and each contributes its due events oldest first, at most
# ``:limit`` of them. ``turn`` numbers a function's candidates: the first of every function
# goes before the second of any.
FAIR_CANDIDATES = """
WITH RECURSIVE names(name) AS (
    SELECT MIN(function_name) FROM events
    UNION ALL
    SELECT (SELECT MIN(function_name) FROM events WHERE function_name > names.name)
    FROM names WHERE names.name IS NOT NULL
),
candidates AS (
    SELECT e.event_id, e.available_at, row_number() OVER (
        PARTITION BY e.function_name ORDER BY e.available_at, e.event_id) AS turn
    FROM names JOIN events e ON e.event_id IN (
        SELECT event_id FROM events
        WHERE function_name = names.name AND available_at <= :now
        ORDER BY available_at, event_id LIMIT :limit)
)
"""


INSERT_EVENT = (
    "INSERT INTO events (request_id, function_name, qualifier, payload, enqueued_at, attempts, "
    "visible_at, available_at, chain_id, chain_depth, traceparent, lease_owner, lease_expires, "
    "lease_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (request_id) DO NOTHING"
)


def insert_events(
    connection: sqlite3.Connection, events: Iterable[QueuedEvent], claim: Claim | None = None
) -> None:
    """Queue events now; one whose request id is already queued is left out (a repeat). With
    a ``claim``, they are queued leased to its owner (``Backend.settle`` says how).

    ON CONFLICT names the one conflict to skip: ``INSERT OR IGNORE`` would also silently drop
    a row that breaks any other constraint (a NULL payload), storing the rest of the call."""
    now = time.time()
    if claim is None:
        rows = [_event_row(event, now, now, None, None, 0) for event in events]
        connection.executemany(INSERT_EVENT, rows)
        return
    expires = now + claim.lease_seconds
    for event in events:
        row = _event_row(event, now, expires, claim.owner, expires, 1)
        queued = connection.execute(f"{INSERT_EVENT} RETURNING event_id", row).fetchone()
        if queued is not None:
            event.event_id, event.lease_epoch, event.lease_expires = queued[0], 1, expires
            event.enqueued_at = event.visible_at = now


def _event_row(
    event: QueuedEvent,
    now: float,
    available_at: float,
    owner: str | None,
    expires: float | None,
    epoch: int,
) -> tuple[object, ...]:
    return (
        event.request_id,
        event.function_name,
        event.qualifier,
        event.payload,
        now,
        event.attempts,
        now,
        available_at,
        *lineage_values(event.lineage),
        event.traceparent or None,
        owner,
        expires,
        epoch,
    )


def delete_event(connection: sqlite3.Connection, event_id: int, epoch: int) -> bool:
    """Remove an event under its lease; False when a newer lease owns it."""
    cursor = connection.execute(
        "DELETE FROM events WHERE event_id = ? AND lease_epoch = ?", (event_id, epoch)
    )
    return cursor.rowcount > 0
