"""The small interface every backend implements (docs/architecture.md §2, §5).

Three parts: the function store, the event queue and the Router's outbox. Every write that
returns has been made durable (for SQLite: committed with synchronous=FULL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from eventinvoke.core.model import (
    EVERY_FAILURE,
    LATEST,
    Alias,
    Claim,
    Delivery,
    DeliveryState,
    EventInvokeConfig,
    FailedDelivery,
    FailureFilter,
    FunctionConfig,
    QueuedEvent,
    Requeue,
    SettledInvocation,
    Settlement,
    is_version_number,
)


class BackendUnavailable(Exception):
    """The backend cannot be reached (a database server down, a connection lost): the caller
    may try again later. Never raised for a write that took effect."""


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
        """Delete a function, all its versions, event invoke configs and settings. False if
        absent."""

    async def put_function_concurrency(self, name: str, reserved: int | None) -> bool:
        """Set a function's reserved concurrency (None removes it). False if absent."""

    async def reserved_concurrency_total(self, excluding: str = "") -> int:
        """The reserved concurrency of every function but ``excluding``, summed."""

    async def put_recursion_config(self, name: str, recursive_loop: str) -> bool:
        """Set a function's RecursiveLoop setting. False, changing nothing, if absent."""

    async def get_recursion_config(self, name: str) -> str | None:
        """A function's RecursiveLoop setting; None when never set (or no such function)."""

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


def fair_order(events: Iterable[QueuedEvent]) -> list[QueuedEvent]:
    """Leased events in the order to run them: each function's oldest first, then each
    function's second, and so on, so that one function's backlog does not go first."""
    turns: dict[str, int] = {}
    ranked = []
    for event in sorted(events, key=lambda e: (e.visible_at, e.event_id or 0)):
        turn = turns[event.function_name] = turns.get(event.function_name, 0) + 1
        ranked.append((turn, event))
    return [event for _, event in sorted(ranked, key=lambda pair: pair[0])]


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
    """Accepted asynchronous events. Events are leased, never popped.

    **The current lease decides.** Every lease of an event bumps its ``lease_epoch``; every
    write made under a lease (``extend``, ``release``, ``retry``, ``ack``, ``Backend.settle``)
    names the epoch it was leased with and changes nothing when a newer lease owns the event
    (it returns False). A worker paused past its lease can no longer settle what another worker
    has taken over.

    **Times are the backend's.** ``enqueued_at``, ``visible_at`` and lease expiries are epoch
    seconds by the backend's clock (for a database server, the server's, so that the clocks of
    the hosts never matter); ``now()`` reads it.
    """

    def now(self) -> float:
        """The backend's clock: epoch seconds, comparable with the events' times."""

    async def enqueue(self, *events: QueuedEvent, claim: Claim | None = None) -> None:
        """Store events durably, all or none, stamped ``enqueued_at = visible_at = now()``.

        An event whose ``request_id`` is already queued is skipped: queueing the same event
        twice (a repeated settle or delivery) is a no-op. With a ``claim``, the events are
        queued leased to its owner, and each gets its lease, as ``Backend.settle`` does with a
        settlement's.
        """

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[QueuedEvent]:
        """Take up to ``limit`` visible events whose lease is free or expired, fairly across
        functions: each function with events due gets its turn, oldest event first, so one
        function's backlog does not hold back the others.

        Leased events are invisible to other owners for ``lease_seconds``; an owner that dies
        loses its leases when they expire, and the events are leased again. Each event returned
        carries its new ``lease_epoch`` and ``lease_expires``; they come in ``fair_order``, the
        order to run them in.
        """

    async def extend(self, event_id: int, epoch: int, lease_seconds: float) -> bool:
        """Renew a lease from now. False when the lease was lost."""

    async def release(self, leases: Sequence[tuple[int, int]]) -> None:
        """Give back leased events not run, as (event_id, epoch): each is visible again at once
        (at its own ``visible_at``), unchanged. Leases lost meanwhile are left alone."""

    async def retry(self, event_id: int, epoch: int, requeue: Requeue) -> bool:
        """Release the lease, record what ``requeue`` says (the attempts made, the response
        and history when given) and make the event visible again at ``requeue.visible_at``
        (by ``now()``'s clock). False when the lease was lost."""

    async def ack(self, event_id: int, epoch: int) -> bool:
        """The event is settled: remove it. False when the lease was lost."""

    async def find(self, request_id: str) -> QueuedEvent | None:
        """The queued event of a request id (None when not queued), with ``lease_expires`` set
        while a lease holds it (also one that has expired) and ``visible_at`` its next try."""

    async def depth(self) -> int: ...

    async def depth_by_function(self) -> dict[str, int]:
        """How many events each function has queued (leased ones too); functions with none are
        left out. One index scan: admission control reads it every 100 ms or so."""

    async def oldest_age(self) -> float | None:
        """Seconds since the oldest queued event was enqueued, None when empty."""


class Outbox(Protocol):
    """The Router's durable outbox and its failed-delivery store. Deliveries are leased with an
    epoch, as events are, and every write after a lease is fenced by it."""

    async def add(self, deliveries: list[Delivery]) -> None:
        """Store deliveries durably, all or none."""

    async def lease(self, owner: str, limit: int, lease_seconds: float) -> list[Delivery]:
        """Take up to ``limit`` due deliveries, like EventQueue.lease (oldest first)."""

    async def delivered(self, delivery_id: str, epoch: int) -> bool:
        """Delivered: remove it. False when the lease was lost."""

    async def retry(self, delivery_id: str, epoch: int, attempts: int, delay: float) -> bool:
        """Delivery failed for now: try again ``delay`` seconds from now."""

    async def fail(self, delivery_id: str, epoch: int, attempts: int, reason: str) -> bool:
        """Delivery failed for good: move it to the failed-delivery store."""

    async def list_failed(
        self, marker: str | None, limit: int, which: FailureFilter = EVERY_FAILURE
    ) -> tuple[list[FailedDelivery], str | None]:
        """A page of the failed deliveries ``which`` names, oldest failure first, and the
        marker of the next page (or None)."""

    async def get_failed(self, delivery_id: str) -> FailedDelivery | None: ...

    async def redrive_failed(self, which: FailureFilter) -> int:
        """Move the failed deliveries ``which`` names back into the outbox, due at once with
        no attempts made, and return how many moved. Those without a target (records kept with
        nowhere to go) stay.

        Each moves in the transaction that deletes it from the store, so two redrives at once,
        by any processes, move a failure once: the second finds it gone. Delivered, it is gone
        for good; failed again, it is back in the store, for a later redrive."""

    async def purge_failed(self, which: FailureFilter) -> int:
        """Delete the failed deliveries ``which`` names; return how many. Their ids are
        remembered (until ``InvocationLog.sweep`` forgets them with the invocations), so that
        GetInvocation tells a purged delivery from a delivered one."""

    async def pending(self) -> int:
        """Deliveries not yet made (not counting failed ones)."""

    async def failed_count(self) -> int:
        """Records in the failed-delivery store."""


class ConcurrencySlots(Protocol):
    """Reserved concurrency, counted across every executor sharing the backend.

    A function with reserved concurrency R has R slots. An execution takes one for as long as
    it runs, with a lease renewed like an event's: a slot whose holder died frees itself when
    that lease expires. Functions without a reservation never come here.
    """

    async def acquire(
        self, function_name: str, reserved: int, holder: str, lease_seconds: float
    ) -> bool:
        """Take a free slot for ``holder`` (unique per execution). False when all R are held."""

    async def renew(self, holder: str, lease_seconds: float) -> None:
        """Extend the holder's slot lease from now."""

    async def release(self, function_name: str, holder: str, *, wake: bool = True) -> None:
        """Free the holder's slot. With ``wake``, one event of the function that is waiting out
        a throttle backoff becomes visible at once: the slot is its to take."""


class InvocationLog(Protocol):
    """Settled invocations, remembered for GetInvocation: one row each, stored by
    ``Backend.settle`` with the ack, kept until ``sweep`` forgets it."""

    async def get(self, request_id: str) -> tuple[SettledInvocation, list[DeliveryState]] | None:
        """The invocation settled under this request id (the latest, if several were), and how
        each of its handovers stands now, read at one moment: PENDING while the delivery is in
        the outbox, FAILED while it is in the failed-delivery store, PURGED once purged from
        there, else DELIVERED. None when none is remembered."""

    async def sweep(self, retention: float, keep: int, limit: int) -> int:
        """Forget invocations settled more than ``retention`` seconds ago, and all but the
        ``keep`` settled last; at most ``limit`` in one call. Returns how many were forgotten.
        Purged deliveries older than ``retention`` are forgotten too (not counted)."""


class Backend(Protocol):
    """One backend: its parts, opened and closed together."""

    @property
    def store(self) -> FunctionStore: ...

    @property
    def queue(self) -> EventQueue: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def slots(self) -> ConcurrencySlots: ...

    @property
    def invocations(self) -> InvocationLog: ...

    async def settle(self, event_id: int, epoch: int, settlement: Settlement) -> bool:
        """Store ``settlement`` and ack the event, atomically, under the event's lease: False,
        changing nothing, when the lease was lost.

        Used by every executor whose Router shares this backend: no window in which a crash
        could deliver a record twice. The settlement's events are queued by
        ``app.local.LocalFunctionRoutes``.

        With a ``claim``, each of those events is queued leased to the claim's owner, with
        epoch 1, and gets its ``event_id``, ``lease_epoch`` and ``lease_expires`` set, and its
        ``enqueued_at`` and ``visible_at`` stamped, as a lease would return it. One skipped as
        a repeat keeps ``event_id`` None: it is not the caller's to run.
        """

    def describe(self) -> str:
        """Where the data is, for logs: a path, or a URL without its password."""

    async def close(self) -> None: ...
