"""Reserved concurrency in PostgreSQL: slot rows taken with SKIP LOCKED, leased like events."""

from __future__ import annotations

from typing import Any

import asyncpg

from eventinvoke.backends.postgres.batches import notifying
from eventinvoke.backends.postgres.database import EVENTS, Database

_TAKE = """
WITH free AS (
    SELECT slot FROM concurrency_slots
    WHERE function_name = $1 AND slot < $2 AND (holder IS NULL OR expires_at <= ei_now())
    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE concurrency_slots s SET holder = $3, expires_at = ei_now() + $4
FROM free WHERE s.function_name = $1 AND s.slot = free.slot
RETURNING s.slot
"""

# Free the holder's slot and, asked to, make the function's next throttled event visible now,
# and tell every executor: another one may be the one to run it.
_RELEASE = f"""
WITH freed AS (
    UPDATE concurrency_slots SET holder = NULL, expires_at = NULL
    WHERE holder = $1 RETURNING function_name
),
woken AS (
    UPDATE events SET visible_at = ei_now()
    WHERE event_id = (
        SELECT event_id FROM events
        WHERE $3 AND EXISTS (SELECT 1 FROM freed) AND function_name = $2
          AND visible_at > ei_now() AND lease_owner IS NULL AND throttles > 0
        ORDER BY visible_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING event_id
)
{notifying(EVENTS, "woken")}
"""


class PostgresConcurrencySlots:
    """The ConcurrencySlots of the PostgreSQL backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def acquire(
        self, function_name: str, reserved: int, holder: str, lease_seconds: float
    ) -> bool:
        args = (function_name, reserved, holder, lease_seconds)
        return await self._database.write(_acquire, args)  # type: ignore[no-any-return]

    async def renew(self, holder: str, lease_seconds: float) -> None:
        await self._database.write(_renew, (holder, lease_seconds))

    async def release(self, function_name: str, holder: str, *, wake: bool = True) -> None:
        if await self._database.write(_release, (holder, function_name, wake)):
            # The other processes hear the NOTIFY; this one does not hear its own.
            self._database.listeners.events()


async def _acquire(connection: asyncpg.Connection, calls: list[tuple[Any, ...]]) -> list[bool]:
    answers = []
    for function_name, reserved, holder, lease_seconds in calls:
        slot = await connection.fetchval(_TAKE, function_name, reserved, holder, lease_seconds)
        if slot is None:
            # A reservation set before its slots existed, or grown: make them, and look again.
            # Look again even when this made none: the insert may have waited for another
            # executor making the same slots, and this next statement sees what it committed.
            await connection.execute(
                "INSERT INTO concurrency_slots (function_name, slot) "
                "SELECT $1, n FROM generate_series(0, $2 - 1) AS n ON CONFLICT DO NOTHING",
                function_name,
                reserved,
            )
            slot = await connection.fetchval(_TAKE, function_name, reserved, holder, lease_seconds)
        answers.append(slot is not None)
    return answers


async def _renew(connection: asyncpg.Connection, calls: list[tuple[str, float]]) -> list[None]:
    await connection.execute(
        "UPDATE concurrency_slots s SET expires_at = ei_now() + t.seconds "
        "FROM unnest($1::text[], $2::float8[]) AS t(holder, seconds) WHERE s.holder = t.holder",
        [holder for holder, _ in calls],
        [seconds for _, seconds in calls],
    )
    return [None] * len(calls)


async def _release(
    connection: asyncpg.Connection, calls: list[tuple[str, str, bool]]
) -> list[bool]:
    # Whether each woke an event: the NOTIFY's row is there only then.
    return [bool(await connection.fetch(_RELEASE, *call)) for call in calls]
