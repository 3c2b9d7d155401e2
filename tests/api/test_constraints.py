"""Requests against the model's constraints, in AWS's words (checked on the wire elsewhere)."""

from __future__ import annotations

import pytest

from eventinvoke.api.constraints import problems, validation_message


def test_every_failure_is_reported_at_once_in_model_order() -> None:
    found = problems(
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "MaximumEventAgeInSeconds": 59, "MaximumRetryAttempts": 3},
    )

    assert validation_message(found) == (
        "2 validation errors detected: "
        "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2; "
        "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 60"
    )


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        (
            "Invoke",
            {"FunctionName": "f", "InvocationType": "Later"},
            "Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy "
            "enum value set: [Event, RequestResponse, DryRun]",
        ),
        (
            "Invoke",
            {"FunctionName": "f", "Qualifier": "no spaces"},
            "Value 'no spaces' at 'qualifier' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: (|[a-zA-Z0-9$_-]+)",
        ),
        (
            "CreateAlias",
            {"FunctionName": "f", "Name": "123", "FunctionVersion": "1"},
            "Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ),
        (
            "PutFunctionConcurrency",
            {"FunctionName": "f", "ReservedConcurrentExecutions": -1},
            "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member "
            "must have value greater than or equal to 0",
        ),
        (
            "PutFunctionConcurrency",
            {"FunctionName": "f"},
            "Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member "
            "must not be null",
        ),
    ],
)
def test_one_failure(operation: str, params: dict, message: str) -> None:
    assert problems(operation, params) == [message]


def test_nested_members_are_named_by_their_path() -> None:
    found = problems(
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "DestinationConfig": {"OnFailure": {"Destination": "x" * 351}}},
    )

    assert found == [
        f"Value '{'x' * 351}' at 'destinationConfig.onFailure.destination' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        + found[0].split("pattern: ", 1)[1].split(";")[0],
        f"Value '{'x' * 351}' at 'destinationConfig.onFailure.destination' failed to satisfy "
        "constraint: Member must have length less than or equal to 350",
    ]


def test_an_allowance_lets_a_value_past_its_pattern() -> None:
    params = {"FunctionName": "f", "DestinationConfig": {"OnSuccess": {"Destination": "x://y"}}}

    assert problems("PutFunctionEventInvokeConfig", params, allow=lambda path, value: True) == []
    assert len(problems("PutFunctionEventInvokeConfig", params)) == 1


def test_a_long_value_is_cut_in_the_message() -> None:
    found = problems("CreateFunction", {"FunctionName": "f!" * 5000, "Code": {}})

    assert found  # the pattern and the length, both
    for problem in found:
        assert problem.startswith("Value '" + "f!" * 512 + "...' at 'functionName'")
        assert len(problem) < 1300


def test_a_value_that_passed_one_shape_is_still_checked_against_another() -> None:
    # Each shape remembers the values that passed it, for the next request: Invoke's function
    # name may be 170 characters long (an ARN), CreateFunction's only 64.
    name = "a" * 100
    for _ in range(2):
        assert problems("Invoke", {"FunctionName": name}) == []
        assert problems(
            "CreateFunction",
            {"FunctionName": name, "Code": {}, "Role": "arn:aws:iam::123456789012:role/r"},
        ) == [
            f"Value '{name}' at 'functionName' failed to satisfy constraint: "
            "Member must have length less than or equal to 64"
        ]
        assert len(problems("Invoke", {"FunctionName": "f", "Qualifier": "no spaces"})) == 1
