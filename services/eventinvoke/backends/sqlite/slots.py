"""Reserved concurrency in SQLite: slots shared by every process that opens the file."""

from __future__ import annotations

import sqlite3
import time

from eventinvoke.backends.sqlite.database import Database


class SqliteConcurrencySlots:
    """The ConcurrencySlots of the embedded backend. Each call is one write: SQLite's write
    lock makes taking a slot atomic across processes."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def acquire(
        self, function_name: str, reserved: int, holder: str, lease_seconds: float
    ) -> bool:
        def acquire(connection: sqlite3.Connection) -> bool:
            now = time.time()
            slot = _free_slot(connection, function_name, reserved, now)
            if slot is None and _slot_count(connection, function_name) < reserved:
                # The reservation grew (or is new): its slots are made on first use.
                connection.executemany(
                    "INSERT OR IGNORE INTO concurrency_slots (function_name, slot) VALUES (?, ?)",
                    [(function_name, n) for n in range(reserved)],
                )
                slot = _free_slot(connection, function_name, reserved, now)
            if slot is None:
                return False
            connection.execute(
                "UPDATE concurrency_slots SET holder = ?, expires_at = ? "
                "WHERE function_name = ? AND slot = ?",
                (holder, now + lease_seconds, function_name, slot),
            )
            return True

        return await self._database.write(acquire, durable=False)

    async def renew(self, holder: str, lease_seconds: float) -> None:
        def renew(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE concurrency_slots SET expires_at = ? WHERE holder = ?",
                (time.time() + lease_seconds, holder),
            )

        await self._database.write(renew, durable=False)

    async def release(self, function_name: str, holder: str, *, wake: bool = True) -> None:
        def release(connection: sqlite3.Connection) -> None:
            freed = connection.execute(
                "UPDATE concurrency_slots SET holder = NULL, expires_at = NULL WHERE holder = ?",
                (holder,),
            ).rowcount
            if freed and wake:
                wake_throttled(connection, function_name, time.time())

        await self._database.write(release, durable=False)


def _free_slot(
    connection: sqlite3.Connection, function_name: str, reserved: int, now: float
) -> int | None:
    row = connection.execute(
        "SELECT slot FROM concurrency_slots WHERE function_name = ? AND slot < ? "
        "AND (holder IS NULL OR expires_at <= ?) ORDER BY slot LIMIT 1",
        (function_name, reserved, now),
    ).fetchone()
    return None if row is None else int(row[0])


def _slot_count(connection: sqlite3.Connection, function_name: str) -> int:
    row = connection.execute(
        "SELECT COUNT(*) FROM concurrency_slots WHERE function_name = ?", (function_name,)
    ).fetchone()
    return int(row[0])


def wake_throttled(connection: sqlite3.Connection, function_name: str, now: float) -> None:
    """The function's event that is next due among those waiting out a throttle backoff
    becomes visible now: a slot just freed for it."""
    connection.execute(
        "UPDATE events SET visible_at = ?, available_at = ? WHERE event_id = ("
        "SELECT event_id FROM events WHERE function_name = ? AND available_at > ? "
        "AND lease_owner IS NULL AND throttles > 0 ORDER BY available_at LIMIT 1)",
        (now, now, function_name, now),
    )
