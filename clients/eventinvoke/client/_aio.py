"""The asyncio client, on ``grpc.aio``."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import grpc
from grpc_status import rpc_status

from eventinvoke.client import _shapes, errors
from eventinvoke.client import type_defs as t
from eventinvoke.client._transport import CHANNEL_OPTIONS, DEFAULT_ENDPOINT, target
from eventinvoke.v1 import executor_service_pb2 as executor_pb2
from eventinvoke.v1 import executor_service_pb2_grpc as executor_grpc
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import invoker_service_pb2_grpc as invoker_grpc
from eventinvoke.v1 import router_service_pb2 as router_pb2
from eventinvoke.v1 import router_service_pb2_grpc as router_grpc


class AsyncClient:
    """The Invoker and Router APIs, named and shaped like boto3's lambda client.

    ``async with AsyncClient("127.0.0.1:50051") as client: await client.invoke("f")``
    """

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
        # Channels are opened on first use: a grpc.aio channel belongs to the event loop that is
        # running when it is created, and the constructor may run outside any loop.
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, endpoint: str) -> grpc.aio.Channel:
        if endpoint not in self._channels:
            self._channels[endpoint] = grpc.aio.insecure_channel(
                target(endpoint), options=CHANNEL_OPTIONS
            )
        return self._channels[endpoint]

    @property
    def _invoker(self) -> invoker_grpc.InvokerStub:
        return invoker_grpc.InvokerStub(self._channel(self.endpoint))

    @property
    def _executor(self) -> executor_grpc.ExecutorStub:
        return executor_grpc.ExecutorStub(self._channel(self.executor_endpoint))

    @property
    def _router(self) -> router_grpc.RouterStub:
        return router_grpc.RouterStub(self._channel(self.router_endpoint))

    async def close(self) -> None:
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
        self, operation: str, method: Any, request: Any, endpoint: str | None = None
    ) -> Any:
        call = method(request, timeout=self.timeout)
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            try:
                status = await rpc_status.aio.from_call(call)
            except ValueError:  # details that contradict the status: ignore them
                status = None
            raise errors.from_status(
                exc.code(),
                exc.details() or "",
                status,
                endpoint=endpoint or self.endpoint,
                operation_name=operation,
            ) from exc

    # --- Invoke ----------------------------------------------------------------------------

    async def invoke(
        self,
        function_name: str,
        payload: bytes | str = b"",
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        qualifier: str = "",
        client_context: str = "",
    ) -> t.InvocationResponse:
        request = _shapes.invoke_request(
            function_name, payload, invocation_type, log_type, qualifier, client_context
        )
        response = await self._call("Invoke", self._invoker.Invoke, request)
        return _shapes.invoke_response_to_dict(response)

    # --- functions -------------------------------------------------------------------------

    async def create_function(
        self,
        function_name: str,
        runtime: str,
        handler: str,
        zip_file: bytes,
        role: str = "",
        timeout: int | None = None,  # noqa: ASYNC109 (the function's Timeout, not ours)
        memory_size: int | None = None,
        environment: t.Environment | None = None,
        description: str = "",
        dead_letter_config: t.DeadLetterConfig | None = None,
        publish: bool = False,
    ) -> t.FunctionConfiguration:
        """CreateFunction; ``publish`` publishes version 1 and returns its configuration."""
        request = _shapes.create_function_request(
            function_name=function_name,
            runtime=runtime,
            handler=handler,
            zip_file=zip_file,
            role=role,
            timeout=timeout,
            memory_size=memory_size,
            environment=environment,
            description=description,
            dead_letter_config=dead_letter_config,
            publish=publish,
        )
        response = await self._call("CreateFunction", self._invoker.CreateFunction, request)
        return _shapes.function_configuration_to_dict(response.configuration)

    async def get_function(self, function_name: str, qualifier: str = "") -> t.GetFunctionResponse:
        request = invoker_pb2.GetFunctionRequest(function_name=function_name, qualifier=qualifier)
        response = await self._call("GetFunction", self._invoker.GetFunction, request)
        return _shapes.get_function_to_dict(response)

    async def get_function_configuration(
        self, function_name: str, qualifier: str = ""
    ) -> t.FunctionConfiguration:
        request = invoker_pb2.GetFunctionRequest(function_name=function_name, qualifier=qualifier)
        response = await self._call("GetFunctionConfiguration", self._invoker.GetFunction, request)
        return _shapes.function_configuration_to_dict(response.configuration)

    async def list_functions(
        self, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFunctionsResponse:
        request = invoker_pb2.ListFunctionsRequest(marker=marker or "", max_items=max_items or 0)
        response = await self._call("ListFunctions", self._invoker.ListFunctions, request)
        return _shapes.list_functions_to_dict(response)

    async def update_function_configuration(
        self,
        function_name: str,
        timeout: int | None = None,  # noqa: ASYNC109 (the function's Timeout, not ours)
        memory_size: int | None = None,
        environment: t.Environment | None = None,
        handler: str | None = None,
        runtime: str | None = None,
        role: str | None = None,
        description: str | None = None,
        dead_letter_config: t.DeadLetterConfig | None = None,
    ) -> t.FunctionConfiguration:
        request = _shapes.update_function_configuration_request(
            function_name=function_name,
            timeout=timeout,
            memory_size=memory_size,
            environment=environment,
            handler=handler,
            runtime=runtime,
            role=role,
            description=description,
            dead_letter_config=dead_letter_config,
        )
        response = await self._call(
            "UpdateFunctionConfiguration", self._invoker.UpdateFunctionConfiguration, request
        )
        return _shapes.function_configuration_to_dict(response.configuration)

    async def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """Delete the function, or with ``qualifier`` (a version number) only that version."""
        request = invoker_pb2.DeleteFunctionRequest(
            function_name=function_name, qualifier=qualifier or ""
        )
        await self._call("DeleteFunction", self._invoker.DeleteFunction, request)

    async def update_function_code(
        self, function_name: str, zip_file: bytes, publish: bool = False
    ) -> t.FunctionConfiguration:
        """Replace the deployment package; ``publish`` then publishes a version and returns it."""
        request = invoker_pb2.UpdateFunctionCodeRequest(
            function_name=function_name, zip_file=zip_file, publish=publish
        )
        response = await self._call("UpdateFunctionCode", self._invoker.UpdateFunctionCode, request)
        return _shapes.function_configuration_to_dict(response.configuration)

    # --- versions and aliases --------------------------------------------------------------

    async def publish_version(
        self,
        function_name: str,
        description: str = "",
        code_sha256: str | None = None,
        revision_id: str | None = None,
    ) -> t.FunctionConfiguration:
        """Publish $LATEST as the next version (the latest version when nothing changed)."""
        request = _shapes.publish_version_request(
            function_name, description, code_sha256, revision_id
        )
        response = await self._call("PublishVersion", self._invoker.PublishVersion, request)
        return _shapes.function_configuration_to_dict(response.configuration)

    async def list_versions_by_function(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> t.ListVersionsByFunctionResponse:
        request = invoker_pb2.ListVersionsByFunctionRequest(
            function_name=function_name, marker=marker or "", max_items=max_items or 0
        )
        response = await self._call(
            "ListVersionsByFunction", self._invoker.ListVersionsByFunction, request
        )
        return _shapes.list_versions_to_dict(response)

    async def create_alias(
        self, function_name: str, name: str, function_version: str, description: str = ""
    ) -> t.AliasConfiguration:
        request = invoker_pb2.CreateAliasRequest(
            function_name=function_name,
            name=name,
            function_version=function_version,
            description=description,
        )
        response = await self._call("CreateAlias", self._invoker.CreateAlias, request)
        return _shapes.alias_to_dict(response.alias)

    async def get_alias(self, function_name: str, name: str) -> t.AliasConfiguration:
        request = invoker_pb2.GetAliasRequest(function_name=function_name, name=name)
        response = await self._call("GetAlias", self._invoker.GetAlias, request)
        return _shapes.alias_to_dict(response.alias)

    async def update_alias(
        self,
        function_name: str,
        name: str,
        function_version: str | None = None,
        description: str | None = None,
    ) -> t.AliasConfiguration:
        """Only the given fields change."""
        request = _shapes.update_alias_request(function_name, name, function_version, description)
        response = await self._call("UpdateAlias", self._invoker.UpdateAlias, request)
        return _shapes.alias_to_dict(response.alias)

    async def delete_alias(self, function_name: str, name: str) -> None:
        request = invoker_pb2.DeleteAliasRequest(function_name=function_name, name=name)
        await self._call("DeleteAlias", self._invoker.DeleteAlias, request)

    async def list_aliases(
        self,
        function_name: str,
        function_version: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> t.ListAliasesResponse:
        request = invoker_pb2.ListAliasesRequest(
            function_name=function_name,
            function_version=function_version or "",
            marker=marker or "",
            max_items=max_items or 0,
        )
        response = await self._call("ListAliases", self._invoker.ListAliases, request)
        return _shapes.list_aliases_to_dict(response)

    # --- event invoke configs --------------------------------------------------------------

    async def put_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str = "",
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: t.DestinationConfig | None = None,
    ) -> t.FunctionEventInvokeConfig:
        request = _shapes.event_invoke_config_request(
            invoker_pb2.PutFunctionEventInvokeConfigRequest,
            function_name=function_name,
            qualifier=qualifier,
            maximum_retry_attempts=maximum_retry_attempts,
            maximum_event_age_in_seconds=maximum_event_age_in_seconds,
            destination_config=destination_config,
        )
        response = await self._call(
            "PutFunctionEventInvokeConfig", self._invoker.PutFunctionEventInvokeConfig, request
        )
        return _shapes.event_invoke_config_to_dict(response.config)

    async def update_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str = "",
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: t.DestinationConfig | None = None,
    ) -> t.FunctionEventInvokeConfig:
        request = _shapes.event_invoke_config_request(
            invoker_pb2.UpdateFunctionEventInvokeConfigRequest,
            function_name=function_name,
            qualifier=qualifier,
            maximum_retry_attempts=maximum_retry_attempts,
            maximum_event_age_in_seconds=maximum_event_age_in_seconds,
            destination_config=destination_config,
        )
        response = await self._call(
            "UpdateFunctionEventInvokeConfig",
            self._invoker.UpdateFunctionEventInvokeConfig,
            request,
        )
        return _shapes.event_invoke_config_to_dict(response.config)

    async def get_function_event_invoke_config(
        self, function_name: str, qualifier: str = ""
    ) -> t.FunctionEventInvokeConfig:
        request = invoker_pb2.GetFunctionEventInvokeConfigRequest(
            function_name=function_name, qualifier=qualifier
        )
        response = await self._call(
            "GetFunctionEventInvokeConfig", self._invoker.GetFunctionEventInvokeConfig, request
        )
        return _shapes.event_invoke_config_to_dict(response.config)

    async def delete_function_event_invoke_config(
        self, function_name: str, qualifier: str = ""
    ) -> None:
        request = invoker_pb2.DeleteFunctionEventInvokeConfigRequest(
            function_name=function_name, qualifier=qualifier
        )
        await self._call(
            "DeleteFunctionEventInvokeConfig",
            self._invoker.DeleteFunctionEventInvokeConfig,
            request,
        )

    async def list_function_event_invoke_configs(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFunctionEventInvokeConfigsResponse:
        request = invoker_pb2.ListFunctionEventInvokeConfigsRequest(
            function_name=function_name, marker=marker or "", max_items=max_items or 0
        )
        response = await self._call(
            "ListFunctionEventInvokeConfigs", self._invoker.ListFunctionEventInvokeConfigs, request
        )
        return _shapes.list_event_invoke_configs_to_dict(response)

    # --- concurrency -----------------------------------------------------------------------

    async def put_function_concurrency(
        self, function_name: str, reserved_concurrent_executions: int
    ) -> t.Concurrency:
        request = _shapes.concurrency_request(function_name, reserved_concurrent_executions)
        response = await self._call(
            "PutFunctionConcurrency", self._invoker.PutFunctionConcurrency, request
        )
        return _shapes.concurrency_to_dict(response)

    async def get_function_concurrency(self, function_name: str) -> t.Concurrency:
        request = invoker_pb2.GetFunctionConcurrencyRequest(function_name=function_name)
        response = await self._call(
            "GetFunctionConcurrency", self._invoker.GetFunctionConcurrency, request
        )
        return _shapes.concurrency_to_dict(response)

    async def delete_function_concurrency(self, function_name: str) -> None:
        request = invoker_pb2.DeleteFunctionConcurrencyRequest(function_name=function_name)
        await self._call(
            "DeleteFunctionConcurrency", self._invoker.DeleteFunctionConcurrency, request
        )

    # --- logs --------------------------------------------------------------------------------

    async def get_function_logs(
        self,
        function_name: str,
        start_time: int | None = None,
        next_token: str = "",
        limit: int | None = None,
    ) -> t.GetFunctionLogsResponse:
        """A function's log lines (START/END/REPORT and its output) in time order, from
        invocations started at ``start_time`` (epoch ms) on; ``next_token`` continues after
        a previous call, for following new lines."""
        request = executor_pb2.GetFunctionLogsRequest(
            function_name=function_name,
            start_time=start_time or 0,
            cursor=next_token,
            limit=limit or 0,
        )
        response = await self._call(
            "GetFunctionLogs",
            self._executor.GetFunctionLogs,
            request,
            endpoint=self.executor_endpoint,
        )
        return _shapes.function_logs_to_dict(response)

    # --- router ----------------------------------------------------------------------------

    async def list_failed_deliveries(
        self, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFailedDeliveriesResponse:
        request = router_pb2.ListFailedDeliveriesRequest(
            marker=marker or "", max_items=max_items or 0
        )
        response = await self._call(
            "ListFailedDeliveries",
            self._router.ListFailedDeliveries,
            request,
            endpoint=self.router_endpoint,
        )
        return _shapes.list_failed_deliveries_to_dict(response)
