"""The Router's outbox and failed-delivery store in SQLite (docs/architecture.md §3.2)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from eventinvoke.backends.rows import (
    DELIVERY_COLUMNS,
    FAILED_COLUMNS,
    RECORD_COLUMNS,
    delivery_from,
    delivery_values,
    failed_from,
    failed_page,
    failure_conditions,
)
from eventinvoke.backends.sqlite.database import Database
from eventinvoke.core.model import EVERY_FAILURE, Delivery, FailedDelivery, FailureFilter


class SqliteOutbox:
    """The Outbox of the embedded backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, deliveries: list[Delivery]) -> None:
        """One operation, so one savepoint: a duplicate ``delivery_id`` stores none of them."""

        await self._database.write(lambda connection: insert_deliveries(connection, deliveries))

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[Delivery]:
        """Like the event queue's lease; deliveries come in the order they were added."""

        def lease(connection: sqlite3.Connection) -> list[Delivery]:
            now = time.time()
            expires = now + lease_seconds
            rows = connection.execute(
                "UPDATE deliveries SET lease_owner = ?, lease_expires = ?, available_at = ?, "
                "lease_epoch = lease_epoch + 1 "
                "WHERE seq IN (SELECT seq FROM deliveries WHERE available_at <= ? "
                "ORDER BY available_at, seq LIMIT ?) "
                f"RETURNING seq, {DELIVERY_COLUMNS}, lease_epoch",
                (owner, expires, expires, now, limit),
            ).fetchall()
            rows = sorted(rows, key=lambda row: row["seq"])
            return [delivery_from(row, row["lease_epoch"]) for row in rows]

        return await self._database.write(lease, durable=False)

    async def delivered(self, delivery_id: str, epoch: int) -> bool:
        return await self._database.change(
            "DELETE FROM deliveries WHERE delivery_id = ? AND lease_epoch = ?",
            (delivery_id, epoch),
            durable=False,
        )

    async def retry(self, delivery_id: str, epoch: int, attempts: int, delay: float) -> bool:
        return await self._database.change(
            "UPDATE deliveries SET attempts = ?, available_at = ?, lease_owner = NULL, "
            "lease_expires = NULL WHERE delivery_id = ? AND lease_epoch = ?",
            (attempts, time.time() + delay, delivery_id, epoch),
            durable=False,
        )

    async def fail(self, delivery_id: str, epoch: int, attempts: int, reason: str) -> bool:
        """Copy and delete in one operation, so the delivery is always in exactly one table."""

        def fail(connection: sqlite3.Connection) -> bool:
            connection.execute(
                f"INSERT INTO failed_deliveries ({DELIVERY_COLUMNS}, reason, failed_at) "
                f"SELECT delivery_id, target, kind, ?, {RECORD_COLUMNS}, ?, ? "
                "FROM deliveries WHERE delivery_id = ? AND lease_epoch = ?",
                (attempts, reason, time.time(), delivery_id, epoch),
            )
            cursor = connection.execute(
                "DELETE FROM deliveries WHERE delivery_id = ? AND lease_epoch = ?",
                (delivery_id, epoch),
            )
            return cursor.rowcount > 0

        return await self._database.write(fail, durable=False)

    async def list_failed(
        self, marker: str | None, limit: int, which: FailureFilter = EVERY_FAILURE
    ) -> tuple[list[FailedDelivery], str | None]:
        """Oldest failure first; the marker is the row id of the last failure of the page."""
        where, values = _where(which)

        def page(connection: sqlite3.Connection) -> tuple[list[FailedDelivery], str | None]:
            rows = connection.execute(
                f"SELECT {FAILED_COLUMNS} FROM failed_deliveries "
                f"WHERE {where} AND failed_id > ? ORDER BY failed_id LIMIT ?",
                (*values, int(marker or 0), limit + 1),
            ).fetchall()
            return failed_page(rows, limit)

        return await self._database.read(page)

    async def get_failed(self, delivery_id: str) -> FailedDelivery | None:
        def get(connection: sqlite3.Connection) -> FailedDelivery | None:
            row = connection.execute(
                f"SELECT {FAILED_COLUMNS} FROM failed_deliveries WHERE delivery_id = ? "
                "ORDER BY failed_id DESC LIMIT 1",
                (delivery_id,),
            ).fetchone()
            return None if row is None else failed_from(row)

        return await self._database.read(get)

    async def redrive_failed(self, which: FailureFilter) -> int:
        """Delete and insert in one operation: one writer at a time, so a failure moves once."""
        where, values = _where(which)

        def redrive(connection: sqlite3.Connection) -> int:
            rows = connection.execute(
                f"DELETE FROM failed_deliveries WHERE {where} AND target <> '' "
                f"RETURNING {FAILED_COLUMNS}",
                values,
            ).fetchall()
            rows = sorted(rows, key=lambda row: row["failed_id"])  # oldest failure first
            insert_deliveries(connection, [replace(delivery_from(row), attempts=0) for row in rows])
            return len(rows)

        return await self._database.write(redrive)

    async def purge_failed(self, which: FailureFilter) -> int:
        where, values = _where(which)

        def purge(connection: sqlite3.Connection) -> int:
            ids = connection.execute(
                f"DELETE FROM failed_deliveries WHERE {where} RETURNING delivery_id", values
            ).fetchall()
            connection.executemany(
                "INSERT OR IGNORE INTO purged_deliveries (delivery_id, purged_at) VALUES (?, ?)",
                [(delivery_id, time.time()) for (delivery_id,) in ids],
            )
            return len(ids)

        return await self._database.write(purge)

    async def pending(self) -> int:
        def count(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

        return await self._database.read(count)

    async def failed_count(self) -> int:
        def count(connection: sqlite3.Connection) -> int:
            query = "SELECT COUNT(*) FROM failed_deliveries"
            return int(connection.execute(query).fetchone()[0])

        return await self._database.read(count)


def insert_deliveries(connection: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    now = time.time()
    connection.executemany(
        f"INSERT INTO deliveries ({DELIVERY_COLUMNS}, available_at) "
        f"VALUES ({', '.join('?' for _ in DELIVERY_COLUMNS.split(','))}, ?)",
        [(*delivery_values(delivery), now) for delivery in deliveries],
    )


def _where(which: FailureFilter) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def parameter(value: Any) -> str:
        values.append(value)
        return "?"

    return failure_conditions(which, parameter, "instr"), values
