"""One SQLite file shared by the store, the queue and the outbox, written with group commit.

Every write must be durable before it returns (docs/architecture.md §3.1), and an fsync per write
would cap throughput at the disk's fsync rate. So one writer thread owns the write connection: it
takes every operation waiting for it, runs each in its own SAVEPOINT (a failing operation is rolled
back alone), commits them all with ONE ``COMMIT`` (one fsync), and only then resolves the callers'
futures. While a commit is on disk, new operations pile up and share the next one.

Not every write needs its own trip to the disk. A write is *durable* (the default: an accepted
event, a record the Router accepted over gRPC, configuration) or *bookkeeping* (leases, acks,
settles, delivery marks), whose loss in a power failure only makes work run again, which
at-least-once delivery allows. Durable writes commit with synchronous=FULL; bookkeeping with
synchronous=NORMAL, which in WAL mode survives a killed process and skips the fsync. A batch
holding both commits twice, its durable writes first: an accepted event's answer then waits
for its own fsync alone, not for the settles and leases queued beside it (with a busy executor,
one transaction for both cost about a sixth of the accept rate in the bench). WAL frames are
checksummed in a chain, so a commit lost to a power failure takes every later commit with it,
and a FULL commit makes everything before it durable too.

Reads go through a second connection on its own thread: in WAL mode they never wait for the
writer, and they always see every write whose call has returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eventinvoke.backends.sqlite.schema import create_schema

T = TypeVar("T")

# Other processes may hold the write lock (services sharing one data dir); wait for them.
BUSY_TIMEOUT_SECONDS = 10.0


@dataclass
class _Operation:
    """A write waiting for the writer thread, and where to send its outcome."""

    run: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    durable: bool


@dataclass
class _Outcome:
    result: Any = None
    error: BaseException | None = None


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are begun and ended explicitly."""
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


class Database:
    """The write path (group commit on one thread) and the read path of one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0  # transactions committed; with group commit, far fewer than writes
        self.synced_commits = 0  # of which with synchronous=FULL
        self._full_sync = True
        self._writer = connect(path)
        self._reader = connect(path)
        self._pending: queue.SimpleQueue[_Operation | None] = queue.SimpleQueue()
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-read")
        self._thread = threading.Thread(target=self._write_loop, name="sqlite-write", daemon=True)
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (or create) the file and bring its schema up to date."""
        database = await asyncio.to_thread(cls, path)
        database._thread.start()
        try:
            await database.write(create_schema)
        except BaseException:
            await database.close()
            raise
        return database

    async def write(self, run: Callable[[sqlite3.Connection], T], durable: bool = True) -> T:
        """Run ``run`` inside a write transaction; return once that transaction has committed
        (for a durable write: committed with an fsync).

        If ``run`` raises, its changes are rolled back and the exception is raised here; the
        other operations of the same batch are not affected.
        """
        if self._closed:
            raise RuntimeError(f"database {self.path} is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.put(_Operation(run, loop, future, durable))
        return await future

    async def change(self, statement: str, parameters: Sequence[Any], durable: bool = True) -> bool:
        """``write`` one statement; whether it changed a row."""
        return await self.write(lambda c: c.execute(statement, parameters).rowcount > 0, durable)

    async def read(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``run`` on the read connection, which sees every committed write."""
        if self._closed:
            raise RuntimeError(f"database {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._reads, run, self._reader)

    async def close(self) -> None:
        """Finish the writes already submitted, stop both threads, close both connections."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._pending.put(None)
            await asyncio.to_thread(self._thread.join)
        await asyncio.to_thread(self._reads.shutdown)
        self._writer.close()
        self._reader.close()

    def _write_loop(self) -> None:
        """Take every pending operation as one batch, commit it (its durable writes first),
        repeat until told to stop."""
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while not stop:
                try:
                    operation = self._pending.get_nowait()
                except queue.Empty:
                    break
                if operation is None:
                    stop = True
                else:
                    batch.append(operation)
            durable = [operation for operation in batch if operation.durable]
            if durable and len(durable) < len(batch):
                self._commit(durable)
                self._commit([operation for operation in batch if not operation.durable])
            else:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Operation]) -> None:
        """Run the batch in one transaction, synced if any of it is durable; then answer."""
        connection = self._writer
        full_sync = any(operation.durable for operation in batch)
        try:
            if full_sync != self._full_sync:  # may only change outside a transaction
                connection.execute(f"PRAGMA synchronous={'FULL' if full_sync else 'NORMAL'}")
                self._full_sync = full_sync
            # IMMEDIATE takes the write lock up front, so reads made by an operation (a lease's
            # SELECT) cannot be invalidated by another process before its UPDATE.
            connection.execute("BEGIN IMMEDIATE")
            outcomes = [_run_in_savepoint(connection, operation.run) for operation in batch]
            connection.execute("COMMIT")
            self.commits += 1
            self.synced_commits += full_sync
        except Exception as error:  # the transaction as a whole failed: nothing was committed
            if connection.in_transaction:
                # Should the rollback fail too, the callers still hear the first error, and the
                # thread lives on to serve later writes.
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            outcomes = [_Outcome(error=error)] * len(batch)
        _resolve(batch, outcomes)


def _run_in_savepoint(connection: sqlite3.Connection, run: Callable[..., Any]) -> _Outcome:
    connection.execute("SAVEPOINT operation")
    try:
        result = run(connection)
    except Exception as error:
        connection.execute("ROLLBACK TO operation")
        connection.execute("RELEASE operation")
        return _Outcome(error=error)
    connection.execute("RELEASE operation")
    return _Outcome(result=result)


def _resolve(batch: list[_Operation], outcomes: list[_Outcome]) -> None:
    """Hand the outcomes to each caller's event loop, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], _Outcome]]] = {}
    for operation, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(operation.loop, []).append((operation.future, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_set_outcomes, settled)
        except RuntimeError:  # the caller's loop is closed; nobody is waiting any more
            pass


def _set_outcomes(settled: list[tuple[asyncio.Future[Any], _Outcome]]) -> None:
    for future, outcome in settled:
        if future.done():  # the caller was cancelled; the write happened regardless
            continue
        if outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.result)
