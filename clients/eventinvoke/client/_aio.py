"""The asyncio client, on ``grpc.aio``."""

from __future__ import annotations

from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from grpc_status import rpc_status

from eventinvoke.client import _operations, errors
from eventinvoke.client import type_defs as t
from eventinvoke.client._batching import EventBatcher
from eventinvoke.client._operations import Operation
from eventinvoke.client._transport import CHANNEL_OPTIONS, BaseClient, Service, target
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2

R = TypeVar("R")
EVENT = invoker_pb2.INVOCATION_TYPE_EVENT


class AsyncClient(BaseClient[grpc.aio.Channel]):
    """The Invoker and Router APIs, named and shaped like boto3's lambda client.

    ``async with AsyncClient("127.0.0.1:50051") as client: await client.invoke("f")``

    Concurrent ``invoke(..., invocation_type="Event")`` calls share InvokeBatch RPCs (see
    ``_batching``); each still returns its own response or raises its own error.
    """

    _event_batcher: EventBatcher | None = None

    def _open_channel(self, endpoint: str) -> grpc.aio.Channel:
        # Opened on first use, not in the constructor: a grpc.aio channel belongs to the event
        # loop that is running when it is created, and the constructor may run outside any loop.
        return grpc.aio.insecure_channel(target(endpoint), options=CHANNEL_OPTIONS)

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
        self, operation: str, method: Any, request: Any, service: Service = "invoker"
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
                endpoint=self._endpoint(service),
                operation_name=operation,
                service=service,
            ) from exc

    async def _run(self, operation: Operation[R]) -> R:
        request = operation.request
        if isinstance(request, invoker_pb2.InvokeRequest) and request.invocation_type == EVENT:
            return operation.convert(await self._batcher().invoke(request))
        method = getattr(self._stub(operation.service), operation.method)
        response = await self._call(operation.name, method, operation.request, operation.service)
        return operation.convert(response)

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
        return await self._run(
            _operations.invoke(
                function_name, payload, invocation_type, log_type, qualifier, client_context
            )
        )

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
        return await self._run(
            _operations.create_function(
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
        )

    async def get_function(self, function_name: str, qualifier: str = "") -> t.GetFunctionResponse:
        return await self._run(_operations.get_function(function_name, qualifier))

    async def get_function_configuration(
        self, function_name: str, qualifier: str = ""
    ) -> t.FunctionConfiguration:
        return await self._run(_operations.get_function_configuration(function_name, qualifier))

    async def list_functions(
        self, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFunctionsResponse:
        return await self._run(_operations.list_functions(marker, max_items))

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
        return await self._run(
            _operations.update_function_configuration(
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
        )

    async def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """Delete the function, or with ``qualifier`` (a version number) only that version."""
        await self._run(_operations.delete_function(function_name, qualifier))

    async def update_function_code(
        self, function_name: str, zip_file: bytes, publish: bool = False
    ) -> t.FunctionConfiguration:
        """Replace the deployment package; ``publish`` then publishes a version and returns it."""
        return await self._run(_operations.update_function_code(function_name, zip_file, publish))

    # --- versions and aliases --------------------------------------------------------------

    async def publish_version(
        self,
        function_name: str,
        description: str = "",
        code_sha256: str | None = None,
        revision_id: str | None = None,
    ) -> t.FunctionConfiguration:
        """Publish $LATEST as the next version (the latest version when nothing changed)."""
        return await self._run(
            _operations.publish_version(function_name, description, code_sha256, revision_id)
        )

    async def list_versions_by_function(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> t.ListVersionsByFunctionResponse:
        return await self._run(
            _operations.list_versions_by_function(function_name, marker, max_items)
        )

    async def create_alias(
        self, function_name: str, name: str, function_version: str, description: str = ""
    ) -> t.AliasConfiguration:
        return await self._run(
            _operations.create_alias(function_name, name, function_version, description)
        )

    async def get_alias(self, function_name: str, name: str) -> t.AliasConfiguration:
        return await self._run(_operations.get_alias(function_name, name))

    async def update_alias(
        self,
        function_name: str,
        name: str,
        function_version: str | None = None,
        description: str | None = None,
    ) -> t.AliasConfiguration:
        """Only the given fields change."""
        return await self._run(
            _operations.update_alias(function_name, name, function_version, description)
        )

    async def delete_alias(self, function_name: str, name: str) -> None:
        await self._run(_operations.delete_alias(function_name, name))

    async def list_aliases(
        self,
        function_name: str,
        function_version: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> t.ListAliasesResponse:
        return await self._run(
            _operations.list_aliases(function_name, function_version, marker, max_items)
        )

    # --- event invoke configs --------------------------------------------------------------

    async def put_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str = "",
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: t.DestinationConfig | None = None,
    ) -> t.FunctionEventInvokeConfig:
        return await self._run(
            _operations.put_function_event_invoke_config(
                function_name=function_name,
                qualifier=qualifier,
                maximum_retry_attempts=maximum_retry_attempts,
                maximum_event_age_in_seconds=maximum_event_age_in_seconds,
                destination_config=destination_config,
            )
        )

    async def update_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str = "",
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: t.DestinationConfig | None = None,
    ) -> t.FunctionEventInvokeConfig:
        return await self._run(
            _operations.update_function_event_invoke_config(
                function_name=function_name,
                qualifier=qualifier,
                maximum_retry_attempts=maximum_retry_attempts,
                maximum_event_age_in_seconds=maximum_event_age_in_seconds,
                destination_config=destination_config,
            )
        )

    async def get_function_event_invoke_config(
        self, function_name: str, qualifier: str = ""
    ) -> t.FunctionEventInvokeConfig:
        return await self._run(
            _operations.get_function_event_invoke_config(function_name, qualifier)
        )

    async def delete_function_event_invoke_config(
        self, function_name: str, qualifier: str = ""
    ) -> None:
        await self._run(_operations.delete_function_event_invoke_config(function_name, qualifier))

    async def list_function_event_invoke_configs(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFunctionEventInvokeConfigsResponse:
        return await self._run(
            _operations.list_function_event_invoke_configs(function_name, marker, max_items)
        )

    # --- concurrency -----------------------------------------------------------------------

    async def put_function_concurrency(
        self, function_name: str, reserved_concurrent_executions: int
    ) -> t.Concurrency:
        return await self._run(
            _operations.put_function_concurrency(function_name, reserved_concurrent_executions)
        )

    async def get_function_concurrency(self, function_name: str) -> t.Concurrency:
        return await self._run(_operations.get_function_concurrency(function_name))

    async def delete_function_concurrency(self, function_name: str) -> None:
        await self._run(_operations.delete_function_concurrency(function_name))

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
        return await self._run(
            _operations.get_function_logs(function_name, start_time, next_token, limit)
        )

    # --- router ----------------------------------------------------------------------------

    async def list_failed_deliveries(
        self, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFailedDeliveriesResponse:
        return await self._run(_operations.list_failed_deliveries(marker, max_items))
