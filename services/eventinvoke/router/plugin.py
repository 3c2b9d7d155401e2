"""The public API for destination adapter authors.

A destination adapter turns an execution record into its target's format and delivers it. Ship it
in your own package (top-level module ``eventinvoke_<name>``) and register it through the entry
point group ``eventinvoke.destinations``::

    # pyproject.toml
    [project.entry-points."eventinvoke.destinations"]
    webhook = "eventinvoke_webhook"

    # eventinvoke_webhook.py
    from eventinvoke.router.plugin import RetryableDeliveryError, hookimpl

    class WebhookDestination:
        name = "webhook"

        def claims(self, target: str) -> bool:
            return target.startswith("https://")

        async def deliver(self, delivery):
            ...  # POST delivery.record.to_json(); raise RetryableDeliveryError on 5xx

        async def close(self) -> None: ...

    @hookimpl
    def register_destinations(register, context):
        register(WebhookDestination())

An adapter claims targets with ``claims(target)``; a plugin that must claim by kind (records or
dead-letter events) implements the ``claim_destination(target, kind)`` hook as well. A target an
adapter claims is accepted when a function's destinations are configured, even if it is not an
AWS ARN. Hooks are synchronous and cheap; all I/O belongs in ``deliver``; connections to
addresses users give go through ``context.outbound`` (an ``OutboundGuard``, against SSRF). The
entry point's name is the plugin's name: ``EVENTINVOKE_DISABLED_DESTINATIONS=webhook`` disables
it. With tracing on, each delivery runs in a span of its invocation's trace: ``traceparent()``
gives it as a W3C ``traceparent`` value ("" with tracing off) to send on where the target's
protocol has a place for one (a ``traceparent`` HTTP header), ``xray_header(traceparent())`` in
AWS X-Ray's form. See docs/plugins.md; ``eventinvoke.testing`` has pytest fixtures for adapter
tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pluggy

from eventinvoke.core.arn import Partition
from eventinvoke.core.model import (
    DEAD_LETTER,
    ON_FAILURE,
    ON_SUCCESS,
    Delivery,
    ExecutionRecord,
    Lineage,
)
from eventinvoke.router.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from eventinvoke.router.outbound import AddressRefusedError, OutboundGuard
from eventinvoke.server.tracing import traceparent, xray_header

NAME = "eventinvoke"
ENTRY_POINT_GROUP = "eventinvoke.destinations"

hookimpl = pluggy.HookimplMarker(NAME)
"""Marks a function or method as an implementation of one of eventinvoke's hooks."""


@runtime_checkable
class DestinationAdapter(Protocol):
    """What an adapter provides. ``name`` identifies it in logs and in the failed-delivery store."""

    name: str

    def claims(self, target: str) -> bool:
        """Whether this adapter delivers to ``target`` (an ARN or URI). Cheap, no I/O.

        Asked in registration order, after any ``claim_destination`` hook implementation; the
        first adapter that claims a target delivers to it, for every kind. An adapter routed only
        through ``claim_destination`` returns False.
        """

    async def deliver(self, delivery: Delivery) -> None:
        """Deliver one record (for ``DEAD_LETTER`` deliveries: the original event).

        Return when the target has it. Raise ``RetryableDeliveryError`` for a failure that may
        pass (throttling, 5xx, a dropped connection) and ``PermanentDeliveryError`` for one that
        will not (a missing target, access denied, a payload the target refuses). Any other
        exception counts as retryable.
        """

    async def close(self) -> None:
        """Release clients and connections when the Router stops."""


class FunctionInvoker(Protocol):
    """Invokes the suite's functions, for adapters that deliver to one (the Invoker's API, as
    ``eventinvoke.client`` offers it).

    An adapter that delivers a record to a function passes ``lineage=delivery.record.next_lineage``:
    the function's event is then the next invocation of the record's chain, so that a loop of
    functions through destinations is stopped (recursive loop detection). Without it, the event
    starts a chain of its own.
    """

    async def invoke(
        self,
        function_name: str,
        payload: bytes | str = b"",
        invocation_type: str = "RequestResponse",
        *,
        lineage: Lineage | None = None,
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RouterContext:
    """What the Router offers adapters when they register."""

    partition: Partition
    invoker: FunctionInvoker
    # The [destinations.<name>] tables of the configuration file.
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Connections to user-given addresses (a webhook's URL) go through it: it refuses loopback,
    # private, link-local and metadata addresses unless destination_allow_networks admits them.
    outbound: OutboundGuard = field(default_factory=OutboundGuard)

    def settings_for(self, name: str, known: Iterable[str] | None = None) -> Mapping[str, Any]:
        """The ``[destinations.<name>]`` table (empty when there is none).

        With ``known``, the keys the adapter reads: any other key is refused with a
        ``ValueError`` naming it, so a misspelled setting stops the server at start instead of
        being ignored.
        """
        table = self.settings.get(name, {})
        if known is not None:
            known = sorted(known)
            for key in table:
                if key not in known:
                    raise ValueError(
                        f"unknown setting {key!r} in [destinations.{name}] "
                        f"(known: {', '.join(known)})"
                    )
        return table


__all__ = [
    "AddressRefusedError",
    "DEAD_LETTER",
    "ENTRY_POINT_GROUP",
    "NAME",
    "ON_FAILURE",
    "ON_SUCCESS",
    "Delivery",
    "DeliveryError",
    "DestinationAdapter",
    "ExecutionRecord",
    "FunctionInvoker",
    "OutboundGuard",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "RouterContext",
    "hookimpl",
    "traceparent",
    "xray_header",
]
