"""What the sync and asyncio clients share: where each service lives, one channel per
endpoint, which stub method runs an operation, and the exception a failed call raises."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, cast

import grpc
from google.rpc import status_pb2

from eventinvoke.api.operations import BY_NAME
from eventinvoke.client import errors
from eventinvoke.client._transport import DEFAULT_ENDPOINT, STUBS, Service, Tls
from eventinvoke.client.signing import Keys, find_keys
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
        credentials: Keys | tuple[str, str] | Literal[False] | None = None,
        profile: str | None = None,
        tls: Tls | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.router_endpoint = router_endpoint or endpoint
        # Function logs live with the Executor (its sandboxes write them).
        self.executor_endpoint = executor_endpoint or endpoint
        self.timeout = timeout
        # Calls are signed with these (signing.py); found on first use when not given, never
        # with ``credentials=False``.
        self._keys = Keys(*credentials) if isinstance(credentials, tuple) else credentials or None
        self._profile = profile
        self._keys_found = credentials is not None
        self.tls = tls  # None: plain, unless an endpoint says https://
        self._channels: dict[str, ChannelT] = {}

    @property
    def keys(self) -> Keys | None:
        """The credentials calls are signed with: given, or the AWS CLI's (None: unsigned)."""
        if not self._keys_found:
            self._keys, self._keys_found = find_keys(self._profile), True
        return self._keys

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
