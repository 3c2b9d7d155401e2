"""What the batch functions of the queue and the outbox share (``Database.write`` runs them):
calls turned into the typed arrays of one ``unnest`` statement, notifications sent from it, and
which calls a statement's returned rows answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from eventinvoke.backends.postgres.database import Batch

T = TypeVar("T")


def arrays(types: Sequence[str], first: int = 1) -> str:
    """Typed array parameters for ``unnest``: ``$1::text[], $2::integer[], ...``."""
    return ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, first))


def columns(calls: Sequence[Sequence[Any]], count: int) -> list[list[Any]]:
    """The first ``count`` fields of each call, as one array per field."""
    return [[call[i] for call in calls] for i in range(count)]


def notifying(channel: str, changed: str) -> str:
    """A query that NOTIFYs ``channel`` (one of ours: a constant) if the CTE ``changed`` has
    rows: sent with the statement's commit, and not at all when it changed nothing."""
    return f"SELECT pg_notify('{channel}', '') WHERE EXISTS (SELECT FROM {changed})"


def inserting(
    insert: str, to_arrays: Callable[[Sequence[T]], Sequence[list[Any]]], notify: str
) -> Batch:
    """A batch function that inserts the rows of every call (each a sequence of rows) with one
    ``insert``, which takes the arrays ``to_arrays`` makes of them, and tells ``notify``."""
    statement = f"WITH inserted AS ({insert} RETURNING 1) {notifying(notify, 'inserted')}"

    async def write(connection: asyncpg.Connection, calls: list[Sequence[T]]) -> list[None]:
        rows = [row for call in calls for row in call]
        await connection.execute(statement, *to_arrays(rows))
        return [None] * len(calls)

    return write


def fenced(statement: str, count: int, key: str, *, once: bool = False) -> Batch:
    """A batch function for writes fenced by a lease: one ``statement`` over the first ``count``
    fields of every (id, epoch, ...) call, returning the id (under ``key``) and ``lease_epoch``
    of each row it changed; each call is answered as ``matched`` says."""

    async def write(connection: asyncpg.Connection, calls: list[Sequence[Any]]) -> list[bool]:
        rows = await connection.fetch(statement, *columns(calls, count))
        return matched(calls, rows, key, once=once)

    return write


def matched(
    calls: Sequence[Sequence[Any]], rows: list[asyncpg.Record], key: str, *, once: bool = False
) -> list[bool]:
    """Whether each (id, epoch, ...) call matched a returned row (its id under ``key``, and
    ``lease_epoch``). With ``once`` (a delete), only the first of repeated calls did: run alone,
    the repeat would find the row gone."""
    done = {(row[key], row["lease_epoch"]) for row in rows}
    answers = []
    for call in calls:
        lease = (call[0], call[1])
        answers.append(lease in done)
        if once:
            done.discard(lease)
    return answers
