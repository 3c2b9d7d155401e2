"""A backend as a whole, on every backend: it says where its data is, and closing it is final."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from backends.helpers import Storage, event

from eventinvoke.backends.base import Backend, BackendUnavailable


async def test_describe_says_where_the_data_is(backend: Backend, storage: Storage) -> None:
    described = backend.describe()

    if storage.kind == "sqlite":
        assert described.startswith(storage.location)
    else:
        assert described.endswith(urlsplit(storage.location).path)


async def test_close_is_idempotent_and_refuses_later_calls(backend: Backend) -> None:
    await backend.queue.enqueue(event(1))

    await backend.close()
    await backend.close()

    # SQLite says the database is closed; PostgreSQL, that the backend is unavailable.
    with pytest.raises((RuntimeError, BackendUnavailable), match="closed"):
        await backend.queue.enqueue(event(2))
    with pytest.raises((RuntimeError, BackendUnavailable), match="closed"):
        await backend.queue.depth()
    with pytest.raises((RuntimeError, BackendUnavailable), match="closed"):
        await backend.store.get_function("fn")
