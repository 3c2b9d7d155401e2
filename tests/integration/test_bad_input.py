"""Bad input gets AWS's error and message, the server keeps serving, and nothing changes.

docs/aws-behaviour.md §1.1, §1.3, §1.4, §2.3; checks 7, 8, 9, 19, 20, 24.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FUNCTIONS, Running, read_lines, wait_for, zip_dir

from eventinvoke.client import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from eventinvoke.core.arn import FUNCTION_NAME_PATTERN
from eventinvoke.v1 import invoker_service_pb2 as pb

PARSE_ERROR = "Could not parse request body into json: Could not parse payload into json: "


async def _echo(suite: Running) -> Path:
    runs = suite.tmp_path / "echo-runs.jsonl"
    runs.touch()
    await suite.deploy("echo", "echo", RUNS_FILE=str(runs))
    return runs


async def _still_serving(suite: Running, runs: Path, before: int = 0) -> None:
    """A normal sync and a normal Event invoke work, and nothing else ran in between."""
    response = await suite.client.invoke("echo", b'{"after": "sync"}')
    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"])["event"] == {"after": "sync"}
    event = await suite.client.invoke("echo", b'{"after": "event"}', invocation_type="Event")
    assert event["StatusCode"] == 202
    await wait_for(lambda: len(read_lines(runs)) >= before + 2)
    assert [run["event"] for run in read_lines(runs)[before:]] == [
        {"after": "sync"},
        {"after": "event"},
    ]


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
@pytest.mark.parametrize(
    "payload",
    [b"{not json", b'{"a": 1', b"hello", b'{"a": 1} trailing', b"NaN", b'{"a": Infinity}'],
)
async def test_malformed_json_is_400_and_nothing_runs(
    suite: Running, invocation_type: str, payload: bytes
) -> None:
    """Check 7, for Event and RequestResponse. AWS's parser (Jackson) also rejects the
    non-standard tokens NaN / Infinity that Python's json accepts. The detail after the fixed
    prefix is the parser's own wording, so only the prefix is AWS's."""
    runs = await _echo(suite)

    with pytest.raises(InvalidRequestContentException) as raised:
        await suite.client.invoke("echo", payload, invocation_type=invocation_type)

    assert raised.value.code == "InvalidRequestContentException"
    assert raised.value.http_status == 400
    assert raised.value.message.startswith(PARSE_ERROR)
    assert raised.value.message != PARSE_ERROR
    await _still_serving(suite, runs)


async def test_invalid_utf8_names_the_bad_byte(suite: Running) -> None:
    """§1.1 [OBS]: "... Invalid UTF-8 start byte 0x87" (AWS appends Jackson's source location)."""
    runs = await _echo(suite)

    with pytest.raises(InvalidRequestContentException) as raised:
        await suite.client.invoke("echo", b'{"a": "\x87"}')

    assert raised.value.http_status == 400
    assert raised.value.message.startswith(PARSE_ERROR + "Invalid UTF-8 start byte 0x87")
    await _still_serving(suite, runs)


@pytest.mark.parametrize(
    ("invocation_type", "limit"), [("RequestResponse", 6291456), ("Event", 1048576)]
)
async def test_oversized_payload_is_413_and_nothing_runs(
    suite: Running, invocation_type: str, limit: int
) -> None:
    """Check 8: the size is checked before anything else, even before JSON parsing."""
    runs = await _echo(suite)

    for payload in (b'"' + b"x" * limit + b'"', b"x" * (limit + 1)):
        with pytest.raises(RequestEntityTooLargeException) as raised:
            await suite.client.invoke("echo", payload, invocation_type=invocation_type)
        assert raised.value.code == "RequestEntityTooLargeException"
        assert raised.value.http_status == 413
        assert raised.value.message == (
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
        )
    await _still_serving(suite, runs)


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event", "DryRun"])
async def test_unknown_function_is_404_and_server_keeps_serving(
    suite: Running, invocation_type: str
) -> None:
    """Check 9, including DryRun of an unknown function."""
    runs = await _echo(suite)

    for name, arn in (
        ("ghost", f"{suite.arn('ghost')}:$LATEST"),
        (suite.arn("ghost"), f"{suite.arn('ghost')}:$LATEST"),
        ("ghost:$LATEST", f"{suite.arn('ghost')}:$LATEST"),
    ):
        with pytest.raises(ResourceNotFoundException) as raised:
            await suite.client.invoke(name, b"{}", invocation_type=invocation_type)
        assert raised.value.http_status == 404
        assert raised.value.message == f"Function not found: {arn}"
    await _still_serving(suite, runs)


@pytest.mark.parametrize(
    "function_name",
    [
        "bad name",
        "bad/name",
        "fn:bad qualifier",
        "arn:aws:s3:::my-bucket",
        "arn:aws:lambda:us-east-1:000000000000:function:",
        "arn:aws:lambda:us-east-1:000000000000:function:echo:1:2",
    ],
)
async def test_bad_function_name_or_arn_is_a_validation_error(
    suite: Running, function_name: str
) -> None:
    """§1.1 / §1.4: a name outside NamespacedFunctionName's pattern."""
    runs = await _echo(suite)

    with pytest.raises(ValidationException) as raised:
        await suite.client.invoke(function_name, b"{}")

    assert raised.value.http_status == 400
    assert raised.value.message == (
        f"1 validation error detected: Value '{function_name}' at 'functionName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        f"{FUNCTION_NAME_PATTERN}"
    )
    await _still_serving(suite, runs)


async def test_function_name_over_256_characters_is_a_length_error(suite: Running) -> None:
    """NamespacedFunctionName is at most 256 long: the length constraint is what fails."""
    runs = await _echo(suite)
    name = "arn:aws:lambda:us-east-1:000000000000:function:" + "a" * 210

    with pytest.raises(ValidationException) as raised:
        await suite.client.invoke(name, b"{}")

    assert raised.value.message == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 256"
    )
    await _still_serving(suite, runs)


async def test_event_invoke_config_function_name_is_at_most_140(suite: Running) -> None:
    """§2: the EventInvokeConfig operations' FunctionName has max length 140."""
    await _echo(suite)
    name = "arn:aws:lambda:us-east-1:000000000000:function:" + "a" * 94
    assert len(name) == 141

    with pytest.raises(ValidationException) as raised:
        await suite.client.put_function_event_invoke_config(name, maximum_retry_attempts=0)
    assert raised.value.message == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 140"
    )
    with pytest.raises(ValidationException):
        await suite.client.get_function_event_invoke_config(name)

    # 140 is fine: that name just does not exist.
    with pytest.raises(ResourceNotFoundException):
        await suite.client.put_function_event_invoke_config(name[:-1], maximum_retry_attempts=0)


async def test_bad_qualifier_is_a_validation_error(suite: Running) -> None:
    runs = await _echo(suite)

    with pytest.raises(ValidationException) as raised:
        await suite.client.invoke("echo", b"{}", qualifier="no spaces")

    assert raised.value.http_status == 400
    assert raised.value.message == (
        "1 validation error detected: Value 'no spaces' at 'qualifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
    )
    await _still_serving(suite, runs)


async def test_invoke_qualifier_mismatch_is_rejected(suite: Running) -> None:
    """§2.2's rule holds for Invoke as well: a derived qualifier must match Qualifier."""
    runs = await _echo(suite)

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.invoke("echo:1", b"{}", qualifier="$LATEST")

    assert raised.value.http_status == 400
    assert raised.value.message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )
    await _still_serving(suite, runs)


async def test_unknown_invocation_type_is_a_validation_error(suite: Running) -> None:
    """An InvocationType outside the model's enum is a 400, not an internal error. The client
    only sends known types, so this goes over the wire as a raw InvokeRequest."""
    runs = await _echo(suite)
    request = pb.InvokeRequest(function_name="echo", payload=b"{}", invocation_type=42)

    with pytest.raises(ValidationException) as raised:
        await suite.client._call("Invoke", suite.client._invoker.Invoke, request)

    assert raised.value.http_status == 400
    assert raised.value.message == (
        "1 validation error detected: Value '42' at 'invocationType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    )
    await _still_serving(suite, runs)


async def test_duplicate_create_is_409_and_keeps_the_first_function(suite: Running) -> None:
    runs = await _echo(suite)

    with pytest.raises(ResourceConflictException) as raised:
        await suite.deploy("echo", "tester")

    assert raised.value.code == "ResourceConflictException"
    assert raised.value.http_status == 409
    assert raised.value.message == "Function already exist: echo"
    await _still_serving(suite, runs)  # still the echo function, not the tester


@pytest.mark.parametrize(
    ("handler", "error_type", "error_message"),
    [
        ("index.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'index'"),
        (
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
    ],
)
async def test_handler_that_does_not_exist_is_a_function_error(
    suite: Running, handler: str, error_type: str, error_message: str
) -> None:
    """A sync invoke is 200 + FunctionError Unhandled + the runtime's init error (§1.2, §1.5)."""
    runs = await _echo(suite)
    await suite.client.create_function(
        function_name="broken",
        runtime="python3.11",
        handler=handler,
        zip_file=zip_dir(FUNCTIONS / "echo"),
    )

    response = await suite.client.invoke("broken", b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    error = json.loads(response["Payload"])
    assert error["errorType"] == error_type
    assert error["errorMessage"] == error_message
    # The next invocation of the broken function fails the same way; others are unaffected.
    again = await suite.client.invoke("broken", b"{}")
    assert again["FunctionError"] == "Unhandled"
    assert json.loads(again["Payload"])["errorType"] == error_type
    await _still_serving(suite, runs)


async def test_rejected_put_leaves_the_previous_config(suite: Running) -> None:
    """Every kind of rejected Put or Update changes nothing (checks 19–24)."""
    runs = await _echo(suite)
    await suite.collector("sink")
    before = await suite.client.put_function_event_invoke_config(
        "echo",
        maximum_retry_attempts=1,
        maximum_event_age_in_seconds=120,
        destination_config={"OnSuccess": {"Destination": suite.arn("sink")}},
    )
    bad_requests = [
        ({}, InvalidParameterValueException),
        ({"maximum_retry_attempts": 3}, ValidationException),
        ({"maximum_event_age_in_seconds": 59}, ValidationException),
        ({"maximum_event_age_in_seconds": 21601}, ValidationException),
        (
            {"destination_config": {"OnFailure": {"Destination": suite.arn("echo")}}},
            InvalidParameterValueException,
        ),
        (
            {"destination_config": {"OnFailure": {"Destination": suite.arn("ghost")}}},
            InvalidParameterValueException,
        ),
        (
            {
                "destination_config": {
                    "OnSuccess": {"Destination": "arn:aws:iam::000000000000:role/r"}
                }
            },
            InvalidParameterValueException,
        ),
        ({"destination_config": {"OnSuccess": {"Destination": "not an arn"}}}, ValidationException),
        (
            {"destination_config": {"OnSuccess": {"Destination": "arn:aws:sqs:::" + "q" * 340}}},
            ValidationException,
        ),
        (
            {"qualifier": "$LATEST", "function_name": "echo:1", "maximum_retry_attempts": 0},
            InvalidParameterValueException,
        ),
    ]

    for operation in ("put", "update"):
        call = getattr(suite.client, f"{operation}_function_event_invoke_config")
        for kwargs, error in bad_requests:
            kwargs = {"function_name": "echo", **kwargs}
            with pytest.raises(error) as raised:
                await call(**kwargs)
            assert raised.value.http_status == 400, kwargs
            assert await suite.client.get_function_event_invoke_config("echo") == before, kwargs

    assert await suite.client.list_function_event_invoke_configs("echo") == {
        "FunctionEventInvokeConfigs": [before]
    }
    await _still_serving(suite, runs)


async def test_bad_destination_arns_are_validation_errors(suite: Running) -> None:
    """§2: DestinationArn has a pattern and at most 350 characters."""
    await _echo(suite)
    long_arn = "arn:aws:sqs:us-east-1:000000000000:" + "q" * 316
    assert len(long_arn) == 351

    with pytest.raises(ValidationException) as raised:
        await suite.client.put_function_event_invoke_config(
            "echo", destination_config={"OnSuccess": {"Destination": "not an arn"}}
        )
    assert raised.value.message.startswith(
        "1 validation error detected: Value 'not an arn' at "
        "'destinationConfig.onSuccess.destination' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
    )
    with pytest.raises(ValidationException) as raised:
        await suite.client.put_function_event_invoke_config(
            "echo", destination_config={"OnFailure": {"Destination": long_arn}}
        )
    assert raised.value.message == (
        f"1 validation error detected: Value '{long_arn}' at "
        "'destinationConfig.onFailure.destination' "
        "failed to satisfy constraint: Member must have length less than or equal to 350"
    )


async def test_an_environment_variable_name_of_one_letter_is_refused_as_aws_refuses_it(
    suite: Running,
) -> None:
    """AWS's map-key message names no key: keys start with a letter and are at least two long."""
    with pytest.raises(ValidationException) as raised:
        await suite.client.create_function(
            "one-letter", "python3.11", "index.handler", zip_dir(FUNCTIONS / "echo"),
            environment={"Variables": {"A": "1"}},
        )  # fmt: skip

    assert raised.value.message == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must satisfy regular expression "
        "pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
    )
