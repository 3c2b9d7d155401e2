"""A connection pool, two writers with group commit, and one listening connection, for one
PostgreSQL database.

Group commit is what makes a database queue fast: measured on a 2-core machine, lease+settle
batched ran 10-16k events/s, one transaction each only 1.1-1.8k. So every hot write (enqueue,
lease, extend, retry, ack, settle, the outbox's) goes through ``write``: a writer coroutine
takes every write waiting, runs each kind of write as ONE statement over arrays (``unnest``),
and answers its callers once that statement committed. While a statement is under way, new
writes pile up and share the next one.

Each statement commits on its own (no BEGIN/COMMIT: one round trip), so a batch function whose
writes must be atomic puts them in one statement (data-modifying CTEs), and sends its own
notifications from it (``batches.notifying``), to go out with its commit.

As in the SQLite writer, a write is *durable* (an accepted event, a record accepted over gRPC)
or *bookkeeping* (leases, acks, settles, delivery marks). Each kind has its writer and
connection: the durable one commits with the server's ``synchronous_commit`` (on by default:
flushed before the caller hears of it), the bookkeeping one with it off, whose loss in a server
crash only makes work run again, and which never waits behind a flush.

A batch that fails as a whole for a reason of its own (a constraint one write broke) is run
again one write per statement, so each caller hears only its own error. A lost connection
or an unreachable server is ``BackendUnavailable``: the caller may retry.

Other processes' writes are heard through ``LISTEN`` on one dedicated connection; the callers'
polls remain the fallback when it is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

import asyncpg
import structlog

from eventinvoke.backends.base import BackendUnavailable
from eventinvoke.backends.postgres.schema import migrate

log = structlog.get_logger("eventinvoke.backends.postgres")

T = TypeVar("T")

# NOTIFY channels: events became visible, deliveries were added, a function (the payload) changed.
EVENTS = "eventinvoke_events"
DELIVERIES = "eventinvoke_deliveries"
FUNCTIONS = "eventinvoke_functions"

CONNECT_TIMEOUT = 10.0
CLOSE_SECONDS = 10.0  # how long a stop waits for queued writes and connections in use
# Every connection's session settings:
# - A process paused inside a transaction (SIGSTOP, a long GC pause, a partition) keeps its row
#   locks, and every other process's SKIP LOCKED leases pass over those rows, lease expiry or
#   not. Our transactions never wait between statements, so the server may end one that idles
#   this long; its writes fail as unavailable and run again.
# - Our statements take arrays whose sizes vary with every batch, so the server re-planned them
#   each time (about 1 ms for the lease); their plans do not depend on the values, so plan once.
SESSION_SETTINGS = {
    "idle_in_transaction_session_timeout": "2s",
    "plan_cache_mode": "force_generic_plan",
}
# The writers' too: their statements each touch a few rows, found by key or read in an index's
# order up to a limit, never a table's worth. A plan made once, often on a table still empty,
# chose otherwise: a lease that read and sorted all of a function's queued events (a bitmap
# scan), or a scan of the whole table to update the rows it leased, so every statement cost as
# much as the queue was deep (measured: a lease of 8 took 1.2 ms of server time with 3,600
# queued, 0.35 ms on indexes). Without these paths the planner takes the indexes.
WRITER_SETTINGS = SESSION_SETTINGS | {"enable_seqscan": "off", "enable_bitmapscan": "off"}
POOL_SIZE = 7  # reads and configuration writes
CONNECTIONS = POOL_SIZE + 3  # what a process holds: with the two writers' and the listener's
RECONNECT_DELAY = (0.1, 5.0)  # the listener's backoff, first and longest

# Failures of the connection or the server, not of a statement: the caller may retry.
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
)

# A batch function runs every write of one kind in one statement: it gets the writes' arguments
# in order and returns one result per write, in the same order.
Batch = Callable[[asyncpg.Connection, list[Any]], Awaitable[list[Any]]]


@dataclass
class _Write:
    batch: Batch
    args: Any
    future: asyncio.Future[Any]


@dataclass
class Listeners:
    """What to call when a NOTIFY arrives on each channel (payload for FUNCTIONS)."""

    events: Callable[[], None] = lambda: None
    deliveries: Callable[[], None] = lambda: None
    functions: Callable[[str], None] = field(default=lambda name: None)


# Where a URL carries its password: its user part (``user:password@host``; the last ``@`` before
# the path ends it), or a ``password`` parameter. Regular expressions, not urlsplit: a URL too
# broken to parse is exactly the one an error message must still show without its password.
_USER_PASSWORD = re.compile(r"^(?P<keep>[^:/?#]+://[^:/?#@]*:)(?P<password>[^/?#]*)@")
_PARAMETER_PASSWORD = re.compile(r"(?P<keep>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


def redacted(url: str) -> str:
    """The URL without its password, for logs and errors."""
    url = _USER_PASSWORD.sub(r"\g<keep>***@", url, count=1)
    return _PARAMETER_PASSWORD.sub(r"\g<keep>***", url)


def unavailable(url: str, error: BaseException) -> BackendUnavailable:
    """One line naming the server (not the password) and the reason."""
    reason = " ".join((str(error) or type(error).__name__).split())
    for pattern in (_USER_PASSWORD, _PARAMETER_PASSWORD):
        for match in pattern.finditer(url):
            for password in {match["password"], unquote(match["password"])} - {""}:
                reason = reason.replace(password, "***")
    return BackendUnavailable(f"PostgreSQL at {redacted(url)} is unavailable: {reason}")


class Database:
    """The pool for reads and configuration writes, the batching writers for hot writes, and the
    clock: ``now()`` is this host's time corrected to the server's."""

    def __init__(self, url: str, pool: asyncpg.Pool, listeners: Listeners) -> None:
        self.url = url
        self.pool = pool
        self.listeners = listeners
        self._offset = 0.0  # server clock minus this host's, from the last reading
        # By durability: the server's own synchronous_commit for durable writes.
        self._writers = {
            True: _Writer(url, WRITER_SETTINGS),
            False: _Writer(url, WRITER_SETTINGS | {"synchronous_commit": "off"}),
        }
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, url: str, listeners: Listeners) -> Database:
        """Connect, migrate, start the writer and the listener. A bad URL, a server that does
        not answer or a refused login raise BackendUnavailable with one line."""
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_TIMEOUT,
                server_settings=SESSION_SETTINGS,
                reset=_keep_session,
            )
        except (ValueError, OverflowError, asyncpg.exceptions.PostgresError, *UNAVAILABLE) as error:
            # A URL asyncpg cannot parse (a port out of range is an OverflowError), a refused
            # login, no such database, no server answering.
            raise unavailable(url, error) from None
        database = cls(url, pool, listeners)
        try:
            async with pool.acquire(timeout=CONNECT_TIMEOUT) as connection:
                await migrate(connection)
                await database._read_clock(connection)
        except BaseException as error:
            if isinstance(error, UNAVAILABLE):
                pool.terminate()  # its connections may be dead: close() would wait on them
                raise unavailable(url, error) from None
            await pool.close()
            raise
        for durable, writer in database._writers.items():
            writer.start("postgres-writer-" + ("durable" if durable else "bookkeeping"))
        database._listener = asyncio.create_task(database._listen(), name="postgres-listener")
        return database

    # --- the clock ----------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    async def _read_clock(self, connection: asyncpg.Connection) -> None:
        before = time.time()
        server = await connection.fetchval("SELECT ei_now()")
        after = time.time()
        self.observe_clock(server, (before + after) / 2)

    def observe_clock(self, server: float, local: float) -> None:
        """The server said ``server`` at (about) ``local`` by this host's clock."""
        self._offset = server - local

    # --- reads and single transactions -------------------------------------------------------

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``work`` on a pooled connection (reads, configuration writes in their own
        transaction); connection failures become BackendUnavailable."""
        if self._closed:
            raise BackendUnavailable("the PostgreSQL backend is closed")
        try:
            async with self.pool.acquire(timeout=CONNECT_TIMEOUT) as connection:
                return await work(connection)
        except UNAVAILABLE as error:
            raise unavailable(self.url, error) from None

    async def notify(self, connection: asyncpg.Connection, channel: str, payload: str = "") -> None:
        """NOTIFY inside the caller's transaction: sent only if it commits."""
        await connection.execute("SELECT pg_notify($1, $2)", channel, payload)

    # --- the batching writers ----------------------------------------------------------------

    async def write(self, batch: Batch, args: Any, *, durable: bool = False) -> Any:
        """Queue one write for the next batch of its writer; return its result once its
        statement committed."""
        if self._closed:
            raise BackendUnavailable("the PostgreSQL backend is closed")
        return await self._writers[durable].write(batch, args)

    @property
    def commits(self) -> int:
        """Statements committed by the writers; with group commit, far fewer than writes."""
        return sum(writer.commits for writer in self._writers.values())

    # --- hearing other processes -------------------------------------------------------------

    async def _listen(self) -> None:
        """Keep one connection LISTENing; on losing it, reconnect with backoff (the pollers
        cover the gap) and ring every doorbell once, in case a notification was missed."""
        delay = RECONNECT_DELAY[0]
        while not self._closed:
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
            except Exception as error:
                log.warning("listen_connect_failed", error=str(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_DELAY[1])
                continue
            delay = RECONNECT_DELAY[0]
            try:
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(EVENTS, self._others(self.listeners.events))
                await connection.add_listener(DELIVERIES, self._others(self.listeners.deliveries))
                await connection.add_listener(
                    FUNCTIONS, lambda _c, _p, _ch, name: self.listeners.functions(name)
                )
                self.listeners.events()
                self.listeners.deliveries()
                while not lost.is_set() and not connection.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5.0)
            except Exception as error:
                log.warning("listen_failed", error=str(error))
            finally:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)

    def _others(self, ring: Callable[[], None]) -> Callable[..., None]:
        """``ring`` for a notification another process sent, not one of this process's
        writers: the code that wrote rang its own doorbells already (an enqueue the executor's,
        a settle the Router's), and hearing its write again only made a worker lease for
        nothing."""

        def heard(_connection: Any, sender: int, _channel: str, _payload: str) -> None:
            if sender not in {writer.server_pid for writer in self._writers.values()}:
                ring()

        return heard

    async def close(self) -> None:
        """Finish the writes already queued, stop listening, close every connection."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(writer.close() for writer in self._writers.values()))
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        try:
            await asyncio.wait_for(self.pool.close(), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("pool_terminated")  # a connection still in use past the deadline
            self.pool.terminate()


class _Writer:
    """One connection and the writes waiting for it. Each turn takes every write waiting and
    runs each kind as one statement, which commits on its own; its callers hear at once."""

    def __init__(self, url: str, settings: dict[str, str]) -> None:
        self.url = url
        self.settings = settings
        self.commits = 0
        self._pending: list[_Write] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._closed = False

    @property
    def server_pid(self) -> int | None:
        """The server process of the writer's connection (a NOTIFY names its sender so)."""
        connection = self._connection
        return None if connection is None or connection.is_closed() else connection.get_server_pid()

    def start(self, name: str) -> None:
        self._task = asyncio.create_task(self._loop(), name=name)

    async def write(self, batch: Batch, args: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Write(batch, args, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task is None:
            return
        # The writes queued commit, unless the server stopped answering: a stop must end.
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("writer_stopped_with_writes_pending")
            self._task.cancel()

    async def _loop(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closed:
                        return
                    await self._wake.wait()
                    self._wake.clear()
                    continue
                writes, self._pending = self._pending, []
                await self._run(writes)
        finally:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close(timeout=1)

    async def _connect(self) -> asyncpg.Connection:
        """The writer's own connection, outside the pool so that reads never wait behind a
        batch; opened again after a failure."""
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(
                self.url, timeout=CONNECT_TIMEOUT, server_settings=self.settings
            )
        return self._connection

    async def _run(self, writes: list[_Write]) -> None:
        groups: dict[Batch, list[_Write]] = {}
        for write in writes:
            groups.setdefault(write.batch, []).append(write)
        for number, (batch, group) in enumerate(groups.items()):
            try:
                await self._statement(batch, group)
            except Exception as error:
                # The server is away, or refused the connection (its database was dropped): the
                # writes not yet run would only hear the same.
                failure: Exception = error
                if isinstance(error, UNAVAILABLE):
                    if self._connection is not None:
                        self._connection.terminate()
                        self._connection = None
                    failure = unavailable(self.url, error)
                for rest in list(groups.values())[number:]:
                    for write in rest:
                        _fail(write, failure)
                return

    async def _statement(self, batch: Batch, group: list[_Write]) -> None:
        """The group's statement; if it fails for a reason of its own, each write alone."""
        connection = await self._connect()
        try:
            results = await batch(connection, [write.args for write in group])
        except UNAVAILABLE:
            raise
        except Exception as error:
            if len(group) == 1:
                _fail(group[0], error)
                return
            # One write broke the statement: each alone, so each hears only its own error.
            for write in group:
                await self._statement(batch, [write])
            return
        self.commits += 1
        for write, result in zip(group, results, strict=True):
            _settle(write, result)


def _settle(write: _Write, result: Any) -> None:
    if not write.future.done():
        write.future.set_result(result)


def _fail(write: _Write, error: BaseException) -> None:
    if not write.future.done():
        write.future.set_exception(error)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """What the pool does to a connection it takes back, beyond asyncpg's own rollback of an
    open transaction: nothing. Pooled connections keep no session state (no LISTEN, session
    SET, cursor or session advisory lock; the locks taken are the transaction's), so asyncpg's
    reset query would be one more round trip per read for nothing."""
