"""One set of cases run through both APIs: the gRPC client and boto3 through the HTTP gateway.
``cases.py`` says what a case is and holds the versions' and aliases' cases; the others are
below. The gRPC transport calls the client method of the same name with the same arguments in
snake_case.

boto3 runs with ``parameter_validation=False`` so out-of-range values reach the server, as they
do from the gRPC client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conformance.cases import (
    DELETE_CONFIG,
    GET_CONFIG,
    INVOKE_NOT_FOUND,
    LIST_CONFIGS,
    MAX_ASYNC,
    MAX_SYNC,
    NEW_CODE,
    NO_CONFIG,
    NOT_FOUND,
    VERSION_CASES,
    Call,
    Case,
    Err,
    Ok,
    invoke,
    json_payload,
    out_of_range,
    padded,
    put,
    too_large,
    update,
    zipped,
)
from conftest import FUNCTIONS, zip_dir
from gateway.harness import ACCOUNT_ARN, ROLE, GatewaySuite

from eventinvoke.client import ServiceError

CASES = [
    # --- Invoke (checks 1–4, 7–9, 13) ---
    Case(
        "invoke-sync",
        invoke(b'{"k": 1}'),
        Ok(
            {
                "StatusCode": 200,
                "ExecutedVersion": "$LATEST",
                "Payload": json_payload(lambda p: p["event"] == {"k": 1}),
            },
            absent=("FunctionError", "LogResult"),
        ),
    ),
    Case(
        "invoke-event",
        invoke(b'{"k": 1}', InvocationType="Event"),
        Ok({"StatusCode": 202}, absent=("Payload", "ExecutedVersion", "FunctionError")),
    ),
    Case(
        "invoke-dry-run",
        invoke(InvocationType="DryRun"),
        Ok({"StatusCode": 204}, absent=("Payload", "ExecutedVersion")),
    ),
    Case(
        "invoke-function-error",
        invoke(b'{"Success": false}'),
        Ok(
            {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": json_payload(lambda p: p["errorType"] == "Exception"),
            }
        ),
        source="tester",
    ),
    Case("invoke-null", invoke(b'{"Success": true}'), Ok({"Payload": b"null"}), source="tester"),
    *[
        Case(
            f"invoke-not-json-{kind}",
            invoke(b"\x87", InvocationType=kind),
            Err(
                "InvalidRequestContentException",
                400,
                "Could not parse request body into json: Could not parse payload into json: "
                "Invalid UTF-8 start byte 0x87",
            ),
        )
        for kind in ("Event", "RequestResponse")
    ],
    Case("invoke-too-large-sync", invoke(padded(MAX_SYNC + 1)), too_large(MAX_SYNC)),
    Case(
        "invoke-too-large-event",
        invoke(padded(MAX_ASYNC + 1), InvocationType="Event"),
        too_large(MAX_ASYNC),
    ),
    Case(
        "invoke-300k-event",
        invoke(padded(300 * 1024), InvocationType="Event"),
        Ok({"StatusCode": 202}),
    ),
    *[
        Case(
            f"invoke-missing-{kind}", invoke(InvocationType=kind), INVOKE_NOT_FOUND, function=False
        )
        for kind in ("Event", "RequestResponse", "DryRun")
    ],
    Case(
        "invoke-missing-qualified",
        invoke(Qualifier="10"),
        Err("ResourceNotFoundException", 404, "Function not found: {arn}:10"),
        function=False,
    ),
    # --- functions ---
    Case(
        "create-function",
        Call(
            "create_function",
            {
                "FunctionName": "{fn}",
                "Runtime": "python3.11",
                "Role": ROLE,
                "Handler": "index.handler",
                "Code": {"ZipFile": zip_dir(FUNCTIONS / "echo")},
                "Timeout": 5,
                "Environment": {"Variables": {"AA": "1"}},
            },
        ),
        Ok(
            {
                "FunctionName": "{fn}",
                "FunctionArn": "{arn}",
                "Role": ROLE,
                "Timeout": 5,
                "MemorySize": 128,
                "Environment": {"Variables": {"AA": "1"}},
                "Version": "$LATEST",
                "State": "Active",
            },
            absent=("DeadLetterConfig",),
        ),
        function=False,
    ),
    Case(
        "create-duplicate",
        Call(
            "create_function",
            {
                "FunctionName": "{fn}",
                "Runtime": "python3.11",
                "Role": ROLE,
                "Handler": "index.handler",
                "Code": {"ZipFile": zip_dir(FUNCTIONS / "echo")},
            },
        ),
        Err("ResourceConflictException", 409, "Function already exist: {fn}"),
    ),
    Case(
        "get-function",
        Call("get_function", {"FunctionName": "{arn}"}),
        Ok({"Configuration": {"FunctionName": "{fn}", "Handler": "index.handler"}}),
    ),
    Case(
        "get-function-missing",
        Call("get_function_configuration", {"FunctionName": "{fn}"}),
        NOT_FOUND,
        function=False,
    ),
    Case(
        "update-configuration",
        Call(
            "update_function_configuration",
            {"FunctionName": "{fn}", "Timeout": 10, "Description": "d"},
        ),
        Ok({"Timeout": 10, "Description": "d", "MemorySize": 128}),
    ),
    Case(
        "update-configuration-bad-timeout",
        Call("update_function_configuration", {"FunctionName": "{fn}", "Timeout": 901}),
        Err(
            "InvalidParameterValueException",
            400,
            "The timeout value 901 is invalid. It must be between 1 and 900 seconds.",
        ),
    ),
    Case(
        "update-code",
        Call("update_function_code", {"FunctionName": "{fn}", "ZipFile": zipped(NEW_CODE)}),
        Ok({"FunctionName": "{fn}", "CodeSize": len(zipped(NEW_CODE))}),
    ),
    Case(
        "update-code-then-invoke",
        invoke(),
        Ok({"Payload": b'"new"'}),
        given=(
            Call("update_function_code", {"FunctionName": "{fn}", "ZipFile": zipped(NEW_CODE)}),
        ),
    ),
    Case(
        "update-code-missing",
        Call("update_function_code", {"FunctionName": "{fn}", "ZipFile": zipped(NEW_CODE)}),
        NOT_FOUND,
        function=False,
    ),
    Case(
        "delete-function",
        Call("get_function", {"FunctionName": "{fn}"}),
        NOT_FOUND,
        given=(Call("delete_function", {"FunctionName": "{fn}"}),),
    ),
    Case(
        "delete-function-missing",
        Call("delete_function", {"FunctionName": "{fn}"}),
        NOT_FOUND,
        function=False,
    ),
    # --- EventInvokeConfig (checks 15–23, 26, 28) ---
    Case(
        "15-put-retries-only",
        put(MaximumRetryAttempts=0),
        Ok(
            {
                "FunctionArn": "{arn}:$LATEST",
                "MaximumRetryAttempts": 0,
                "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
                "LastModified": lambda value: isinstance(value, float),
            },
            absent=("MaximumEventAgeInSeconds",),
        ),
    ),
    Case(
        "16-put-replaces",
        GET_CONFIG,
        Ok({"MaximumRetryAttempts": 0}, absent=("MaximumEventAgeInSeconds",)),
        given=(
            put(MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60),
            put(MaximumRetryAttempts=0),
        ),
    ),
    Case(
        "17-update-merges",
        GET_CONFIG,
        Ok({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}),
        given=(
            put(MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60),
            update(MaximumRetryAttempts=0),
        ),
    ),
    Case("18-update-without-config", update(MaximumRetryAttempts=0), NO_CONFIG),
    Case(
        "19-put-nothing-even-for-a-missing-function",
        put(),
        Err(
            "InvalidParameterValueException",
            400,
            "You must specify at least one of error handling or destination setting.",
        ),
        function=False,
    ),
    Case(
        "20-retries-3",
        put(MaximumRetryAttempts=3),
        out_of_range(3, "maximumRetryAttempts", "less than or equal to 2"),
    ),
    Case(
        "20-age-59",
        put(MaximumEventAgeInSeconds=59),
        out_of_range(59, "maximumEventAgeInSeconds", "greater than or equal to 60"),
    ),
    Case(
        "20-age-21601",
        put(MaximumEventAgeInSeconds=21601),
        out_of_range(21601, "maximumEventAgeInSeconds", "less than or equal to 21600"),
    ),
    *[
        Case(
            f"20-accepts-{retries}-{age}",
            put(MaximumRetryAttempts=retries, MaximumEventAgeInSeconds=age),
            Ok({"MaximumRetryAttempts": retries, "MaximumEventAgeInSeconds": age}),
        )
        for retries, age in ((0, 60), (2, 21600))
    ],
    Case(
        "21-itself-as-destination",
        put(DestinationConfig={"OnFailure": {"Destination": "{arn}"}}),
        Err(
            "InvalidParameterValueException",
            400,
            "You can't specify the function as a destination for itself.",
        ),
    ),
    Case(
        "22-missing-lambda-destination",
        put(DestinationConfig={"OnSuccess": {"Destination": f"{ACCOUNT_ARN}:doesnotexist"}}),
        Err(
            "InvalidParameterValueException",
            400,
            f"The destination ARN {ACCOUNT_ARN}:doesnotexist is invalid.",
        ),
    ),
    Case(
        "23-iam-destination",
        put(DestinationConfig={"OnSuccess": {"Destination": "arn:aws:iam::000000000000:role/x"}}),
        Err(
            "InvalidParameterValueException",
            400,
            "The provided destination config DestinationConfig(onSuccess=OnSuccess("
            "destination=arn:aws:iam::000000000000:role/x), onFailure=null) is invalid.",
        ),
    ),
    Case(
        "24-qualifier-mismatch",
        put(FunctionName="{fn}:alias", Qualifier="other", MaximumRetryAttempts=0),
        Err(
            "InvalidParameterValueException",
            400,
            "The derived qualifier from the function name does not match the specified qualifier.",
        ),
    ),
    Case("26-delete", DELETE_CONFIG, Ok(), given=(put(MaximumRetryAttempts=1),)),
    Case(
        "26-delete-twice",
        DELETE_CONFIG,
        NO_CONFIG,
        given=(put(MaximumRetryAttempts=1), DELETE_CONFIG),
    ),
    Case(
        "26-list-after-delete",
        LIST_CONFIGS,
        Ok({"FunctionEventInvokeConfigs": []}, absent=("NextMarker",)),
        given=(put(MaximumRetryAttempts=1), DELETE_CONFIG),
    ),
    Case(
        "list-configs",
        LIST_CONFIGS,
        Ok(
            {
                "FunctionEventInvokeConfigs": [
                    {
                        "FunctionArn": "{arn}:$LATEST",
                        "MaximumRetryAttempts": 1,
                        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
                        "LastModified": lambda value: isinstance(value, float),
                    }
                ]
            }
        ),
        given=(put(MaximumRetryAttempts=1),),
    ),
    Case("28-get-without-config", GET_CONFIG, NO_CONFIG),
    Case("28-get-for-a-missing-function", GET_CONFIG, NO_CONFIG, function=False),
    *VERSION_CASES,
]

# --- the two transports ------------------------------------------------------------------------


class Failure(Exception):
    """An error response, whichever API gave it."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code, self.status, self.message = code, status, message


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def grpc_transport(gateway: GatewaySuite) -> Callable[[Call], dict[str, Any]]:
    def call(request: Call) -> dict[str, Any]:
        params = dict(request.params)
        if "Code" in params:  # boto3 nests the package; the client takes it flat
            params["ZipFile"] = params.pop("Code")["ZipFile"]
        method = getattr(gateway.client, request.operation)
        try:
            return method(**{_snake(key): value for key, value in params.items()}) or {}
        except ServiceError as error:
            raise Failure(error.code, error.http_status, error.message) from None

    return call


def http_transport(gateway: GatewaySuite) -> Callable[[Call], dict[str, Any]]:
    lambda_ = gateway.boto3_lambda(parameter_validation=False)

    def call(request: Call) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(lambda_, request.operation)(**request.params)
        except ClientError as error:
            raise Failure(
                error.response["Error"]["Code"],
                error.response["ResponseMetadata"]["HTTPStatusCode"],
                error.response["Error"]["Message"],
            ) from None
        return response

    return call


TRANSPORTS = {"grpc": grpc_transport, "http": http_transport}


def normalized(response: dict[str, Any]) -> dict[str, Any]:
    """What both APIs should agree on: no transport metadata, bytes payloads, float times."""
    result = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    if "Payload" in result:
        payload = result["Payload"]
        result["Payload"] = payload if isinstance(payload, bytes) else payload.read()
        if not result["Payload"] and result.get("StatusCode") != 200:
            del result["Payload"]  # boto3 gives every Invoke a (here empty) stream
    for config in [result, *result.get("FunctionEventInvokeConfigs", [])]:
        if isinstance(config.get("LastModified"), datetime):
            config["LastModified"] = config["LastModified"].timestamp()
    return result


# --- running them ------------------------------------------------------------------------------


def _fill(value: Any, fn: str) -> Any:
    if isinstance(value, str):
        return value.replace("{arn}", f"{ACCOUNT_ARN}:{fn}").replace("{fn}", fn)
    if isinstance(value, dict):
        return {key: _fill(item, fn) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, fn) for item in value]
    return value


def _matches(expected: Any, actual: Any) -> bool:
    if callable(expected):
        return bool(expected(actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(
            key in actual and _matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_matches, expected, actual))
    return bool(expected == actual)


@pytest.fixture(scope="module", params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest, gateway: GatewaySuite) -> Any:
    call = TRANSPORTS[request.param](gateway)
    call.name = request.param  # type: ignore[attr-defined]
    return call


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case, transport: Any, gateway: GatewaySuite) -> None:
    fn = re.sub(r"[^a-zA-Z0-9-]", "-", f"{transport.name}-{case.id}")[:64]
    if case.function:
        gateway.deploy(fn, case.source)
    for given in case.given:
        transport(Call(given.operation, _fill(given.params, fn)))

    try:
        response = normalized(transport(Call(case.call.operation, _fill(case.call.params, fn))))
    except Failure as failure:
        assert isinstance(case.expect, Err), f"unexpected error: {failure}"
        expected_message = case.expect.message
        if callable(expected_message):
            assert expected_message(failure.message), failure.message
            expected_message = failure.message
        assert (failure.code, failure.status, failure.message) == (
            case.expect.code,
            case.expect.status,
            _fill(expected_message, fn),
        )
    else:
        assert isinstance(case.expect, Ok), f"expected {case.expect}, got {response}"
        expected = _fill(case.expect.subset, fn)
        assert _matches(expected, response), f"expected {expected}, got {response}"
        for key in case.expect.absent:
            assert key not in response, f"{key} should be absent: {response}"
