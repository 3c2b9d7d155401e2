"""The five EventInvokeConfig operations on the wire (docs/aws-behaviour.md §2): paths under
/2019-09-25/, status codes, JSON bodies and error bodies exactly; then the lifecycle with boto3.
Every error case of checks 15–23, 26, 28 also runs in tests/conformance through both APIs."""

from __future__ import annotations

import json

import pytest
from gateway.harness import ACCOUNT_ARN, GatewaySuite, http

CONFIG = "/2019-09-25/functions/{}/event-invoke-config"


@pytest.fixture(scope="module", autouse=True)
def _functions(gateway: GatewaySuite) -> None:
    for name in ("eic-raw", "eic-boto", "eic-target"):
        gateway.deploy(name, "echo")


async def test_put_get_update_list_delete_on_the_wire(gateway: GatewaySuite) -> None:
    path = CONFIG.format("eic-raw")

    put = await http(gateway.url, "PUT", path, b'{"MaximumRetryAttempts": 0}')
    updated = await http(
        gateway.url,
        "POST",
        path + "?Qualifier=%24LATEST",
        json.dumps(
            {
                "MaximumEventAgeInSeconds": 3600,
                "DestinationConfig": {"OnFailure": {"Destination": f"{ACCOUNT_ARN}:eic-target"}},
            }
        ).encode(),
    )
    got = await http(gateway.url, "GET", path)
    listed = await http(gateway.url, "GET", path + "/list?MaxItems=1")
    deleted = await http(gateway.url, "DELETE", path)
    again = await http(gateway.url, "DELETE", path)
    empty = await http(gateway.url, "GET", path + "/list")

    # Check 15: qualified ARN, both outcomes, LastModified a JSON number, unset keys left out.
    assert put.status == 200
    assert put.headers["Content-Type"].startswith("application/json")
    assert put.headers["x-amzn-RequestId"]
    body = put.json()
    assert list(body) == [
        "LastModified",
        "FunctionArn",
        "MaximumRetryAttempts",
        "DestinationConfig",
    ]
    assert isinstance(body["LastModified"], float)
    assert body["FunctionArn"] == f"{ACCOUNT_ARN}:eic-raw:$LATEST"
    assert body["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    # Update merges (check 17).
    assert updated.status == 200
    assert updated.json()["MaximumRetryAttempts"] == 0
    assert updated.json()["MaximumEventAgeInSeconds"] == 3600
    assert updated.json()["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": f"{ACCOUNT_ARN}:eic-target"},
    }
    assert got.json() == updated.json()
    assert listed.json() == {"FunctionEventInvokeConfigs": [updated.json()]}
    # Check 26: 204 and an empty body, then 404, then an empty list.
    assert deleted.status == 204
    assert deleted.body == b""
    assert again.status == 404
    assert again.headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
    assert again.json() == {
        "Type": "User",
        "Message": f"The function {ACCOUNT_ARN}:eic-raw:$LATEST doesn't have an EventInvokeConfig",
    }
    assert empty.json() == {"FunctionEventInvokeConfigs": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error", "message_key"),
    [
        # Check 19: no settings, even for a missing function.
        ("PUT", CONFIG.format("nope"), b"", 400, "InvalidParameterValueException", "message"),
        ("PUT", CONFIG.format("nope"), b"{}", 400, "InvalidParameterValueException", "message"),
        # Check 20: the model's ranges, as AWS's request validation reports them.
        (
            "PUT",
            CONFIG.format("eic-raw"),
            b'{"MaximumRetryAttempts": 3}',
            400,
            "ValidationException",
            "message",
        ),
        # Check 18 and 28.
        (
            "POST",
            CONFIG.format("eic-raw"),
            b'{"MaximumRetryAttempts": 1}',
            404,
            "ResourceNotFoundException",
            "Message",
        ),
        ("GET", CONFIG.format("eic-raw"), b"", 404, "ResourceNotFoundException", "Message"),
        # A missing function on Put (docs/aws-behaviour.md §2.2).
        (
            "PUT",
            CONFIG.format("nope"),
            b'{"MaximumRetryAttempts": 1}',
            404,
            "ResourceNotFoundException",
            "Message",
        ),
        # A body that is not a JSON object.
        ("PUT", CONFIG.format("eic-raw"), b"[1]", 400, "InvalidRequestContentException", "message"),
        (
            "PUT",
            CONFIG.format("eic-raw"),
            b'{"MaximumRetryAttempts": "two"}',
            400,
            "InvalidRequestContentException",
            "message",
        ),
        (
            "PUT",
            CONFIG.format("eic-raw"),
            b'{"DestinationConfig": {"OnSuccess": {"Destination": 5}}}',
            400,
            "InvalidRequestContentException",
            "message",
        ),
    ],
)
async def test_error_bodies(
    gateway: GatewaySuite,
    method: str,
    path: str,
    body: bytes,
    status: int,
    error: str,
    message_key: str,
) -> None:
    response = await http(gateway.url, method, path, body)

    assert response.status == status
    assert response.headers["X-Amzn-ErrorType"] == error
    assert response.headers["x-amzn-RequestId"]
    assert set(response.json()) == {"Type", message_key}
    assert response.json()["Type"] == "User"


def test_lifecycle_with_boto3(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()

    lambda_.put_function_event_invoke_config(
        FunctionName="eic-boto", MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60
    )
    lambda_.put_function_event_invoke_config(FunctionName="eic-boto", MaximumRetryAttempts=1)
    replaced = lambda_.get_function_event_invoke_config(FunctionName="eic-boto")
    lambda_.update_function_event_invoke_config(
        FunctionName=f"{ACCOUNT_ARN}:eic-boto",
        DestinationConfig={"OnSuccess": {"Destination": f"{ACCOUNT_ARN}:eic-target"}},
    )
    merged = lambda_.get_function_event_invoke_config(FunctionName="eic-boto", Qualifier="$LATEST")
    listed = lambda_.list_function_event_invoke_configs(FunctionName="eic-boto")
    deleted = lambda_.delete_function_event_invoke_config(FunctionName="eic-boto")

    assert replaced["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in replaced  # check 16
    assert merged["MaximumRetryAttempts"] == 1
    assert merged["DestinationConfig"] == {
        "OnSuccess": {"Destination": f"{ACCOUNT_ARN}:eic-target"},
        "OnFailure": {},
    }
    assert merged["LastModified"] >= replaced["LastModified"]  # botocore parsed the number
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        f"{ACCOUNT_ARN}:eic-boto:$LATEST"
    ]
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException) as raised:
        lambda_.get_function_event_invoke_config(FunctionName="eic-boto")
    assert ":eic-boto:$LATEST" in raised.value.response["Error"]["Message"]  # check 28
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException) as nothing:
        lambda_.put_function_event_invoke_config(FunctionName="never-created")  # check 19
    assert nothing.value.response["Error"]["Message"] == (
        "You must specify at least one of error handling or destination setting."
    )
