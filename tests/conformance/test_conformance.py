"""One set of cases, run through both APIs: the gRPC client and boto3 through the HTTP gateway.

Each case names a boto3 operation, its arguments (boto3's, PascalCase) and the expected outcome:
``Ok`` (a subset of the response, keys that must be absent) or ``Err`` (AWS's exception name, HTTP
status and message). ``{fn}`` in arguments and messages is the case's own function, created
first unless ``function=False``; ``{arn}`` is its ARN. The gRPC transport calls the client method
of the same name with the same arguments in snake_case.

boto3 runs with ``parameter_validation=False`` so out-of-range values reach the server, as they
do from the gRPC client. Comments cite docs/aws-behaviour.md by section; "check N" is a test's own
label.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import FUNCTIONS, zip_dir
from gateway.harness import ACCOUNT_ARN, ROLE, GatewaySuite

from eventinvoke.client import ServiceError

# --- the cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    operation: str  # boto3's method name, which is also the eventinvoke client's
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ok:
    # Each value must equal the response's (nested dicts: a subset), or be a predicate it meets.
    subset: dict[str, Any] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Err:
    code: str
    status: int
    message: str | Callable[[str], bool]  # or a predicate the message meets


@dataclass(frozen=True)
class Case:
    id: str
    call: Call
    expect: Ok | Err
    given: tuple[Call, ...] = ()  # setup calls after the function exists; each must succeed
    function: bool = True
    source: str = "echo"  # the function's code, from tests/functions


def put(**params: Any) -> Call:
    return Call("put_function_event_invoke_config", {"FunctionName": "{fn}", **params})


def update(**params: Any) -> Call:
    return Call("update_function_event_invoke_config", {"FunctionName": "{fn}", **params})


def invoke(payload: bytes = b"{}", **params: Any) -> Call:
    return Call("invoke", {"FunctionName": "{fn}", "Payload": payload, **params})


GET_CONFIG = Call("get_function_event_invoke_config", {"FunctionName": "{fn}"})
DELETE_CONFIG = Call("delete_function_event_invoke_config", {"FunctionName": "{fn}"})
LIST_CONFIGS = Call("list_function_event_invoke_configs", {"FunctionName": "{fn}"})
NOT_FOUND = Err("ResourceNotFoundException", 404, "Function not found: {arn}")
# Invoke's ARN always carries a qualifier, $LATEST when none was given (§1.4, recorded 2025-11).
INVOKE_NOT_FOUND = Err("ResourceNotFoundException", 404, "Function not found: {arn}:$LATEST")
NO_CONFIG = Err(
    "ResourceNotFoundException", 404, "The function {arn}:$LATEST doesn't have an EventInvokeConfig"
)
MAX_SYNC, MAX_ASYNC = 6291456, 1048576
NEW_CODE = b"def handler(event, context):\n    return 'new'\n"


def _padded(size: int) -> bytes:
    return b'{"pad":"' + b"x" * (size - 10) + b'"}'


def _zip(source: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _json_payload(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda payload: check(json.loads(payload))


def _too_large(limit: int) -> Err:
    message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
    return Err("RequestEntityTooLargeException", 413, message)


def _out_of_range(value: int, field: str, bound: str) -> Err:
    return Err(
        "ValidationException",
        400,
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: Member must have value {bound}",
    )


PUBLISH = Call("publish_version", {"FunctionName": "{fn}"})


def alias(name: str = "live", version: str = "1", **params: Any) -> Call:
    return Call(
        "create_alias",
        {"FunctionName": "{fn}", "Name": name, "FunctionVersion": version, **params},
    )


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36


# Versions and aliases (issue #6; docs/aws-behaviour.md §2.2, checks 24, 25, 27).
VERSION_CASES = [
    Case(
        "publish-version",
        Call("publish_version", {"FunctionName": "{fn}", "Description": "v1"}),
        Ok(
            {
                "FunctionName": "{fn}",
                "FunctionArn": "{arn}:1",
                "Version": "1",
                "Description": "v1",
                "RevisionId": _is_uuid,
            }
        ),
    ),
    Case(
        "publish-version-unchanged-returns-the-latest",
        PUBLISH,
        Ok({"Version": "1", "FunctionArn": "{arn}:1"}),
        given=(PUBLISH,),
    ),
    Case(
        "publish-version-after-a-change",
        PUBLISH,
        Ok({"Version": "2", "Timeout": 9}),
        given=(
            PUBLISH,
            Call("update_function_configuration", {"FunctionName": "{fn}", "Timeout": 9}),
        ),
    ),
    Case(
        "publish-version-wrong-code-sha256",
        Call("publish_version", {"FunctionName": "{fn}", "CodeSha256": "bm9wZQ=="}),
        Err(
            "InvalidParameterValueException",
            400,
            lambda message: message.startswith(
                "CodeSHA256 (bm9wZQ==) is different from current CodeSHA256 in $LATEST ("
            ),
        ),
    ),
    Case(
        "publish-version-wrong-revision-id",
        Call("publish_version", {"FunctionName": "{fn}", "RevisionId": "not-it"}),
        Err(
            "PreconditionFailedException",
            412,
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id",
        ),
    ),
    Case("publish-version-missing", PUBLISH, NOT_FOUND, function=False),
    Case(
        "list-versions",
        Call("list_versions_by_function", {"FunctionName": "{fn}"}),
        Ok(
            {
                "Versions": [
                    {"Version": "$LATEST", "FunctionArn": "{arn}:$LATEST"},
                    {"Version": "1", "FunctionArn": "{arn}:1"},
                ]
            },
            absent=("NextMarker",),
        ),
        given=(PUBLISH,),
    ),
    Case(
        "list-versions-paginated",
        Call("list_versions_by_function", {"FunctionName": "{fn}", "MaxItems": 1}),
        Ok({"Versions": [{"Version": "$LATEST"}], "NextMarker": lambda m: bool(m)}),
        given=(PUBLISH,),
    ),
    Case(
        "list-versions-missing",
        Call("list_versions_by_function", {"FunctionName": "{fn}"}),
        NOT_FOUND,
        function=False,
    ),
    Case(
        "get-function-version",
        Call("get_function", {"FunctionName": "{fn}", "Qualifier": "1"}),
        Ok({"Configuration": {"Version": "1", "FunctionArn": "{arn}:1", "Timeout": 3}}),
        given=(
            PUBLISH,
            Call("update_function_configuration", {"FunctionName": "{fn}", "Timeout": 9}),
        ),
    ),
    Case(
        "get-function-unqualified-after-publish",
        Call("get_function_configuration", {"FunctionName": "{fn}"}),
        Ok({"Version": "$LATEST", "FunctionArn": "{arn}"}),
        given=(PUBLISH,),
    ),
    Case(
        "invoke-version",
        invoke(Qualifier="1"),
        Ok(
            {
                "StatusCode": 200,
                "ExecutedVersion": "1",
                "Payload": _json_payload(lambda p: p["invoked_function_arn"].endswith(":1")),
            }
        ),
        given=(PUBLISH,),
    ),
    Case(
        "invoke-alias",
        invoke(Qualifier="live"),
        Ok(
            {
                "ExecutedVersion": "1",
                "Payload": _json_payload(lambda p: p["invoked_function_arn"].endswith(":live")),
            }
        ),
        given=(PUBLISH, alias()),
    ),
    Case(
        "invoke-missing-alias",
        invoke(Qualifier="nope"),
        Err("ResourceNotFoundException", 404, "Function not found: {arn}:nope"),
    ),
    Case(
        "create-alias",
        alias(Description="prod"),
        Ok(
            {
                "AliasArn": "{arn}:live",
                "Name": "live",
                "FunctionVersion": "1",
                "Description": "prod",
                "RevisionId": _is_uuid,
            },
            absent=("RoutingConfig",),
        ),
        given=(PUBLISH,),
    ),
    Case(
        "create-alias-to-latest",
        alias("dev", "$LATEST"),
        Ok({"AliasArn": "{arn}:dev", "FunctionVersion": "$LATEST", "Description": ""}),
    ),
    Case(
        "create-alias-exists",
        alias(version="$LATEST"),
        Err("ResourceConflictException", 409, "Alias already exists: {arn}:live"),
        given=(PUBLISH, alias()),
    ),
    Case(
        "create-alias-missing-version",
        alias(version="7"),
        Err("ResourceNotFoundException", 404, "Function not found: {arn}:7"),
    ),
    Case(
        "create-alias-all-digits",
        alias(name="123", version="$LATEST"),
        Err(
            "ValidationException",
            400,
            "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ),
    ),
    Case(
        "get-alias",
        Call("get_alias", {"FunctionName": "{fn}", "Name": "live"}),
        Ok({"AliasArn": "{arn}:live", "FunctionVersion": "1", "Description": ""}),
        given=(PUBLISH, alias()),
    ),
    Case(
        "get-alias-missing",
        Call("get_alias", {"FunctionName": "{fn}", "Name": "live"}),
        Err("ResourceNotFoundException", 404, "Cannot find alias arn: {arn}:live"),
    ),
    Case(
        "get-alias-missing-function",
        Call("get_alias", {"FunctionName": "{fn}", "Name": "live"}),
        NOT_FOUND,
        function=False,
    ),
    Case(
        "update-alias",
        Call(
            "update_alias",
            {"FunctionName": "{fn}", "Name": "live", "FunctionVersion": "$LATEST"},
        ),
        Ok({"FunctionVersion": "$LATEST", "Description": "kept"}),
        given=(PUBLISH, alias(Description="kept")),
    ),
    Case(
        "update-alias-missing-version",
        Call("update_alias", {"FunctionName": "{fn}", "Name": "live", "FunctionVersion": "7"}),
        Err("ResourceNotFoundException", 404, "Function not found: {arn}:7"),
        given=(PUBLISH, alias()),
    ),
    Case(
        "delete-alias",
        Call("get_alias", {"FunctionName": "{fn}", "Name": "live"}),
        Err("ResourceNotFoundException", 404, "Cannot find alias arn: {arn}:live"),
        given=(PUBLISH, alias(), Call("delete_alias", {"FunctionName": "{fn}", "Name": "live"})),
    ),
    Case(
        "list-aliases",
        Call("list_aliases", {"FunctionName": "{fn}", "FunctionVersion": "1"}),
        Ok({"Aliases": [{"Name": "a", "FunctionVersion": "1"}]}, absent=("NextMarker",)),
        given=(PUBLISH, alias("a"), alias("b", "$LATEST")),
    ),
    Case(
        "list-aliases-paginated",
        Call("list_aliases", {"FunctionName": "{fn}", "MaxItems": 1}),
        Ok({"Aliases": [{"Name": "a"}], "NextMarker": lambda m: bool(m)}),
        given=(alias("a", "$LATEST"), alias("b", "$LATEST")),
    ),
    Case(
        "delete-version",
        Call("get_function", {"FunctionName": "{fn}", "Qualifier": "1"}),
        Err("ResourceNotFoundException", 404, "Function not found: {arn}:1"),
        given=(PUBLISH, Call("delete_function", {"FunctionName": "{fn}", "Qualifier": "1"})),
    ),
    Case(
        "delete-version-latest",
        Call("delete_function", {"FunctionName": "{fn}", "Qualifier": "$LATEST"}),
        Err(
            "InvalidParameterValueException",
            400,
            "$LATEST version cannot be deleted without deleting the function.",
        ),
    ),
    Case(
        "delete-version-missing",
        Call("delete_function", {"FunctionName": "{fn}", "Qualifier": "4"}),
        Err("ResourceNotFoundException", 404, "Function not found: {arn}:4"),
    ),
    Case(
        "delete-version-an-alias-references",
        Call("delete_function", {"FunctionName": "{fn}", "Qualifier": "1"}),
        Err(
            "ResourceConflictException",
            409,
            "Unable to delete version because the following aliases reference it: [live]",
        ),
        given=(PUBLISH, alias()),
    ),
    Case(
        "24-alias-qualifier-mismatch",
        put(FunctionName="{fn}:live", Qualifier="1", MaximumRetryAttempts=0),
        Err(
            "InvalidParameterValueException",
            400,
            "The derived qualifier from the function name does not match the specified qualifier.",
        ),
        given=(PUBLISH, alias()),
    ),
    Case(
        "put-config-on-alias",
        put(FunctionName="{fn}:live", Qualifier="live", MaximumRetryAttempts=1),
        Ok({"FunctionArn": "{arn}:live", "MaximumRetryAttempts": 1}),
        given=(PUBLISH, alias()),
    ),
    *[
        Case(
            f"put-config-on-a-missing-{kind}",
            put(Qualifier=qualifier, MaximumRetryAttempts=1),
            Err("ResourceNotFoundException", 404, "The function doesn't exist."),
        )
        for kind, qualifier in (("alias", "nope"), ("version", "3"))
    ],
    Case(
        "25-configs-per-qualifier-listed-together",
        Call("list_function_event_invoke_configs", {"FunctionName": "{fn}", "MaxItems": 2}),
        Ok(
            {
                "FunctionEventInvokeConfigs": [
                    {"FunctionArn": "{arn}:$LATEST", "MaximumRetryAttempts": 0},
                    {"FunctionArn": "{arn}:1", "MaximumRetryAttempts": 1},
                ],
                "NextMarker": lambda m: bool(m),
            }
        ),
        given=(
            PUBLISH,
            alias(),
            put(MaximumRetryAttempts=0),
            put(Qualifier="1", MaximumRetryAttempts=1),
            put(Qualifier="live", MaximumRetryAttempts=2),
        ),
    ),
    Case(
        "25-alias-config-is-its-own",
        Call("get_function_event_invoke_config", {"FunctionName": "{fn}", "Qualifier": "live"}),
        Ok({"FunctionArn": "{arn}:live", "MaximumRetryAttempts": 2}),
        given=(
            PUBLISH,
            alias(),
            put(MaximumRetryAttempts=0),
            put(Qualifier="live", MaximumRetryAttempts=2),
        ),
    ),
    Case(
        "27-publish-does-not-copy-the-config",
        Call("get_function_event_invoke_config", {"FunctionName": "{fn}", "Qualifier": "1"}),
        Err(
            "ResourceNotFoundException",
            404,
            "The function {arn}:1 doesn't have an EventInvokeConfig",
        ),
        given=(put(MaximumRetryAttempts=0), PUBLISH),
    ),
]

CASES = [
    # --- Invoke (checks 1–4, 7–9, 13) ---
    Case(
        "invoke-sync",
        invoke(b'{"k": 1}'),
        Ok(
            {
                "StatusCode": 200,
                "ExecutedVersion": "$LATEST",
                "Payload": _json_payload(lambda p: p["event"] == {"k": 1}),
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
                "Payload": _json_payload(lambda p: p["errorType"] == "Exception"),
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
    Case("invoke-too-large-sync", invoke(_padded(MAX_SYNC + 1)), _too_large(MAX_SYNC)),
    Case(
        "invoke-too-large-event",
        invoke(_padded(MAX_ASYNC + 1), InvocationType="Event"),
        _too_large(MAX_ASYNC),
    ),
    Case(
        "invoke-300k-event",
        invoke(_padded(300 * 1024), InvocationType="Event"),
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
        Call("update_function_code", {"FunctionName": "{fn}", "ZipFile": _zip(NEW_CODE)}),
        Ok({"FunctionName": "{fn}", "CodeSize": len(_zip(NEW_CODE))}),
    ),
    Case(
        "update-code-then-invoke",
        invoke(),
        Ok({"Payload": b'"new"'}),
        given=(Call("update_function_code", {"FunctionName": "{fn}", "ZipFile": _zip(NEW_CODE)}),),
    ),
    Case(
        "update-code-missing",
        Call("update_function_code", {"FunctionName": "{fn}", "ZipFile": _zip(NEW_CODE)}),
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
        _out_of_range(3, "maximumRetryAttempts", "less than or equal to 2"),
    ),
    Case(
        "20-age-59",
        put(MaximumEventAgeInSeconds=59),
        _out_of_range(59, "maximumEventAgeInSeconds", "greater than or equal to 60"),
    ),
    Case(
        "20-age-21601",
        put(MaximumEventAgeInSeconds=21601),
        _out_of_range(21601, "maximumEventAgeInSeconds", "less than or equal to 21600"),
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
