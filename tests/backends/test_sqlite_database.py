"""Group commit, isolation of failing operations, durability and schema of the SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.backends.sqlite.schema import SCHEMA_VERSION
from eventinvoke.core.model import QueuedEvent, Settlement


@pytest.fixture
def backend(sqlite_backend: SqliteBackend) -> SqliteBackend:
    """These tests are SQLite's own: not the conformance fixture's two backends."""
    return sqlite_backend


def event(number: int) -> QueuedEvent:
    return QueuedEvent(
        request_id=f"request-{number}",
        function_name="fn",
        qualifier="$LATEST",
        payload=str(number).encode(),
        enqueued_at=1000.0 + number,
    )


async def test_open_creates_directory_file_and_schema(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    backend = await SqliteBackend.open(data_dir)
    await backend.close()

    connection = sqlite3.connect(data_dir / "eventinvoke.db")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        connection.close()


async def test_concurrent_writes_share_commits(backend: SqliteBackend) -> None:
    commits_before = backend.database.commits

    await asyncio.gather(*(backend.queue.enqueue(event(number)) for number in range(200)))

    assert await backend.queue.depth() == 200
    commits = backend.database.commits - commits_before
    assert 1 <= commits < 20


async def test_failing_operation_does_not_undo_its_batch(backend: SqliteBackend) -> None:
    def insert_then_fail(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO code (code_sha256, zip) VALUES ('from-failing-op', x'00')")
        raise ValueError("boom")

    outcomes = await asyncio.gather(
        *(backend.queue.enqueue(event(number)) for number in range(10)),
        backend.database.write(insert_then_fail),
        *(backend.queue.enqueue(event(number)) for number in range(10, 20)),
        return_exceptions=True,
    )

    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ValueError)
    assert await backend.queue.depth() == 20
    assert await backend.store.get_code("from-failing-op") is None


async def test_sqlite_error_in_operation_reaches_caller(backend: SqliteBackend) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await backend.database.write(lambda connection: connection.execute("SELECT nope"))

    await backend.queue.enqueue(event(1))
    assert await backend.queue.depth() == 1


async def test_writes_survive_close_and_reopen(tmp_path: Path) -> None:
    backend = await SqliteBackend.open(tmp_path)
    await asyncio.gather(*(backend.queue.enqueue(event(number)) for number in range(5)))
    await backend.store.put_code("sha", b"zip")
    await backend.close()

    reopened = await SqliteBackend.open(tmp_path)
    try:
        assert await reopened.queue.depth() == 5
        assert await reopened.store.get_code("sha") == b"zip"
    finally:
        await reopened.close()


async def test_close_is_idempotent_and_refuses_later_calls(tmp_path: Path) -> None:
    backend = await SqliteBackend.open(tmp_path)
    await backend.close()
    await backend.close()

    with pytest.raises(RuntimeError, match="closed"):
        await backend.queue.enqueue(event(1))
    with pytest.raises(RuntimeError, match="closed"):
        await backend.queue.depth()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "eventinvoke.db")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()

    with pytest.raises(RuntimeError, match="newer"):
        await SqliteBackend.open(tmp_path)


async def test_only_batches_with_a_durable_write_wait_for_the_disk(backend: SqliteBackend) -> None:
    database = backend.database
    commits, synced = database.commits, database.synced_commits

    await backend.queue.enqueue(event(1))  # an accepted event: fsync before the 202
    assert (database.commits - commits, database.synced_commits - synced) == (1, 1)

    [leased] = await backend.queue.lease("owner", 1, 30)  # bookkeeping: no fsync
    assert leased.event_id is not None
    await backend.settle(leased.event_id, leased.lease_epoch, Settlement())
    assert (database.commits - commits, database.synced_commits - synced) == (3, 1)

    # A batch mixing both kinds syncs its durable part alone.
    await asyncio.gather(backend.queue.enqueue(event(2)), backend.queue.lease("owner", 1, 30))
    assert database.synced_commits - synced == 2
    assert await backend.queue.depth() == 1


async def test_a_mixed_batch_commits_its_durable_writes_first(backend: SqliteBackend) -> None:
    """An accepted event's answer waits for its own fsync, not for the bookkeeping beside it."""
    database = backend.database
    holding, held, ran = threading.Event(), threading.Event(), []

    def hold(connection: sqlite3.Connection) -> None:  # keeps the writer busy while both queue
        holding.set()
        held.wait(10)

    def noting(name: str) -> Callable[[sqlite3.Connection], None]:
        def run(connection: sqlite3.Connection) -> None:
            ran.append(name)
            connection.execute(
                "INSERT INTO code (code_sha256, zip) VALUES (?, x'00')", (f"sha-{name}",)
            )

        return run

    first = asyncio.create_task(database.write(hold, durable=False))
    await asyncio.to_thread(holding.wait, 10)
    bookkeeping = asyncio.create_task(database.write(noting("bookkeeping"), durable=False))
    durable = asyncio.create_task(database.write(noting("durable")))
    await asyncio.sleep(0.05)  # both queue behind the held write, to be taken as one batch
    commits, synced = database.commits, database.synced_commits
    held.set()
    await asyncio.gather(first, bookkeeping, durable)

    assert ran == ["durable", "bookkeeping"]
    assert (database.commits - commits, database.synced_commits - synced) == (3, 1)
    assert await backend.store.get_code("sha-durable") == b"\x00"
    assert await backend.store.get_code("sha-bookkeeping") == b"\x00"
