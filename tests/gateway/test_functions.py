"""Function management over HTTP with boto3: create, get, list (paginated), update configuration
and code, delete — and their errors, with AWS's bodies."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from conftest import FUNCTIONS, zip_dir
from gateway.harness import ACCOUNT_ARN, ROLE, GatewaySuite, http


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _create(lambda_: object, name: str, **extra: object) -> dict:
    return lambda_.create_function(  # type: ignore[attr-defined, no-any-return]
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_dir(FUNCTIONS / "echo")},
        **extra,
    )


def test_create_get_update_delete(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()

    created = _create(
        lambda_,
        "managed",
        Description="made over HTTP",
        Timeout=7,
        MemorySize=256,
        Environment={"Variables": {"BB": "2", "AA": "1"}},
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
        Publish=True,  # publishes version 1: the response is version 1's configuration
    )

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == "managed"
    assert created["FunctionArn"] == f"{ACCOUNT_ARN}:managed"
    assert created["Role"] == ROLE
    assert (created["Runtime"], created["Handler"]) == ("python3.11", "index.handler")
    assert (created["Timeout"], created["MemorySize"]) == (7, 256)
    assert created["Environment"] == {"Variables": {"AA": "1", "BB": "2"}}
    assert created["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert created["Version"] == "1"
    assert created["State"] == "Active"

    got = lambda_.get_function(FunctionName="managed")
    configuration = lambda_.get_function_configuration(FunctionName=f"{ACCOUNT_ARN}:managed")
    for response in (got, configuration):
        response.pop("ResponseMetadata")
    assert got == {"Configuration": configuration}
    assert configuration["CodeSha256"] == created["CodeSha256"]

    updated = lambda_.update_function_configuration(
        FunctionName="managed", Timeout=9, DeadLetterConfig={"TargetArn": ""}
    )
    assert updated["Timeout"] == 9
    assert updated["MemorySize"] == 256  # unchanged
    assert "DeadLetterConfig" not in updated
    assert updated["RevisionId"] != created["RevisionId"]

    deleted = lambda_.delete_function(FunctionName="managed")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException) as raised:
        lambda_.get_function(FunctionName="managed")
    assert str(raised.value).endswith(f"Function not found: {ACCOUNT_ARN}:managed")


def test_update_function_code_runs_the_new_code(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()
    created = _create(lambda_, "recoded")
    first = json.loads(lambda_.invoke(FunctionName="recoded", Payload=b"{}")["Payload"].read())
    assert "event" in first  # the echo function

    updated = lambda_.update_function_code(
        FunctionName="recoded",
        ZipFile=_zip("def handler(event, context):\n    return {'version': 2}\n"),
        Publish=False,
    )
    second = json.loads(lambda_.invoke(FunctionName="recoded", Payload=b"{}")["Payload"].read())

    assert updated["CodeSha256"] != created["CodeSha256"]
    assert updated["CodeSize"] != created["CodeSize"]
    assert second == {"version": 2}
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException) as bad_zip:
        lambda_.update_function_code(FunctionName="recoded", ZipFile=b"not a zip")
    assert str(bad_zip.value).endswith(
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.update_function_code(FunctionName="nope", ZipFile=_zip("x = 1\n"))


def test_list_functions_paginates(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()
    for i in range(5):
        _create(lambda_, f"listed-{i}")

    first = lambda_.list_functions(MaxItems=2)
    pages = list(lambda_.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))

    assert len(first["Functions"]) == 2
    assert first["NextMarker"]
    assert all(len(page["Functions"]) <= 2 for page in pages)
    assert "NextMarker" not in pages[-1]
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert len(names) == len(set(names))
    assert {f"listed-{i}" for i in range(5)} <= set(names)


def test_create_errors_have_aws_bodies(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()
    _create(lambda_, "twice")

    with pytest.raises(lambda_.exceptions.ResourceConflictException) as conflict:
        _create(lambda_, "twice")
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException) as timeout:
        _create(lambda_, "too-slow", Timeout=901)

    assert conflict.value.response["Error"]["Message"] == "Function already exist: twice"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert timeout.value.response["Error"]["Message"] == (
        "The timeout value 901 is invalid. It must be between 1 and 900 seconds."
    )


async def test_create_function_raw(gateway: GatewaySuite) -> None:
    """The exact bodies: 201 + the configuration; errors with ``message`` for these exceptions."""
    body = {
        "FunctionName": "raw-made",
        "Runtime": "python3.11",
        "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": base64.b64encode(zip_dir(FUNCTIONS / "echo")).decode()},
    }
    created = await http(gateway.url, "POST", "/2015-03-31/functions", json.dumps(body).encode())
    conflict = await http(gateway.url, "POST", "/2015-03-31/functions", json.dumps(body).encode())
    not_json = await http(gateway.url, "POST", "/2015-03-31/functions", b"{oops")
    s3 = await http(
        gateway.url,
        "POST",
        "/2015-03-31/functions",
        json.dumps({**body, "FunctionName": "s3", "Code": {"S3Bucket": "b"}}).encode(),
    )
    wrong_type = await http(
        gateway.url,
        "POST",
        "/2015-03-31/functions",
        json.dumps({**body, "FunctionName": "typed", "Timeout": "soon"}).encode(),
    )

    assert created.status == 201
    assert created.json()["FunctionArn"] == f"{ACCOUNT_ARN}:raw-made"
    assert created.headers["x-amzn-RequestId"]
    assert conflict.status == 409
    assert conflict.headers["X-Amzn-ErrorType"] == "ResourceConflictException"
    assert conflict.json() == {"Type": "User", "message": "Function already exist: raw-made"}
    assert not_json.status == 400
    assert not_json.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    assert not_json.json()["message"].startswith("Could not parse request body into json")
    assert s3.status == 400
    assert s3.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
    assert wrong_type.status == 400
    assert wrong_type.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"


def test_reserved_concurrency_over_http(gateway: GatewaySuite) -> None:
    """PutFunctionConcurrency / GetFunctionConcurrency / DeleteFunctionConcurrency, as boto3
    calls them, and reserved concurrency 0 refusing a sync invoke (check 11)."""
    lambda_ = gateway.boto3_lambda()
    _create(lambda_, "reserved")

    assert (
        lambda_.get_function_concurrency(FunctionName="reserved").get(
            "ReservedConcurrentExecutions"
        )
        is None
    )
    put = lambda_.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=0)
    assert put["ReservedConcurrentExecutions"] == 0
    got = lambda_.get_function_concurrency(FunctionName="reserved")
    assert got["ReservedConcurrentExecutions"] == 0
    assert lambda_.get_function(FunctionName="reserved")["Concurrency"] == {
        "ReservedConcurrentExecutions": 0
    }
    with pytest.raises(lambda_.exceptions.TooManyRequestsException) as raised:
        lambda_.invoke(FunctionName="reserved", Payload=b"{}")
    assert raised.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    lambda_.delete_function_concurrency(FunctionName="reserved")
    assert lambda_.invoke(FunctionName="reserved", Payload=b"{}")["StatusCode"] == 200

    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)
