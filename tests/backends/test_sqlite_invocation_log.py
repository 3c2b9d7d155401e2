"""The embedded invocation log's two tables (sqlite/invocations.py): settles append to the
unindexed ``recent_invocations``, folded into the indexed ``invocations`` every ``FOLD_EVERY``
rows and before each sweep; a read finds a request id's latest settle in either."""

from __future__ import annotations

import sqlite3

import pytest
from backends.helpers import rows
from backends.test_invocations import settle_again, settle_one

from eventinvoke.backends.sqlite import SqliteBackend, invocations
from eventinvoke.backends.sqlite.schema import create_schema


@pytest.fixture(autouse=True)
def fold_every_four(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invocations, "FOLD_EVERY", 4)


async def seqs(backend: SqliteBackend, table: str) -> list[int]:
    return [row["seq"] for row in await rows(backend, table)]


async def test_every_fourth_settle_folds_the_recent_rows_into_the_indexed_table(
    sqlite_backend: SqliteBackend,
) -> None:
    for number in range(1, 11):
        await settle_one(sqlite_backend, number)

    assert await seqs(sqlite_backend, "invocations") == list(range(1, 9))
    assert await seqs(sqlite_backend, "recent_invocations") == [9, 10]
    for number in range(1, 11):
        found = await sqlite_backend.invocations.get(f"request-{number}")
        assert found is not None and found[0].request_id == f"request-{number}"
    assert await sqlite_backend.invocations.get("request-11") is None


async def test_a_newer_settle_in_the_recent_rows_hides_the_folded_one(
    sqlite_backend: SqliteBackend,
) -> None:
    for number in range(1, 5):  # request-1 is folded with the fourth
        await settle_one(sqlite_backend, number)
    await settle_again(sqlite_backend, 1, "RetriesExhausted")
    assert await seqs(sqlite_backend, "recent_invocations") == [5]

    found = await sqlite_backend.invocations.get("request-1")

    assert found is not None and found[0].condition == "RetriesExhausted"


async def test_the_sweep_folds_first_and_forgets_across_both_tables(
    sqlite_backend: SqliteBackend,
) -> None:
    for number in range(1, 7):
        await settle_one(sqlite_backend, number)

    assert await sqlite_backend.invocations.sweep(3600, 3, 100) == 3

    assert await seqs(sqlite_backend, "recent_invocations") == []
    assert await seqs(sqlite_backend, "invocations") == [4, 5, 6]
    kept = [n for n in range(1, 7) if await sqlite_backend.invocations.get(f"request-{n}")]
    assert kept == [4, 5, 6]


def test_a_read_searches_the_index_not_the_whole_table() -> None:
    connection = sqlite3.connect(":memory:")
    create_schema(connection)
    query = "EXPLAIN QUERY PLAN " + invocations.GET
    plan = [row[3] for row in connection.execute(query, {"id": "abc"})]

    assert "SEARCH invocations USING INDEX invocations_request_prefix (<expr>=?)" in plan
    assert "SCAN invocations" not in plan
