"""What the backend conformance tests share: the records they store, and a look at the tables
themselves, so that "changes nothing" is checked on the rows, not only on what the protocol
answers. Imported as ``backends.helpers``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventinvoke.backends.base import Backend
from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.core.model import (
    ON_SUCCESS,
    SUCCESS,
    Delivery,
    ExecutionRecord,
    FunctionConfig,
    QueuedEvent,
)

# The clocks of the test process and the backend agree to within this (a database server's
# clock is read over the network).
CLOCK_SLACK = 0.25


@dataclass
class Storage:
    """Where a backend keeps its data (a data directory, a database URL), and every backend the
    test opened on it."""

    kind: str  # "sqlite" or "postgres"
    location: str
    opened: list[Backend] = field(default_factory=list)

    async def open(self) -> Backend:
        backend: Backend
        if self.kind == "sqlite":
            backend = await SqliteBackend.open(Path(self.location))
        else:
            from eventinvoke.backends.postgres import PostgresBackend

            backend = await PostgresBackend.open(self.location)
        self.opened.append(backend)
        return backend

    async def close_all(self) -> None:
        for backend in reversed(self.opened):
            await backend.close()


def event(number: int, function: str = "fn", **changes: Any) -> QueuedEvent:
    fresh = QueuedEvent(f"request-{number}", function, "$LATEST", f'{{"n": {number}}}'.encode(), 0)
    return replace(fresh, **changes)


RECORD = ExecutionRecord(
    request_id="request-1",
    function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
    condition=SUCCESS,
    approximate_invoke_count=1,
    request_payload=b'{"in": 1}',
    timestamp=datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    executed_version="$LATEST",
    response_payload=b'{"out": 2}',
)


def delivery(name: int | str, **changes: Any) -> Delivery:
    fresh = Delivery(f"delivery-{name}", "arn:aws:sqs:us-east-1:000000000000:q", ON_SUCCESS, RECORD)
    return replace(fresh, **changes)


def function(name: str = "fn", **changes: Any) -> FunctionConfig:
    return replace(
        FunctionConfig(
            name=name,
            arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
            runtime="python3.12",
            handler="app.handler",
            code_sha256="c2hh",
            code_size=123,
            role="arn:aws:iam::000000000000:role/r",
            timeout=30,
            memory_size=256,
            environment={"A": "1", "ünïcode": "välue"},
            description="a function",
            dead_letter_target_arn="arn:aws:sqs:us-east-1:000000000000:dlq",
            last_modified="2024-01-02T03:04:05.678+0000",
            revision_id="rev-1",
        ),
        **changes,
    )


def id_of(event: QueuedEvent) -> int:
    assert event.event_id is not None
    return event.event_id


def integrity_error(backend: Backend) -> type[Exception]:
    """What the backend's database raises for a row a constraint refuses."""
    if isinstance(backend, SqliteBackend):
        return sqlite3.IntegrityError
    import asyncpg

    return asyncpg.IntegrityConstraintViolationError  # type: ignore[no-any-return]


# Each table's rows in a stable order, for comparing the whole table before and after.
TABLE_ORDER = {
    "events": "event_id",
    "deliveries": "seq",
    "failed_deliveries": "failed_id",
    "concurrency_slots": "function_name, slot",
    "functions": "name, version",
    "function_version_counters": "name",
    "aliases": "function_name, name",
    "event_invoke_configs": "function_name, qualifier",
    "code": "code_sha256",
    "purged_deliveries": "delivery_id",
    "invocations": "seq",
    "recent_invocations": "seq",  # SQLite's only (sqlite/invocations.py)
}


async def rows(backend: Backend, table: str) -> list[dict[str, Any]]:
    """Every row of ``table``, every column, read from the database itself."""
    query = f"SELECT * FROM {table} ORDER BY {TABLE_ORDER[table]}"
    if isinstance(backend, SqliteBackend):

        def read(connection: sqlite3.Connection) -> list[dict[str, Any]]:
            return [dict(row) for row in connection.execute(query)]

        return await backend.database.read(read)
    records = await backend.database.run(lambda connection: connection.fetch(query))  # type: ignore[attr-defined]
    return [dict(record) for record in records]


async def snapshot(backend: Backend) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows: what "changes nothing" compares."""
    embedded = isinstance(backend, SqliteBackend)
    tables = [table for table in TABLE_ORDER if embedded or table != "recent_invocations"]
    return {table: await rows(backend, table) for table in tables}
