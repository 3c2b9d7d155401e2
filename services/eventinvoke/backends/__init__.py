"""Queue and store backends, behind one protocol (``base.py``: function store, event queue,
outbox, concurrency slots, and an atomic ``settle``).

Two implement it: ``sqlite/``, embedded in the data directory, nothing to install (the
default), and ``postgres/``, one PostgreSQL database shared by any number of replicas of each
service on any number of hosts (``--backend postgresql://...``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventinvoke.backends.base import Backend, BackendUnavailable

if TYPE_CHECKING:
    from eventinvoke.server.config import Settings

__all__ = ["Backend", "BackendUnavailable", "Wakeups", "open_backend"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Wakeups:
    """What a backend rings when another process writes: new events, new deliveries, a
    function's configuration changed. A backend that cannot tell leaves them to the polls."""

    events: asyncio.Event
    deliveries: asyncio.Event
    function_changed: Callable[[str], None]


async def open_backend(settings: Settings, wakeups: Wakeups) -> Backend:
    """The backend the settings name: PostgreSQL for a ``postgresql://`` URL, else SQLite in
    the data directory. Raises ``BackendUnavailable`` with one clear line when it cannot be
    opened."""
    if settings.backend.startswith(POSTGRES_SCHEMES):
        # Imported here: asyncpg is loaded only by deployments that use it.
        from eventinvoke.backends.postgres import PostgresBackend

        return await PostgresBackend.open(settings.backend, wakeups)
    from eventinvoke.backends.sqlite import SqliteBackend

    return await SqliteBackend.open(settings.data_dir)
