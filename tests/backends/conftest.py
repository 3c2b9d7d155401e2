"""A real SQLite backend in a temporary directory for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventinvoke.backends.sqlite import SqliteBackend


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SqliteBackend]:
    backend = await SqliteBackend.open(tmp_path / "data")
    yield backend
    await backend.close()
