"""A data directory written by the previous release (schema version 1) opens and is migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from eventinvoke.backends.sqlite import DATABASE_FILE, SqliteBackend
from eventinvoke.backends.sqlite.schema import _TABLES, SCHEMA_VERSION

# Version 1's tables: today's, less the columns version 2 added.
V1_TABLES = _TABLES.replace(
    "    revision_id TEXT NOT NULL,\n    reserved_concurrent_executions INTEGER,\n",
    "    revision_id TEXT NOT NULL,\n",
).replace(
    "    lease_expires REAL,\n    throttles INTEGER NOT NULL DEFAULT 0\n",
    "    lease_expires REAL\n",
)


def _version_1_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    connection.executescript(V1_TABLES)
    connection.execute(
        "INSERT INTO functions VALUES ('fn', '$LATEST', 'arn:fn', 'python3.12', 'index.handler', "
        "'sha', 1, '', 3, 128, '{}', '', NULL, '2024-01-01T00:00:00.000+0000', 'r1')"
    )
    connection.execute(
        "INSERT INTO events (request_id, function_name, qualifier, payload, enqueued_at, "
        "attempts, visible_at, available_at) VALUES ('rid', 'fn', '$LATEST', X'7B7D', 1, 1, 0, 0)"
    )
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()


def test_v1_tables_are_really_the_old_ones() -> None:
    assert "reserved_concurrent_executions" not in V1_TABLES
    assert "throttles" not in V1_TABLES


async def test_version_1_data_dir_opens_and_migrates(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _version_1_file(data_dir)

    backend = await SqliteBackend.open(data_dir)
    try:
        function = await backend.store.get_function("fn")
        assert function is not None and function.reserved_concurrent_executions is None
        assert await backend.store.put_function_concurrency("fn", 2)
        function = await backend.store.get_function("fn")
        assert function is not None and function.reserved_concurrent_executions == 2
        [event] = await backend.queue.lease("me", 10, 30)
        assert (event.request_id, event.attempts, event.throttles) == ("rid", 1, 0)
        assert event.event_id is not None
        await backend.queue.retry(event.event_id, 1, 0, throttles=3)
        [event] = await backend.queue.lease("me", 10, 30)
        assert event.throttles == 3
    finally:
        await backend.close()
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    connection.close()
    # Opening again (already current) changes nothing.
    backend = await SqliteBackend.open(data_dir)
    try:
        function = await backend.store.get_function("fn")
        assert function is not None and function.reserved_concurrent_executions == 2
    finally:
        await backend.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backend = await SqliteBackend.open(data_dir)
    await backend.close()
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    try:
        await SqliteBackend.open(data_dir)
    except RuntimeError as error:
        assert "newer than this release" in str(error)
    else:
        raise AssertionError("a newer schema must be refused")
