from __future__ import annotations

from typing import Any

import pytest

from eventinvoke.api import codec
from eventinvoke.api.model import lambda_model
from eventinvoke.api.records import execution_record_to_dict
from eventinvoke.client import ParamValidationError
from eventinvoke.client._operations import answer
from eventinvoke.client._operations import request as build_request
from eventinvoke.v1 import function_pb2, record_pb2
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import router_service_pb2 as router_pb2

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


def to_configuration(config: function_pb2.FunctionConfiguration) -> dict[str, Any]:
    return codec.to_dict(config, "FunctionConfiguration")


def to_event_invoke_config(config: function_pb2.FunctionEventInvokeConfig) -> dict[str, Any]:
    return codec.to_dict(config, "FunctionEventInvokeConfig")


def destination_config(config: object) -> function_pb2.DestinationConfig:
    message = build_request(
        "PutFunctionEventInvokeConfig", {"FunctionName": "f", "DestinationConfig": config}
    )
    return message.destination_config  # type: ignore[attr-defined, no-any-return]


def sent(operation: str, params: dict[str, Any]) -> Any:
    """The gRPC request a client sends for ``params``."""
    return build_request(operation, params)


def full_configuration() -> function_pb2.FunctionConfiguration:
    config = function_pb2.FunctionConfiguration(
        function_name="f",
        function_arn=ARN,
        runtime="python3.12",
        handler="index.handler",
        role="arn:aws:iam::000000000000:role/r",
        timeout=30,
        memory_size=256,
        code_sha256="abc=",
        code_size=1234,
        last_modified="2019-11-24T23:08:25.651+0000",
        version="$LATEST",
        description="d",
        dead_letter_target_arn="arn:aws:sqs:us-east-1:000000000000:dlq",
        state="Active",
        revision_id="rev",
    )
    config.environment.update({"B": "2", "A": "1"})
    return config


def test_function_configuration_to_dict_has_aws_keys_in_aws_order() -> None:
    result = to_configuration(full_configuration())

    assert list(result) == [
        "FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description",
        "Timeout", "MemorySize", "LastModified", "CodeSha256", "Version", "Environment",
        "DeadLetterConfig", "State", "RevisionId",
    ]  # fmt: skip
    assert result["Environment"] == {"Variables": {"A": "1", "B": "2"}}
    assert result["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert result["CodeSize"] == 1234 and result["Timeout"] == 30


def test_function_configuration_leaves_out_empty_environment_and_dead_letter() -> None:
    config = full_configuration()
    config.environment.clear()
    config.ClearField("dead_letter_target_arn")

    result = to_configuration(config)

    assert "Environment" not in result
    assert "DeadLetterConfig" not in result


@pytest.mark.parametrize("with_optionals", [True, False])
def test_function_configuration_round_trips(with_optionals: bool) -> None:
    config = full_configuration()
    if not with_optionals:
        config.environment.clear()
        config.ClearField("dead_letter_target_arn")

    back = codec.from_dict(
        codec.to_dict(config, "FunctionConfiguration"),
        function_pb2.FunctionConfiguration(),
        "FunctionConfiguration",
    )

    assert back == config


def test_event_invoke_config_to_dict_matches_the_spec_example() -> None:
    config = function_pb2.FunctionEventInvokeConfig(
        function_arn=ARN + ":$LATEST",
        last_modified=1573686021.479,
        maximum_retry_attempts=0,
        maximum_event_age_in_seconds=3600,
    )
    config.destination_config.on_failure.destination = "arn:aws:sqs:us-east-1:0:q"

    assert to_event_invoke_config(config) == {
        "LastModified": 1573686021.479,
        "FunctionArn": ARN + ":$LATEST",
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {
            "OnSuccess": {},
            "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:0:q"},
        },
    }


def test_event_invoke_config_omits_settings_never_set() -> None:
    config = function_pb2.FunctionEventInvokeConfig(function_arn=ARN + ":1", last_modified=1.5)

    result = to_event_invoke_config(config)

    assert result == {
        "LastModified": 1.5,
        "FunctionArn": ARN + ":1",
        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
    }


@pytest.mark.parametrize(
    "shape",
    [
        {"LastModified": 2.0, "FunctionArn": "x",
         "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}},
        {
            "LastModified": 2.0,
            "FunctionArn": "x",
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnSuccess": {"Destination": "arn:a"}, "OnFailure": {}},
        },
    ],
)  # fmt: skip
def test_event_invoke_config_round_trips(shape: dict) -> None:
    proto = codec.from_dict(
        shape, function_pb2.FunctionEventInvokeConfig(), "FunctionEventInvokeConfig"
    )

    assert to_event_invoke_config(proto) == shape
    assert proto.HasField("maximum_retry_attempts") == ("MaximumRetryAttempts" in shape)
    assert not proto.HasField("maximum_event_age_in_seconds")


def test_destination_config_keeps_presence_of_an_empty_outcome() -> None:
    proto = destination_config({"OnSuccess": {}})

    assert proto.HasField("on_success")
    assert not proto.on_success.HasField("destination")
    assert not proto.HasField("on_failure")


def test_put_request_sends_only_given_settings() -> None:
    request = sent("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 0})

    assert request.HasField("maximum_retry_attempts") and request.maximum_retry_attempts == 0
    assert not request.HasField("maximum_event_age_in_seconds")
    assert not request.HasField("destination_config")


@pytest.mark.parametrize(
    ("config", "report"),
    [
        ({"onSuccess": {}}, 'Unknown parameter in DestinationConfig: "onSuccess"'),
        ({"OnFailure": "arn"}, "Invalid type for parameter DestinationConfig.OnFailure"),
        ({"OnFailure": {"Destination": 5}}, "DestinationConfig.OnFailure.Destination"),
        ("arn", "Invalid type for parameter DestinationConfig,"),
    ],
)
def test_destination_config_rejects_bad_shapes(config: object, report: str) -> None:
    with pytest.raises(ParamValidationError, match=report):
        destination_config(config)  # type: ignore[arg-type]


def test_create_request_converts_aws_shapes() -> None:
    request = sent(
        "CreateFunction",
        {
            "FunctionName": "f",
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Code": {"ZipFile": b"PK"},
            "Environment": {"Variables": {"K": "V"}},
            "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:0:dlq"},
        },
    )

    assert dict(request.environment) == {"K": "V"}
    assert request.dead_letter_target_arn == "arn:aws:sqs:us-east-1:0:dlq"
    assert not request.HasField("timeout") and not request.HasField("memory_size")


def test_create_request_rejects_non_string_variables() -> None:
    with pytest.raises(ParamValidationError, match="Environment.Variables.K"):
        build_request(
            "CreateFunction",
            {
                "FunctionName": "f",
                "Runtime": "python3.12",
                "Handler": "h",
                "Code": {"ZipFile": b""},
                "Environment": {"Variables": {"K": 1}},
            },
        )


def test_update_request_sends_only_given_fields() -> None:
    request = sent(
        "UpdateFunctionConfiguration",
        {"FunctionName": "f", "Timeout": 10, "DeadLetterConfig": {"TargetArn": ""}},
    )

    given = {field.name for field, _ in request.ListFields()}
    assert given == {"function_name", "timeout", "dead_letter_target_arn"}
    assert request.dead_letter_target_arn == ""  # "" removes the dead-letter queue


def test_update_request_can_clear_the_environment() -> None:
    request = sent(
        "UpdateFunctionConfiguration", {"FunctionName": "f", "Environment": {"Variables": {}}}
    )

    assert request.HasField("environment")
    assert dict(request.environment.variables) == {}


def test_invoke_request_maps_types_and_rejects_unknown_ones() -> None:
    request = sent(
        "Invoke",
        {"FunctionName": "f", "Payload": "{}", "InvocationType": "Event", "LogType": "Tail"},
    )

    assert request.invocation_type == invoker_pb2.INVOCATION_TYPE_EVENT
    assert request.log_type == invoker_pb2.LOG_TYPE_TAIL
    assert request.payload == b"{}"
    with pytest.raises(ParamValidationError, match="InvocationType"):
        build_request("Invoke", {"FunctionName": "f", "InvocationType": "Async"})


def test_invoke_response_for_an_event_has_only_the_status() -> None:
    response = invoker_pb2.InvokeResponse(status_code=202, request_id="r")

    assert answer("Invoke", response) == {
        "StatusCode": 202,
        "ResponseMetadata": {"RequestId": "r"},
    }


def test_invoke_response_for_a_failed_sync_call() -> None:
    response = invoker_pb2.InvokeResponse(
        status_code=200,
        payload=b'{"errorMessage":"boom"}',
        function_error="Unhandled",
        executed_version="$LATEST",
        log_result="bG9n",
        request_id="r",
    )

    result = answer("Invoke", response)

    assert list(result) == [
        "StatusCode", "FunctionError", "LogResult", "Payload", "ExecutedVersion",
        "ResponseMetadata",
    ]  # fmt: skip
    assert result["Payload"] == b'{"errorMessage":"boom"}'


def test_list_shapes_carry_next_marker_only_when_set() -> None:
    page = invoker_pb2.ListFunctionsResponse(functions=[full_configuration()])
    assert list(answer("ListFunctions", page)) == ["Functions"]

    page.next_marker = "m"
    assert answer("ListFunctions", page)["NextMarker"] == "m"

    configs = invoker_pb2.ListFunctionEventInvokeConfigsResponse()
    assert answer("ListFunctionEventInvokeConfigs", configs) == {"FunctionEventInvokeConfigs": []}


def test_failed_delivery_renders_the_record_as_destinations_see_it() -> None:
    record = record_pb2.ExecutionRecord(
        version="1.0",
        request_context=record_pb2.RequestContext(
            request_id="r", function_arn=ARN + ":$LATEST", condition="RetriesExhausted",
            approximate_invoke_count=3,
        ),
        request_payload=b'{"k": 1}',
        response_context=record_pb2.ResponseContext(
            status_code=200, executed_version="$LATEST", function_error="Unhandled"
        ),
        response_payload=b'{"errorMessage": "boom"}',
    )  # fmt: skip
    record.timestamp.FromMilliseconds(1_573_755_365_568)
    delivery = router_pb2.FailedDelivery(
        delivery_id="d",
        destination=router_pb2.Destination(
            target="arn:q", kind=router_pb2.DELIVERY_KIND_ON_FAILURE
        ),
        record=record,
        reason="nope",
        attempts=2,
    )

    result = codec.to_dict(delivery, "FailedDelivery")

    assert result["Destination"] == {"Target": "arn:q", "Kind": "OnFailure"}
    assert "FailTime" not in result
    assert result["Record"] == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "r",
            "functionArn": ARN + ":$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"k": 1},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": "boom"},
    }


def test_record_without_a_run_has_no_response_keys() -> None:
    record = record_pb2.ExecutionRecord(version="1.0", request_payload=b"{}")

    result = execution_record_to_dict(record)

    assert "responseContext" not in result and "responsePayload" not in result


@pytest.mark.parametrize(
    ("operation", "shape", "params"),
    [
        ("Invoke", "InvocationRequest", {"FunctionName": "f", "InvocationType": "Event"}),
        (
            "Invoke",
            "InvocationRequest",
            {"FunctionName": "f", "Payload": b"{}", "LogType": "Tail", "Qualifier": "1"},
        ),
        (
            "CreateFunction",
            "CreateFunctionRequest",
            {
                "FunctionName": "f",
                "Runtime": "python3.11",
                "Role": "arn:aws:iam::000000000000:role/r",
                "Handler": "f.handler",
                "Code": {"ZipFile": b"zip"},
                "Environment": {"Variables": {"A": "1"}},
                "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:q"},
                "Timeout": 3,
            },
        ),
        (
            "PutFunctionEventInvokeConfig",
            "PutFunctionEventInvokeConfigRequest",
            {"FunctionName": "f", "DestinationConfig": {"OnSuccess": {}}},
        ),
    ],
)
def test_a_member_read_alone_is_what_to_dict_holds(
    operation: str, shape: str, params: dict[str, Any]
) -> None:
    """The server checks a request member by member (``codec.reader``), not through
    ``to_dict``: both must read every member alike, absent ones as absent."""
    message = sent(operation, params)
    whole = codec.to_dict(message, shape)
    for member in lambda_model().shape(shape)["members"]:
        assert codec.reader(message.DESCRIPTOR, shape, member)(message) == whole.get(member)
