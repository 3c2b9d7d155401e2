"""Functions, deployment packages and event invoke configs in SQLite."""

from __future__ import annotations

import sqlite3

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
from eventinvoke.backends.sqlite.database import Database
from eventinvoke.core.model import LATEST, Alias, EventInvokeConfig, FunctionConfig

INSERT_FUNCTION = (
    f"INSERT INTO functions ({FUNCTION_COLUMNS}) "
    f"VALUES ({', '.join('?' for _ in column_names(FUNCTION_COLUMNS))})"
)


class SqliteFunctionStore:
    """The FunctionStore of the embedded backend."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create_function(self, function: FunctionConfig) -> bool:
        def create(connection: sqlite3.Connection) -> bool:
            taken = connection.execute(
                "SELECT 1 FROM functions WHERE name = ?", (function.name,)
            ).fetchone()
            if taken:
                return False
            connection.execute(
                INSERT_FUNCTION,
                function_values(function),
            )
            return True

        return await self._database.write(create)

    async def get_function(self, name: str, version: str = LATEST) -> FunctionConfig | None:
        def get(connection: sqlite3.Connection) -> FunctionConfig | None:
            row = connection.execute(
                f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
            return None if row is None else function_from(row)

        return await self._database.read(get)

    async def list_functions(
        self, marker: str | None, limit: int
    ) -> tuple[list[FunctionConfig], str | None]:
        """One row per function (its $LATEST), as ListFunctions shows them by default.

        The marker is the name of the last function of the previous page.
        """

        def page(connection: sqlite3.Connection) -> tuple[list[FunctionConfig], str | None]:
            rows = connection.execute(
                f"SELECT {FUNCTION_COLUMNS} FROM functions "
                "WHERE version = ? AND name > ? ORDER BY name LIMIT ?",
                (LATEST, marker or "", limit + 1),
            ).fetchall()
            functions = [function_from(row) for row in rows[:limit]]
            more = len(rows) > limit
            return functions, (functions[-1].name if more and functions else None)

        return await self._database.read(page)

    async def update_function(self, function: FunctionConfig) -> None:
        def update(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE functions SET arn = ?, runtime = ?, handler = ?, code_sha256 = ?, "
                "code_size = ?, role = ?, timeout = ?, memory_size = ?, environment = ?, "
                "description = ?, dead_letter_target_arn = ?, last_modified = ?, revision_id = ?, "
                "reserved_concurrent_executions = ? WHERE name = ? AND version = ?",
                (*function_values(function)[2:], function.name, function.version),
            )

        await self._database.write(update)

    async def delete_function(self, name: str) -> bool:
        """Deletes the versions and configs; packages stay, other functions may share them."""

        def delete(connection: sqlite3.Connection) -> bool:
            deleted = connection.execute("DELETE FROM functions WHERE name = ?", (name,)).rowcount
            connection.execute("DELETE FROM event_invoke_configs WHERE function_name = ?", (name,))
            connection.execute("DELETE FROM aliases WHERE function_name = ?", (name,))
            # A function created again under this name starts again from version 1, as AWS.
            connection.execute("DELETE FROM function_version_counters WHERE name = ?", (name,))
            connection.execute("DELETE FROM concurrency_slots WHERE function_name = ?", (name,))
            connection.execute("DELETE FROM recursion_configs WHERE function_name = ?", (name,))
            return deleted > 0

        return await self._database.write(delete)

    async def put_function_concurrency(self, name: str, reserved: int | None) -> bool:
        """Set (None: remove) a function's reserved concurrency, on every version of it."""

        return await self._database.change(
            "UPDATE functions SET reserved_concurrent_executions = ? WHERE name = ?",
            (reserved, name),
        )

    async def put_recursion_config(self, name: str, recursive_loop: str) -> bool:
        def put(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "INSERT OR REPLACE INTO recursion_configs (function_name, recursive_loop) "
                "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM functions WHERE name = ?)",
                (name, recursive_loop, name),
            )
            return cursor.rowcount > 0

        return await self._database.write(put)

    async def get_recursion_config(self, name: str) -> str | None:
        def get(connection: sqlite3.Connection) -> str | None:
            row = connection.execute(
                "SELECT recursive_loop FROM recursion_configs WHERE function_name = ?", (name,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._database.read(get)

    async def reserved_concurrency_total(self, excluding: str = "") -> int:
        """The sum of every function's reserved concurrency but ``excluding``'s."""

        def total(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT COALESCE(SUM(reserved_concurrent_executions), 0) FROM functions "
                "WHERE version = ? AND name != ?",
                (LATEST, excluding),
            ).fetchone()
            return int(row[0])

        return await self._database.read(total)

    async def put_code(self, code_sha256: str, zip_bytes: bytes) -> None:
        def put(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT OR IGNORE INTO code (code_sha256, zip) VALUES (?, ?)",
                (code_sha256, zip_bytes),
            )

        await self._database.write(put)

    async def get_code(self, code_sha256: str) -> bytes | None:
        def get(connection: sqlite3.Connection) -> bytes | None:
            row = connection.execute(
                "SELECT zip FROM code WHERE code_sha256 = ?", (code_sha256,)
            ).fetchone()
            return None if row is None else bytes(row["zip"])

        return await self._database.read(get)

    async def put_event_invoke_config(self, config: EventInvokeConfig) -> None:
        def put(connection: sqlite3.Connection) -> None:
            connection.execute(
                f"INSERT OR REPLACE INTO event_invoke_configs ({CONFIG_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                config_values(config),
            )

        await self._database.write(put)

    async def get_event_invoke_config(
        self, function_name: str, qualifier: str
    ) -> EventInvokeConfig | None:
        def get(connection: sqlite3.Connection) -> EventInvokeConfig | None:
            row = connection.execute(
                f"SELECT {CONFIG_COLUMNS} FROM event_invoke_configs "
                "WHERE function_name = ? AND qualifier = ?",
                (function_name, qualifier),
            ).fetchone()
            return None if row is None else EventInvokeConfig(**dict(row))

        return await self._database.read(get)

    async def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool:
        return await self._database.change(
            "DELETE FROM event_invoke_configs WHERE function_name = ? AND qualifier = ?",
            (function_name, qualifier),
        )

    async def list_event_invoke_configs(self, function_name: str) -> list[EventInvokeConfig]:
        def list_(connection: sqlite3.Connection) -> list[EventInvokeConfig]:
            rows = connection.execute(
                f"SELECT {CONFIG_COLUMNS} FROM event_invoke_configs "
                "WHERE function_name = ? ORDER BY qualifier",
                (function_name,),
            ).fetchall()
            return [EventInvokeConfig(**dict(row)) for row in rows]

        return await self._database.read(list_)

    # --- versions and aliases -----------------------------------------------------------------

    async def publish_version(
        self, name: str, description: str | None, revision_id: str
    ) -> FunctionConfig | None:
        def publish(connection: sqlite3.Connection) -> FunctionConfig | None:
            row = connection.execute(
                f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = ? AND version = ?",
                (name, LATEST),
            ).fetchone()
            if row is None:
                return None
            latest = function_from(row)
            counter = connection.execute(
                "SELECT last_version FROM function_version_counters WHERE name = ?", (name,)
            ).fetchone()
            last_number = int(counter[0]) if counter else 0
            if last_number:
                previous = connection.execute(
                    f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = ? AND version = ?",
                    (name, str(last_number)),
                ).fetchone()
                if previous is not None and same_version(function_from(previous), latest):
                    return function_from(previous)
            number = last_number + 1
            connection.execute(
                "INSERT INTO function_version_counters (name, last_version) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version",
                (name, number),
            )
            version = published(latest, number, description, revision_id)
            connection.execute(
                INSERT_FUNCTION,
                function_values(version),
            )
            return version

        return await self._database.write(publish)

    async def list_versions(self, name: str) -> list[FunctionConfig]:
        def list_(connection: sqlite3.Connection) -> list[FunctionConfig]:
            rows = connection.execute(
                f"SELECT {FUNCTION_COLUMNS} FROM functions WHERE name = ?", (name,)
            ).fetchall()
            versions = [function_from(row) for row in rows]
            return sorted(versions, key=version_order)

        return await self._database.read(list_)

    async def delete_version(self, name: str, version: str) -> bool:
        if version == LATEST:
            return False
        delete = "DELETE FROM functions WHERE name = ? AND version = ?"
        return await self._database.write(lambda c: _delete_qualifier(c, delete, name, version))

    async def create_alias(self, alias: Alias) -> bool:
        return await self._database.change(
            f"INSERT OR IGNORE INTO aliases ({ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            alias_values(alias),
        )

    async def get_alias(self, function_name: str, name: str) -> Alias | None:
        def get(connection: sqlite3.Connection) -> Alias | None:
            row = connection.execute(
                f"SELECT {ALIAS_COLUMNS} FROM aliases WHERE function_name = ? AND name = ?",
                (function_name, name),
            ).fetchone()
            return None if row is None else Alias(**dict(row))

        return await self._database.read(get)

    async def update_alias(self, alias: Alias) -> None:
        def update(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE aliases SET function_version = ?, description = ?, revision_id = ? "
                "WHERE function_name = ? AND name = ?",
                (
                    alias.function_version,
                    alias.description,
                    alias.revision_id,
                    alias.function_name,
                    alias.name,
                ),
            )

        await self._database.write(update)

    async def delete_alias(self, function_name: str, name: str) -> bool:
        delete = "DELETE FROM aliases WHERE function_name = ? AND name = ?"
        return await self._database.write(
            lambda c: _delete_qualifier(c, delete, function_name, name)
        )

    async def list_aliases(self, function_name: str) -> list[Alias]:
        def list_(connection: sqlite3.Connection) -> list[Alias]:
            rows = connection.execute(
                f"SELECT {ALIAS_COLUMNS} FROM aliases WHERE function_name = ? ORDER BY name",
                (function_name,),
            ).fetchall()
            return [Alias(**dict(row)) for row in rows]

        return await self._database.read(list_)


def _delete_qualifier(
    connection: sqlite3.Connection, delete: str, function_name: str, qualifier: str
) -> bool:
    """Run ``delete`` (of a version or an alias: the function, then the qualifier) and delete
    that qualifier's event invoke config with it. False when nothing was there to delete."""
    deleted = connection.execute(delete, (function_name, qualifier)).rowcount
    connection.execute(
        "DELETE FROM event_invoke_configs WHERE function_name = ? AND qualifier = ?",
        (function_name, qualifier),
    )
    return deleted > 0
