"""The Router's outbox and failed-delivery store in SQLite (docs/architecture.md §3.2)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from eventinvoke.backends.sqlite.database import Database
from eventinvoke.core.model import Delivery, ExecutionRecord, FailedDelivery

_RECORD_COLUMNS = (
    "request_id, function_arn, condition, approximate_invoke_count, request_payload, timestamp, "
    "executed_version, function_error, response_payload, status_code"
)
_DELIVERY_COLUMNS = f"delivery_id, target, kind, attempts, {_RECORD_COLUMNS}"


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
                f"RETURNING seq, {_DELIVERY_COLUMNS}, lease_epoch",
                (owner, expires, expires, now, limit),
            ).fetchall()
            rows = sorted(rows, key=lambda row: row["seq"])
            return [_delivery(row, row["lease_epoch"]) for row in rows]

        return await self._database.write(lease, durable=False)

    async def delivered(self, delivery_id: str, epoch: int) -> bool:
        def delete(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "DELETE FROM deliveries WHERE delivery_id = ? AND lease_epoch = ?",
                (delivery_id, epoch),
            )
            return cursor.rowcount > 0

        return await self._database.write(delete, durable=False)

    async def retry(self, delivery_id: str, epoch: int, attempts: int, delay: float) -> bool:
        def retry(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE deliveries SET attempts = ?, available_at = ?, lease_owner = NULL, "
                "lease_expires = NULL WHERE delivery_id = ? AND lease_epoch = ?",
                (attempts, time.time() + delay, delivery_id, epoch),
            )
            return cursor.rowcount > 0

        return await self._database.write(retry, durable=False)

    async def fail(self, delivery_id: str, epoch: int, attempts: int, reason: str) -> bool:
        """Copy and delete in one operation, so the delivery is always in exactly one table."""

        def fail(connection: sqlite3.Connection) -> bool:
            connection.execute(
                f"INSERT INTO failed_deliveries ({_DELIVERY_COLUMNS}, reason, failed_at) "
                f"SELECT delivery_id, target, kind, ?, {_RECORD_COLUMNS}, ?, ? "
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
                f"SELECT failed_id, {_DELIVERY_COLUMNS}, reason, failed_at "
                "FROM failed_deliveries WHERE failed_id > ? ORDER BY failed_id LIMIT ?",
                (int(marker or 0), limit + 1),
            ).fetchall()
            shown = rows[:limit]
            failed = [
                FailedDelivery(_delivery(row), reason=row["reason"], failed_at=row["failed_at"])
                for row in shown
            ]
            more = len(rows) > limit
            return failed, (str(shown[-1]["failed_id"]) if more and shown else None)

        return await self._database.read(page)

    async def pending(self) -> int:
        def count(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

        return await self._database.read(count)


def insert_deliveries(connection: sqlite3.Connection, deliveries: list[Delivery]) -> None:
    now = time.time()
    connection.executemany(
        f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}, available_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*_delivery_values(delivery), now) for delivery in deliveries],
    )


def _delivery_values(delivery: Delivery) -> tuple[object, ...]:
    """A delivery's row, in the order of ``_DELIVERY_COLUMNS``."""
    record = delivery.record
    return (
        delivery.delivery_id,
        delivery.target,
        delivery.kind,
        delivery.attempts,
        record.request_id,
        record.function_arn,
        record.condition,
        record.approximate_invoke_count,
        record.request_payload,
        # ISO-8601 keeps every microsecond and reads back as an aware UTC datetime.
        record.timestamp.astimezone(UTC).isoformat(),
        record.executed_version,
        record.function_error,
        record.response_payload,
        record.status_code,
    )


def _delivery(row: sqlite3.Row, epoch: int = 0) -> Delivery:
    response_payload = row["response_payload"]
    record = ExecutionRecord(
        request_id=row["request_id"],
        function_arn=row["function_arn"],
        condition=row["condition"],
        approximate_invoke_count=row["approximate_invoke_count"],
        request_payload=bytes(row["request_payload"]),
        timestamp=datetime.fromisoformat(row["timestamp"]),
        executed_version=row["executed_version"],
        function_error=row["function_error"],
        response_payload=None if response_payload is None else bytes(response_payload),
        status_code=row["status_code"],
    )
    return Delivery(
        delivery_id=row["delivery_id"],
        target=row["target"],
        kind=row["kind"],
        record=record,
        attempts=row["attempts"],
        lease_epoch=epoch,
    )
