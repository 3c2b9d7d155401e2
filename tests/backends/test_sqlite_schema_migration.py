"""Data directories written by earlier releases (schema versions 1 to 4) open and are migrated."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from eventinvoke.backends.sqlite import DATABASE_FILE, SqliteBackend
from eventinvoke.backends.sqlite.schema import SCHEMA_VERSION, create_schema
from eventinvoke.core.model import (
    Alias,
    LastAttempt,
    QueuedEvent,
    Requeue,
    SettledInvocation,
    Settlement,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

# Version 4's tables, as that release created them (frozen: today's schema moves on).
V4_TABLES = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    arn TEXT NOT NULL,
    runtime TEXT NOT NULL,
    handler TEXT NOT NULL,
    code_sha256 TEXT NOT NULL,
    code_size INTEGER NOT NULL,
    role TEXT NOT NULL,
    timeout INTEGER NOT NULL,
    memory_size INTEGER NOT NULL,
    environment TEXT NOT NULL,
    description TEXT NOT NULL,
    dead_letter_target_arn TEXT,
    last_modified TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    reserved_concurrent_executions INTEGER,
    PRIMARY KEY (name, version)
);

-- Versions live in ``functions`` (version = '1', '2', ...). This remembers the last number
-- handed out, so a deleted version's number is never reused. (No semicolons in comments:
-- the script is split on them.)
CREATE TABLE IF NOT EXISTS function_version_counters (
    name TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS aliases (
    function_name TEXT NOT NULL,
    name TEXT NOT NULL,
    function_version TEXT NOT NULL,
    description TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    PRIMARY KEY (function_name, name)
);

CREATE TABLE IF NOT EXISTS code (
    code_sha256 TEXT PRIMARY KEY,
    zip BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS event_invoke_configs (
    function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    last_modified REAL NOT NULL,
    maximum_retry_attempts INTEGER,
    maximum_event_age_in_seconds INTEGER,
    on_success TEXT,
    on_failure TEXT,
    PRIMARY KEY (function_name, qualifier)
);

-- AUTOINCREMENT: an event id is never reused, so a late ack from an owner whose lease
-- expired can only ever touch its own event.
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    payload BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    visible_at REAL NOT NULL,
    available_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires REAL,
    throttles INTEGER NOT NULL DEFAULT 0,
    last_response BLOB,
    last_function_error TEXT,
    last_executed_version TEXT
);
CREATE INDEX IF NOT EXISTS events_available ON events (available_at);
CREATE INDEX IF NOT EXISTS events_enqueued ON events (enqueued_at);

CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    function_arn TEXT NOT NULL,
    condition TEXT NOT NULL,
    approximate_invoke_count INTEGER NOT NULL,
    request_payload BLOB NOT NULL,
    timestamp TEXT NOT NULL,
    executed_version TEXT,
    function_error TEXT,
    response_payload BLOB,
    status_code INTEGER NOT NULL,
    available_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires REAL
);
CREATE INDEX IF NOT EXISTS deliveries_available ON deliveries (available_at);

CREATE TABLE IF NOT EXISTS failed_deliveries (
    failed_id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    function_arn TEXT NOT NULL,
    condition TEXT NOT NULL,
    approximate_invoke_count INTEGER NOT NULL,
    request_payload BLOB NOT NULL,
    timestamp TEXT NOT NULL,
    executed_version TEXT,
    function_error TEXT,
    response_payload BLOB,
    status_code INTEGER NOT NULL,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""


# Version 3's tables: version 4's, less the event columns version 4 added (the last response).
V3_TABLES = V4_TABLES.replace(
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
        await backend.queue.retry(event.event_id, event.lease_epoch, Requeue(1, 0, throttles=3))
        [event] = await backend.queue.lease("me", 10, 30)
        assert event.throttles == 3
        # Version 9: the sweep also forgets purged deliveries, from a table a v1 file lacked.
        assert await backend.invocations.sweep(0, 0, 10) == 0
    finally:
        await backend.close()
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 11
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
            event.event_id,
            event.lease_epoch,
            Requeue(2, 0, last_attempt=LastAttempt(b'{"e":1}', "Unhandled", "$LATEST")),
        )
        [again] = await backend.queue.lease("owner", 10, 30)
        assert again.last_attempt == LastAttempt(b'{"e":1}', "Unhandled", "$LATEST")
    finally:
        await backend.close()


def test_v4_tables_are_really_the_old_ones() -> None:
    assert "lease_epoch" not in V4_TABLES and "concurrency_slots" not in V4_TABLES


async def test_version_4_data_dir_gets_lease_epochs_and_slots(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    connection.executescript(V4_TABLES)
    connection.execute(
        "INSERT INTO events (request_id, function_name, qualifier, payload, enqueued_at, "
        "attempts, visible_at, available_at) VALUES ('rid', 'fn', '$LATEST', X'7B7D', 1, 1, 0, 0)"
    )
    connection.execute("PRAGMA user_version = 4")
    connection.commit()
    connection.close()

    backend = await SqliteBackend.open(data_dir)
    try:
        [event] = await backend.queue.lease("owner", 10, 30)
        assert (event.request_id, event.lease_epoch, event.history) == ("rid", 1, ())
        assert event.traceparent == ""  # version 10: queued before traces, it carries none
        traced = QueuedEvent("rid2", "fn", "$LATEST", b"{}", 1.0, traceparent=TRACEPARENT)
        await backend.queue.enqueue(traced)
        [again] = await backend.queue.lease("owner", 10, 30)
        assert again.traceparent == TRACEPARENT
        await backend.queue.release([(again.event_id or 0, again.lease_epoch)])
        assert await backend.slots.acquire("fn", 1, "holder", 30)
        assert not await backend.slots.acquire("fn", 1, "another", 30)
        # Version 7: the event settles into the invocation log GetInvocation reads.
        settled = SettledInvocation("rid", "fn", "$LATEST", "Success", event.enqueued_at)
        assert await backend.settle(
            event.event_id or 0, event.lease_epoch, Settlement(invocation=settled)
        )
        found = await backend.invocations.get("rid")
        assert found is not None and found[0].condition == "Success"
    finally:
        await backend.close()


def _version_10_file(data_dir: Path) -> None:
    """Today's tables, less what version 11 changed: the invocation log had one indexed table."""
    data_dir.mkdir(parents=True)
    connection = sqlite3.connect(data_dir / DATABASE_FILE)
    create_schema(connection)
    connection.execute("DROP TABLE recent_invocations")
    connection.execute("DROP INDEX invocations_request_prefix")
    connection.execute("CREATE INDEX invocations_request ON invocations (request_id)")
    for seq in (1, 2, 3):
        connection.execute(
            "INSERT INTO invocations (seq, request_id, function_name, qualifier, condition, "
            "enqueued_at, attempts, handovers, settled_at) "
            f"VALUES ({seq}, 'old-{seq}', 'fn', '$LATEST', 'Success', 1, '[]', '[]', ?)",
            (time.time(),),
        )
    connection.execute("PRAGMA user_version = 10")
    connection.commit()
    connection.close()


async def test_version_10_invocation_log_keeps_its_rows_and_numbers_new_ones_above(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    _version_10_file(data_dir)

    backend = await SqliteBackend.open(data_dir)
    try:
        found = await backend.invocations.get("old-2")
        assert found is not None and found[0].condition == "Success"
        await backend.queue.enqueue(QueuedEvent("new", "fn", "$LATEST", b"{}", 1.0))
        [event] = await backend.queue.lease("owner", 10, 30)
        settled = SettledInvocation("new", "fn", "$LATEST", "Success", event.enqueued_at)
        assert await backend.settle(
            event.event_id or 0, event.lease_epoch, Settlement(invocation=settled)
        )
        assert await backend.invocations.sweep(3600, 100, 100) == 0  # folds: seq 4 is free

        def log(connection: sqlite3.Connection) -> list[tuple[object, ...]]:
            indexes = (
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invocations'"
            )
            return [
                tuple(row)
                for query in ("SELECT seq, request_id FROM invocations ORDER BY seq", indexes)
                for row in connection.execute(query)
            ]

        assert await backend.database.read(log) == [
            (1, "old-1"),
            (2, "old-2"),
            (3, "old-3"),
            (4, "new"),
            ("invocations_request_prefix",),
        ]
    finally:
        await backend.close()
