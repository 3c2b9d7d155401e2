"""The Router's outbox and failed-delivery store in PostgreSQL, leased and fenced like events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from eventinvoke.backends.postgres.batches import arrays, columns, inserting, matched
from eventinvoke.backends.postgres.database import DELIVERIES, Database
from eventinvoke.backends.rows import (
    DELIVERY_COLUMNS,
    RECORD_COLUMNS,
    column_names,
    delivery_from,
    delivery_values,
    failed_page,
)
from eventinvoke.core.model import Delivery, FailedDelivery

# The array types a list of deliveries becomes, in the order of DELIVERY_COLUMNS.
DELIVERY_TYPES = (
    "text", "text", "text", "integer", "text", "text", "text", "integer", "bytea", "text",
    "text", "text", "bytea", "integer", "text", "integer",
)  # fmt: skip


INSERT_DELIVERIES = (
    f"INSERT INTO deliveries ({DELIVERY_COLUMNS}, available_at) "
    f"SELECT *, ei_now() FROM unnest({arrays(DELIVERY_TYPES)})"
)


def delivery_columns(deliveries: Sequence[Delivery]) -> list[list[Any]]:
    """Deliveries as the arrays INSERT_DELIVERIES takes."""
    rows = [delivery_values(d) for d in deliveries]
    if not rows:
        return [[] for _ in DELIVERY_TYPES]
    return [list(column) for column in zip(*rows, strict=True)]


class PostgresOutbox:
    """The Outbox of the PostgreSQL backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, deliveries: list[Delivery]) -> None:
        await self._database.write(_add, deliveries, durable=True, notify=(DELIVERIES,))

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[Delivery]:
        return await self._database.write(_lease, (owner, limit, lease_seconds))  # type: ignore[no-any-return]

    async def delivered(self, delivery_id: str, epoch: int) -> bool:
        return await self._database.write(_delivered, (delivery_id, epoch))  # type: ignore[no-any-return]

    async def retry(self, delivery_id: str, epoch: int, attempts: int, delay: float) -> bool:
        return await self._database.write(_retry, (delivery_id, epoch, attempts, delay))  # type: ignore[no-any-return]

    async def fail(self, delivery_id: str, epoch: int, attempts: int, reason: str) -> bool:
        return await self._database.write(_fail, (delivery_id, epoch, attempts, reason))  # type: ignore[no-any-return]

    async def list_failed(
        self, marker: str | None, limit: int
    ) -> tuple[list[FailedDelivery], str | None]:
        """Oldest failure first; the marker is the id of the last failure of the page."""

        async def page(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            return await connection.fetch(  # type: ignore[no-any-return]
                f"SELECT failed_id, {DELIVERY_COLUMNS}, reason, failed_at "
                "FROM failed_deliveries WHERE failed_id > $1 ORDER BY failed_id LIMIT $2",
                int(marker or 0),
                limit + 1,
            )

        return failed_page(await self._database.run(page), limit)

    async def pending(self) -> int:
        return await self._database.run(  # type: ignore[no-any-return]
            lambda c: c.fetchval("SELECT count(*) FROM deliveries")
        )

    async def failed_count(self) -> int:
        return await self._database.run(  # type: ignore[no-any-return]
            lambda c: c.fetchval("SELECT count(*) FROM failed_deliveries")
        )


_add = inserting(INSERT_DELIVERIES, delivery_columns)


async def _lease(connection: asyncpg.Connection, calls: list[tuple[str, int, float]]) -> list[Any]:
    answers = []
    for owner, limit, lease_seconds in calls:
        rows = await connection.fetch(
            "UPDATE deliveries d SET lease_owner = $1, lease_expires = ei_now() + $2, "
            "available_at = ei_now() + $2, lease_epoch = d.lease_epoch + 1 "
            "WHERE d.seq = ANY (ARRAY(SELECT seq FROM deliveries WHERE available_at <= ei_now() "
            "ORDER BY available_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)) "
            f"RETURNING d.seq, d.lease_epoch, "
            f"{', '.join('d.' + c for c in column_names(DELIVERY_COLUMNS))}",
            owner,
            lease_seconds,
            limit,
        )
        rows = sorted(rows, key=lambda row: row["seq"])
        answers.append([delivery_from(row, row["lease_epoch"]) for row in rows])
    return answers


async def _delivered(connection: asyncpg.Connection, calls: list[tuple[str, int]]) -> list[bool]:
    rows = await connection.fetch(
        "DELETE FROM deliveries d USING unnest($1::text[], $2::bigint[]) AS t(id, epoch) "
        "WHERE d.delivery_id = t.id AND d.lease_epoch = t.epoch "
        "RETURNING d.delivery_id, d.lease_epoch",
        *columns(calls, 2),
    )
    return matched(calls, rows, "delivery_id", once=True)


async def _retry(
    connection: asyncpg.Connection, calls: list[tuple[str, int, int, float]]
) -> list[bool]:
    rows = await connection.fetch(
        "UPDATE deliveries d SET attempts = t.attempts, available_at = ei_now() + t.delay, "
        "lease_owner = NULL, lease_expires = NULL "
        "FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::float8[]) "
        "AS t(id, epoch, attempts, delay) "
        "WHERE d.delivery_id = t.id AND d.lease_epoch = t.epoch "
        "RETURNING d.delivery_id, d.lease_epoch",
        *columns(calls, 4),
    )
    return matched(calls, rows, "delivery_id")


async def _fail(
    connection: asyncpg.Connection, calls: list[tuple[str, int, int, str]]
) -> list[bool]:
    """Move and delete in one statement: a delivery is always in exactly one table."""
    rows = await connection.fetch(
        "WITH moved AS ("
        "DELETE FROM deliveries d USING unnest($1::text[], $2::bigint[], $3::integer[], "
        "$4::text[]) AS t(id, epoch, attempts, reason) "
        "WHERE d.delivery_id = t.id AND d.lease_epoch = t.epoch "
        "RETURNING d.*, t.attempts AS failed_attempts, t.reason AS failure), "
        "kept AS ("
        f"INSERT INTO failed_deliveries ({DELIVERY_COLUMNS}, reason, failed_at) "
        f"SELECT delivery_id, target, kind, failed_attempts, {RECORD_COLUMNS}, failure, "
        "ei_now() FROM moved) "
        "SELECT delivery_id, lease_epoch FROM moved",
        *columns(calls, 4),
    )
    return matched(calls, rows, "delivery_id", once=True)
