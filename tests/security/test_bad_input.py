"""Hostile input gets a clear, short error, and the suite keeps serving (issue #16 §6).

Bytes that are not the method's protobuf message, values of 10 KB and 1 MB in every member of
every operation, JSON nested 5,000 deep, function ARNs of another region or account: each gets
AWS's error where AWS defines one (else gRPC INVALID_ARGUMENT with a ``google.rpc.ErrorInfo``),
whole (never "Stream removed", UNKNOWN or INTERNAL) and quoting at most a short excerpt of what
was sent. Every test ends with a normal invoke that works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from gateway.harness import ACCOUNT_ARN, GatewaySuite, http, run_gateway_suite
from grpc_status import rpc_status

from eventinvoke.api import codec
from eventinvoke.api.model import lambda_model
from eventinvoke.api.operations import BY_NAME
from eventinvoke.client import ServiceError
from eventinvoke.core.errors import MAX_MESSAGE_COST
from eventinvoke.gateway.errors import ERRORS

INVOKER_METHODS = sorted(
    {entry.rpc for entry in BY_NAME.values() if entry.rpc.startswith("Invoker/")}
)
DEEP = b"[" * 5000 + b"]" * 5000
OTHER_REGION = "arn:aws:lambda:eu-west-1:000000000000:function:echo"
OTHER_ACCOUNT = "arn:aws:lambda:us-east-1:111111111111:function:echo"
NOT_REACHABLE = "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
# The most a message may hold: what fits in its trailers (ASCII costs 7/3 bytes a character).
SHORT = MAX_MESSAGE_COST * 3 // 7 + 3


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewaySuite]:
    for running in run_gateway_suite(tmp_path_factory.mktemp("bad-input")):
        running.deploy("echo", "echo")
        yield running


def _still_serving(suite: GatewaySuite) -> None:
    answer = suite.client.invoke("echo", b'{"after": "hostile input"}')
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"])["event"] == {"after": "hostile input"}


def _raw_call(suite: GatewaySuite, method: str, data: bytes) -> grpc.RpcError:
    """``data`` as the request of ``method``, unparsed by any client."""
    with grpc.insecure_channel(suite.address) as channel:
        call = channel.unary_unary(f"/eventinvoke.v1.{method}")
        with pytest.raises(grpc.RpcError) as raised:
            call(data, timeout=10)
    return raised.value


@pytest.mark.parametrize("method", INVOKER_METHODS)
def test_bytes_that_are_not_the_message_are_invalid_argument_with_error_info(
    suite: GatewaySuite, method: str
) -> None:
    """A parse failure is the caller's, said once, shortly; gRPC alone would answer UNKNOWN
    with the parser's words."""
    error = _raw_call(suite, method, b"\xff\xff\xff\xff\x0f not a protobuf message")

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    assert status is not None
    [detail] = status.details
    info = _error_info(detail)
    assert info.reason == "InvalidRequestContentException"
    assert info.metadata["httpStatus"] == "400"
    assert error.details() == (
        f"Could not parse request body: not a protobuf message of /eventinvoke.v1.{method}'s "
        "request"
    )
    _still_serving(suite)


def _error_info(detail: Any) -> Any:
    from google.rpc import error_details_pb2

    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    return info


def _huge_params(operation: str, value: str) -> dict[str, Any]:
    """Every string member of ``operation``'s input that the API carries set to ``value``,
    with the other members it requires."""
    model = lambda_model()
    shape = model.operation(operation).input
    carried = {member for member, _ in codec.request_slots(BY_NAME[operation])}
    params: dict[str, Any] = {}
    if shape is not None:
        for name, _, member_shape in model.members(shape):
            if name not in carried:
                continue
            if member_shape["type"] == "string" and "enum" not in member_shape:
                params[name] = value
    required = {
        "Code": {"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        "ReservedConcurrentExecutions": 1,
        "InvokeArgs": b"{}",
        "Payload": b"{}",
        "DestinationConfig": {"OnSuccess": {"Destination": value}},
        "Environment": {"Variables": {value: value}},
    }
    if shape is not None:
        params.update({k: v for k, v in required.items() if k in carried})
    return params


OPERATIONS = [
    name
    for name, entry in BY_NAME.items()
    if entry.rpc.startswith("Invoker/")
    and name in lambda_model().operation_names
    and name != "InvokeAsync"  # the legacy HTTP form of Invoke
]


@pytest.mark.parametrize("size", [10 * 1024, 1024 * 1024])
@pytest.mark.parametrize("character", ["x", "é"])
def test_a_huge_value_in_every_member_of_every_operation_gets_a_whole_short_error(
    suite: GatewaySuite, size: int, character: str
) -> None:
    """Names, qualifiers, ARNs, destinations, descriptions: whatever an error quotes is cut."""
    value = character * size
    refused, tried = [], []
    for operation in OPERATIONS:
        params = _huge_params(operation, value)
        if not params:
            continue
        tried.append(operation)
        try:
            suite.client.call(operation, params)  # a list's unknown marker is only a page
        except ServiceError as error:
            assert error.code in ERRORS and error.code != "ServiceException", (operation, error)
            assert 400 <= error.http_status < 500, (operation, error.code)
            assert len(error.message) <= SHORT, (operation, len(error.message))
            refused.append(operation)
    assert set(tried) - set(refused) <= {"ListFunctions"}, refused
    _still_serving(suite)


@pytest.mark.parametrize(
    ("operation", "path", "body"),
    [
        ("CreateFunction", "/2015-03-31/functions", {"FunctionName": "f", "Role": "{v}"}),
        ("CreateFunction", "/2015-03-31/functions", {"FunctionName": "{v}", "Handler": "{v}"}),
        ("CreateAlias", "/2015-03-31/functions/echo/aliases", {"Name": "{v}"}),
        (
            "PutFunctionEventInvokeConfig",
            "/2019-09-25/functions/echo/event-invoke-config",
            {"DestinationConfig": {"OnFailure": {"Destination": "{v}"}}},
        ),
        (
            "UpdateFunctionConfiguration",
            "/2015-03-31/functions/echo/configuration",
            {"Environment": {"Variables": {"{v}": "1"}}},
        ),
        (
            "UpdateFunctionConfiguration",
            "/2015-03-31/functions/echo/configuration",
            {"Environment": {"Variables": {"KEY": {"{v}": 1}}}},  # the path names the key
        ),
    ],
)
async def test_a_huge_value_over_http_gets_a_short_aws_error(
    suite: GatewaySuite, operation: str, path: str, body: dict[str, Any]
) -> None:
    value = "v" * (1024 * 1024)
    text = json.dumps(body).replace("{v}", value).encode()
    method = "PUT" if operation.startswith("Put") or operation.startswith("Update") else "POST"

    response = await http(suite.url, method, path, text)

    assert 400 <= response.status < 500
    assert response.headers["X-Amzn-ErrorType"] in ERRORS
    assert len(response.body) <= SHORT + 100
    _still_serving(suite)


@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse"])
def test_json_nested_5000_deep_is_invalid_request_content_over_grpc(
    suite: GatewaySuite, invocation_type: str
) -> None:
    with pytest.raises(ServiceError) as raised:
        suite.client.invoke("echo", DEEP, invocation_type=invocation_type)

    assert raised.value.code == "InvalidRequestContentException"
    assert raised.value.message == (
        "Could not parse request body into json: Could not parse payload into json: the "
        "payload is nested too deeply (at most 1024 levels)"
    )
    _still_serving(suite)


@pytest.mark.parametrize(
    ("path", "parse_error"),
    [
        (
            "/2015-03-31/functions/echo/invocations",
            "Could not parse payload into json: the payload is nested too deeply (at most 1024 "
            "levels)",
        ),
        ("/2015-03-31/functions", "the body is nested too deeply"),
        ("/2019-09-25/functions/echo/event-invoke-config", "the body is nested too deeply"),
    ],
)
async def test_json_nested_5000_deep_is_invalid_request_content_over_http(
    suite: GatewaySuite, path: str, parse_error: str
) -> None:
    method = "PUT" if "event-invoke-config" in path else "POST"
    response = await http(suite.url, method, path, b'{"a":' * 5000 + b"1" + b"}" * 5000)

    assert response.status == 400
    assert response.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    assert response.json() == {
        "Type": "User",
        "message": f"Could not parse request body into json: {parse_error}",
    }
    _still_serving(suite)


def test_a_deep_payload_the_invoker_accepts_still_makes_a_record(suite: GatewaySuite) -> None:
    """1,000 levels parse, and the function answers them back: the answer and the event's
    record render (as text, where Python's own parser could not take them)."""
    deep = b"[" * 1000 + b"]" * 1000
    answer = suite.client.invoke("echo", deep)
    assert answer["StatusCode"] == 200
    _still_serving(suite)


@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse", "DryRun"])
def test_an_arn_of_another_region_is_not_reachable(
    suite: GatewaySuite, invocation_type: str
) -> None:
    """AWS's 404 (observed, LocalStack's snapshots): not a 202 for a function elsewhere."""
    with pytest.raises(ServiceError) as raised:
        suite.client.invoke(OTHER_REGION, b"{}", invocation_type=invocation_type)

    assert raised.value.code == "ResourceNotFoundException"
    assert raised.value.http_status == 404
    assert raised.value.message == NOT_REACHABLE
    _still_serving(suite)


def test_an_arn_of_another_region_is_not_reachable_by_any_operation(suite: GatewaySuite) -> None:
    calls = [
        lambda: suite.client.get_function(OTHER_REGION),
        lambda: suite.client.delete_function(OTHER_REGION),
        lambda: suite.client.put_function_event_invoke_config(
            OTHER_REGION, maximum_retry_attempts=0
        ),
        lambda: suite.client.list_aliases(OTHER_REGION),
        lambda: suite.client.invoke(f"{OTHER_REGION}:$LATEST", b"{}", invocation_type="Event"),
    ]
    for call in calls:
        with pytest.raises(ServiceError) as raised:
            call()
        assert raised.value.code == "ResourceNotFoundException"
        assert raised.value.message == NOT_REACHABLE
    assert suite.client.get_function("echo")["Configuration"]["FunctionName"] == "echo"
    _still_serving(suite)


def test_an_arn_or_partial_arn_of_another_account_names_no_function_here(
    suite: GatewaySuite,
) -> None:
    """One account lives here: another's function is not found (docs/aws-behaviour.md §8.2)."""
    for name in (OTHER_ACCOUNT, "111111111111:function:echo"):
        with pytest.raises(ServiceError) as raised:
            suite.client.invoke(name, b"{}", invocation_type="Event")
        assert raised.value.code == "ResourceNotFoundException"
        assert raised.value.message == f"Function not found: {OTHER_ACCOUNT}:$LATEST"
    with pytest.raises(ServiceError) as raised:
        suite.client.get_function(OTHER_ACCOUNT)
    assert raised.value.message == f"Function not found: {OTHER_ACCOUNT}"
    _still_serving(suite)


async def test_other_region_and_account_over_http(suite: GatewaySuite) -> None:
    for name, message in (
        (OTHER_REGION, NOT_REACHABLE),
        (OTHER_ACCOUNT, f"Function not found: {OTHER_ACCOUNT}:$LATEST"),
    ):
        response = await http(
            suite.url,
            "POST",
            f"/2015-03-31/functions/{name}/invocations",
            b"{}",
            {"X-Amz-Invocation-Type": "Event"},
        )
        assert response.status == 404
        assert response.json() == {"Type": "User", "Message": message}


def test_an_unqualified_missing_function_is_named_with_latest(suite: GatewaySuite) -> None:
    """Spec §1.4, recorded on AWS 2025-11: Invoke's ARN always carries a qualifier."""
    for invocation_type in ("Event", "RequestResponse", "DryRun"):
        with pytest.raises(ServiceError) as raised:
            suite.client.invoke("nope", b"{}", invocation_type=invocation_type)
        assert raised.value.message == f"Function not found: {ACCOUNT_ARN}:nope:$LATEST"
    _still_serving(suite)
