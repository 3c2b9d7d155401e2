"""Both clients against the real suite: AWS shapes out, real server errors back as typed errors.

The blocking ``Client`` talks to ``suite_in_thread`` (a suite on its own loop in a thread); the
``AsyncClient`` to the ``suite`` fixture, on the test's own loop.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import FUNCTIONS, Running, records_in, test_settings, wait_until, zip_dir
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

import eventinvoke.client as ec
from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient, Client
from eventinvoke.client.errors import from_status

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
SQS_QUEUE = "arn:aws:sqs:us-east-1:000000000000:q"
TOO_MANY_RETRIES = (
    "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
    "constraint: Member must have value less than or equal to 2"
)
NO_SETTINGS = "You must specify at least one of error handling or destination setting."


def create(client: Client, name: str, source: str = "tester", **options: Any) -> dict[str, Any]:
    return dict(
        client.create_function(
            name, "python3.11", "index.handler", zip_dir(FUNCTIONS / source), **options
        )
    )


# --- errors, provoked for real ----------------------------------------------------------------


def test_unknown_function_is_resource_not_found(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client, pytest.raises(ec.ResourceNotFoundException) as caught:
        client.get_function("nope")

    error = caught.value
    assert error.code == "ResourceNotFoundException"
    assert str(error) == error.message == f"Function not found: {ARN}nope"
    assert error.http_status == 404
    assert error.metadata["httpStatus"] == "404"
    assert error.operation_name == "GetFunction"


def test_out_of_range_retries_is_a_validation_exception(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        create(client, "fn")
        with pytest.raises(ec.ValidationException) as caught:
            client.put_function_event_invoke_config("fn", maximum_retry_attempts=3)
        # Nothing was stored.
        with pytest.raises(ec.ResourceNotFoundException):
            client.get_function_event_invoke_config("fn")

    assert caught.value.code == "ValidationException"
    assert caught.value.http_status == 400
    assert caught.value.message == TOO_MANY_RETRIES
    assert caught.value.operation_name == "PutFunctionEventInvokeConfig"


def test_empty_put_is_an_invalid_parameter_value(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        create(client, "fn")
        with pytest.raises(ec.InvalidParameterValueException) as caught:
            client.put_function_event_invoke_config("fn")

    assert caught.value.code == "InvalidParameterValueException"
    assert caught.value.http_status == 400
    assert caught.value.message == NO_SETTINGS


def test_payload_that_is_not_json_is_invalid_request_content(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        create(client, "fn")
        with pytest.raises(ec.InvalidRequestContentException) as caught:
            client.invoke("fn", b"{not json", invocation_type="Event")

    assert caught.value.code == "InvalidRequestContentException"
    assert caught.value.http_status == 400
    assert caught.value.message.startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )
    assert caught.value.operation_name == "Invoke"


def test_duplicate_create_is_a_resource_conflict(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        first = create(client, "fn", timeout=7)
        with pytest.raises(ec.ResourceConflictException) as caught:
            create(client, "fn", timeout=9)
        kept = client.get_function_configuration("fn")

    assert caught.value.code == "ResourceConflictException"
    assert caught.value.http_status == 409
    assert caught.value.message == "Function already exist: fn"
    assert caught.value.operation_name == "CreateFunction"
    assert kept["Timeout"] == 7 and kept["RevisionId"] == first["RevisionId"]


def test_sync_client_reports_an_unreachable_endpoint(dead_endpoint: str) -> None:
    with Client(dead_endpoint) as client, pytest.raises(ec.EndpointConnectionError) as caught:
        client.list_functions()

    assert caught.value.endpoint == dead_endpoint
    assert str(caught.value) == f'Could not connect to the endpoint URL: "{dead_endpoint}"'


def test_local_parameter_errors_are_raised_before_sending(dead_endpoint: str) -> None:
    # Sent to a dead endpoint it would be an EndpointConnectionError: nothing was sent.
    with Client(dead_endpoint) as client, pytest.raises(ec.ParamValidationError) as caught:
        client.put_function_event_invoke_config("fn", destination_config={"onFailure": {}})

    assert 'Unknown parameter in DestinationConfig: "onFailure"' in str(caught.value)


@pytest.mark.parametrize(
    ("operation", "call", "exception", "http_status"),
    [
        ("GetFunction", lambda c: c.get_function("nope"), ec.ResourceNotFoundException, 404),
        ("Invoke", lambda c: c.invoke("fn", b"[1,"), ec.InvalidRequestContentException, 400),
        (
            "PutFunctionEventInvokeConfig",
            lambda c: c.put_function_event_invoke_config("fn", maximum_retry_attempts=3),
            ec.ValidationException,
            400,
        ),
        (
            "UpdateFunctionEventInvokeConfig",
            lambda c: c.update_function_event_invoke_config("fn"),
            ec.InvalidParameterValueException,
            400,
        ),
        (
            "CreateFunction",
            lambda c: c.create_function(
                "fn", "python3.11", "index.handler", zip_dir(FUNCTIONS / "tester")
            ),
            ec.ResourceConflictException,
            409,
        ),
        ("DeleteFunction", lambda c: c.delete_function("nope"), ec.ResourceNotFoundException, 404),
    ],
)
async def test_async_client_raises_the_real_servers_errors(
    suite: Running, operation: str, call: Any, exception: type, http_status: int
) -> None:
    await suite.deploy("fn", "tester")

    with pytest.raises(exception) as caught:
        await call(suite.client)

    assert type(caught.value) is exception
    assert caught.value.code == exception.__name__
    assert caught.value.http_status == http_status
    assert caught.value.operation_name == operation


async def test_async_client_reports_an_unreachable_router(
    suite: Running, dead_endpoint: str
) -> None:
    async with AsyncClient(suite.address, router_endpoint=dead_endpoint) as client:
        assert (await client.list_functions())["Functions"] == []  # the Invoker answers
        with pytest.raises(ec.EndpointConnectionError) as caught:
            await client.list_failed_deliveries()

    assert caught.value.endpoint == dead_endpoint


async def test_status_without_error_info_is_named_after_the_grpc_code(
    tmp_path: Path, dead_endpoint: str
) -> None:
    # A real invoker-only server has no Router service: gRPC itself answers UNIMPLEMENTED, with
    # no ErrorInfo, and the client names the error after the gRPC code.
    invoker_only = Suite(
        test_settings(tmp_path / "data", executor_endpoint=dead_endpoint),
        roles=("invoker",),
    )
    await invoker_only.start()
    address = invoker_only.address
    try:
        async with AsyncClient(address) as client:
            with pytest.raises(ec.ServiceError) as caught:
                await client.list_failed_deliveries()
    finally:
        await invoker_only.stop(grace=1)

    assert type(caught.value) is ec.ServiceError
    assert caught.value.code == "UNIMPLEMENTED"
    assert caught.value.http_status == 501
    assert caught.value.operation_name == "ListFailedDeliveries"
    # gRPC's own "Method not found!" would leave the caller guessing; the message says what to do.
    assert caught.value.message == (
        f"The server at {address} does not serve eventinvoke.v1.Router (ListFailedDeliveries): "
        "pass --router-endpoint (or EVENTINVOKE_ROUTER_ENDPOINT; router_endpoint= in the Python "
        "client) with the Router's address."
    )


def test_a_reason_the_client_does_not_know_becomes_a_plain_service_error() -> None:
    # No server sends an unknown reason, so this is a unit test of the mapping itself.
    info = error_details_pb2.ErrorInfo(
        reason="KMSAccessDeniedException", domain="lambda.eventinvoke",
        metadata={"httpStatus": "502"},
    )  # fmt: skip
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="denied", details=[detail])

    error = from_status(
        grpc.StatusCode.INTERNAL,
        "denied",
        status,
        endpoint="x",
        operation_name="Invoke",
        service="invoker",
    )

    assert type(error) is ec.ServiceError
    assert (error.code, error.message, error.http_status) == ("KMSAccessDeniedException",
                                                               "denied", 502)  # fmt: skip


# --- AWS shapes from real calls ---------------------------------------------------------------


def test_sync_client_function_lifecycle_returns_aws_shapes(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        created = create(
            client, "fn", timeout=5, description="d",
            environment={"Variables": {"KEY": "V"}},
        )  # fmt: skip
        got = client.get_function("fn")
        listed = client.list_functions()
        updated = client.update_function_configuration(
            "fn", timeout=9, environment={"Variables": {"K2": "V2"}}
        )
        client.delete_function("fn")
        after = client.list_functions()

    assert created["FunctionName"] == "fn"
    assert created["FunctionArn"] == ARN + "fn"
    assert created["Runtime"] == "python3.11" and created["Handler"] == "index.handler"
    assert created["CodeSize"] == len(zip_dir(FUNCTIONS / "tester"))
    assert created["Timeout"] == 5 and created["MemorySize"] == 128
    assert created["Environment"] == {"Variables": {"KEY": "V"}}
    assert created["Version"] == "$LATEST" and created["State"] == "Active"
    assert "ResponseMetadata" not in created
    assert got == {"Configuration": created}
    assert listed == {"Functions": [created]}
    assert updated["Timeout"] == 9 and updated["Environment"] == {"Variables": {"K2": "V2"}}
    assert updated["Description"] == "d"  # not given, kept
    assert updated["RevisionId"] != created["RevisionId"]
    assert after == {"Functions": []}


def test_sync_client_invokes_with_aws_shapes(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        create(client, "fn")
        event = client.invoke("fn", b'{"Success": true}', invocation_type="Event")
        ok = client.invoke("fn", '{"Success": true}')
        failed = client.invoke("fn", b'{"Success": false}', log_type="Tail")
        dry = client.invoke("fn", b"{}", invocation_type="DryRun")

    assert set(event) == {"StatusCode", "ResponseMetadata"}
    assert event["StatusCode"] == 202 and event["ResponseMetadata"]["RequestId"]
    assert ok["StatusCode"] == 200 and ok["Payload"] == b"null"
    assert ok["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in ok and "LogResult" not in ok
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"])
    assert error["errorMessage"] == "Failure from event, Success = false, I am failing!"
    assert error["errorType"] == "Exception"
    tail = base64.b64decode(failed["LogResult"]).decode()
    request_id = failed["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in tail and f"REPORT RequestId: {request_id}" in tail
    assert dry["StatusCode"] == 204 and "Payload" not in dry


def test_sync_client_event_invoke_configs_and_failed_deliveries(suite_in_thread: str) -> None:
    with Client(suite_in_thread) as client:
        create(client, "fn")
        put = client.put_function_event_invoke_config(
            "fn",
            maximum_retry_attempts=0,
            destination_config={"OnSuccess": {"Destination": SQS_QUEUE}},
        )
        listed = client.list_function_event_invoke_configs("fn")
        response = client.invoke("fn", b'{"Success": true}', invocation_type="Event")
        # This build has no SQS adapter: the record goes to the failed-delivery store.
        failed = wait_until(lambda: client.list_failed_deliveries(max_items=5)["FailedDeliveries"])

    assert put["FunctionArn"] == ARN + "fn:$LATEST"
    assert put["MaximumRetryAttempts"] == 0 and "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {"Destination": SQS_QUEUE}, "OnFailure": {}}
    assert listed == {"FunctionEventInvokeConfigs": [put]}
    [delivery] = failed
    assert delivery["Destination"] == {"Target": SQS_QUEUE, "Kind": "OnSuccess"}
    assert SQS_QUEUE in delivery["Reason"]
    assert delivery["Attempts"] >= 1 and delivery["DeliveryId"]
    record = delivery["Record"]
    assert record["requestContext"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"Success": True}


async def test_async_client_sends_only_given_fields(suite: Running) -> None:
    await suite.client.create_function(
        "fn", "python3.11", "index.handler", zip_dir(FUNCTIONS / "tester"), timeout=7,
        environment={"Variables": {"KEY": "V"}},
        dead_letter_config={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
    )  # fmt: skip
    await suite.client.put_function_event_invoke_config(
        "fn", maximum_retry_attempts=1, maximum_event_age_in_seconds=300
    )

    updated = await suite.client.update_function_event_invoke_config(
        "fn", destination_config={"OnFailure": {"Destination": SQS_QUEUE}}
    )
    configuration = await suite.client.update_function_configuration(
        "fn", dead_letter_config={"TargetArn": ""}
    )

    assert updated["MaximumRetryAttempts"] == 1  # kept: not sent
    assert updated["MaximumEventAgeInSeconds"] == 300
    assert updated["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": SQS_QUEUE},
    }
    assert "DeadLetterConfig" not in configuration  # TargetArn "" was sent: removed
    assert configuration["Timeout"] == 7  # not sent: kept
    assert configuration["Environment"] == {"Variables": {"KEY": "V"}}


async def test_async_client_delivers_the_walkthrough_record(suite: Running) -> None:
    records = await suite.collector()
    await suite.client.create_function(
        "event-destinations", "python3.11", "index.handler",
        zip_dir(Path(__file__).parents[2] / "examples" / "destinations-tester"),
    )  # fmt: skip
    await suite.client.put_function_event_invoke_config(
        "event-destinations",
        destination_config={"OnSuccess": {"Destination": suite.arn("collector")}},
    )

    response = await suite.client.invoke(
        "event-destinations", b'{ "Success": true }', invocation_type="Event"
    )

    assert response["StatusCode"] == 202
    [record] = await records_in(records, 1)
    assert record["requestContext"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"Success": True}


def test_public_names_are_pinned() -> None:
    assert sorted(ec.__all__) == sorted(
        [
            "DEFAULT_ENDPOINT", "AccessDeniedException", "AsyncClient", "Client",
            "EndpointConnectionError", "Keys", "UnrecognizedClientException",
            "IncompleteSignatureException", "InvalidSignatureException",
            "MissingAuthenticationTokenException", "Tls",
            "EventInvokeError", "InvalidParameterValueException",
            "InvalidRequestContentException", "ParamValidationError",
            "PreconditionFailedException",
            "RequestEntityTooLargeException", "ResourceConflictException",
            "ResourceNotFoundException", "ServiceError", "ServiceException",
            "TooManyRequestsException", "ValidationException",
        ]
    )  # fmt: skip
    assert all(hasattr(ec, name) for name in ec.__all__)
