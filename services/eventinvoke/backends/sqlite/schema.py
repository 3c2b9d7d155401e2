"""The tables, created on open. ``PRAGMA user_version`` records the schema's version, so that a
later release can migrate an existing file step by step instead of guessing what it holds.

Queues (events, deliveries) keep ``available_at``: the moment a row can next be leased, that is
``visible_at`` while it is free and the lease's expiry while it is leased. One indexed column
makes "due and not leased (or lease expired)" a single range scan.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 11

# A delivery's columns after its id, alike in deliveries and failed_deliveries: a delivery that
# fails for good moves from one to the other with INSERT ... SELECT (sqlite/outbox.py).
_DELIVERY = """\
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
    chain_id TEXT,
    chain_depth INTEGER,
    traceparent TEXT,"""

# A settled invocation's columns after its seq, alike in invocations and recent_invocations: a
# fold moves rows from one to the other with INSERT ... SELECT (sqlite/invocations.py).
_SETTLED = """\
    request_id TEXT NOT NULL,
    function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    condition TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts TEXT NOT NULL,
    handovers TEXT NOT NULL,
    settled_at REAL NOT NULL
"""

# The invocation log's index key, an expression: reads and folds name it exactly so.
INVOCATION_KEY = "substr(request_id, 1, 8)"

_TABLES = f"""
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
    last_executed_version TEXT,
    lease_epoch INTEGER NOT NULL DEFAULT 0,
    chain_id TEXT,
    chain_depth INTEGER,
    attempt_log TEXT,
    traceparent TEXT
);
CREATE INDEX IF NOT EXISTS events_enqueued ON events (enqueued_at);
-- Leases walk the functions with events (a skip scan of this index), then each function's
-- due events in order: one function's backlog never hides another's events.
CREATE INDEX IF NOT EXISTS events_function_available ON events (function_name, available_at);
-- A request id is queued once: a settle or delivery repeated after a crash queues nothing new.
CREATE UNIQUE INDEX IF NOT EXISTS events_request ON events (request_id);

CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
{_DELIVERY}
    available_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires REAL,
    lease_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_available ON deliveries (available_at);

-- Reserved concurrency across every process that shares the file: a function reserving R has
-- slots 0 .. R-1, each free (holder NULL) or held by one execution until expires_at.
CREATE TABLE IF NOT EXISTS concurrency_slots (
    function_name TEXT NOT NULL,
    slot INTEGER NOT NULL,
    holder TEXT,
    expires_at REAL,
    PRIMARY KEY (function_name, slot)
);
CREATE INDEX IF NOT EXISTS concurrency_slots_holder ON concurrency_slots (holder);

-- A function's RecursiveLoop setting, when set (none: Terminate, AWS's default).
CREATE TABLE IF NOT EXISTS recursion_configs (
    function_name TEXT PRIMARY KEY,
    recursive_loop TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS failed_deliveries (
    failed_id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
{_DELIVERY}
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL
);
-- The failed-delivery store is read, redriven and purged by delivery id.
CREATE INDEX IF NOT EXISTS failed_deliveries_delivery ON failed_deliveries (delivery_id);

-- Settled invocations, for GetInvocation: one row per settle, forgotten oldest first (lowest
-- seq) past the retention or the count kept. Attempts and handovers are JSON arrays. A settle
-- lands in recent_invocations (no index: an append), which sqlite/invocations.py folds into
-- invocations in batches sorted by the index's key: random request ids inserted one at a time
-- would each dirty a page of the index.
CREATE TABLE IF NOT EXISTS invocations (
    seq INTEGER PRIMARY KEY,
{_SETTLED});
-- The request id's first 8 characters: a key under a quarter the size of the whole id, as
-- selective.
CREATE INDEX IF NOT EXISTS invocations_request_prefix ON invocations ({INVOCATION_KEY});

-- AUTOINCREMENT: seq keeps growing past the rows folded away, above every seq of invocations.
CREATE TABLE IF NOT EXISTS recent_invocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
{_SETTLED});

-- Failed deliveries purged from the store, so that GetInvocation tells them from those
-- delivered, and forgotten with the invocations past their retention.
CREATE TABLE IF NOT EXISTS purged_deliveries (
    delivery_id TEXT PRIMARY KEY,
    purged_at REAL NOT NULL
);
"""


# Version n -> n + 1, for files written by an older release. Each step runs once, in the same
# transaction as the version bump, so a crash mid-migration leaves the old version in place.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: reserved concurrency per function; throttled tries per event (their own backoff).
    1: (
        "ALTER TABLE functions ADD COLUMN reserved_concurrent_executions INTEGER",
        "ALTER TABLE events ADD COLUMN throttles INTEGER NOT NULL DEFAULT 0",
    ),
    # 3: versions and aliases. Their two tables are new (created above, IF NOT EXISTS); no
    # existing row changes: every function has only $LATEST, and no number was handed out yet.
    2: (),
    # 4: the latest execution's response, for a record settled later without another run.
    3: (
        "ALTER TABLE events ADD COLUMN last_response BLOB",
        "ALTER TABLE events ADD COLUMN last_function_error TEXT",
        "ALTER TABLE events ADD COLUMN last_executed_version TEXT",
    ),
    # 5: lease epochs (fencing tokens); the slot table and the indexes are new (created above).
    4: (
        "ALTER TABLE events ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE deliveries ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0",
        "DROP INDEX IF EXISTS events_available",
    ),
    # 6: recursive loop detection: the lineage of events and records (NULL: a chain's first);
    # the recursion_configs table is new (created above).
    5: (
        "ALTER TABLE events ADD COLUMN chain_id TEXT",
        "ALTER TABLE events ADD COLUMN chain_depth INTEGER",
        "ALTER TABLE deliveries ADD COLUMN chain_id TEXT",
        "ALTER TABLE deliveries ADD COLUMN chain_depth INTEGER",
        "ALTER TABLE failed_deliveries ADD COLUMN chain_id TEXT",
        "ALTER TABLE failed_deliveries ADD COLUMN chain_depth INTEGER",
    ),
    # 7: the failed-delivery store's index by delivery id (created above).
    6: (),
    # 8: GetInvocation: each event's attempts so far; the invocations table is new (created
    # above).
    7: ("ALTER TABLE events ADD COLUMN attempt_log TEXT",),
    # 9: purged failed deliveries remembered for GetInvocation (the table is new, above).
    8: (),
    # 10: traces: the trace context of events and records (NULL: none).
    9: (
        "ALTER TABLE events ADD COLUMN traceparent TEXT",
        "ALTER TABLE deliveries ADD COLUMN traceparent TEXT",
        "ALTER TABLE failed_deliveries ADD COLUMN traceparent TEXT",
    ),
    # 11: the invocation log's smaller index and its unindexed recent_invocations (created
    # above), whose seq starts above the invocations already logged.
    10: (
        "DROP INDEX IF EXISTS invocations_request",
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'recent_invocations', max(seq) "
        "FROM invocations HAVING max(seq) IS NOT NULL",
    ),
}


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables of a new file, migrate an older one; refuse one from a newer release."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this release ({SCHEMA_VERSION})"
        )
    # An existing file keeps its tables (CREATE ... IF NOT EXISTS) and is migrated step by
    # step; a new one (version 0) gets the current tables at once.
    # executescript() would COMMIT the writer's open transaction, so run statement by statement.
    for statement in _TABLES.split(";"):
        if statement.strip():
            connection.execute(statement)
    first = SCHEMA_VERSION if version == 0 else version
    for step in range(first, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
