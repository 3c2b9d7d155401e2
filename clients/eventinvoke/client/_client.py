"""What the sync and asyncio clients share: where each service lives, one channel per
endpoint, which stub method runs an operation, and the exception a failed call raises."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

import grpc
from google.rpc import status_pb2

from eventinvoke.api.operations import BY_NAME
from eventinvoke.client import errors
from eventinvoke.client._transport import DEFAULT_ENDPOINT, STUBS, Service
from eventinvoke.v1 import invoker_service_pb2_grpc as invoker_grpc

ChannelT = TypeVar("ChannelT")


class BaseClient(Generic[ChannelT]):
    """Where each service lives, the per-call timeout, and one channel per distinct endpoint
    (the Router and Executor usually live at the Invoker's address), opened on first use."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        router_endpoint: str | None = None,
        executor_endpoint: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.router_endpoint = router_endpoint or endpoint
        # Function logs live with the Executor (its sandboxes write them).
        self.executor_endpoint = executor_endpoint or endpoint
        self.timeout = timeout
        self._channels: dict[str, ChannelT] = {}

    def _open_channel(self, endpoint: str) -> ChannelT:
        raise NotImplementedError

    def _channel(self, endpoint: str) -> ChannelT:
        if endpoint not in self._channels:
            self._channels[endpoint] = self._open_channel(endpoint)
        return self._channels[endpoint]

    def _endpoint(self, service: Service) -> str:
        if service == "executor":
            return self.executor_endpoint
        if service == "router":
            return self.router_endpoint
        return self.endpoint

    def _stub(self, service: Service) -> Any:
        return STUBS[service](self._channel(self._endpoint(service)))

    def _method(self, operation: str) -> tuple[Service, Any]:
        """The service that serves ``operation`` (``"CreateFunction"``), and its stub's method."""
        entry = BY_NAME[operation]
        service = cast(Service, entry.service.lower())
        return service, getattr(self._stub(service), entry.method)

    def _error(
        self,
        code: grpc.StatusCode,
        details: str | None,
        status: status_pb2.Status | None,
        operation: str,
        service: Service,
    ) -> errors.EventInvokeError:
        """The exception for a failed call of ``operation`` to ``service``."""
        return errors.from_status(
            code,
            details or "",
            status,
            endpoint=self._endpoint(service),
            operation_name=operation,
            service=service,
        )

    @property
    def _invoker(self) -> invoker_grpc.InvokerStub:
        return self._stub("invoker")
