"""The backends under test: each conformance test runs once on SQLite (a real file in a temporary
directory) and once on PostgreSQL (the test server's session database, emptied before each test).

``backend`` is the backend a test uses; ``open_another`` opens one more on the same data (a
second process sharing the SQLite file, a second replica sharing the PostgreSQL database), and
``storage`` says where the data is. ``sqlite_backend`` is for the SQLite-only tests.

Test ids end in ``[sqlite]`` or ``[postgres]``: ``pytest tests/backends -k sqlite`` runs one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from backends.helpers import Storage
from postgres import reset_database

from eventinvoke.backends.base import Backend
from eventinvoke.backends.sqlite import SqliteBackend


@pytest.fixture(params=["sqlite", "postgres"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "sqlite":
        place = Storage("sqlite", str(tmp_path / "data"))
    else:
        url = request.getfixturevalue("postgres_session_url")
        await reset_database(url)
        place = Storage("postgres", url)
    try:
        yield place
    finally:
        await place.close_all()


@pytest.fixture
async def backend(storage: Storage) -> Backend:
    return await storage.open()


@pytest.fixture
def open_another(storage: Storage) -> Callable[[], Awaitable[Backend]]:
    """Open one more backend on the same data; closed after the test."""
    return storage.open


@pytest.fixture
async def sqlite_backend(tmp_path: Path) -> AsyncIterator[SqliteBackend]:
    backend = await SqliteBackend.open(tmp_path / "data")
    yield backend
    await backend.close()
