"""The PostgreSQL schema, as numbered migrations.

Replicas that start together must not race: every migration runs under one transaction-level
advisory lock, and ``schema_migrations`` records the versions applied, so the second replica to
get the lock finds the work done. A database written by a newer release is refused.

Times are epoch seconds (``double precision``) from the server's clock, ``ei_now()``: every
host compares against the same clock, whatever its own says.
"""

from __future__ import annotations

import asyncpg

# Any constant unique to this schema: the key of the advisory lock migrations run under.
MIGRATION_LOCK = 0x6576_656E_7469_6E76  # "eventinv"

# A delivery's columns after its id, alike in deliveries and failed_deliveries: a delivery that
# fails for good moves from one to the other with INSERT ... SELECT (postgres/outbox.py).
_DELIVERY = """\
    target text NOT NULL,
    kind text NOT NULL,
    attempts integer NOT NULL,
    request_id text NOT NULL,
    function_arn text NOT NULL,
    condition text NOT NULL,
    approximate_invoke_count integer NOT NULL,
    request_payload bytea NOT NULL,
    timestamp text NOT NULL,
    executed_version text,
    function_error text,
    response_payload bytea,
    status_code integer NOT NULL,"""

MIGRATIONS: dict[int, str] = {
    1: f"""
CREATE FUNCTION ei_now() RETURNS double precision
    LANGUAGE sql STABLE AS 'SELECT extract(epoch FROM now())::double precision';

CREATE TABLE functions (
    name text NOT NULL,
    version text NOT NULL,
    arn text NOT NULL,
    runtime text NOT NULL,
    handler text NOT NULL,
    code_sha256 text NOT NULL,
    code_size bigint NOT NULL,
    role text NOT NULL,
    timeout integer NOT NULL,
    memory_size integer NOT NULL,
    environment text NOT NULL,
    description text NOT NULL,
    dead_letter_target_arn text,
    last_modified text NOT NULL,
    revision_id text NOT NULL,
    reserved_concurrent_executions integer,
    PRIMARY KEY (name, version)
);

-- The last version number handed out per function: a deleted version's number is not reused.
CREATE TABLE function_version_counters (
    name text PRIMARY KEY,
    last_version integer NOT NULL
);

CREATE TABLE aliases (
    function_name text NOT NULL,
    name text NOT NULL,
    function_version text NOT NULL,
    description text NOT NULL,
    revision_id text NOT NULL,
    PRIMARY KEY (function_name, name)
);

CREATE TABLE code (
    code_sha256 text PRIMARY KEY,
    zip bytea NOT NULL
);

CREATE TABLE event_invoke_configs (
    function_name text NOT NULL,
    qualifier text NOT NULL,
    last_modified double precision NOT NULL,
    maximum_retry_attempts integer,
    maximum_event_age_in_seconds integer,
    on_success text,
    on_failure text,
    PRIMARY KEY (function_name, qualifier)
);

-- available_at: when a row can next be leased (visible_at while free, the lease's expiry
-- while leased), so "due and not leased" is one range scan.
CREATE TABLE events (
    event_id bigserial PRIMARY KEY,
    request_id text NOT NULL UNIQUE,
    function_name text NOT NULL,
    qualifier text NOT NULL,
    payload bytea NOT NULL,
    enqueued_at double precision NOT NULL,
    attempts integer NOT NULL,
    visible_at double precision NOT NULL,
    available_at double precision NOT NULL,
    lease_owner text,
    lease_expires double precision,
    lease_epoch bigint NOT NULL DEFAULT 0,
    throttles integer NOT NULL DEFAULT 0,
    last_response bytea,
    last_function_error text,
    last_executed_version text
);
CREATE INDEX events_function_available ON events (function_name, available_at, event_id);
CREATE INDEX events_enqueued ON events (enqueued_at);

CREATE TABLE deliveries (
    seq bigserial PRIMARY KEY,
    delivery_id text NOT NULL UNIQUE,
{_DELIVERY}
    available_at double precision NOT NULL,
    lease_owner text,
    lease_expires double precision,
    lease_epoch bigint NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_available ON deliveries (available_at, seq);

CREATE TABLE failed_deliveries (
    failed_id bigserial PRIMARY KEY,
    delivery_id text NOT NULL,
{_DELIVERY}
    reason text NOT NULL,
    failed_at double precision NOT NULL
);

-- Reserved concurrency across every executor: a function reserving R has slots 0 .. R-1.
CREATE TABLE concurrency_slots (
    function_name text NOT NULL,
    slot integer NOT NULL,
    holder text,
    expires_at double precision,
    PRIMARY KEY (function_name, slot)
);
CREATE INDEX concurrency_slots_holder ON concurrency_slots (holder);
""",
    # Every event row is inserted, leased (updated) and deleted; one index fewer is less work
    # on each. This one served only oldest_age, which may scan.
    2: "DROP INDEX events_enqueued;",
    # A lease, renewal or release changes no indexed column any more (due-ness is visible_at,
    # plus a lease that is free or expired), so the server updates the row in place (a HOT
    # update) instead of adding an entry to every index; fillfactor leaves the room for it.
    3: """
DROP INDEX events_function_available;
ALTER TABLE events DROP COLUMN available_at;
CREATE INDEX events_function_visible ON events (function_name, visible_at, event_id);
ALTER TABLE events SET (fillfactor = 70);
""",
    # Recursive loop detection: the lineage of events and records (NULL: a chain's first), and
    # each function's RecursiveLoop setting when set (none: Terminate, AWS's default).
    4: """
ALTER TABLE events ADD COLUMN chain_id text, ADD COLUMN chain_depth integer;
ALTER TABLE deliveries ADD COLUMN chain_id text, ADD COLUMN chain_depth integer;
ALTER TABLE failed_deliveries ADD COLUMN chain_id text, ADD COLUMN chain_depth integer;
CREATE TABLE recursion_configs (
    function_name text PRIMARY KEY,
    recursive_loop text NOT NULL
);
""",
    # The failed-delivery store is read, redriven and purged by delivery id.
    5: "CREATE INDEX failed_deliveries_delivery ON failed_deliveries (delivery_id);",
    # GetInvocation: each event's attempts so far (a JSON array); settled invocations, one row
    # per settle, forgotten oldest first (lowest seq) past the retention or the count kept.
    6: """
ALTER TABLE events ADD COLUMN attempt_log text;
CREATE TABLE invocations (
    seq bigserial PRIMARY KEY,
    request_id text NOT NULL,
    function_name text NOT NULL,
    qualifier text NOT NULL,
    condition text NOT NULL,
    enqueued_at double precision NOT NULL,
    attempts text NOT NULL,
    handovers text NOT NULL,
    settled_at double precision NOT NULL
);
CREATE INDEX invocations_request ON invocations (request_id);
""",
    # Failed deliveries purged from the store, so that GetInvocation tells them from those
    # delivered; forgotten with the invocations, past their retention.
    7: """
CREATE TABLE purged_deliveries (
    delivery_id text PRIMARY KEY,
    purged_at double precision NOT NULL
);
""",
    # Traces: the trace context of events and records (NULL: none), a W3C traceparent.
    8: """
ALTER TABLE events ADD COLUMN traceparent text;
ALTER TABLE deliveries ADD COLUMN traceparent text;
ALTER TABLE failed_deliveries ADD COLUMN traceparent text;
""",
    # The invocation log's index by request id as a hash: 4 bytes a row instead of the whole
    # id. Measured with 100,000 rows kept, it adds 1 µs to a row's insert, the b-tree 3 µs
    # (request ids are random: each lands on a page of its own).
    9: """
DROP INDEX invocations_request;
CREATE INDEX invocations_request ON invocations USING hash (request_id);
""",
}

SCHEMA_VERSION = max(MIGRATIONS)


async def migrate(connection: asyncpg.Connection) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version found before."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        found = await connection.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        if found > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {found} is newer than this release ({SCHEMA_VERSION})"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            await connection.execute(MIGRATIONS[version])
            await connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
        return int(found)
