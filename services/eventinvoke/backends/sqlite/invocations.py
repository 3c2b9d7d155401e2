"""Settled invocations in SQLite, for GetInvocation: stored by the settle, read by request id,
swept oldest first.

A settle appends its row to ``recent_invocations``, which has no index; every ``FOLD_EVERY``
rows, and before each sweep, those rows move to ``invocations`` sorted by its index's key (the
request id's first 8 characters). Request ids are random: inserted one at a time, each dirtied
a page of the index, which cost about 9% of the bench's end-to-end throughput. Sorted, a fold's
thousands of rows share pages. A read looks in both tables.
"""

from __future__ import annotations

import sqlite3
import time

from eventinvoke.backends.rows import (
    DELIVERY_STATES,
    SETTLED_COLUMNS,
    delivery_states,
    settled_from,
    settled_values,
)
from eventinvoke.backends.sqlite.database import Database
from eventinvoke.backends.sqlite.schema import INVOCATION_KEY
from eventinvoke.core.model import DeliveryState, SettledInvocation

# Rows kept unindexed at most (besides those of the last 10 s: each sweep folds): a read scans
# them, 0.15 ms for 4,096.
FOLD_EVERY = 4096

# A request id's latest settle, in either table. The unary plus keeps SQLite from substituting
# the id into the indexed expression, which made the index unusable: it scanned the table.
GET = f"""
SELECT {SETTLED_COLUMNS} FROM (
    SELECT seq, {SETTLED_COLUMNS} FROM recent_invocations WHERE request_id = :id
    UNION ALL
    SELECT seq, {SETTLED_COLUMNS} FROM invocations
    WHERE {INVOCATION_KEY} = {INVOCATION_KEY.replace("request_id", ":id")} AND +request_id = :id
) ORDER BY seq DESC LIMIT 1
"""


class SqliteInvocationLog:
    """The InvocationLog of the embedded backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, request_id: str) -> tuple[SettledInvocation, list[DeliveryState]] | None:
        def get(
            connection: sqlite3.Connection,
        ) -> tuple[SettledInvocation, list[DeliveryState]] | None:
            row = connection.execute(GET, {"id": request_id}).fetchone()
            if row is None:
                return None
            invocation = settled_from(row)
            ids = invocation.delivery_ids
            statement = DELIVERY_STATES.format(ids=f"IN ({', '.join('?' for _ in ids)})")
            rows = connection.execute(statement, ids * 3).fetchall() if ids else []
            return invocation, delivery_states(invocation, rows)

        return await self._database.read(get)

    async def sweep(self, retention: float, keep: int, limit: int) -> int:
        def sweep(connection: sqlite3.Connection) -> int:
            fold(connection)
            cutoff = time.time() - retention
            connection.execute("DELETE FROM purged_deliveries WHERE purged_at < ?", (cutoff,))
            bound = forget_below(connection, cutoff, keep)
            return connection.execute(
                "DELETE FROM invocations WHERE seq IN "
                "(SELECT seq FROM invocations WHERE seq < ? ORDER BY seq LIMIT ?)",
                (bound, limit),
            ).rowcount

        # Bookkeeping: a sweep lost in a power failure is made again.
        return await self._database.write(sweep, durable=False)


def forget_below(connection: sqlite3.Connection, cutoff: float, keep: int) -> int:
    """The lowest seq kept: that of the first invocation settled at ``cutoff`` or later, and
    above all but the ``keep`` last. Settles are stored in about the order of their time, so
    the walk from the oldest stops at the first one kept (past the rows it forgets)."""
    (last,) = connection.execute("SELECT coalesce(max(seq), 0) FROM invocations").fetchone()
    young = connection.execute(
        "SELECT seq FROM invocations WHERE settled_at >= ? ORDER BY seq LIMIT 1", (cutoff,)
    ).fetchone()
    return max(last + 1 if young is None else young[0], last - keep + 1)


def insert_invocation(connection: sqlite3.Connection, invocation: SettledInvocation) -> None:
    seq = connection.execute(
        f"INSERT INTO recent_invocations ({SETTLED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (*settled_values(invocation), time.time()),
    ).lastrowid
    if seq is not None and seq % FOLD_EVERY == 0:
        fold(connection)


def fold(connection: sqlite3.Connection) -> None:
    """Move the recent invocations into the indexed table, in the order of its index."""
    connection.execute(
        f"INSERT INTO invocations (seq, {SETTLED_COLUMNS}) SELECT seq, {SETTLED_COLUMNS} "
        f"FROM recent_invocations ORDER BY {INVOCATION_KEY}"
    )
    connection.execute("DELETE FROM recent_invocations")
