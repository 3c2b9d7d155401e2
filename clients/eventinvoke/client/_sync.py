"""The blocking client, on the synchronous ``grpc`` channel (no event loop underneath)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from grpc_status import rpc_status

from eventinvoke.client import _operations, errors
from eventinvoke.client import type_defs as t
from eventinvoke.client._operations import Operation
from eventinvoke.client._transport import CHANNEL_OPTIONS, BaseClient, Service, target

R = TypeVar("R")


class Client(BaseClient[grpc.Channel]):
    """The Invoker and Router APIs, named and shaped like boto3's lambda client.

    ``with Client("127.0.0.1:50051") as client: client.invoke("f")``. The same methods as
    :class:`AsyncClient`, blocking.
    """

    def _open_channel(self, endpoint: str) -> grpc.Channel:
        return grpc.insecure_channel(target(endpoint), options=CHANNEL_OPTIONS)

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

    def _call(self, operation: str, method: Any, request: Any, service: Service = "invoker") -> Any:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            # The raised error is also the finished grpc.Call, which is what from_call reads.
            call: Any = exc
            try:
                status = rpc_status.from_call(call)
            except ValueError:  # details that contradict the status: ignore them
                status = None
            raise errors.from_status(
                call.code(),
                call.details() or "",
                status,
                endpoint=self._endpoint(service),
                operation_name=operation,
                service=service,
            ) from exc

    def _run(self, operation: Operation[R]) -> R:
        method = getattr(self._stub(operation.service), operation.method)
        response = self._call(operation.name, method, operation.request, operation.service)
        return operation.convert(response)

    # --- Invoke ----------------------------------------------------------------------------

    def invoke(
        self,
        function_name: str,
        payload: bytes | str = b"",
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        qualifier: str = "",
        client_context: str = "",
    ) -> t.InvocationResponse:
        return self._run(
            _operations.invoke(
                function_name, payload, invocation_type, log_type, qualifier, client_context
            )
        )

    # --- functions -------------------------------------------------------------------------

    def create_function(
        self,
        function_name: str,
        runtime: str,
        handler: str,
        zip_file: bytes,
        role: str = "",
        timeout: int | None = None,
        memory_size: int | None = None,
        environment: t.Environment | None = None,
        description: str = "",
        dead_letter_config: t.DeadLetterConfig | None = None,
        publish: bool = False,
    ) -> t.FunctionConfiguration:
        """CreateFunction; ``publish`` publishes version 1 and returns its configuration."""
        return self._run(
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

    def get_function(self, function_name: str, qualifier: str = "") -> t.GetFunctionResponse:
        return self._run(_operations.get_function(function_name, qualifier))

    def get_function_configuration(
        self, function_name: str, qualifier: str = ""
    ) -> t.FunctionConfiguration:
        return self._run(_operations.get_function_configuration(function_name, qualifier))

    def list_functions(
        self, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFunctionsResponse:
        return self._run(_operations.list_functions(marker, max_items))

    def update_function_configuration(
        self,
        function_name: str,
        timeout: int | None = None,
        memory_size: int | None = None,
        environment: t.Environment | None = None,
        handler: str | None = None,
        runtime: str | None = None,
        role: str | None = None,
        description: str | None = None,
        dead_letter_config: t.DeadLetterConfig | None = None,
    ) -> t.FunctionConfiguration:
        return self._run(
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

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """Delete the function, or with ``qualifier`` (a version number) only that version."""
        self._run(_operations.delete_function(function_name, qualifier))

    def update_function_code(
        self, function_name: str, zip_file: bytes, publish: bool = False
    ) -> t.FunctionConfiguration:
        """Replace the deployment package; ``publish`` then publishes a version and returns it."""
        return self._run(_operations.update_function_code(function_name, zip_file, publish))

    # --- versions and aliases --------------------------------------------------------------

    def publish_version(
        self,
        function_name: str,
        description: str = "",
        code_sha256: str | None = None,
        revision_id: str | None = None,
    ) -> t.FunctionConfiguration:
        """Publish $LATEST as the next version (the latest version when nothing changed)."""
        return self._run(
            _operations.publish_version(function_name, description, code_sha256, revision_id)
        )

    def list_versions_by_function(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> t.ListVersionsByFunctionResponse:
        return self._run(_operations.list_versions_by_function(function_name, marker, max_items))

    def create_alias(
        self, function_name: str, name: str, function_version: str, description: str = ""
    ) -> t.AliasConfiguration:
        return self._run(
            _operations.create_alias(function_name, name, function_version, description)
        )

    def get_alias(self, function_name: str, name: str) -> t.AliasConfiguration:
        return self._run(_operations.get_alias(function_name, name))

    def update_alias(
        self,
        function_name: str,
        name: str,
        function_version: str | None = None,
        description: str | None = None,
    ) -> t.AliasConfiguration:
        """Only the given fields change."""
        return self._run(
            _operations.update_alias(function_name, name, function_version, description)
        )

    def delete_alias(self, function_name: str, name: str) -> None:
        self._run(_operations.delete_alias(function_name, name))

    def list_aliases(
        self,
        function_name: str,
        function_version: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> t.ListAliasesResponse:
        return self._run(
            _operations.list_aliases(function_name, function_version, marker, max_items)
        )

    # --- event invoke configs --------------------------------------------------------------

    def put_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str = "",
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: t.DestinationConfig | None = None,
    ) -> t.FunctionEventInvokeConfig:
        return self._run(
            _operations.put_function_event_invoke_config(
                function_name=function_name,
                qualifier=qualifier,
                maximum_retry_attempts=maximum_retry_attempts,
                maximum_event_age_in_seconds=maximum_event_age_in_seconds,
                destination_config=destination_config,
            )
        )

    def update_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str = "",
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: t.DestinationConfig | None = None,
    ) -> t.FunctionEventInvokeConfig:
        return self._run(
            _operations.update_function_event_invoke_config(
                function_name=function_name,
                qualifier=qualifier,
                maximum_retry_attempts=maximum_retry_attempts,
                maximum_event_age_in_seconds=maximum_event_age_in_seconds,
                destination_config=destination_config,
            )
        )

    def get_function_event_invoke_config(
        self, function_name: str, qualifier: str = ""
    ) -> t.FunctionEventInvokeConfig:
        return self._run(_operations.get_function_event_invoke_config(function_name, qualifier))

    def delete_function_event_invoke_config(self, function_name: str, qualifier: str = "") -> None:
        self._run(_operations.delete_function_event_invoke_config(function_name, qualifier))

    def list_function_event_invoke_configs(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFunctionEventInvokeConfigsResponse:
        return self._run(
            _operations.list_function_event_invoke_configs(function_name, marker, max_items)
        )

    # --- concurrency -----------------------------------------------------------------------

    def put_function_concurrency(
        self, function_name: str, reserved_concurrent_executions: int
    ) -> t.Concurrency:
        return self._run(
            _operations.put_function_concurrency(function_name, reserved_concurrent_executions)
        )

    def get_function_concurrency(self, function_name: str) -> t.Concurrency:
        return self._run(_operations.get_function_concurrency(function_name))

    def delete_function_concurrency(self, function_name: str) -> None:
        self._run(_operations.delete_function_concurrency(function_name))

    # --- logs --------------------------------------------------------------------------------

    def get_function_logs(
        self,
        function_name: str,
        start_time: int | None = None,
        next_token: str = "",
        limit: int | None = None,
    ) -> t.GetFunctionLogsResponse:
        """A function's log lines (START/END/REPORT and its output) in time order, from
        invocations started at ``start_time`` (epoch ms) on; ``next_token`` continues after
        a previous call, for following new lines."""
        return self._run(
            _operations.get_function_logs(function_name, start_time, next_token, limit)
        )

    # --- router ----------------------------------------------------------------------------

    def list_failed_deliveries(
        self, marker: str | None = None, max_items: int | None = None
    ) -> t.ListFailedDeliveriesResponse:
        return self._run(_operations.list_failed_deliveries(marker, max_items))
