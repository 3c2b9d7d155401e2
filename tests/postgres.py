"""A real PostgreSQL server for the tests, and databases of their own on it.

The server is the one ``EVENTINVOKE_TEST_POSTGRES`` names (a URL to a database the tests may use
to CREATE and DROP others; by default the local server's ``postgres`` database). Tests never
write to that database: each gets a database of its own, named ``eventinvoke_test_<pid>_<hex>``,
dropped when done.

Without a reachable server the tests that need one are skipped, with the reason; with
``EVENTINVOKE_REQUIRE_POSTGRES=1`` (CI) they fail instead, so that a missing server is never
mistaken for a green run.

Fixtures (imported by ``tests/conftest.py``, so every test directory can use them):

- ``postgres_server``: the admin URL of a reachable server (session).
- ``postgres_session_url``: one empty database for the whole run, dropped at its end (session).
  The backend conformance tests share it, emptied before each test (``reset_database``).
- ``postgres_url``: a fresh, empty database for one test, dropped after it. The first
  ``PostgresBackend.open`` (or ``eventinvoke --backend URL``) creates the schema.

The fixtures are synchronous (their work runs on a loop of its own, in a thread: ``run``), so
they serve sync and async tests alike, whatever the event loop's scope.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Coroutine, Iterator
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

T = TypeVar("T")

ADMIN_URL_VARIABLE = "EVENTINVOKE_TEST_POSTGRES"
REQUIRE_VARIABLE = "EVENTINVOKE_REQUIRE_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "eventinvoke_test_"
CONNECT_TIMEOUT = 5.0


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL


def database_url(admin: str, name: str) -> str:
    """The URL of database ``name`` on the admin URL's server, with the same login."""
    return urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end on a loop of its own, in a thread: callable from sync code,
    and from async code too (a test's loop may already be running in this thread)."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, asyncio.run(coroutine)))
        except BaseException as error:
            outcome.append((False, error))

    thread = threading.Thread(target=target, name="postgres-test-admin")
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


@cache
def unavailable_reason(admin: str) -> str | None:
    """Why the tests cannot use the server (None when they can). Asked once per run."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed"

    async def probe() -> None:
        connection = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            await connection.close()

    try:
        run(probe())
    except Exception as error:
        from eventinvoke.backends.postgres.database import redacted

        reason = " ".join((str(error) or type(error).__name__).split())
        return (
            f"no PostgreSQL server for the tests at {redacted(admin)} ({reason}); "
            f"set {ADMIN_URL_VARIABLE} to the URL of one"
        )
    return None


async def create_database(admin: str) -> str:
    """A new, empty database on the server; returns its URL."""
    import asyncpg

    name = f"{DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return database_url(admin, name)


async def drop_database(admin: str, url: str) -> None:
    """Drop the database, ending any connection a test left open to it."""
    import asyncpg

    name = database_name(url)
    assert name.startswith(DATABASE_PREFIX), f"refusing to drop {name!r}"
    connection = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def reset_database(url: str) -> None:
    """Empty every table but ``schema_migrations``; the schema stays.

    DELETE, not TRUNCATE: for the few rows a test leaves it takes 1-2 ms where TRUNCATE takes
    30 (it makes new files for every table). Ids are not restarted; no test depends on them.
    Connections left by an earlier test (a killed process's, one not closed) are ended first:
    their locks would make the deletes wait.
    """
    import asyncpg

    assert database_name(url).startswith(DATABASE_PREFIX), f"refusing to empty {url!r}"
    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        tables = await connection.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        if tables:  # one implicit transaction for all of them
            await connection.execute("; ".join(f"DELETE FROM {row['name']}" for row in tables))
    finally:
        await connection.close()


def skip_or_fail(reason: str) -> None:
    """Skip (the default) or, when the run requires PostgreSQL, fail with ``reason``."""
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{reason} ({REQUIRE_VARIABLE}=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server; skips (or fails) without one."""
    admin = admin_url()
    reason = unavailable_reason(admin)
    if reason is not None:
        skip_or_fail(reason)
    return admin


@pytest.fixture(scope="session")
def postgres_session_url(postgres_server: str) -> Iterator[str]:
    """One empty database for the whole run, dropped at its end."""
    url = run(create_database(postgres_server))
    try:
        yield url
    finally:
        run(drop_database(postgres_server, url))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test (about 0.1 s to create and drop), dropped after."""
    url = run(create_database(postgres_server))
    try:
        yield url
    finally:
        run(drop_database(postgres_server, url))
