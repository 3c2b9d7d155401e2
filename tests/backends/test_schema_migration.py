"""Data directories written by earlier releases (schema versions 1 to 3) open and are migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from eventinvoke.backends.sqlite import DATABASE_FILE, SqliteBackend
from eventinvoke.backends.sqlite.schema import _TABLES, SCHEMA_VERSION
from eventinvoke.core.model import Alias, LastAttempt

# Version 3's tables: today's, less the event columns version 4 added (the last response).
V3_TABLES = _TABLES.replace(
    "    throttles INTEGER NOT NULL DEFAULT 0,\n    last_response BLOB,\n"
    "    last_function_error TEXT,\n    last_executed_version TEXT\n",
    "    throttles INTEGER NOT NULL DEFAULT 0\n",
)

# Version 2's tables: version 3's, less the two tables version 3 added (versions and aliases).
V2_TABLES = (
    V3_TABLES[: V3_TABLES.index("-- Versions live in")]
    + V3_TABLES[V3_TABLES.index("CREATE TABLE IF NOT EXISTS code (") :]
)

# Version 1's tables: today's, less the columns version 2 added.
V1_TABLES = V3_TABLES.replace(
    "    revision_id TEXT NOT NULL,\n    reserved_concurrent_executions INTEGER,\n",
    "    revision_id TEXT NOT NULL,\n",
).replace(
    "    lease_expires REAL,\n    throttles INTEGER NOT NULL DEFAULT 0\n",
    "    lease_expires REAL\n",
)
V1_TABLES = (
    V1_TABLES[: V1_TABLES.index("-- Versions live in")]
    + V1_TABLES[V1_TABLES.index("CREATE TABLE IF NOT EXISTS code (") :]
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
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    connection.close()
    # Opening again (already current) changes nothing.
    backend = await SqliteBackend.open(data_dir)
    try:
        function = await backend.store.get_function("fn")
        assert function is not None and function.reserved_concurrent_executions == 2
    finally:
        await backend.close()


def test_v2_tables_are_really_the_old_ones() -> None:
    assert "aliases" not in V2_TABLES and "function_version_counters" not in V2_TABLES
    assert "reserved_concurrent_executions" in V2_TABLES
    assert "aliases" not in V1_TABLES


def _version_2_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    connection.executescript(V2_TABLES)
    connection.execute(
        "INSERT INTO functions VALUES ('fn', '$LATEST', 'arn:fn', 'python3.12', 'index.handler', "
        "'sha', 1, '', 3, 128, '{}', 'd', NULL, '2024-01-01T00:00:00.000+0000', 'r1', NULL)"
    )
    connection.execute(
        "INSERT INTO event_invoke_configs (function_name, qualifier, last_modified, "
        "maximum_retry_attempts) VALUES ('fn', '$LATEST', 1.5, 1)"
    )
    connection.execute("PRAGMA user_version = 2")
    connection.commit()
    connection.close()


async def test_version_2_data_dir_opens_and_gets_versions_and_aliases(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _version_2_file(data_dir)

    backend = await SqliteBackend.open(data_dir)
    try:
        store = backend.store
        [latest] = await store.list_versions("fn")
        assert latest.version == "$LATEST" and latest.description == "d"
        version = await store.publish_version("fn", None, "r2")
        assert version is not None and (version.version, version.revision_id) == ("1", "r2")
        assert await store.create_alias(Alias("fn", "live", "1", "", "a1"))
        assert await store.get_alias("fn", "live") == Alias("fn", "live", "1", "", "a1")
        config = await store.get_event_invoke_config("fn", "$LATEST")
        assert config is not None and config.maximum_retry_attempts == 1
        assert await store.get_event_invoke_config("fn", "1") is None  # not copied
    finally:
        await backend.close()
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    connection.close()
    # Opening again (already current) keeps what the migration wrote.
    backend = await SqliteBackend.open(data_dir)
    try:
        assert [f.version for f in await backend.store.list_versions("fn")] == ["$LATEST", "1"]
        assert [a.name for a in await backend.store.list_aliases("fn")] == ["live"]
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


def test_v3_tables_are_really_the_old_ones() -> None:
    assert "last_response" not in V3_TABLES and "aliases" in V3_TABLES


async def test_version_3_data_dir_opens_and_keeps_its_queued_events(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    connection.executescript(V3_TABLES)
    connection.execute(
        "INSERT INTO events (request_id, function_name, qualifier, payload, enqueued_at, "
        "attempts, visible_at, available_at) VALUES ('rid', 'fn', '$LATEST', X'7B7D', 1, 1, 0, 0)"
    )
    connection.execute("PRAGMA user_version = 3")
    connection.commit()
    connection.close()

    backend = await SqliteBackend.open(data_dir)
    try:
        [event] = await backend.queue.lease("owner", 10, 30)
        assert (event.request_id, event.attempts, event.last_attempt) == ("rid", 1, None)
        assert event.event_id is not None
        await backend.queue.retry(
            event.event_id, 2, 0, last_attempt=LastAttempt(b'{"e":1}', "Unhandled", "$LATEST")
        )
        [again] = await backend.queue.lease("owner", 10, 30)
        assert again.last_attempt == LastAttempt(b'{"e":1}', "Unhandled", "$LATEST")
    finally:
        await backend.close()
