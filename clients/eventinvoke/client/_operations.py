"""Every client operation, written once for both clients.

An operation function takes a client method's arguments and returns an :class:`Operation`: which
service and RPC to call, the request built from the arguments, how to turn the response into
boto3's dict, and the operation name errors carry. :class:`~eventinvoke.client.Client` and
:class:`~eventinvoke.client.AsyncClient` only run it (``_run``), blocking or awaiting the call.
Building the request is where arguments are checked, so a bad argument raises before any I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from google.protobuf.message import Message

from eventinvoke.client import _shapes
from eventinvoke.client import type_defs as t
from eventinvoke.client._transport import Service
from eventinvoke.v1 import executor_service_pb2 as executor_pb2
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import router_service_pb2 as router_pb2

R = TypeVar("R")


@dataclass(frozen=True)
class Operation(Generic[R]):
    """One call: ``convert(<service stub>.<method>(request))``, failing as operation ``name``."""

    name: str  # the AWS operation name, e.g. "GetFunctionConfiguration"
    service: Service
    method: str  # the stub's RPC, e.g. "GetFunction"
    request: Message
    convert: Callable[[Any], R]


def _invoker(
    name: str, request: Message, convert: Callable[[Any], R], method: str | None = None
) -> Operation[R]:
    """An Invoker operation; its RPC has the operation's name unless ``method`` says otherwise."""
    return Operation(name, "invoker", method or name, request, convert)


# --- response conversions shared by several operations ------------------------------------------


def _nothing(response: Any) -> None:
    return None


def _configuration(response: Any) -> t.FunctionConfiguration:
    return _shapes.function_configuration_to_dict(response.configuration)


def _alias(response: Any) -> t.AliasConfiguration:
    return _shapes.alias_to_dict(response.alias)


def _event_invoke_config(response: Any) -> t.FunctionEventInvokeConfig:
    return _shapes.event_invoke_config_to_dict(response.config)


# --- Invoke ----------------------------------------------------------------------------------


def invoke(
    function_name: str,
    payload: bytes | str,
    invocation_type: str,
    log_type: str,
    qualifier: str,
    client_context: str,
) -> Operation[t.InvocationResponse]:
    request = _shapes.invoke_request(
        function_name, payload, invocation_type, log_type, qualifier, client_context
    )
    return _invoker("Invoke", request, _shapes.invoke_response_to_dict)


# --- functions -------------------------------------------------------------------------------


class _CreateFunctionArguments(TypedDict):
    function_name: str
    runtime: str
    handler: str
    zip_file: bytes
    role: str
    timeout: int | None
    memory_size: int | None
    environment: t.Environment | None
    description: str
    dead_letter_config: t.DeadLetterConfig | None
    publish: bool


def create_function(
    **arguments: Unpack[_CreateFunctionArguments],
) -> Operation[t.FunctionConfiguration]:
    request = _shapes.create_function_request(**arguments)
    return _invoker("CreateFunction", request, _configuration)


def get_function(function_name: str, qualifier: str) -> Operation[t.GetFunctionResponse]:
    request = invoker_pb2.GetFunctionRequest(function_name=function_name, qualifier=qualifier)
    return _invoker("GetFunction", request, _shapes.get_function_to_dict)


def get_function_configuration(
    function_name: str, qualifier: str
) -> Operation[t.FunctionConfiguration]:
    # There is no GetFunctionConfiguration RPC: GetFunction's configuration is the answer.
    request = invoker_pb2.GetFunctionRequest(function_name=function_name, qualifier=qualifier)
    return _invoker("GetFunctionConfiguration", request, _configuration, method="GetFunction")


def list_functions(marker: str | None, max_items: int | None) -> Operation[t.ListFunctionsResponse]:
    request = invoker_pb2.ListFunctionsRequest(marker=marker or "", max_items=max_items or 0)
    return _invoker("ListFunctions", request, _shapes.list_functions_to_dict)


class _UpdateFunctionConfigurationArguments(TypedDict):
    """None leaves a field unchanged."""

    function_name: str
    timeout: int | None
    memory_size: int | None
    environment: t.Environment | None
    handler: str | None
    runtime: str | None
    role: str | None
    description: str | None
    dead_letter_config: t.DeadLetterConfig | None


def update_function_configuration(
    **arguments: Unpack[_UpdateFunctionConfigurationArguments],
) -> Operation[t.FunctionConfiguration]:
    request = _shapes.update_function_configuration_request(**arguments)
    return _invoker("UpdateFunctionConfiguration", request, _configuration)


def delete_function(function_name: str, qualifier: str | None) -> Operation[None]:
    request = invoker_pb2.DeleteFunctionRequest(
        function_name=function_name, qualifier=qualifier or ""
    )
    return _invoker("DeleteFunction", request, _nothing)


def update_function_code(
    function_name: str, zip_file: bytes, publish: bool
) -> Operation[t.FunctionConfiguration]:
    request = invoker_pb2.UpdateFunctionCodeRequest(
        function_name=function_name, zip_file=zip_file, publish=publish
    )
    return _invoker("UpdateFunctionCode", request, _configuration)


# --- versions and aliases --------------------------------------------------------------------


def publish_version(
    function_name: str, description: str, code_sha256: str | None, revision_id: str | None
) -> Operation[t.FunctionConfiguration]:
    request = _shapes.publish_version_request(function_name, description, code_sha256, revision_id)
    return _invoker("PublishVersion", request, _configuration)


def list_versions_by_function(
    function_name: str, marker: str | None, max_items: int | None
) -> Operation[t.ListVersionsByFunctionResponse]:
    request = invoker_pb2.ListVersionsByFunctionRequest(
        function_name=function_name, marker=marker or "", max_items=max_items or 0
    )
    return _invoker("ListVersionsByFunction", request, _shapes.list_versions_to_dict)


def create_alias(
    function_name: str, name: str, function_version: str, description: str
) -> Operation[t.AliasConfiguration]:
    request = invoker_pb2.CreateAliasRequest(
        function_name=function_name,
        name=name,
        function_version=function_version,
        description=description,
    )
    return _invoker("CreateAlias", request, _alias)


def get_alias(function_name: str, name: str) -> Operation[t.AliasConfiguration]:
    request = invoker_pb2.GetAliasRequest(function_name=function_name, name=name)
    return _invoker("GetAlias", request, _alias)


def update_alias(
    function_name: str, name: str, function_version: str | None, description: str | None
) -> Operation[t.AliasConfiguration]:
    request = _shapes.update_alias_request(function_name, name, function_version, description)
    return _invoker("UpdateAlias", request, _alias)


def delete_alias(function_name: str, name: str) -> Operation[None]:
    request = invoker_pb2.DeleteAliasRequest(function_name=function_name, name=name)
    return _invoker("DeleteAlias", request, _nothing)


def list_aliases(
    function_name: str, function_version: str | None, marker: str | None, max_items: int | None
) -> Operation[t.ListAliasesResponse]:
    request = invoker_pb2.ListAliasesRequest(
        function_name=function_name,
        function_version=function_version or "",
        marker=marker or "",
        max_items=max_items or 0,
    )
    return _invoker("ListAliases", request, _shapes.list_aliases_to_dict)


# --- event invoke configs --------------------------------------------------------------------


class _EventInvokeConfigArguments(TypedDict):
    """What Put and Update both take: Put replaces the whole config, Update only these fields."""

    function_name: str
    qualifier: str
    maximum_retry_attempts: int | None
    maximum_event_age_in_seconds: int | None
    destination_config: t.DestinationConfig | None


def put_function_event_invoke_config(
    **arguments: Unpack[_EventInvokeConfigArguments],
) -> Operation[t.FunctionEventInvokeConfig]:
    request = _shapes.event_invoke_config_request(
        invoker_pb2.PutFunctionEventInvokeConfigRequest, **arguments
    )
    return _invoker("PutFunctionEventInvokeConfig", request, _event_invoke_config)


def update_function_event_invoke_config(
    **arguments: Unpack[_EventInvokeConfigArguments],
) -> Operation[t.FunctionEventInvokeConfig]:
    request = _shapes.event_invoke_config_request(
        invoker_pb2.UpdateFunctionEventInvokeConfigRequest, **arguments
    )
    return _invoker("UpdateFunctionEventInvokeConfig", request, _event_invoke_config)


def get_function_event_invoke_config(
    function_name: str, qualifier: str
) -> Operation[t.FunctionEventInvokeConfig]:
    request = invoker_pb2.GetFunctionEventInvokeConfigRequest(
        function_name=function_name, qualifier=qualifier
    )
    return _invoker("GetFunctionEventInvokeConfig", request, _event_invoke_config)


def delete_function_event_invoke_config(function_name: str, qualifier: str) -> Operation[None]:
    request = invoker_pb2.DeleteFunctionEventInvokeConfigRequest(
        function_name=function_name, qualifier=qualifier
    )
    return _invoker("DeleteFunctionEventInvokeConfig", request, _nothing)


def list_function_event_invoke_configs(
    function_name: str, marker: str | None, max_items: int | None
) -> Operation[t.ListFunctionEventInvokeConfigsResponse]:
    request = invoker_pb2.ListFunctionEventInvokeConfigsRequest(
        function_name=function_name, marker=marker or "", max_items=max_items or 0
    )
    return _invoker(
        "ListFunctionEventInvokeConfigs", request, _shapes.list_event_invoke_configs_to_dict
    )


# --- concurrency -----------------------------------------------------------------------------


def put_function_concurrency(
    function_name: str, reserved_concurrent_executions: int
) -> Operation[t.Concurrency]:
    request = _shapes.concurrency_request(function_name, reserved_concurrent_executions)
    return _invoker("PutFunctionConcurrency", request, _shapes.concurrency_to_dict)


def get_function_concurrency(function_name: str) -> Operation[t.Concurrency]:
    request = invoker_pb2.GetFunctionConcurrencyRequest(function_name=function_name)
    return _invoker("GetFunctionConcurrency", request, _shapes.concurrency_to_dict)


def delete_function_concurrency(function_name: str) -> Operation[None]:
    request = invoker_pb2.DeleteFunctionConcurrencyRequest(function_name=function_name)
    return _invoker("DeleteFunctionConcurrency", request, _nothing)


# --- logs (the Executor's) ---------------------------------------------------------------------


def get_function_logs(
    function_name: str, start_time: int | None, next_token: str, limit: int | None
) -> Operation[t.GetFunctionLogsResponse]:
    request = executor_pb2.GetFunctionLogsRequest(
        function_name=function_name,
        start_time=start_time or 0,
        cursor=next_token,
        limit=limit or 0,
    )
    return Operation(
        "GetFunctionLogs", "executor", "GetFunctionLogs", request, _shapes.function_logs_to_dict
    )


# --- the Router's ------------------------------------------------------------------------------


def list_failed_deliveries(
    marker: str | None, max_items: int | None
) -> Operation[t.ListFailedDeliveriesResponse]:
    request = router_pb2.ListFailedDeliveriesRequest(marker=marker or "", max_items=max_items or 0)
    return Operation(
        "ListFailedDeliveries",
        "router",
        "ListFailedDeliveries",
        request,
        _shapes.list_failed_deliveries_to_dict,
    )
