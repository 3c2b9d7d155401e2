"""The blocking client, on the synchronous ``grpc`` channel (no event loop underneath)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import grpc
from grpc_status import rpc_status

from eventinvoke.client import _operations
from eventinvoke.client._client import BaseClient
from eventinvoke.client._methods_sync import Methods
from eventinvoke.client._tracing import trace_metadata
from eventinvoke.client._transport import CHANNEL_OPTIONS, target, tls_for
from eventinvoke.client.signing import Signer


class Client(Methods, BaseClient[grpc.Channel]):
    """The Invoker and Router APIs, named and shaped like boto3's lambda client.

    ``with Client("127.0.0.1:50051") as client: client.invoke("f")``. The same methods as
    :class:`AsyncClient`, blocking.
    """

    def _open_channel(self, endpoint: str) -> grpc.Channel:
        tls = tls_for(endpoint, self.tls)
        channel = (
            grpc.insecure_channel(target(endpoint), options=CHANNEL_OPTIONS)
            if tls is None
            else grpc.secure_channel(target(endpoint), tls.credentials(), CHANNEL_OPTIONS)
        )
        keys = self.keys
        return channel if keys is None else grpc.intercept_channel(channel, Signer(keys))

    def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def call(
        self, name: str, params: Mapping[str, Any], metadata: Sequence[tuple[str, str]] = ()
    ) -> Any:
        """Run operation ``name`` (``"CreateFunction"``) with AWS-shaped ``params``, as boto3's
        ``_make_api_call`` does; the named methods all come here. ``metadata``: more gRPC
        metadata for the call. The caller's trace context is sent along when it traces
        (``_tracing``)."""
        request = _operations.request(name, params)
        service, method = self._method(name)
        metadata = (*metadata, *trace_metadata())
        try:
            answer = method(request, timeout=self.timeout, metadata=tuple(metadata) or None)
        except grpc.RpcError as exc:
            # The raised error is also the finished grpc.Call, which is what from_call reads.
            call: Any = exc
            try:
                status = rpc_status.from_call(call)
            except ValueError:  # details that contradict the status: ignore them
                status = None
            raise self._error(call.code(), call.details(), status, name, service) from exc
        return _operations.answer(name, answer)
