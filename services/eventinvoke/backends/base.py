"""The small interface every backend implements (docs/architecture.md §2, §5).

Three parts: the function store, the event queue and the Router's outbox. Every write that
returns has been made durable (for SQLite: committed with synchronous=FULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eventinvoke.core.model import (
    LATEST,
    Alias,
    Delivery,
    EventInvokeConfig,
    FailedDelivery,
    FunctionConfig,
    LastAttempt,
    QueuedEvent,
    is_version_number,
)


class FunctionStore(Protocol):
    """Functions, their deployment packages, and their event invoke configs."""

    async def create_function(self, function: FunctionConfig) -> bool:
        """Store a new function. Returns False, changing nothing, when the name is taken."""

    async def get_function(self, name: str, version: str = "$LATEST") -> FunctionConfig | None: ...

    async def list_functions(
        self, marker: str | None, limit: int
    ) -> tuple[list[FunctionConfig], str | None]:
        """A page of functions ordered by name, and the marker of the next page (or None)."""

    async def update_function(self, function: FunctionConfig) -> None:
        """Replace a function's configuration (same name and version)."""

    async def delete_function(self, name: str) -> bool:
        """Delete a function, all its versions and event invoke configs. False if absent."""

    async def put_function_concurrency(self, name: str, reserved: int | None) -> bool:
        """Set a function's reserved concurrency (None removes it). False if absent."""

    async def reserved_concurrency_total(self, excluding: str = "") -> int:
        """The reserved concurrency of every function but ``excluding``, summed."""

    async def put_code(self, code_sha256: str, zip_bytes: bytes) -> None:
        """Keep a deployment package under its hash (idempotent)."""

    async def get_code(self, code_sha256: str) -> bytes | None: ...

    async def put_event_invoke_config(self, config: EventInvokeConfig) -> None:
        """Create or replace the config of (function_name, qualifier)."""

    async def get_event_invoke_config(
        self, function_name: str, qualifier: str
    ) -> EventInvokeConfig | None: ...

    async def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool: ...

    async def list_event_invoke_configs(self, function_name: str) -> list[EventInvokeConfig]:
        """All configs of a function, ordered by qualifier."""

    # --- versions and aliases ---

    async def publish_version(
        self, name: str, description: str | None, revision_id: str
    ) -> FunctionConfig | None:
        """Snapshot $LATEST as the next version number (numbers are never reused).

        When $LATEST's code and configuration equal the latest version's, that version is
        returned and nothing is written. ``description`` None keeps $LATEST's. None when the
        function does not exist.
        """

    async def list_versions(self, name: str) -> list[FunctionConfig]:
        """$LATEST first, then the published versions in ascending order ([] when absent)."""

    async def delete_version(self, name: str, version: str) -> bool:
        """Delete one published version and its event invoke config. False if absent."""

    async def create_alias(self, alias: Alias) -> bool:
        """Store a new alias. False, changing nothing, when the name is taken."""

    async def get_alias(self, function_name: str, name: str) -> Alias | None: ...

    async def update_alias(self, alias: Alias) -> None:
        """Replace an alias (same function and name)."""

    async def delete_alias(self, function_name: str, name: str) -> bool:
        """Delete an alias and its event invoke config. False if absent."""

    async def list_aliases(self, function_name: str) -> list[Alias]:
        """A function's aliases ordered by name."""


async def resolve_qualifier(
    store: FunctionStore, name: str, qualifier: str | None
) -> FunctionConfig | None:
    """The configuration a qualifier runs: $LATEST (also for None), a version, or the version
    an alias points at right now. None when the function, version or alias does not exist."""
    qualifier = qualifier or LATEST
    if qualifier == LATEST or is_version_number(qualifier):
        return await store.get_function(name, qualifier)
    alias = await store.get_alias(name, qualifier)
    if alias is None:
        return None
    return await store.get_function(name, alias.function_version)


class EventQueue(Protocol):
    """Accepted asynchronous events. Events are leased, never popped."""

    async def enqueue(self, *events: QueuedEvent) -> None:
        """Store events durably, all or none; each is visible at its ``visible_at``."""

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[QueuedEvent]:
        """Take up to ``limit`` visible events whose lease is free or expired.

        Leased events are invisible to other owners for ``lease_seconds``; an owner that dies
        loses its leases when they expire, and the events are leased again. Each event returned
        carries ``lease_expires``: the executor times its first renewal from it.
        """

    async def extend(self, event_id: int, lease_seconds: float) -> None:
        """Renew a lease from now."""

    async def release(self, owner: str, event_ids: list[int]) -> None:
        """Give back events leased by ``owner`` and not run: each is visible again at once (at
        its own ``visible_at``), unchanged. Events no longer leased by ``owner`` are left
        alone."""

    async def retry(
        self,
        event_id: int,
        attempts: int,
        visible_at: float,
        throttles: int = 0,
        last_attempt: LastAttempt | None = None,
    ) -> None:
        """Release the lease, record the attempts made, make the event visible again later.

        ``throttles`` counts throttled tries since the last execution (0 after an execution),
        so the throttle backoff can double from 1 s (docs/aws-behaviour.md §3.3). ``last_attempt``,
        when given, replaces the stored response of the latest execution; None keeps it."""

    async def ack(self, event_id: int) -> None:
        """The event is settled: remove it."""

    async def depth(self) -> int: ...

    async def oldest_age(self) -> float | None:
        """Seconds since the oldest queued event was enqueued, None when empty."""


class Outbox(Protocol):
    """The Router's durable outbox and its failed-delivery store."""

    async def add(self, deliveries: list[Delivery]) -> None:
        """Store deliveries durably, all or none."""

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[Delivery]:
        """Take up to ``limit`` due deliveries, like EventQueue.lease."""

    async def delivered(self, delivery_id: str) -> None:
        """Delivered: remove it."""

    async def retry(self, delivery_id: str, attempts: int, visible_at: float) -> None:
        """Delivery failed for now: try again at ``visible_at``."""

    async def fail(self, delivery_id: str, attempts: int, reason: str) -> None:
        """Delivery failed for good: move it to the failed-delivery store."""

    async def list_failed(
        self, marker: str | None, limit: int
    ) -> tuple[list[FailedDelivery], str | None]: ...

    async def pending(self) -> int:
        """Deliveries not yet made (not counting failed ones)."""


class Backend(Protocol):
    """One backend: its three parts, opened and closed together."""

    @property
    def store(self) -> FunctionStore: ...

    @property
    def queue(self) -> EventQueue: ...

    @property
    def outbox(self) -> Outbox: ...

    async def settle(
        self, event_id: int, deliveries: list[Delivery], events: Sequence[QueuedEvent] = ()
    ) -> None:
        """Hand an event's deliveries to the outbox, queue ``events``, and ack the event,
        atomically.

        Used when the Router shares this backend (one process): no window in which a crash
        could deliver a record twice. ``events`` are records bound for functions of this suite,
        queued as those functions' events (``app.local.LocalFunctionRoutes``).
        """

    async def close(self) -> None: ...
