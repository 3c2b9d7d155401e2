"""The failed-delivery store, for operators: list and read failures, send them again (redrive),
delete them (purge). The backend keeps each redrive exact (``Outbox.redrive_failed``); this
turns what a caller gave into the filter the backend applies, and wakes the Router."""

from __future__ import annotations

import asyncio

from eventinvoke.backends.base import Outbox
from eventinvoke.core.arn import Partition
from eventinvoke.core.errors import InvalidParameterValueException, ResourceNotFoundException
from eventinvoke.core.model import FailedDelivery, FailureFilter

DEFAULT_PAGE = 50


class FailedDeliveries:
    def __init__(self, outbox: Outbox, partition: Partition, doorbell: asyncio.Event) -> None:
        self.outbox = outbox
        self.partition = partition
        self.doorbell = doorbell

    def which(
        self,
        function_name: str = "",
        destination: str = "",
        reason: str = "",
        failed_after: float | None = None,
        failed_before: float | None = None,
        delivery_id: str = "",
    ) -> FailureFilter:
        """The filter of a request's members (empty: not given). A function is named as
        anywhere else (name, name:qualifier, full or partial ARN); without a qualifier its
        records of every version and alias match."""
        function_arn = None
        if function_name:
            ref = self.partition.parse(function_name)
            function_arn = self.partition.function_arn(ref.name, ref.qualifier)
        return FailureFilter(
            function_arn=function_arn,
            target=destination or None,
            reason=reason or None,
            failed_after=failed_after,
            failed_before=failed_before,
            delivery_id=delivery_id or None,
        )

    async def list(
        self, marker: str, max_items: int, which: FailureFilter
    ) -> tuple[list[FailedDelivery], str | None]:
        if marker and not marker.isdigit():
            raise InvalidParameterValueException(f"Invalid marker: {marker[:100]}")
        return await self.outbox.list_failed(marker or None, max_items or DEFAULT_PAGE, which)

    async def get(self, delivery_id: str) -> FailedDelivery:
        found = await self.outbox.get_failed(delivery_id)
        if found is None:
            raise ResourceNotFoundException(f"Failed delivery not found: {delivery_id[:100]}")
        return found

    async def redrive(self, which: FailureFilter) -> int:
        moved = await self.outbox.redrive_failed(which)
        if moved:
            self.doorbell.set()
        return moved

    async def purge(self, which: FailureFilter) -> int:
        return await self.outbox.purge_failed(which)
