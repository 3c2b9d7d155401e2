"""The asyncio client, on ``grpc.aio``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self

import grpc
from grpc_status import rpc_status

from eventinvoke.client import _operations
from eventinvoke.client._batching import EventBatcher
from eventinvoke.client._client import BaseClient
from eventinvoke.client._methods_aio import AsyncMethods
from eventinvoke.client._tracing import trace_metadata
from eventinvoke.client._transport import (
    CHANNEL_OPTIONS,
    Service,
    aio_channel,
    target,
    tls_for,
)
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2

EVENT = invoker_pb2.INVOCATION_TYPE_EVENT


class AsyncClient(AsyncMethods, BaseClient[grpc.aio.Channel]):
    """The Invoker and Router APIs, named and shaped like boto3's lambda client.

    ``async with AsyncClient("127.0.0.1:50051") as client: await client.invoke("f")``

    Concurrent ``invoke(..., invocation_type="Event")`` calls share InvokeBatch RPCs (see
    ``_batching``); each still returns its own response or raises its own error.
    """

    _event_batcher: EventBatcher | None = None

    def _open_channel(self, endpoint: str) -> grpc.aio.Channel:
        # Opened on first use, not in the constructor: a grpc.aio channel belongs to the event
        # loop that is running when it is created, and the constructor may run outside any loop.
        return aio_channel(
            target(endpoint), CHANNEL_OPTIONS, tls_for(endpoint, self.tls), self.keys
        )

    def _batcher(self) -> EventBatcher:
        # Made on first use, like the channel, inside the loop its futures belong to.
        if self._event_batcher is None:
            send = partial(self._call, "Invoke", self._invoker.InvokeBatch)
            send_one = partial(self._call, "Invoke", self._invoker.Invoke)
            self._event_batcher = EventBatcher(send, send_one)
        return self._event_batcher

    async def close(self) -> None:
        self._event_batcher = None
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _call(
        self,
        operation: str,
        method: Any,
        request: Any,
        service: Service = "invoker",
        metadata: Sequence[tuple[str, str]] = (),
    ) -> Any:
        call = method(request, timeout=self.timeout, metadata=tuple(metadata) or None)
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            try:
                status = await rpc_status.aio.from_call(call)
            except ValueError:  # details that contradict the status: ignore them
                status = None
            raise self._error(exc.code(), exc.details(), status, operation, service) from exc

    async def call(
        self, name: str, params: Mapping[str, Any], metadata: Sequence[tuple[str, str]] = ()
    ) -> Any:
        """Run operation ``name`` (``"CreateFunction"``) with AWS-shaped ``params``, as boto3's
        ``_make_api_call`` does; the named methods all come here. ``metadata``: more gRPC
        metadata for the call (an Event invoke with some is sent alone, not batched). The
        caller's trace context is sent along when it traces (``_tracing``)."""
        request = _operations.request(name, params)
        metadata = (*metadata, *trace_metadata())
        if (
            isinstance(request, invoker_pb2.InvokeRequest)
            and request.invocation_type == EVENT
            and not metadata
        ):
            return _operations.answer(name, await self._batcher().invoke(request))
        service, method = self._method(name)
        answer = await self._call(name, method, request, service, metadata)
        return _operations.answer(name, answer)
