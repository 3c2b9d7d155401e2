"""The Router's API as the Executor uses it."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from eventinvoke.core.model import ExecutionRecord
from eventinvoke.router.wire import KINDS, record_to_pb
from eventinvoke.v1 import router_service_pb2 as router_pb2
from eventinvoke.v1 import router_service_pb2_grpc as router_grpc


class RouterClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = router_grpc.RouterStub(channel)

    async def route(self, record: ExecutionRecord, destinations: Sequence[tuple[str, str]]) -> None:
        """Hand a record over; returns once the Router has stored it durably.

        ``destinations`` are (target, kind) pairs.
        """
        routing = router_pb2.Routing(
            record=record_to_pb(record),
            destinations=[router_pb2.Destination(target=t, kind=KINDS[k]) for t, k in destinations],
        )
        await self.stub.Route(router_pb2.RouteRequest(routings=[routing]), timeout=30)
