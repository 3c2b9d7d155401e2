"""Settled invocations in PostgreSQL, for GetInvocation: stored by the settle (in its statement,
``__init__.py``), read by request id, swept oldest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from eventinvoke.backends.postgres.database import Database
from eventinvoke.backends.rows import (
    DELIVERY_STATES,
    SETTLED_COLUMNS,
    delivery_states,
    settled_from,
    settled_values,
)
from eventinvoke.core.model import DeliveryState, SettledInvocation

# The array types a list of settled invocations becomes, in the order of INVOCATION_COLUMNS.
SETTLED_TYPES = ("text", "text", "text", "text", "float8", "text", "text")

# The lowest seq kept: that of the first invocation settled at the cutoff ($1) or later, and
# above all but the $2 last. Settles are stored in about the order of their time, so the walk
# from the oldest stops at the first one kept (past the rows it forgets). At most $3 go.
# Purged deliveries are forgotten past the retention too.
SWEEP = """
WITH purged AS (DELETE FROM purged_deliveries WHERE purged_at < ei_now() - $1),
last AS (SELECT coalesce(max(seq), 0) AS seq FROM invocations),
bound AS (
    SELECT greatest(
        coalesce((SELECT seq FROM invocations WHERE settled_at >= ei_now() - $1
                  ORDER BY seq LIMIT 1), last.seq + 1),
        last.seq - $2 + 1) AS seq
    FROM last
)
DELETE FROM invocations WHERE seq = ANY (ARRAY(
    SELECT seq FROM invocations WHERE seq < (SELECT seq FROM bound) ORDER BY seq LIMIT $3))
"""


def settled_columns(invocations: Sequence[SettledInvocation]) -> list[list[Any]]:
    """Settled invocations as the arrays of SETTLED_TYPES."""
    rows = [settled_values(invocation) for invocation in invocations]
    if not rows:
        return [[] for _ in SETTLED_TYPES]
    return [list(column) for column in zip(*rows, strict=True)]


class PostgresInvocationLog:
    """The InvocationLog of the PostgreSQL backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, request_id: str) -> tuple[SettledInvocation, list[DeliveryState]] | None:
        async def get(
            connection: asyncpg.Connection,
        ) -> tuple[SettledInvocation, list[DeliveryState]] | None:
            row = await connection.fetchrow(
                f"SELECT {SETTLED_COLUMNS} FROM invocations WHERE request_id = $1 "
                "ORDER BY seq DESC LIMIT 1",
                request_id,
            )
            if row is None:
                return None
            invocation = settled_from(row)
            ids = invocation.delivery_ids
            statement = DELIVERY_STATES.format(ids="= ANY ($1::text[])")
            rows = await connection.fetch(statement, ids) if ids else []
            return invocation, delivery_states(invocation, rows)

        return await self._database.run(get)

    async def sweep(self, retention: float, keep: int, limit: int) -> int:
        status = await self._database.run(lambda c: c.execute(SWEEP, retention, keep, limit))
        return int(status.split()[-1])  # "DELETE <count>"
