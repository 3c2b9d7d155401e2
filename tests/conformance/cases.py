"""The conformance cases: each names a boto3 operation, its arguments (boto3's, PascalCase) and
the expected outcome: ``Ok`` (a subset of the response, keys that must be absent) or ``Err``
(AWS's exception name, HTTP status and message). ``{fn}`` in arguments and messages is the case's
own function, created first unless ``function=False``; ``{arn}`` is its ARN. Comments cite
docs/aws-behaviour.md by section; "check N" is a test's own label.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


def padded(size: int) -> bytes:
    return b'{"pad":"' + b"x" * (size - 10) + b'"}'


def zipped(source: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def json_payload(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda payload: check(json.loads(payload))


def too_large(limit: int) -> Err:
    message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
    return Err("RequestEntityTooLargeException", 413, message)


def out_of_range(value: int, field: str, bound: str) -> Err:
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


def is_uuid(value: Any) -> bool:
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
                "RevisionId": is_uuid,
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
                "Payload": json_payload(lambda p: p["invoked_function_arn"].endswith(":1")),
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
                "Payload": json_payload(lambda p: p["invoked_function_arn"].endswith(":live")),
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
                "RevisionId": is_uuid,
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
