"""The Router's gRPC servicer."""

from __future__ import annotations

import asyncio

import grpc

from eventinvoke.backends.base import Outbox
from eventinvoke.core.model import deliveries_for
from eventinvoke.router.messages import KIND_NAMES, failed_to_pb, record_from_pb
from eventinvoke.v1 import router_service_pb2 as pb
from eventinvoke.v1 import router_service_pb2_grpc as pb_grpc


class RouterServicer(pb_grpc.RouterServicer):
    def __init__(self, outbox: Outbox, doorbell: asyncio.Event) -> None:
        self.outbox = outbox
        self.doorbell = doorbell

    async def Route(
        self, request: pb.RouteRequest, context: grpc.aio.ServicerContext
    ) -> pb.RouteResponse:
        deliveries = [
            delivery
            for routing in request.routings
            for delivery in deliveries_for(
                record_from_pb(routing.record),
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
        failed, marker = await self.outbox.list_failed(
            request.marker or None, request.max_items or 50
        )
        return pb.ListFailedDeliveriesResponse(
            failed_deliveries=[failed_to_pb(f) for f in failed], next_marker=marker or ""
        )
