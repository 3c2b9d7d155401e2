"""The Router's gRPC servicer."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc

from eventinvoke.backends.base import Outbox
from eventinvoke.core.model import FailureFilter, deliveries_for
from eventinvoke.router.failures import FailedDeliveries
from eventinvoke.router.messages import KIND_NAMES, failed_to_pb, record_from_pb
from eventinvoke.server import tracing
from eventinvoke.v1 import router_service_pb2 as pb
from eventinvoke.v1 import router_service_pb2_grpc as pb_grpc

# The requests that carry the failed-delivery store's filters (the same fields in each).
Filtered = (
    pb.ListFailedDeliveriesRequest
    | pb.RedriveFailedDeliveriesRequest
    | pb.PurgeFailedDeliveriesRequest
)


class RouterServicer(pb_grpc.RouterServicer):
    def __init__(self, outbox: Outbox, doorbell: asyncio.Event, failed: FailedDeliveries) -> None:
        self.outbox = outbox
        self.doorbell = doorbell
        self.failed = failed

    async def Route(
        self, request: pb.RouteRequest, context: grpc.aio.ServicerContext
    ) -> pb.RouteResponse:
        # The call's span (tracing on): the deliveries continue the caller's trace.
        trace = tracing.traceparent()
        deliveries = [
            delivery
            for routing in request.routings
            for delivery in deliveries_for(
                replace(record_from_pb(routing.record), traceparent=trace),
                [(d.target, KIND_NAMES[d.kind]) for d in routing.destinations],
            )
        ]
        if deliveries:
            await self.outbox.add(deliveries)
            self.doorbell.set()
        return pb.RouteResponse(accepted=len(deliveries))

    async def ListFailedDeliveries(
        self, request: pb.ListFailedDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFailedDeliveriesResponse:
        failed, marker = await self.failed.list(
            request.marker, request.max_items, self._which(request)
        )
        return pb.ListFailedDeliveriesResponse(
            failed_deliveries=[failed_to_pb(f) for f in failed], next_marker=marker or ""
        )

    async def GetFailedDelivery(
        self, request: pb.GetFailedDeliveryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFailedDeliveryResponse:
        failed = await self.failed.get(request.delivery_id)
        return pb.GetFailedDeliveryResponse(failed_delivery=failed_to_pb(failed))

    async def RedriveFailedDeliveries(
        self, request: pb.RedriveFailedDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.RedriveFailedDeliveriesResponse:
        moved = await self.failed.redrive(self._which(request))
        return pb.RedriveFailedDeliveriesResponse(redriven_count=moved)

    async def PurgeFailedDeliveries(
        self, request: pb.PurgeFailedDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.PurgeFailedDeliveriesResponse:
        purged = await self.failed.purge(self._which(request))
        return pb.PurgeFailedDeliveriesResponse(purged_count=purged)

    def _which(self, request: Filtered) -> FailureFilter:
        return self.failed.which(
            function_name=request.function_name,
            destination=request.destination,
            reason=request.reason,
            failed_after=request.failed_after if request.HasField("failed_after") else None,
            failed_before=request.failed_before if request.HasField("failed_before") else None,
            delivery_id=request.delivery_id,
        )
