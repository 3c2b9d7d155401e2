"""What only the PostgreSQL backend has: versioned migrations that replicas may race, a clear
refusal of what it cannot open, BackendUnavailable while the server is away (and recovery after),
group commit, and other replicas' writes heard through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

asyncpg = pytest.importorskip("asyncpg", reason="asyncpg is not installed")

from backends.helpers import delivery, event, function  # noqa: E402
from postgres import database_url, drop_database  # noqa: E402

from eventinvoke.backends import Wakeups  # noqa: E402
from eventinvoke.backends.base import BackendUnavailable  # noqa: E402
from eventinvoke.backends.postgres import PostgresBackend  # noqa: E402
from eventinvoke.backends.postgres.database import WRITER_SETTINGS  # noqa: E402
from eventinvoke.backends.postgres.queue import LEASE  # noqa: E402
from eventinvoke.backends.postgres.schema import SCHEMA_VERSION  # noqa: E402
from eventinvoke.core.model import Requeue, Settlement  # noqa: E402

PASSWORD = "s3cret-pw"


class Proxy:
    """A TCP proxy in front of the server: stopping it cuts every connection through it and
    refuses new ones, as a server gone away would; starting it again brings it back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._open:
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self._open.discard(writer)


def with_password(url: str) -> tuple[str, str]:
    """The URL with a password in it (the test server's own, or one it ignores when it trusts
    the login), and that password: what no message may show."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD}@{host}")), PASSWORD


def through(url: str, port: int) -> str:
    """The URL, reaching its server on 127.0.0.1:``port`` instead."""
    parts = urlsplit(url)
    login = parts.netloc.rpartition("@")[0]
    return urlunsplit(
        parts._replace(netloc=f"{login}@127.0.0.1:{port}" if login else f"127.0.0.1:{port}")
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_one_clear_line(error: BaseException, password: str, *mentions: str) -> None:
    message = str(error)
    assert "\n" not in message and message.strip() == message
    assert password not in message
    assert message.startswith("PostgreSQL at ") and "is unavailable: " in message
    for mention in mentions:
        assert mention in message


async def applied_versions(url: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        return [
            r["version"]
            for r in await connection.fetch(
                "SELECT version FROM schema_migrations ORDER BY version"
            )
        ]
    finally:
        await connection.close()


async def test_migrations_are_versioned_and_run_once(postgres_url: str) -> None:
    backend = await PostgresBackend.open(postgres_url)
    await backend.queue.enqueue(event(1))
    await backend.close()
    assert await applied_versions(postgres_url) == list(range(1, SCHEMA_VERSION + 1))

    again = await PostgresBackend.open(postgres_url)
    try:
        assert await again.queue.depth() == 1  # opening a current database keeps its data
    finally:
        await again.close()
    assert await applied_versions(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


async def test_replicas_opening_an_empty_database_at_once_all_succeed(postgres_url: str) -> None:
    backends = await asyncio.gather(
        *(PostgresBackend.open(postgres_url) for _ in range(4)), return_exceptions=True
    )
    opened = [b for b in backends if isinstance(b, PostgresBackend)]
    try:
        assert len(opened) == 4, [b for b in backends if not isinstance(b, PostgresBackend)]
        await opened[0].queue.enqueue(event(1))
        assert [await b.queue.depth() for b in opened] == [1, 1, 1, 1]
    finally:
        for backend in opened:
            await backend.close()
    assert await applied_versions(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


async def test_a_database_with_a_newer_schema_is_refused(postgres_url: str) -> None:
    await (await PostgresBackend.open(postgres_url)).close()
    connection = await asyncpg.connect(postgres_url)
    await connection.execute(
        "INSERT INTO schema_migrations (version) VALUES ($1)", SCHEMA_VERSION + 1
    )
    await connection.close()

    with pytest.raises(
        RuntimeError, match=f"schema version {SCHEMA_VERSION + 1} is newer than this release"
    ):
        await PostgresBackend.open(postgres_url)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://bob:{PASSWORD}@127.0.0.1:notaport/db",
        f"postgresql://bob:{PASSWORD}@127.0.0.1:99999/db",
        f"postgresql://bob:{PASSWORD}@[::1/db",
        f"postgresql://bob:{PASSWORD}@127.0.0.1:5432/db?sslmode=bogus",
        f"postgresql://bob@127.0.0.1:{free_port()}/db?password={PASSWORD}",
    ],
)
async def test_a_bad_url_is_unavailable_with_one_clear_line(url: str) -> None:
    with pytest.raises(BackendUnavailable) as raised:
        await PostgresBackend.open(url)

    assert_one_clear_line(raised.value, PASSWORD)


async def test_an_unreachable_server_is_unavailable_with_one_clear_line() -> None:
    port = free_port()

    with pytest.raises(BackendUnavailable) as raised:
        await PostgresBackend.open(f"postgresql://bob:{PASSWORD}@127.0.0.1:{port}/db")

    assert_one_clear_line(raised.value, PASSWORD, f"127.0.0.1:{port}")


async def test_a_refused_login_is_unavailable_with_one_clear_line(postgres_server: str) -> None:
    url, password = with_password(postgres_server)
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    no_user = urlunsplit(parts._replace(netloc=f"eventinvoke_nobody:{password}@{host}"))
    no_database = database_url(url, "eventinvoke_test_no_such_database")

    with pytest.raises(BackendUnavailable) as raised:
        await PostgresBackend.open(no_user)
    assert_one_clear_line(raised.value, password, "eventinvoke_nobody")

    with pytest.raises(BackendUnavailable) as raised:
        await PostgresBackend.open(no_database)
    assert_one_clear_line(raised.value, password, "eventinvoke_test_no_such_database")


async def test_writes_while_the_server_is_unreachable_are_unavailable(postgres_url: str) -> None:
    target = urlsplit(postgres_url)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    url, password = with_password(through(postgres_url, proxy.port))
    backend = await PostgresBackend.open(url)
    closed_while_away = await PostgresBackend.open(url)
    try:
        await backend.queue.enqueue(event(1))
        assert await backend.queue.depth() == 1

        await proxy.stop()  # every connection through it is cut, and no new one gets through
        for call in (
            backend.queue.enqueue(event(2)),  # the batching writer
            backend.queue.lease("owner", 10, 30),
            backend.outbox.add([delivery(1)]),
            backend.store.create_function(function()),  # a configuration write of its own
            backend.queue.depth(),  # reads
            backend.store.get_function("fn"),
        ):
            with pytest.raises(BackendUnavailable) as raised:
                await asyncio.wait_for(call, 30)
            assert_one_clear_line(raised.value, password, f"127.0.0.1:{proxy.port}")
        await asyncio.wait_for(closed_while_away.close(), 10)  # closing does not hang

        await proxy.start()  # the server is back: the same backend works again
        await backend.queue.enqueue(event(3))
        leased = await backend.queue.lease("owner", 10, 30)
        assert [e.request_id for e in leased] == ["request-1", "request-3"]
        assert (
            await backend.outbox.pending() == 0 and await backend.store.get_function("fn") is None
        )
    finally:
        await backend.close()
        await closed_while_away.close()
        await proxy.stop()


async def test_concurrent_writes_share_commits(postgres_url: str) -> None:
    backend = await PostgresBackend.open(postgres_url)
    try:
        commits_before = backend.database.commits

        await asyncio.gather(*(backend.queue.enqueue(event(number)) for number in range(200)))

        assert await backend.queue.depth() == 200
        assert 1 <= backend.database.commits - commits_before < 20
    finally:
        await backend.close()


async def test_other_replicas_writes_ring_the_wakeups(postgres_url: str) -> None:
    changed: asyncio.Queue[str] = asyncio.Queue()
    wakeups = Wakeups(asyncio.Event(), asyncio.Event(), changed.put_nowait)
    listening = await PostgresBackend.open(postgres_url, wakeups)
    writing = await PostgresBackend.open(postgres_url)
    try:
        # Listening rings every doorbell once (in case a notification was missed): wait for it.
        await asyncio.wait_for(wakeups.events.wait(), 10)
        await asyncio.wait_for(wakeups.deliveries.wait(), 10)
        wakeups.events.clear()
        wakeups.deliveries.clear()

        await writing.queue.enqueue(event(1))
        await asyncio.wait_for(wakeups.events.wait(), 10)
        assert not wakeups.deliveries.is_set()

        await writing.outbox.add([delivery(1)])
        await asyncio.wait_for(wakeups.deliveries.wait(), 10)

        # A settle's deliveries and follow-up events ring the others from its statement.
        wakeups.events.clear()
        wakeups.deliveries.clear()
        [leased] = await writing.queue.lease("owner", 10, 30)
        assert await writing.settle(
            leased.event_id or 0, leased.lease_epoch, Settlement([delivery(2)], [event(2)])
        )
        await asyncio.wait_for(wakeups.deliveries.wait(), 10)
        await asyncio.wait_for(wakeups.events.wait(), 10)

        # A release makes events due again: the others hear of it.
        wakeups.events.clear()
        [leased] = await writing.queue.lease("owner", 10, 30)
        await writing.queue.release([(leased.event_id or 0, leased.lease_epoch)])
        await asyncio.wait_for(wakeups.events.wait(), 10)

        await writing.store.create_function(function("changed-fn"))
        assert await asyncio.wait_for(changed.get(), 10) == "changed-fn"
    finally:
        await writing.close()
        await listening.close()


async def test_a_process_does_not_hear_its_own_writes_but_does_hear_its_wakes(
    postgres_url: str,
) -> None:
    """The code that wrote rings its own doorbells; hearing the NOTIFY again only made the
    executor lease for nothing. A slot's release that wakes a throttled event is the backend's
    own doing: it rings this process's doorbell itself."""
    wakeups = Wakeups(asyncio.Event(), asyncio.Event(), lambda name: None)
    backend = await PostgresBackend.open(postgres_url, wakeups)
    other = await PostgresBackend.open(postgres_url)
    try:
        await asyncio.wait_for(wakeups.events.wait(), 10)  # listening rings once: wait for it
        await asyncio.wait_for(wakeups.deliveries.wait(), 10)
        wakeups.events.clear()
        wakeups.deliveries.clear()

        await backend.queue.enqueue(event(1))
        [leased] = await backend.queue.lease("owner", 10, 30)
        assert await backend.settle(
            leased.event_id or 0, leased.lease_epoch, Settlement([delivery(1)], [event(2)])
        )
        await backend.outbox.add([delivery(2)])
        # Notifications arrive in the order their transactions committed: once another
        # process's is heard, this one's own would have been.
        await other.outbox.add([delivery(3)])
        await asyncio.wait_for(wakeups.deliveries.wait(), 10)
        assert not wakeups.events.is_set()

        # request-2 waits out a throttle; a freed slot wakes it, and this process hears so.
        [follow_up] = await backend.queue.lease("owner", 10, 30)
        now = backend.queue.now()
        assert await backend.queue.retry(
            follow_up.event_id or 0, follow_up.lease_epoch, Requeue(0, now + 60, 1)
        )
        assert await backend.slots.acquire("fn", 1, "holder", 30)
        await backend.slots.release("fn", "holder", wake=True)
        assert wakeups.events.is_set()
        [woken] = await backend.queue.lease("owner", 10, 30)
        assert woken.request_id == "request-2"
    finally:
        await other.close()
        await backend.close()


async def test_describe_names_the_database_without_its_password(postgres_url: str) -> None:
    url, password = with_password(postgres_url)
    backend = await PostgresBackend.open(url)
    try:
        described = backend.describe()
    finally:
        await backend.close()

    assert password not in described
    assert "***" in described and described.endswith(urlsplit(postgres_url).path)


async def test_a_lease_planned_on_an_empty_queue_reads_indexes_when_the_queue_is_deep(
    postgres_url: str,
) -> None:
    """The writers plan each statement once, typically on a table still empty: the lease's
    plan must still read the index in order up to its limit and find the rows it leases by
    key, not read every queued event (its cost would grow with the queue's depth)."""
    backend = await PostgresBackend.open(postgres_url)
    connection = await asyncpg.connect(postgres_url, server_settings=WRITER_SETTINGS)
    try:
        await connection.execute(f"PREPARE lease (integer, text, float8) AS {LEASE}")
        await connection.execute("EXECUTE lease (8, 'owner', 30)")  # planned now, on nothing
        for start in range(0, 2000, 500):
            await backend.queue.enqueue(
                *(event(n, f"fn-{n % 2}") for n in range(start, start + 500))
            )
        plan = "\n".join(
            row[0]
            for row in await connection.fetch("EXPLAIN ANALYZE EXECUTE lease (8, 'owner', 30)")
        )
        assert "rows=8 loops=1" in plan.splitlines()[0], plan
        assert "Seq Scan on events" not in plan and "Bitmap" not in plan, plan
    finally:
        await connection.close()
        await backend.close()


async def test_writes_after_the_database_was_dropped_fail_and_the_writers_keep_answering(
    postgres_server: str, postgres_url: str
) -> None:
    """A connection the server refuses for a reason of its own (here: no such database) fails
    the writes waiting with the server's error; it does not stop the writers, so later writes
    fail the same way instead of waiting forever."""
    backend = await PostgresBackend.open(postgres_url)
    try:
        await drop_database(postgres_server, postgres_url)
        for expected in ((BackendUnavailable, asyncpg.exceptions.PostgresError),) * 2 + (
            asyncpg.exceptions.InvalidCatalogNameError,
        ):
            for call in (backend.queue.enqueue(event(1)), backend.queue.lease("owner", 10, 30)):
                with pytest.raises(expected):
                    await asyncio.wait_for(call, 30)
    finally:
        await asyncio.wait_for(backend.close(), 30)
