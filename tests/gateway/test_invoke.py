"""Invoke and InvokeAsync over HTTP: status codes, headers and bodies exactly (docs/aws-behaviour.md
§1, checks 1–4, 6–10, 13), with raw requests and with boto3."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import read_lines, wait_until
from gateway.harness import ACCOUNT_ARN, GatewaySuite, http

MAX_SYNC = 6291456
MAX_ASYNC = 1048576
INVOKE = "/2015-03-31/functions/{}/invocations"
FUNCTION_RESPONSE_HEADERS = ("X-Amz-Executed-Version", "X-Amz-Function-Error", "X-Amz-Log-Result")


@pytest.fixture(scope="module")
def echo_runs(gateway: GatewaySuite) -> Path:
    """The echo function (returns what it saw); the file that logs each of its runs."""
    runs = gateway.tmp_path / "echo-runs.jsonl"
    runs.touch()
    gateway.deploy("echo", "echo", RUNS_FILE=str(runs))
    gateway.deploy("tester", "tester")  # the seed's function: returns None or raises
    return runs


def _runs_of(runs: Path, request_id: str) -> list[dict]:
    return [run for run in read_lines(runs) if run["request_id"] == request_id]


def _padded(size: int) -> bytes:
    skeleton = b'{"pad":""}'
    return b'{"pad":"' + b"x" * (size - len(skeleton)) + b'"}'


async def test_event_is_202_empty_with_only_a_request_id(
    gateway: GatewaySuite, echo_runs: Path
) -> None:
    """Checks 1 and 6: the request id is the one the function sees."""
    response = await http(
        gateway.url,
        "POST",
        INVOKE.format("echo"),
        b'{"k": 1}',
        {"X-Amz-Invocation-Type": "Event", "X-Amz-Log-Type": "Tail"},
    )

    assert response.status == 202
    assert response.body == b""
    for header in FUNCTION_RESPONSE_HEADERS:
        assert header not in response.headers
    request_id = response.headers["x-amzn-RequestId"]
    [run] = wait_until(lambda: _runs_of(echo_runs, request_id))
    assert run["event"] == {"k": 1}


async def test_dry_run_is_204_empty_and_runs_nothing(
    gateway: GatewaySuite, echo_runs: Path
) -> None:
    """Check 2."""
    response = await http(
        gateway.url, "POST", INVOKE.format("echo"), b"{}", {"X-Amz-Invocation-Type": "DryRun"}
    )

    assert response.status == 204
    assert response.body == b""
    for header in FUNCTION_RESPONSE_HEADERS:
        assert header not in response.headers
    assert _runs_of(echo_runs, response.headers["x-amzn-RequestId"]) == []


async def test_request_response_is_200_with_the_result_and_version(
    gateway: GatewaySuite, echo_runs: Path
) -> None:
    """Check 3: no X-Amz-Invocation-Type means RequestResponse."""
    response = await http(gateway.url, "POST", INVOKE.format("echo"), b'{"k": 2}')

    assert response.status == 200
    assert response.headers["X-Amz-Executed-Version"] == "$LATEST"
    assert "X-Amz-Function-Error" not in response.headers
    assert "X-Amz-Log-Result" not in response.headers
    result = response.json()
    assert result["event"] == {"k": 2}
    assert result["request_id"] == response.headers["x-amzn-RequestId"]


async def test_function_error_is_200_unhandled_with_the_error_object(
    gateway: GatewaySuite, echo_runs: Path
) -> None:
    """Check 4, and check 10 (Tail: base64 of the log's end)."""
    response = await http(
        gateway.url,
        "POST",
        INVOKE.format("tester"),
        b'{"Success": false}',
        {"X-Amz-Invocation-Type": "RequestResponse", "X-Amz-Log-Type": "Tail"},
    )

    assert response.status == 200
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    error = response.json()
    assert error["errorType"] == "Exception"
    assert error["errorMessage"] == "Failure from event, Success = false, I am failing!"
    log = base64.b64decode(response.headers["X-Amz-Log-Result"])
    assert len(log) <= 4096
    assert b"Failure" in log


async def test_a_function_returning_nothing_gives_null(
    gateway: GatewaySuite, echo_runs: Path
) -> None:
    """Check 13."""
    response = await http(gateway.url, "POST", INVOKE.format("tester"), b'{"Success": true}')

    assert response.status == 200
    assert response.body == b"null"


@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse"])
async def test_a_payload_that_is_not_json_is_400(
    gateway: GatewaySuite, echo_runs: Path, invocation_type: str
) -> None:
    """Check 7: the error body spells ``message`` in lower case for this exception."""
    response = await http(
        gateway.url,
        "POST",
        INVOKE.format("echo"),
        b"\x87not json",
        {"X-Amz-Invocation-Type": invocation_type},
    )

    assert response.status == 400
    assert response.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    assert response.headers["x-amzn-RequestId"]
    assert response.json() == {
        "Type": "User",
        "message": "Could not parse request body into json: Could not parse payload into json: "
        "Invalid UTF-8 start byte 0x87",
    }


@pytest.mark.parametrize(
    ("invocation_type", "size", "status"),
    [
        ("RequestResponse", MAX_SYNC + 1, 413),
        ("Event", MAX_ASYNC + 1, 413),
        ("Event", 300 * 1024, 202),
    ],
)
async def test_payload_limits(
    gateway: GatewaySuite, echo_runs: Path, invocation_type: str, size: int, status: int
) -> None:
    """Check 8."""
    response = await http(
        gateway.url,
        "POST",
        INVOKE.format("echo"),
        _padded(size),
        {"X-Amz-Invocation-Type": invocation_type},
    )

    assert response.status == status
    if status == 413:
        limit = MAX_SYNC if invocation_type == "RequestResponse" else MAX_ASYNC
        assert response.headers["X-Amzn-ErrorType"] == "RequestEntityTooLargeException"
        assert response.json() == {
            "Type": "User",
            "message": f"Request must be smaller than {limit} bytes for the InvokeFunction "
            "operation",
        }


@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse", "DryRun"])
@pytest.mark.parametrize(("query", "arn"), [("", "nope:$LATEST"), ("?Qualifier=10", "nope:10")])
async def test_a_missing_function_is_404_for_every_type(
    gateway: GatewaySuite, invocation_type: str, query: str, arn: str
) -> None:
    """Check 9: ``Message`` with a capital M; the ARN carries the qualifier."""
    response = await http(
        gateway.url,
        "POST",
        INVOKE.format("nope") + query,
        b"{}",
        {"X-Amz-Invocation-Type": invocation_type},
    )

    assert response.status == 404
    assert response.headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
    message = f"Function not found: {ACCOUNT_ARN}:{arn}"
    assert response.json() == {"Type": "User", "Message": message}


@pytest.mark.parametrize(
    "name",
    [
        "echo:$LATEST",
        f"{ACCOUNT_ARN}:echo",
        "000000000000:function:echo",
        f"{ACCOUNT_ARN}:echo:$LATEST",
    ],
)
async def test_the_name_in_the_path_may_be_qualified_or_an_arn(
    gateway: GatewaySuite, echo_runs: Path, name: str
) -> None:
    response = await http(gateway.url, "POST", INVOKE.format(quote(name, safe="")), b"{}")

    assert response.status == 200
    assert response.json()["invoked_function_arn"].startswith(f"{ACCOUNT_ARN}:echo")


async def test_qualifier_query_parameter(gateway: GatewaySuite, echo_runs: Path) -> None:
    ok = await http(gateway.url, "POST", INVOKE.format("echo") + "?Qualifier=%24LATEST", b"{}")
    mismatch = await http(
        gateway.url, "POST", INVOKE.format(quote("echo:other")) + "?Qualifier=%24LATEST", b"{}"
    )

    assert ok.status == 200
    assert ok.json()["invoked_function_arn"] == f"{ACCOUNT_ARN}:echo:$LATEST"
    assert mismatch.status == 400
    assert mismatch.json() == {
        "Type": "User",
        "message": "The derived qualifier from the function name does not match the specified "
        "qualifier.",
    }


async def test_an_unknown_invocation_type_is_a_validation_error(gateway: GatewaySuite) -> None:
    response = await http(
        gateway.url, "POST", INVOKE.format("echo"), b"{}", {"X-Amz-Invocation-Type": "Later"}
    )

    assert response.status == 400
    assert response.headers["X-Amzn-ErrorType"] == "ValidationException"
    assert response.json()["message"] == (
        "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    )


def test_boto3_invoke_all_types(gateway: GatewaySuite, echo_runs: Path) -> None:
    lambda_ = gateway.boto3_lambda()

    sync = lambda_.invoke(FunctionName="tester", Payload=b'{"Success": false}', LogType="Tail")
    event = lambda_.invoke(FunctionName="echo", Payload=b'{"k": 3}', InvocationType="Event")
    dry = lambda_.invoke(FunctionName="echo", InvocationType="DryRun")

    assert sync["StatusCode"] == 200
    assert sync["FunctionError"] == "Unhandled"
    assert sync["ExecutedVersion"] == "$LATEST"
    assert b"Failure" in base64.b64decode(sync["LogResult"])
    assert json.loads(sync["Payload"].read())["errorType"] == "Exception"
    assert event["StatusCode"] == 202
    assert event["Payload"].read() == b""
    assert "ExecutedVersion" not in event and "FunctionError" not in event
    request_id = event["ResponseMetadata"]["RequestId"]
    [run] = wait_until(lambda: _runs_of(echo_runs, request_id))
    assert run["event"] == {"k": 3}
    assert dry["StatusCode"] == 204


def test_boto3_raises_the_modelled_exception(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()

    with pytest.raises(lambda_.exceptions.ResourceNotFoundException) as raised:
        lambda_.invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")
    with pytest.raises(lambda_.exceptions.InvalidRequestContentException) as bad_json:
        lambda_.invoke(FunctionName="echo", Payload=b"{not json")

    error = raised.value.response["Error"]
    assert error == {
        "Code": "ResourceNotFoundException",
        "Message": f"Function not found: {ACCOUNT_ARN}:nope:$LATEST",
    }
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert bad_json.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json"
    )


async def test_invoke_async_legacy(gateway: GatewaySuite, echo_runs: Path) -> None:
    """InvokeAsync (2014-11-13): 202 and {"Status": 202}; the event runs like an Event invoke."""
    raw = await http(gateway.url, "POST", "/2014-11-13/functions/echo/invoke-async/", b'{"k": 4}')
    boto = gateway.boto3_lambda().invoke_async(FunctionName="echo", InvokeArgs=b'{"k": 5}')
    missing = await http(gateway.url, "POST", "/2014-11-13/functions/nope/invoke-async/", b"{}")

    assert raw.status == 202
    assert raw.json() == {"Status": 202}
    assert boto["Status"] == 202
    for request_id, event in [
        (raw.headers["x-amzn-RequestId"], {"k": 4}),
        (boto["ResponseMetadata"]["RequestId"], {"k": 5}),
    ]:
        [run] = wait_until(lambda rid=request_id: _runs_of(echo_runs, rid))
        assert run["event"] == event
    assert missing.status == 404
    assert missing.json()["Message"] == f"Function not found: {ACCOUNT_ARN}:nope:$LATEST"


async def test_a_throttle_is_429_with_its_reason(gateway: GatewaySuite) -> None:
    """Check 11 on the wire: ``message`` in lower case plus ``Reason``; Event still gets 202."""
    gateway.deploy("reserved-zero", "echo")
    gateway.client.put_function_concurrency("reserved-zero", 0)

    sync = await http(gateway.url, "POST", INVOKE.format("reserved-zero"), b"{}")
    event = await http(
        gateway.url,
        "POST",
        INVOKE.format("reserved-zero"),
        b"{}",
        {"X-Amz-Invocation-Type": "Event"},
    )

    assert sync.status == 429
    assert sync.headers["X-Amzn-ErrorType"] == "TooManyRequestsException"
    assert sync.json() == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }
    assert event.status == 202  # check 12
    with pytest.raises(gateway.boto3_lambda().exceptions.TooManyRequestsException) as raised:
        gateway.boto3_lambda().invoke(FunctionName="reserved-zero", Payload=b"{}")
    assert raised.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
