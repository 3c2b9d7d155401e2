"""The Router's outbox and failed-delivery store in PostgreSQL, leased and fenced like events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from eventinvoke.backends.postgres.batches import arrays, fenced, inserting
from eventinvoke.backends.postgres.database import DELIVERIES, Database
from eventinvoke.backends.rows import (
    DELIVERY_COLUMNS,
    FAILED_COLUMNS,
    RECORD_COLUMNS,
    column_names,
    delivery_from,
    delivery_values,
    failed_from,
    failed_page,
    failure_conditions,
)
from eventinvoke.core.model import EVERY_FAILURE, Delivery, FailedDelivery, FailureFilter

# The array types a list of deliveries becomes, in the order of DELIVERY_COLUMNS.
DELIVERY_TYPES = (
    "text", "text", "text", "integer", "text", "text", "text", "integer", "bytea", "text",
    "text", "text", "bytea", "integer", "text", "integer", "text",
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
        await self._database.write(_add, deliveries, durable=True)

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[Delivery]:
        return await self._database.write(_lease, (owner, limit, lease_seconds))  # type: ignore[no-any-return]

    async def delivered(self, delivery_id: str, epoch: int) -> bool:
        return await self._database.write(_delivered, (delivery_id, epoch))  # type: ignore[no-any-return]

    async def retry(self, delivery_id: str, epoch: int, attempts: int, delay: float) -> bool:
        return await self._database.write(_retry, (delivery_id, epoch, attempts, delay))  # type: ignore[no-any-return]

    async def fail(self, delivery_id: str, epoch: int, attempts: int, reason: str) -> bool:
        return await self._database.write(_fail, (delivery_id, epoch, attempts, reason))  # type: ignore[no-any-return]

    async def list_failed(
        self, marker: str | None, limit: int, which: FailureFilter = EVERY_FAILURE
    ) -> tuple[list[FailedDelivery], str | None]:
        """Oldest failure first; the marker is the id of the last failure of the page."""
        where, values = _where(which)
        after = len(values) + 1

        async def page(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            return await connection.fetch(  # type: ignore[no-any-return]
                f"SELECT {FAILED_COLUMNS} FROM failed_deliveries "
                f"WHERE {where} AND failed_id > ${after} ORDER BY failed_id LIMIT ${after + 1}",
                *values,
                int(marker or 0),
                limit + 1,
            )

        return failed_page(await self._database.run(page), limit)

    async def get_failed(self, delivery_id: str) -> FailedDelivery | None:
        row = await self._database.run(
            lambda c: c.fetchrow(
                f"SELECT {FAILED_COLUMNS} FROM failed_deliveries WHERE delivery_id = $1 "
                "ORDER BY failed_id DESC LIMIT 1",
                delivery_id,
            )
        )
        return None if row is None else failed_from(row)

    async def redrive_failed(self, which: FailureFilter) -> int:
        """Move and delete in one statement. Two redrives at once, from any replicas: the
        second's DELETE waits for the first's row locks, then finds those rows gone (READ
        COMMITTED), so each failure is moved once."""
        where, values = _where(which)

        async def redrive(connection: asyncpg.Connection) -> int:
            async with connection.transaction():
                moved = await connection.fetchval(
                    "WITH moved AS ("
                    f"DELETE FROM failed_deliveries WHERE {where} AND target <> '' "
                    "RETURNING *), "
                    "queued AS ("
                    f"INSERT INTO deliveries ({DELIVERY_COLUMNS}, available_at) "
                    f"SELECT delivery_id, target, kind, 0, {RECORD_COLUMNS}, ei_now() "
                    "FROM moved ORDER BY failed_id RETURNING 1) "
                    "SELECT count(*) FROM queued",
                    *values,
                )
                if moved:
                    await self._database.notify(connection, DELIVERIES)
                return int(moved)

        return await self._database.run(redrive)

    async def purge_failed(self, which: FailureFilter) -> int:
        where, values = _where(which)
        purged = await self._database.run(
            lambda c: c.fetchval(
                f"WITH gone AS (DELETE FROM failed_deliveries WHERE {where} "
                "RETURNING delivery_id), "
                "kept AS (INSERT INTO purged_deliveries (delivery_id, purged_at) "
                "SELECT DISTINCT delivery_id, ei_now() FROM gone ON CONFLICT DO NOTHING) "
                "SELECT count(*) FROM gone",
                *values,
            )
        )
        return int(purged)

    async def pending(self) -> int:
        return await self._database.run(  # type: ignore[no-any-return]
            lambda c: c.fetchval("SELECT count(*) FROM deliveries")
        )

    async def failed_count(self) -> int:
        return await self._database.run(  # type: ignore[no-any-return]
            lambda c: c.fetchval("SELECT count(*) FROM failed_deliveries")
        )


_add = inserting(INSERT_DELIVERIES, delivery_columns, DELIVERIES)


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


_delivered = fenced(
    "DELETE FROM deliveries d USING unnest($1::text[], $2::bigint[]) AS t(id, epoch) "
    "WHERE d.delivery_id = t.id AND d.lease_epoch = t.epoch "
    "RETURNING d.delivery_id, d.lease_epoch",
    2,
    "delivery_id",
    once=True,
)
_retry = fenced(
    "UPDATE deliveries d SET attempts = t.attempts, available_at = ei_now() + t.delay, "
    "lease_owner = NULL, lease_expires = NULL "
    "FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::float8[]) "
    "AS t(id, epoch, attempts, delay) "
    "WHERE d.delivery_id = t.id AND d.lease_epoch = t.epoch "
    "RETURNING d.delivery_id, d.lease_epoch",
    4,
    "delivery_id",
)
# Move and delete in one statement: a delivery is always in exactly one table.
_fail = fenced(
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
    4,
    "delivery_id",
    once=True,
)


def _where(which: FailureFilter) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def parameter(value: Any) -> str:
        values.append(value)
        return f"${len(values)}"

    return failure_conditions(which, parameter, "strpos"), values
