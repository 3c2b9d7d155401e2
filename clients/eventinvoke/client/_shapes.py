"""Protobuf messages to AWS-shaped dicts and back.

Pure functions, no I/O and no grpc: the Python client uses them, and so does the HTTP gateway
through the client, whose answers are the REST API's JSON bodies. Presence follows AWS: absent
optional proto fields become absent keys, never ``None`` values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from eventinvoke.client import type_defs as t
from eventinvoke.client.errors import ParamValidationError
from eventinvoke.v1 import executor_service_pb2 as executor_pb2
from eventinvoke.v1 import function_pb2, record_pb2
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import router_service_pb2 as router_pb2

INVOCATION_TYPES = {
    "RequestResponse": invoker_pb2.INVOCATION_TYPE_REQUEST_RESPONSE,
    "Event": invoker_pb2.INVOCATION_TYPE_EVENT,
    "DryRun": invoker_pb2.INVOCATION_TYPE_DRY_RUN,
}
LOG_TYPES = {"None": invoker_pb2.LOG_TYPE_NONE, "Tail": invoker_pb2.LOG_TYPE_TAIL}
DELIVERY_KINDS = {
    router_pb2.DELIVERY_KIND_ON_SUCCESS: "OnSuccess",
    router_pb2.DELIVERY_KIND_ON_FAILURE: "OnFailure",
    router_pb2.DELIVERY_KIND_DEAD_LETTER: "DeadLetter",
}

_Choice = TypeVar("_Choice")

# --- checking arguments, with botocore's messages -------------------------------------------


def _check_type(value: object, name: str, *types: type) -> None:
    # bool is an int to Python but not to AWS.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        valid = ", ".join(str(t_) for t_ in types)
        raise ParamValidationError(
            f"Invalid type for parameter {name}, value: {value!r}, type: {type(value)}, "
            f"valid types: {valid}"
        )


def _check_struct(value: object, name: str, members: tuple[str, ...]) -> Mapping[str, Any]:
    _check_type(value, name, dict)
    assert isinstance(value, dict)
    for key in value:
        if key not in members:
            raise ParamValidationError(
                f'Unknown parameter in {name}: "{key}", must be one of: {", ".join(members)}'
            )
    return value


def _check_choice(value: str, name: str, choices: Mapping[str, _Choice]) -> _Choice:
    if value not in choices:
        raise ParamValidationError(
            f"Invalid value for parameter {name}: {value!r}, must be one of: {', '.join(choices)}"
        )
    return choices[value]


def _optional_int(value: int | None, name: str) -> int | None:
    if value is not None:
        _check_type(value, name, int)
    return value


def environment_variables(environment: t.Environment | Mapping[str, Any]) -> dict[str, str]:
    """``{"Variables": {...}}`` -> the variables, checked to be strings."""
    env = _check_struct(environment, "Environment", ("Variables",))
    variables = env.get("Variables", {})
    _check_type(variables, "Environment.Variables", dict)
    for key, value in variables.items():
        _check_type(value, f"Environment.Variables.{key}", str)
    return dict(variables)


def dead_letter_target(config: t.DeadLetterConfig | Mapping[str, Any]) -> str:
    """``{"TargetArn": arn}`` -> arn; ``""`` (or no TargetArn) means no dead-letter queue."""
    dlc = _check_struct(config, "DeadLetterConfig", ("TargetArn",))
    target = dlc.get("TargetArn", "")
    _check_type(target, "DeadLetterConfig.TargetArn", str)
    return str(target)


# --- Invoke ------------------------------------------------------------------------------------


def invoke_request(
    function_name: str,
    payload: bytes | str = b"",
    invocation_type: str = "RequestResponse",
    log_type: str = "None",
    qualifier: str = "",
    client_context: str = "",
) -> invoker_pb2.InvokeRequest:
    return invoker_pb2.InvokeRequest(
        function_name=function_name,
        qualifier=qualifier,
        invocation_type=_check_choice(invocation_type, "InvocationType", INVOCATION_TYPES),
        log_type=_check_choice(log_type, "LogType", LOG_TYPES),
        payload=payload.encode() if isinstance(payload, str) else payload,
        client_context=client_context,
    )


def invoke_response_to_dict(response: invoker_pb2.InvokeResponse) -> t.InvocationResponse:
    # Key order is botocore's (the AWS CLI prints it that way): StatusCode, FunctionError,
    # LogResult, Payload, ExecutedVersion.
    result: dict[str, Any] = {"StatusCode": response.status_code}
    if response.function_error:
        result["FunctionError"] = response.function_error
    if response.log_result:
        result["LogResult"] = response.log_result
    if response.status_code == 200:
        result["Payload"] = response.payload
    if response.executed_version:
        result["ExecutedVersion"] = response.executed_version
    result["ResponseMetadata"] = {"RequestId": response.request_id}
    return result  # type: ignore[return-value]


# --- functions ---------------------------------------------------------------------------------


def function_configuration_to_dict(
    config: function_pb2.FunctionConfiguration,
) -> t.FunctionConfiguration:
    result: dict[str, Any] = {
        "FunctionName": config.function_name,
        "FunctionArn": config.function_arn,
        "Runtime": config.runtime,
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code_size,
        "Description": config.description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": config.last_modified,
        "CodeSha256": config.code_sha256,
        "Version": config.version,
    }
    if config.environment:
        result["Environment"] = {"Variables": dict(sorted(config.environment.items()))}
    if config.dead_letter_target_arn:
        result["DeadLetterConfig"] = {"TargetArn": config.dead_letter_target_arn}
    result["State"] = config.state
    result["RevisionId"] = config.revision_id
    return result  # type: ignore[return-value]


def function_configuration_from_dict(
    config: t.FunctionConfiguration | Mapping[str, Any],
) -> function_pb2.FunctionConfiguration:
    message = function_pb2.FunctionConfiguration(
        function_name=config.get("FunctionName", ""),
        function_arn=config.get("FunctionArn", ""),
        runtime=config.get("Runtime", ""),
        role=config.get("Role", ""),
        handler=config.get("Handler", ""),
        code_size=config.get("CodeSize", 0),
        description=config.get("Description", ""),
        timeout=config.get("Timeout", 0),
        memory_size=config.get("MemorySize", 0),
        last_modified=config.get("LastModified", ""),
        code_sha256=config.get("CodeSha256", ""),
        version=config.get("Version", ""),
        state=config.get("State", ""),
        revision_id=config.get("RevisionId", ""),
    )
    if "Environment" in config:
        message.environment.update(environment_variables(config["Environment"]))
    if "DeadLetterConfig" in config:
        message.dead_letter_target_arn = dead_letter_target(config["DeadLetterConfig"])
    return message


def create_function_request(
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
) -> invoker_pb2.CreateFunctionRequest:
    _check_type(publish, "Publish", bool)
    request = invoker_pb2.CreateFunctionRequest(
        publish=publish,
        function_name=function_name,
        runtime=runtime,
        handler=handler,
        role=role,
        zip_file=zip_file,
        timeout=_optional_int(timeout, "Timeout"),
        memory_size=_optional_int(memory_size, "MemorySize"),
        description=description,
    )
    if environment is not None:
        request.environment.update(environment_variables(environment))
    if dead_letter_config is not None:
        request.dead_letter_target_arn = dead_letter_target(dead_letter_config)
    return request


def update_function_configuration_request(
    function_name: str,
    timeout: int | None = None,
    memory_size: int | None = None,
    environment: t.Environment | None = None,
    handler: str | None = None,
    runtime: str | None = None,
    role: str | None = None,
    description: str | None = None,
    dead_letter_config: t.DeadLetterConfig | None = None,
) -> invoker_pb2.UpdateFunctionConfigurationRequest:
    # None leaves the proto field unset, which the server reads as "unchanged".
    request = invoker_pb2.UpdateFunctionConfigurationRequest(
        function_name=function_name,
        timeout=_optional_int(timeout, "Timeout"),
        memory_size=_optional_int(memory_size, "MemorySize"),
        handler=handler,
        runtime=runtime,
        role=role,
        description=description,
    )
    if environment is not None:
        # A message, so that {"Variables": {}} (clear them all) differs from "unchanged".
        request.environment.SetInParent()
        request.environment.variables.update(environment_variables(environment))
    if dead_letter_config is not None:
        request.dead_letter_target_arn = dead_letter_target(dead_letter_config)
    return request


def list_functions_to_dict(response: invoker_pb2.ListFunctionsResponse) -> t.ListFunctionsResponse:
    result: dict[str, Any] = {
        "Functions": [function_configuration_to_dict(f) for f in response.functions]
    }
    if response.next_marker:
        result["NextMarker"] = response.next_marker
    return result  # type: ignore[return-value]


# --- versions and aliases ----------------------------------------------------------------------


def list_versions_to_dict(
    response: invoker_pb2.ListVersionsByFunctionResponse,
) -> t.ListVersionsByFunctionResponse:
    result: dict[str, Any] = {}
    if response.next_marker:
        result["NextMarker"] = response.next_marker
    result["Versions"] = [function_configuration_to_dict(v) for v in response.versions]
    return result  # type: ignore[return-value]


def alias_to_dict(alias: invoker_pb2.AliasConfiguration) -> t.AliasConfiguration:
    return {
        "AliasArn": alias.alias_arn,
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }


def list_aliases_to_dict(response: invoker_pb2.ListAliasesResponse) -> t.ListAliasesResponse:
    result: dict[str, Any] = {}
    if response.next_marker:
        result["NextMarker"] = response.next_marker
    result["Aliases"] = [alias_to_dict(a) for a in response.aliases]
    return result  # type: ignore[return-value]


def publish_version_request(
    function_name: str,
    description: str = "",
    code_sha256: str | None = None,
    revision_id: str | None = None,
) -> invoker_pb2.PublishVersionRequest:
    _check_type(description, "Description", str)
    for value, name in ((code_sha256, "CodeSha256"), (revision_id, "RevisionId")):
        if value is not None:
            _check_type(value, name, str)
    return invoker_pb2.PublishVersionRequest(
        function_name=function_name,
        description=description,
        code_sha256=code_sha256 or "",
        revision_id=revision_id or "",
    )


def update_alias_request(
    function_name: str,
    name: str,
    function_version: str | None = None,
    description: str | None = None,
) -> invoker_pb2.UpdateAliasRequest:
    # None leaves the proto field unset, which the server reads as "unchanged".
    for value, key in ((function_version, "FunctionVersion"), (description, "Description")):
        if value is not None:
            _check_type(value, key, str)
    return invoker_pb2.UpdateAliasRequest(
        function_name=function_name,
        name=name,
        function_version=function_version,
        description=description,
    )


# --- event invoke configs ----------------------------------------------------------------------


def destination_config_to_dict(config: function_pb2.DestinationConfig) -> t.DestinationConfig:
    # AWS always shows both outcomes, {} for one that is not set.
    def outcome(value: function_pb2.OnOutcome) -> t.OnOutcome:
        return {"Destination": value.destination} if value.destination else {}

    return {"OnSuccess": outcome(config.on_success), "OnFailure": outcome(config.on_failure)}


def destination_config_from_dict(
    config: t.DestinationConfig | Mapping[str, Any],
) -> function_pb2.DestinationConfig:
    checked = _check_struct(config, "DestinationConfig", ("OnSuccess", "OnFailure"))
    message = function_pb2.DestinationConfig()
    for key, field in (("OnSuccess", message.on_success), ("OnFailure", message.on_failure)):
        if key not in checked:
            continue
        # Presence matters: {"OnSuccess": {}} is given-but-empty, which AWS accepts.
        field.SetInParent()
        outcome = _check_struct(checked[key], f"DestinationConfig.{key}", ("Destination",))
        if "Destination" in outcome:
            _check_type(outcome["Destination"], f"DestinationConfig.{key}.Destination", str)
            field.destination = outcome["Destination"]
    return message


def event_invoke_config_to_dict(
    config: function_pb2.FunctionEventInvokeConfig,
) -> t.FunctionEventInvokeConfig:
    result: dict[str, Any] = {
        "LastModified": config.last_modified,
        "FunctionArn": config.function_arn,
    }
    if config.HasField("maximum_retry_attempts"):
        result["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.HasField("maximum_event_age_in_seconds"):
        result["MaximumEventAgeInSeconds"] = config.maximum_event_age_in_seconds
    result["DestinationConfig"] = destination_config_to_dict(config.destination_config)
    return result  # type: ignore[return-value]


def event_invoke_config_from_dict(
    config: t.FunctionEventInvokeConfig | Mapping[str, Any],
) -> function_pb2.FunctionEventInvokeConfig:
    message = function_pb2.FunctionEventInvokeConfig(
        function_arn=config.get("FunctionArn", ""),
        last_modified=float(config.get("LastModified", 0.0)),
        maximum_retry_attempts=config.get("MaximumRetryAttempts"),
        maximum_event_age_in_seconds=config.get("MaximumEventAgeInSeconds"),
    )
    message.destination_config.CopyFrom(
        destination_config_from_dict(config.get("DestinationConfig", {}))
    )
    return message


_ConfigRequest = TypeVar(
    "_ConfigRequest",
    invoker_pb2.PutFunctionEventInvokeConfigRequest,
    invoker_pb2.UpdateFunctionEventInvokeConfigRequest,
)


def event_invoke_config_request(
    request_type: type[_ConfigRequest],
    function_name: str,
    qualifier: str = "",
    maximum_retry_attempts: int | None = None,
    maximum_event_age_in_seconds: int | None = None,
    destination_config: t.DestinationConfig | None = None,
) -> _ConfigRequest:
    """A Put or Update request; Put and Update carry the same fields."""
    request = request_type(
        function_name=function_name,
        qualifier=qualifier,
        maximum_retry_attempts=_optional_int(maximum_retry_attempts, "MaximumRetryAttempts"),
        maximum_event_age_in_seconds=_optional_int(
            maximum_event_age_in_seconds, "MaximumEventAgeInSeconds"
        ),
    )
    if destination_config is not None:
        request.destination_config.CopyFrom(destination_config_from_dict(destination_config))
    return request


def list_event_invoke_configs_to_dict(
    response: invoker_pb2.ListFunctionEventInvokeConfigsResponse,
) -> t.ListFunctionEventInvokeConfigsResponse:
    result: dict[str, Any] = {
        "FunctionEventInvokeConfigs": [
            event_invoke_config_to_dict(c) for c in response.function_event_invoke_configs
        ]
    }
    if response.next_marker:
        result["NextMarker"] = response.next_marker
    return result  # type: ignore[return-value]


# --- execution records and failed deliveries ---------------------------------------------------


def _timestamp(value: timestamp_pb2.Timestamp) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as execution records carry it."""
    moment = value.ToDatetime(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_or_text(data: bytes) -> Any:
    # Payloads are kept as bytes on the wire; bytes that are not JSON stay visible as text.
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def execution_record_to_dict(record: record_pb2.ExecutionRecord) -> dict[str, Any]:
    """The record exactly as destinations receive it (docs/aws-behaviour.md §4.1)."""
    context = record.request_context
    result: dict[str, Any] = {
        "version": record.version,
        "timestamp": _timestamp(record.timestamp) if record.HasField("timestamp") else "",
        "requestContext": {
            "requestId": context.request_id,
            "functionArn": context.function_arn,
            "condition": context.condition,
            "approximateInvokeCount": context.approximate_invoke_count,
        },
        "requestPayload": _json_or_text(record.request_payload),
    }
    if record.HasField("response_context"):
        response: dict[str, Any] = {
            "statusCode": record.response_context.status_code,
            "executedVersion": record.response_context.executed_version,
        }
        if record.response_context.HasField("function_error"):
            response["functionError"] = record.response_context.function_error
        result["responseContext"] = response
    if record.HasField("response_payload"):
        result["responsePayload"] = _json_or_text(record.response_payload)
    return result


def failed_delivery_to_dict(delivery: router_pb2.FailedDelivery) -> t.FailedDelivery:
    result: dict[str, Any] = {
        "DeliveryId": delivery.delivery_id,
        "Destination": {
            "Target": delivery.destination.target,
            "Kind": DELIVERY_KINDS.get(delivery.destination.kind, "Unspecified"),
        },
        "Reason": delivery.reason,
        "Attempts": delivery.attempts,
    }
    if delivery.HasField("fail_time"):
        result["FailTime"] = _timestamp(delivery.fail_time)
    result["Record"] = execution_record_to_dict(delivery.record)
    return result  # type: ignore[return-value]


def list_failed_deliveries_to_dict(
    response: router_pb2.ListFailedDeliveriesResponse,
) -> t.ListFailedDeliveriesResponse:
    result: dict[str, Any] = {
        "FailedDeliveries": [failed_delivery_to_dict(d) for d in response.failed_deliveries]
    }
    if response.next_marker:
        result["NextMarker"] = response.next_marker
    return result  # type: ignore[return-value]


# --- concurrency and logs ----------------------------------------------------------------------


def get_function_to_dict(response: invoker_pb2.GetFunctionResponse) -> t.GetFunctionResponse:
    result: dict[str, Any] = {
        "Configuration": function_configuration_to_dict(response.configuration)
    }
    if response.HasField("reserved_concurrent_executions"):
        result["Concurrency"] = {
            "ReservedConcurrentExecutions": response.reserved_concurrent_executions
        }
    return result  # type: ignore[return-value]


def concurrency_to_dict(
    response: invoker_pb2.PutFunctionConcurrencyResponse
    | invoker_pb2.GetFunctionConcurrencyResponse,
) -> t.Concurrency:
    if response.HasField("reserved_concurrent_executions"):
        return {"ReservedConcurrentExecutions": response.reserved_concurrent_executions}
    return {}


def concurrency_request(
    function_name: str, reserved_concurrent_executions: int
) -> invoker_pb2.PutFunctionConcurrencyRequest:
    _check_type(function_name, "FunctionName", str)
    _check_type(reserved_concurrent_executions, "ReservedConcurrentExecutions", int)
    return invoker_pb2.PutFunctionConcurrencyRequest(
        function_name=function_name,
        reserved_concurrent_executions=reserved_concurrent_executions,
    )


def function_logs_to_dict(
    response: executor_pb2.GetFunctionLogsResponse,
) -> t.GetFunctionLogsResponse:
    return {
        "Events": [
            {
                "Timestamp": event.timestamp,
                "Message": event.message,
                "LogStreamName": event.log_stream_name,
            }
            for event in response.events
        ],
        "NextToken": response.next_cursor,
    }
