"""How the store's records map to table rows, for every SQL backend: column lists, row tuples,
and the rules a store applies whatever its database (what makes two versions the same).

Rows are read by column name, which both sqlite3.Row and asyncpg.Record offer; values come back
as each driver gives them (bytes may be memoryviews, hence ``bytes(...)``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from eventinvoke.core.model import (
    DELIVERED,
    FAILED,
    LATEST,
    PENDING,
    PURGED,
    Alias,
    Attempt,
    Delivery,
    DeliveryState,
    EventInvokeConfig,
    ExecutionRecord,
    FailedDelivery,
    FailureFilter,
    FunctionConfig,
    Handover,
    LastAttempt,
    Lineage,
    QueuedEvent,
    SettledInvocation,
)

FUNCTION_COLUMNS = (
    "name, version, arn, runtime, handler, code_sha256, code_size, role, timeout, memory_size, "
    "environment, description, dead_letter_target_arn, last_modified, revision_id, "
    "reserved_concurrent_executions"
)
ALIAS_COLUMNS = "function_name, name, function_version, description, revision_id"
CONFIG_COLUMNS = (
    "function_name, qualifier, last_modified, maximum_retry_attempts, "
    "maximum_event_age_in_seconds, on_success, on_failure"
)
# An execution record's columns; a delivery's (in deliveries and failed_deliveries alike).
# chain_id and chain_depth hold a lineage (both NULL for none), in events too; so does
# traceparent, a trace context (NULL for none).
RECORD_COLUMNS = (
    "request_id, function_arn, condition, approximate_invoke_count, request_payload, timestamp, "
    "executed_version, function_error, response_payload, status_code, chain_id, chain_depth, "
    "traceparent"
)
DELIVERY_COLUMNS = f"delivery_id, target, kind, attempts, {RECORD_COLUMNS}"
# A queued event's columns, as ``event_from`` reads them (a lease adds lease_epoch).
EVENT_COLUMNS = (
    "event_id, request_id, function_name, qualifier, payload, enqueued_at, attempts, visible_at, "
    "throttles, last_response, last_function_error, last_executed_version, chain_id, chain_depth, "
    "attempt_log, traceparent"
)
# A settled invocation's columns (``invocations``) as ``settled_values`` gives them, and with
# ``settled_at`` (which the backend's clock stamps) as ``settled_from`` reads them.
INVOCATION_COLUMNS = (
    "request_id, function_name, qualifier, condition, enqueued_at, attempts, handovers"
)
SETTLED_COLUMNS = f"{INVOCATION_COLUMNS}, settled_at"
# What makes two versions the same (PublishVersion returns the latest version instead of
# publishing an identical one). The description is the version's own, given on publishing.
PUBLISHED_FIELDS = (
    "runtime",
    "handler",
    "code_sha256",
    "code_size",
    "role",
    "timeout",
    "memory_size",
    "environment",
    "dead_letter_target_arn",
)


def same_version(version: FunctionConfig, latest: FunctionConfig) -> bool:
    return all(getattr(version, f) == getattr(latest, f) for f in PUBLISHED_FIELDS)


def published(
    latest: FunctionConfig, number: int, description: str | None, revision_id: str
) -> FunctionConfig:
    """$LATEST as version ``number``; ``description`` None keeps $LATEST's."""
    description = latest.description if description is None else description
    return dataclasses.replace(
        latest, version=str(number), description=description, revision_id=revision_id
    )


def version_order(function: FunctionConfig) -> tuple[int, int]:
    """$LATEST first, then versions by number."""
    return (0, 0) if function.version == LATEST else (1, int(function.version))


def column_names(columns: str) -> list[str]:
    """The names in a column list such as ``ALIAS_COLUMNS``."""
    return [column.strip() for column in columns.split(",")]


def alias_values(alias: Alias) -> tuple[str, ...]:
    """The row of an alias, in the order of ``ALIAS_COLUMNS`` (named after its fields)."""
    return tuple(getattr(alias, column) for column in column_names(ALIAS_COLUMNS))


def config_values(config: EventInvokeConfig) -> tuple[Any, ...]:
    """The row of an event invoke config, in the order of ``CONFIG_COLUMNS`` (its fields)."""
    return tuple(getattr(config, column) for column in column_names(CONFIG_COLUMNS))


def function_values(function: FunctionConfig) -> tuple[Any, ...]:
    """The row of a function, in the order of ``FUNCTION_COLUMNS`` (named after its fields)."""
    return tuple(
        json.dumps(function.environment) if column == "environment" else getattr(function, column)
        for column in column_names(FUNCTION_COLUMNS)
    )


def function_from(row: Mapping[str, Any]) -> FunctionConfig:
    values = dict(row)
    values["environment"] = json.loads(values["environment"])
    return FunctionConfig(**values)


class Row(Protocol):
    """A result row read by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


def delivery_values(delivery: Delivery) -> tuple[Any, ...]:
    """The row of a delivery, in the order of ``DELIVERY_COLUMNS``."""
    record = delivery.record
    return (
        delivery.delivery_id,
        delivery.target,
        delivery.kind,
        delivery.attempts,
        record.request_id,
        record.function_arn,
        record.condition,
        record.approximate_invoke_count,
        record.request_payload,
        # ISO-8601 keeps every microsecond and reads back as an aware UTC datetime.
        record.timestamp.astimezone(UTC).isoformat(),
        record.executed_version,
        record.function_error,
        record.response_payload,
        record.status_code,
        *lineage_values(record.lineage),
        record.traceparent or None,
    )


def lineage_values(lineage: Lineage | None) -> tuple[str | None, int | None]:
    """A lineage's ``chain_id, chain_depth`` columns."""
    return (None, None) if lineage is None else (lineage.chain_id, lineage.depth)


def lineage_from(row: Row) -> Lineage | None:
    chain_id = row["chain_id"]
    return None if chain_id is None else Lineage(chain_id, row["chain_depth"])


def delivery_from(row: Row, epoch: int = 0) -> Delivery:
    """A delivery from its ``DELIVERY_COLUMNS``, under lease ``epoch``."""
    response_payload = row["response_payload"]
    record = ExecutionRecord(
        request_id=row["request_id"],
        function_arn=row["function_arn"],
        condition=row["condition"],
        approximate_invoke_count=row["approximate_invoke_count"],
        request_payload=bytes(row["request_payload"]),
        timestamp=datetime.fromisoformat(row["timestamp"]),
        executed_version=row["executed_version"],
        function_error=row["function_error"],
        response_payload=None if response_payload is None else bytes(response_payload),
        status_code=row["status_code"],
        lineage=lineage_from(row),
        traceparent=row["traceparent"] or "",
    )
    return Delivery(
        delivery_id=row["delivery_id"],
        target=row["target"],
        kind=row["kind"],
        record=record,
        attempts=row["attempts"],
        lease_epoch=epoch,
    )


def failed_page(rows: Sequence[Row], limit: int) -> tuple[list[FailedDelivery], str | None]:
    """A page of failed deliveries from up to ``limit + 1`` rows (``failed_id``,
    ``DELIVERY_COLUMNS``, ``reason``, ``failed_at``), and the marker of the next page: the
    ``failed_id`` of its last one, when a row beyond the page shows there is more."""
    shown = rows[:limit]
    failed = [failed_from(row) for row in shown]
    more = len(rows) > limit
    return failed, (str(shown[-1]["failed_id"]) if more and shown else None)


# A failed delivery's columns, as ``failed_from`` reads them.
FAILED_COLUMNS = f"failed_id, {DELIVERY_COLUMNS}, reason, failed_at"


def failed_from(row: Row) -> FailedDelivery:
    return FailedDelivery(delivery_from(row), reason=row["reason"], failed_at=row["failed_at"])


def failure_conditions(which: FailureFilter, parameter: Callable[[Any], str], position: str) -> str:
    """The WHERE conditions of ``failed_deliveries`` rows ``which`` names ("TRUE" for all).
    ``parameter`` adds a value and returns its placeholder (``?``, ``$3``); ``position`` is the
    database's function for where one string occurs in another, 0 when it does not (``instr``,
    ``strpos``): a reason is matched as plain text, never as a pattern."""
    conditions = ["TRUE"]
    if which.function_arn is not None:
        prefix = which.function_arn + ":"
        conditions.append(
            f"(function_arn = {parameter(which.function_arn)} OR "
            f"substr(function_arn, 1, {parameter(len(prefix))}) = {parameter(prefix)})"
        )
    if which.target is not None:
        conditions.append(f"target = {parameter(which.target)}")
    if which.reason is not None:
        conditions.append(f"{position}(reason, {parameter(which.reason)}) > 0")
    if which.failed_after is not None:
        conditions.append(f"failed_at >= {parameter(which.failed_after)}")
    if which.failed_before is not None:
        conditions.append(f"failed_at < {parameter(which.failed_before)}")
    if which.delivery_id is not None:
        conditions.append(f"delivery_id = {parameter(which.delivery_id)}")
    return " AND ".join(conditions)


def event_from(row: Row, lease_expires: float | None) -> QueuedEvent:
    """A leased event from its ``EVENT_COLUMNS`` and ``lease_epoch``."""
    last_version = row["last_executed_version"]
    return QueuedEvent(
        event_id=row["event_id"],
        request_id=row["request_id"],
        function_name=row["function_name"],
        qualifier=row["qualifier"],
        payload=bytes(row["payload"]),
        enqueued_at=row["enqueued_at"],
        attempts=row["attempts"],
        visible_at=row["visible_at"],
        throttles=row["throttles"],
        last_attempt=None
        if last_version is None
        else LastAttempt(
            payload=bytes(row["last_response"] or b""),
            function_error=row["last_function_error"],
            executed_version=last_version,
        ),
        lineage=lineage_from(row),
        history=attempts_from(row["attempt_log"]),
        traceparent=row["traceparent"] or "",
        lease_expires=lease_expires,
        lease_epoch=row["lease_epoch"],
    )


# Attempts and handovers are kept as JSON arrays of their fields (a few per invocation, read
# only by GetInvocation): no table of their own to write on every settle.


def attempts_json(attempts: Iterable[Attempt]) -> str:
    return orjson.dumps([_fields(attempt) for attempt in attempts]).decode()


def attempts_from(text: str | None) -> tuple[Attempt, ...]:
    return tuple(Attempt(**fields) for fields in orjson.loads(text)) if text else ()


def handovers_json(handovers: Iterable[Handover]) -> str:
    return orjson.dumps([_fields(handover) for handover in handovers]).decode()


def _fields(value: Attempt | Handover) -> dict[str, Any]:
    """A dataclass's fields, without those at their default (most of them, most of the time)."""
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default
    }


def settled_values(invocation: SettledInvocation) -> tuple[Any, ...]:
    """The row of a settled invocation, in the order of ``INVOCATION_COLUMNS``."""
    return (
        invocation.request_id,
        invocation.function_name,
        invocation.qualifier,
        invocation.condition,
        invocation.enqueued_at,
        attempts_json(invocation.attempts),
        handovers_json(invocation.handovers),
    )


def settled_from(row: Row) -> SettledInvocation:
    return SettledInvocation(
        request_id=row["request_id"],
        function_name=row["function_name"],
        qualifier=row["qualifier"],
        condition=row["condition"],
        enqueued_at=row["enqueued_at"],
        attempts=attempts_from(row["attempts"]),
        handovers=tuple(Handover(**fields) for fields in orjson.loads(row["handovers"])),
        settled_at=row["settled_at"],
    )


# Where a settled invocation's deliveries are now, in one statement (so one moment: a delivery
# moving between the outbox and the failed store is seen in one of them, never in neither).
# ``{ids}`` matches a delivery id among theirs (``IN (?, ?)``, ``= ANY ($1)``), three times.
# A delivery is in the outbox (place 0), the failed-delivery store (1), purged from there (2),
# or gone from all three: delivered.
DELIVERY_STATES = (
    "SELECT delivery_id, attempts, '' AS reason, 0 AS place FROM deliveries "
    "WHERE delivery_id {ids} "
    "UNION ALL SELECT delivery_id, attempts, reason, 1 FROM failed_deliveries "
    "WHERE delivery_id {ids} "
    "UNION ALL SELECT delivery_id, 0, '', 2 FROM purged_deliveries WHERE delivery_id {ids}"
)
_STATE_OF_PLACE = (PENDING, FAILED, PURGED)


def delivery_states(invocation: SettledInvocation, rows: Sequence[Row]) -> list[DeliveryState]:
    """Each handover's state, from the rows DELIVERY_STATES found: in the outbox, PENDING; in
    the failed-delivery store, FAILED; purged from it, PURGED; in none, DELIVERED (as is an
    event queued)."""
    found: dict[str, Row] = {}
    for row in sorted(rows, key=lambda row: -row["place"]):  # the outbox's wins, then the store's
        found[row["delivery_id"]] = row
    states = []
    for handover in invocation.handovers:
        where = found.get(handover.delivery_id) if handover.delivery_id else None
        if where is None:
            states.append(DeliveryState(handover, DELIVERED))
        else:
            state = _STATE_OF_PLACE[where["place"]]
            states.append(DeliveryState(handover, state, where["attempts"], where["reason"]))
    return states
