"""The Router's outbox and failed-delivery store in SQLite (docs/architecture.md §3.2)."""

from __future__ import annotations

import sqlite3
import time

from eventinvoke.backends.rows import (
    DELIVERY_COLUMNS,
    RECORD_COLUMNS,
    delivery_from,
    delivery_values,
    failed_page,
)
from eventinvoke.backends.sqlite.database import Database
from eventinvoke.core.model import Delivery, FailedDelivery


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
        self, marker: str | None, limit: int
    ) -> tuple[list[FailedDelivery], str | None]:
        """Oldest failure first; the marker is the row id of the last failure of the page."""

        def page(connection: sqlite3.Connection) -> tuple[list[FailedDelivery], str | None]:
            rows = connection.execute(
                f"SELECT failed_id, {DELIVERY_COLUMNS}, reason, failed_at "
                "FROM failed_deliveries WHERE failed_id > ? ORDER BY failed_id LIMIT ?",
                (int(marker or 0), limit + 1),
            ).fetchall()
            return failed_page(rows, limit)

        return await self._database.read(page)

    async def pending(self) -> int:
        def count(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

        return await self._database.read(count)

    async def failed_count(self) -> int:
        def count(connection: sqlite3.Connection) -> int:
            query = "SELECT COUNT(*) FROM failed_deliveries"
            return int(connection.execute(query).fetchone()[0])

        return await self._database.read(count)


def insert_deliveries(connection: sqlite3.Connection, deliveries: list[Delivery]) -> None:
    now = time.time()
    connection.executemany(
        f"INSERT INTO deliveries ({DELIVERY_COLUMNS}, available_at) "
        f"VALUES ({', '.join('?' for _ in DELIVERY_COLUMNS.split(','))}, ?)",
        [(*delivery_values(delivery), now) for delivery in deliveries],
    )
