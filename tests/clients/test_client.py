"""Both clients against a real gRPC server (fakes.py): AWS shapes out, typed errors back."""

from __future__ import annotations

from typing import Any

import eventinvoke.client as ec
import pytest
from eventinvoke.client import AsyncClient, Client

ALL_REASONS = [
    ("ResourceNotFoundException", 404, ec.ResourceNotFoundException),
    ("InvalidParameterValueException", 400, ec.InvalidParameterValueException),
    ("ValidationException", 400, ec.ValidationException),
    ("InvalidRequestContentException", 400, ec.InvalidRequestContentException),
    ("RequestEntityTooLargeException", 413, ec.RequestEntityTooLargeException),
    ("ResourceConflictException", 409, ec.ResourceConflictException),
    ("TooManyRequestsException", 429, ec.TooManyRequestsException),
    ("ServiceException", 500, ec.ServiceException),
]


@pytest.mark.parametrize(("reason", "http_status", "exception"), ALL_REASONS)
def test_sync_client_raises_the_exception_named_by_error_info(
    fake_server: tuple[str, Any], reason: str, http_status: int, exception: type
) -> None:
    endpoint, _ = fake_server
    with Client(endpoint) as client, pytest.raises(exception) as caught:
        client.put_function_event_invoke_config(
            f"raise:{reason}:{http_status}", maximum_retry_attempts=1
        )

    error = caught.value
    assert error.code == reason
    assert str(error) == error.message == f"{reason} for you"
    assert error.http_status == http_status
    assert error.metadata == {"httpStatus": str(http_status)}
    assert error.operation_name == "PutFunctionEventInvokeConfig"


@pytest.mark.parametrize(("reason", "http_status", "exception"), ALL_REASONS)
async def test_async_client_raises_the_exception_named_by_error_info(
    fake_server: tuple[str, Any], reason: str, http_status: int, exception: type
) -> None:
    endpoint, _ = fake_server
    async with AsyncClient(endpoint) as client:
        with pytest.raises(exception) as caught:
            await client.get_function(f"raise:{reason}:{http_status}")

    assert caught.value.code == reason
    assert caught.value.message == f"{reason} for you"
    assert caught.value.http_status == http_status
    assert caught.value.operation_name == "GetFunction"


def test_unknown_reason_becomes_a_plain_service_error(fake_server: tuple[str, Any]) -> None:
    endpoint, _ = fake_server
    with Client(endpoint) as client, pytest.raises(ec.ServiceError) as caught:
        client.invoke("raise:KMSAccessDeniedException:502")

    assert type(caught.value) is ec.ServiceError
    assert caught.value.code == "KMSAccessDeniedException"
    assert caught.value.http_status == 502


async def test_status_without_error_info_is_named_after_the_grpc_code(
    fake_server: tuple[str, Any],
) -> None:
    endpoint, _ = fake_server
    async with AsyncClient(endpoint) as client:
        with pytest.raises(ec.ServiceError) as caught:
            await client.delete_function("plain-error")

    assert type(caught.value) is ec.ServiceError
    assert caught.value.code == "NOT_FOUND"
    assert caught.value.message == "no details here"
    assert caught.value.http_status == 404


def test_sync_client_reports_an_unreachable_endpoint(dead_endpoint: str) -> None:
    with Client(dead_endpoint) as client, pytest.raises(ec.EndpointConnectionError) as caught:
        client.list_functions()

    assert str(caught.value) == f'Could not connect to the endpoint URL: "{dead_endpoint}"'


async def test_async_client_reports_an_unreachable_router(
    fake_server: tuple[str, Any], dead_endpoint: str
) -> None:
    endpoint, _ = fake_server
    async with AsyncClient(endpoint, router_endpoint=dead_endpoint) as client:
        with pytest.raises(ec.EndpointConnectionError) as caught:
            await client.list_failed_deliveries()

    assert caught.value.endpoint == dead_endpoint


def test_sync_client_returns_aws_shapes(fake_server: tuple[str, Any]) -> None:
    endpoint, invoker = fake_server
    with Client(endpoint) as client:
        event = client.invoke("f", b'{"a": 1}', invocation_type="Event")
        sync = client.invoke("failing", '{"a": 1}', log_type="Tail")
        created = client.create_function(
            "f", "python3.12", "index.handler", b"PK\x05\x06" + bytes(18),
            environment={"Variables": {"K": "V"}},
        )  # fmt: skip
        configs = client.list_function_event_invoke_configs("f")
        failed = client.list_failed_deliveries(max_items=5)

    assert event == {"StatusCode": 202, "ResponseMetadata": {"RequestId": "req-1"}}
    assert sync == {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "LogResult": "bG9n",
        "Payload": b'{"echo": {"a": 1}}',
        "ExecutedVersion": "$LATEST",
        "ResponseMetadata": {"RequestId": "req-2"},
    }
    assert created["Environment"] == {"Variables": {"K": "V"}}
    assert created["CodeSize"] == 22
    assert configs["FunctionEventInvokeConfigs"][0]["FunctionArn"].endswith(":f:$LATEST")
    assert failed["FailedDeliveries"][0]["Record"]["requestPayload"] == {"k": 1}


async def test_async_client_sends_only_given_fields(fake_server: tuple[str, Any]) -> None:
    endpoint, invoker = fake_server
    async with AsyncClient(endpoint) as client:
        updated = await client.update_function_event_invoke_config(
            "f", qualifier="live", destination_config={"OnFailure": {"Destination": "arn:q"}}
        )
        await client.update_function_configuration("f", dead_letter_config={"TargetArn": ""})

    assert updated == {
        "LastModified": 1573686021.479,
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:live",
        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": "arn:q"}},
    }
    update = invoker.requests[-1]
    assert update.HasField("dead_letter_target_arn") and update.dead_letter_target_arn == ""
    assert not update.HasField("timeout") and not update.HasField("environment")


def test_local_parameter_errors_are_raised_before_sending(fake_server: tuple[str, Any]) -> None:
    endpoint, invoker = fake_server
    with Client(endpoint) as client, pytest.raises(ec.ParamValidationError):
        client.put_function_event_invoke_config("f", destination_config={"onFailure": {}})

    assert invoker.requests == []


def test_public_names_are_pinned() -> None:
    assert sorted(ec.__all__) == sorted(
        [
            "DEFAULT_ENDPOINT", "AsyncClient", "Client", "EndpointConnectionError",
            "EventInvokeError", "InvalidParameterValueException",
            "InvalidRequestContentException", "ParamValidationError",
            "RequestEntityTooLargeException", "ResourceConflictException",
            "ResourceNotFoundException", "ServiceError", "ServiceException",
            "TooManyRequestsException", "ValidationException",
        ]
    )  # fmt: skip
    assert all(hasattr(ec, name) for name in ec.__all__)
