"""Functions, deployment packages, versions, aliases and event invoke configs in PostgreSQL.

Configuration writes are rare: each is its own transaction on a pooled connection, and each
sends a NOTIFY naming the function, so that every process drops its cached copy at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from eventinvoke.backends.postgres.database import FUNCTIONS, Database
from eventinvoke.backends.rows import (
    ALIAS_COLUMNS,
    CONFIG_COLUMNS,
    FUNCTION_COLUMNS,
    alias_values,
    column_names,
    config_values,
    function_from,
    function_values,
    published,
    same_version,
    version_order,
)
from eventinvoke.core.model import LATEST, Alias, EventInvokeConfig, FunctionConfig

T = TypeVar("T")

_FUNCTION_VALUES = ", ".join(f"${n}" for n in range(1, len(column_names(FUNCTION_COLUMNS)) + 1))


class PostgresFunctionStore:
    """The FunctionStore of the PostgreSQL backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def _write(
        self, function_name: str, work: Callable[[asyncpg.Connection], Awaitable[T]]
    ) -> T:
        """``work`` in a transaction that tells every process the function changed."""

        async def transaction(connection: asyncpg.Connection) -> T:
            async with connection.transaction():
                result = await work(connection)
                await self._database.notify(connection, FUNCTIONS, function_name)
                return result

        return await self._database.run(transaction)

    async def create_function(self, function: FunctionConfig) -> bool:
        async def create(connection: asyncpg.Connection) -> bool:
            # The lock serializes two creates of one name (the row may not exist yet).
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", function.name)
            if await connection.fetchval("SELECT 1 FROM functions WHERE name = $1", function.name):
                return False
            await connection.execute(
                f"INSERT INTO functions ({FUNCTION_COLUMNS}) VALUES ({_FUNCTION_VALUES})",
                *function_values(function),
            )
            return True

        return await self._write(function.name, create)

    async def get_function(self, name: str, version: str = LATEST) -> FunctionConfig | None:
        row = await self._database.run(
            lambda c: c.fetchrow(
                f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = $1 AND version = $2",
                name,
                version,
            )
        )
        return None if row is None else function_from(row)

    async def list_functions(
        self, marker: str | None, limit: int
    ) -> tuple[list[FunctionConfig], str | None]:
        rows = await self._database.run(
            lambda c: c.fetch(
                f"SELECT {FUNCTION_COLUMNS} FROM functions "
                "WHERE version = $1 AND name > $2 ORDER BY name LIMIT $3",
                LATEST,
                marker or "",
                limit + 1,
            )
        )
        functions = [function_from(row) for row in rows[:limit]]
        more = len(rows) > limit
        return functions, (functions[-1].name if more and functions else None)

    async def update_function(self, function: FunctionConfig) -> None:
        async def update(connection: asyncpg.Connection) -> None:
            await connection.execute(
                "UPDATE functions SET arn = $3, runtime = $4, handler = $5, code_sha256 = $6, "
                "code_size = $7, role = $8, timeout = $9, memory_size = $10, environment = $11, "
                "description = $12, dead_letter_target_arn = $13, last_modified = $14, "
                "revision_id = $15, reserved_concurrent_executions = $16 "
                "WHERE name = $1 AND version = $2",
                *function_values(function),
            )

        await self._write(function.name, update)

    async def delete_function(self, name: str) -> bool:
        """Deletes the versions, configs, aliases and slots; packages stay (shared)."""

        async def delete(connection: asyncpg.Connection) -> bool:
            deleted = await connection.execute("DELETE FROM functions WHERE name = $1", name)
            for table, column in (
                ("event_invoke_configs", "function_name"),
                ("aliases", "function_name"),
                ("function_version_counters", "name"),
                ("concurrency_slots", "function_name"),
                ("recursion_configs", "function_name"),
            ):
                await connection.execute(f"DELETE FROM {table} WHERE {column} = $1", name)
            return _count(deleted) > 0

        return await self._write(name, delete)

    async def put_function_concurrency(self, name: str, reserved: int | None) -> bool:
        async def put(connection: asyncpg.Connection) -> bool:
            updated = await connection.execute(
                "UPDATE functions SET reserved_concurrent_executions = $2 WHERE name = $1",
                name,
                reserved,
            )
            if _count(updated) == 0:
                return False  # no such function: no slots for it either
            # The slots follow the reservation: R of them, 0 .. R-1 (held ones above R are left
            # to finish; they are not counted, and go when released).
            await connection.execute(
                "DELETE FROM concurrency_slots WHERE function_name = $1 AND slot >= $2 "
                "AND (holder IS NULL OR expires_at <= ei_now())",
                name,
                reserved or 0,
            )
            if reserved:
                await connection.execute(
                    "INSERT INTO concurrency_slots (function_name, slot) "
                    "SELECT $1, n FROM generate_series(0, $2 - 1) AS n ON CONFLICT DO NOTHING",
                    name,
                    reserved,
                )
            return True

        return await self._write(name, put)

    async def put_recursion_config(self, name: str, recursive_loop: str) -> bool:
        async def put(connection: asyncpg.Connection) -> bool:
            written = await connection.execute(
                "INSERT INTO recursion_configs (function_name, recursive_loop) "
                "SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM functions WHERE name = $1) "
                "ON CONFLICT (function_name) "
                "DO UPDATE SET recursive_loop = excluded.recursive_loop",
                name,
                recursive_loop,
            )
            return _count(written) > 0

        return await self._write(name, put)

    async def get_recursion_config(self, name: str) -> str | None:
        value = await self._database.run(
            lambda c: c.fetchval(
                "SELECT recursive_loop FROM recursion_configs WHERE function_name = $1", name
            )
        )
        return None if value is None else str(value)

    async def reserved_concurrency_total(self, excluding: str = "") -> int:
        total = await self._database.run(
            lambda c: c.fetchval(
                "SELECT coalesce(sum(reserved_concurrent_executions), 0) FROM functions "
                "WHERE version = $1 AND name != $2",
                LATEST,
                excluding,
            )
        )
        return int(total)

    async def put_code(self, code_sha256: str, zip_bytes: bytes) -> None:
        await self._database.run(
            lambda c: c.execute(
                "INSERT INTO code (code_sha256, zip) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                code_sha256,
                zip_bytes,
            )
        )

    async def get_code(self, code_sha256: str) -> bytes | None:
        zip_bytes = await self._database.run(
            lambda c: c.fetchval("SELECT zip FROM code WHERE code_sha256 = $1", code_sha256)
        )
        return None if zip_bytes is None else bytes(zip_bytes)

    async def put_event_invoke_config(self, config: EventInvokeConfig) -> None:
        async def put(connection: asyncpg.Connection) -> None:
            await connection.execute(
                f"INSERT INTO event_invoke_configs ({CONFIG_COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (function_name, qualifier) "
                "DO UPDATE SET last_modified = excluded.last_modified, "
                "maximum_retry_attempts = excluded.maximum_retry_attempts, "
                "maximum_event_age_in_seconds = excluded.maximum_event_age_in_seconds, "
                "on_success = excluded.on_success, on_failure = excluded.on_failure",
                *config_values(config),
            )

        await self._write(config.function_name, put)

    async def get_event_invoke_config(
        self, function_name: str, qualifier: str
    ) -> EventInvokeConfig | None:
        row = await self._database.run(
            lambda c: c.fetchrow(
                f"SELECT {CONFIG_COLUMNS} FROM event_invoke_configs "
                "WHERE function_name = $1 AND qualifier = $2",
                function_name,
                qualifier,
            )
        )
        return None if row is None else EventInvokeConfig(**dict(row))

    async def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool:
        async def delete(connection: asyncpg.Connection) -> bool:
            deleted = await connection.execute(
                "DELETE FROM event_invoke_configs WHERE function_name = $1 AND qualifier = $2",
                function_name,
                qualifier,
            )
            return _count(deleted) > 0

        return await self._write(function_name, delete)

    async def list_event_invoke_configs(self, function_name: str) -> list[EventInvokeConfig]:
        rows = await self._database.run(
            lambda c: c.fetch(
                f"SELECT {CONFIG_COLUMNS} FROM event_invoke_configs "
                "WHERE function_name = $1 ORDER BY qualifier",
                function_name,
            )
        )
        return [EventInvokeConfig(**dict(row)) for row in rows]

    # --- versions and aliases -----------------------------------------------------------------

    async def publish_version(
        self, name: str, description: str | None, revision_id: str
    ) -> FunctionConfig | None:
        async def publish(connection: asyncpg.Connection) -> FunctionConfig | None:
            row = await connection.fetchrow(
                f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = $1 AND version = $2 "
                "FOR UPDATE",  # two publishes of one function take turns
                name,
                LATEST,
            )
            if row is None:
                return None
            latest = function_from(row)
            last_number = await connection.fetchval(
                "SELECT last_version FROM function_version_counters WHERE name = $1", name
            )
            last_number = int(last_number or 0)
            if last_number:
                previous = await connection.fetchrow(
                    f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = $1 AND version = $2",
                    name,
                    str(last_number),
                )
                if previous is not None and same_version(function_from(previous), latest):
                    return function_from(previous)
            number = last_number + 1
            await connection.execute(
                "INSERT INTO function_version_counters (name, last_version) VALUES ($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version",
                name,
                number,
            )
            version = published(latest, number, description, revision_id)
            await connection.execute(
                f"INSERT INTO functions ({FUNCTION_COLUMNS}) VALUES ({_FUNCTION_VALUES})",
                *function_values(version),
            )
            return version

        return await self._write(name, publish)

    async def list_versions(self, name: str) -> list[FunctionConfig]:
        rows = await self._database.run(
            lambda c: c.fetch(f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = $1", name)
        )
        return sorted((function_from(row) for row in rows), key=version_order)

    async def delete_version(self, name: str, version: str) -> bool:
        if version == LATEST:
            return False

        delete = "DELETE FROM functions WHERE name = $1 AND version = $2"
        return await self._write(name, lambda c: _delete_qualifier(c, delete, name, version))

    async def create_alias(self, alias: Alias) -> bool:
        async def create(connection: asyncpg.Connection) -> bool:
            inserted = await connection.execute(
                f"INSERT INTO aliases ({ALIAS_COLUMNS}) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT DO NOTHING",
                *alias_values(alias),
            )
            return _count(inserted) > 0

        return await self._write(alias.function_name, create)

    async def get_alias(self, function_name: str, name: str) -> Alias | None:
        row = await self._database.run(
            lambda c: c.fetchrow(
                f"SELECT {ALIAS_COLUMNS} FROM aliases WHERE function_name = $1 AND name = $2",
                function_name,
                name,
            )
        )
        return None if row is None else Alias(**dict(row))

    async def update_alias(self, alias: Alias) -> None:
        async def update(connection: asyncpg.Connection) -> None:
            await connection.execute(
                "UPDATE aliases SET function_version = $3, description = $4, revision_id = $5 "
                "WHERE function_name = $1 AND name = $2",
                *alias_values(alias),
            )

        await self._write(alias.function_name, update)

    async def delete_alias(self, function_name: str, name: str) -> bool:
        delete = "DELETE FROM aliases WHERE function_name = $1 AND name = $2"
        return await self._write(
            function_name, lambda c: _delete_qualifier(c, delete, function_name, name)
        )

    async def list_aliases(self, function_name: str) -> list[Alias]:
        rows = await self._database.run(
            lambda c: c.fetch(
                f"SELECT {ALIAS_COLUMNS} FROM aliases WHERE function_name = $1 ORDER BY name",
                function_name,
            )
        )
        return [Alias(**dict(row)) for row in rows]


async def _delete_qualifier(
    connection: asyncpg.Connection, delete: str, function_name: str, qualifier: str
) -> bool:
    """Run ``delete`` (of a version or an alias: $1 the function, $2 the qualifier) and delete
    that qualifier's event invoke config with it. False when nothing was there to delete."""
    deleted = await connection.execute(delete, function_name, qualifier)
    await connection.execute(
        "DELETE FROM event_invoke_configs WHERE function_name = $1 AND qualifier = $2",
        function_name,
        qualifier,
    )
    return _count(deleted) > 0


def _count(status: str) -> int:
    """The row count of a command status such as ``DELETE 3`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])
