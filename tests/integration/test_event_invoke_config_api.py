"""The EventInvokeConfig API against the real suite (docs/aws-behaviour.md §2, checks 15–24, 26,
28)."""

from __future__ import annotations

import pytest
from conftest import Running

from eventinvoke.client import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)

EMPTY_DESTINATIONS = {"OnSuccess": {}, "OnFailure": {}}


async def _function(suite: Running, name: str = "fn") -> str:
    await suite.deploy(name, "tester")
    return name


async def test_put_with_only_retries_returns_the_aws_shape(suite: Running) -> None:
    """Check 15: qualified ARN, both outcomes as {}, numeric LastModified, no default age."""
    await _function(suite)

    config = await suite.client.put_function_event_invoke_config("fn", maximum_retry_attempts=0)

    assert config["FunctionArn"] == f"{suite.arn('fn')}:$LATEST"
    assert config["MaximumRetryAttempts"] == 0
    assert "MaximumEventAgeInSeconds" not in config
    assert config["DestinationConfig"] == EMPTY_DESTINATIONS
    assert isinstance(config["LastModified"], float) and config["LastModified"] > 0
    assert await suite.client.get_function_event_invoke_config("fn") == config


async def test_put_replaces_the_whole_config(suite: Running) -> None:
    """Check 16 / §2.4: Put {2, 60, destination} then Put {0}: Get shows only {0}."""
    await _function(suite)
    await suite.collector("sink")
    await suite.client.put_function_event_invoke_config(
        "fn",
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=60,
        destination_config={"OnFailure": {"Destination": suite.arn("sink")}},
    )

    await suite.client.put_function_event_invoke_config("fn", maximum_retry_attempts=0)

    config = await suite.client.get_function_event_invoke_config("fn")
    assert config["MaximumRetryAttempts"] == 0
    assert "MaximumEventAgeInSeconds" not in config
    assert config["DestinationConfig"] == EMPTY_DESTINATIONS


async def test_update_merges_top_level_fields(suite: Running) -> None:
    """Check 17: Put {2, 60} then Update {0}: Get shows {0, 60}; LastModified is refreshed."""
    await _function(suite)
    await suite.collector("sink")
    put = await suite.client.put_function_event_invoke_config(
        "fn",
        maximum_retry_attempts=2,
        maximum_event_age_in_seconds=60,
        destination_config={"OnSuccess": {"Destination": suite.arn("sink")}},
    )

    updated = await suite.client.update_function_event_invoke_config("fn", maximum_retry_attempts=0)

    config = await suite.client.get_function_event_invoke_config("fn")
    assert config == updated
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 60
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": suite.arn("sink")},
        "OnFailure": {},
    }
    assert config["FunctionArn"] == f"{suite.arn('fn')}:$LATEST"
    assert config["LastModified"] > put["LastModified"]


async def test_update_with_destination_config_replaces_it_whole(suite: Running) -> None:
    """§2.4 [UNVERIFIED]: a supplied DestinationConfig replaces the old one whole, as LocalStack
    does; that is what our code does, and it is the sensible reading of "top-level merge"."""
    await _function(suite)
    await suite.collector("ok")
    await suite.collector("ko")
    await suite.client.put_function_event_invoke_config(
        "fn",
        maximum_event_age_in_seconds=120,
        destination_config={"OnSuccess": {"Destination": suite.arn("ok")}},
    )

    await suite.client.update_function_event_invoke_config(
        "fn", destination_config={"OnFailure": {"Destination": suite.arn("ko")}}
    )

    config = await suite.client.get_function_event_invoke_config("fn")
    assert config["MaximumEventAgeInSeconds"] == 120
    assert config["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": suite.arn("ko")},
    }


async def test_update_without_config_is_404(suite: Running) -> None:
    """Check 18."""
    await _function(suite)

    with pytest.raises(ResourceNotFoundException) as raised:
        await suite.client.update_function_event_invoke_config("fn", maximum_retry_attempts=1)

    assert raised.value.http_status == 404
    assert raised.value.message == (
        f"The function {suite.arn('fn')}:$LATEST doesn't have an EventInvokeConfig"
    )


@pytest.mark.parametrize("operation", ["put", "update"])
async def test_put_or_update_with_no_settings_is_400_even_for_missing_function(
    suite: Running, operation: str
) -> None:
    """Check 19: the "at least one" check runs before the function-existence check."""
    await _function(suite)
    call = getattr(suite.client, f"{operation}_function_event_invoke_config")

    for name in ("fn", "does-not-exist"):
        with pytest.raises(InvalidParameterValueException) as raised:
            await call(name)
        assert raised.value.http_status == 400
        assert raised.value.message == (
            "You must specify at least one of error handling or destination setting."
        )
    with pytest.raises(ResourceNotFoundException):
        await suite.client.get_function_event_invoke_config("fn")


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("maximum_retry_attempts", 3, "Member must have value less than or equal to 2"),
        ("maximum_retry_attempts", -1, "Member must have value greater than or equal to 0"),
        ("maximum_event_age_in_seconds", 59, "Member must have value greater than or equal to 60"),
        (
            "maximum_event_age_in_seconds",
            21601,
            "Member must have value less than or equal to 21600",
        ),
    ],
)
async def test_out_of_range_settings_are_rejected_and_change_nothing(
    suite: Running, field: str, value: int, constraint: str
) -> None:
    """Check 20 (rejections): 400 ValidationException; the previous config is untouched.
    The field-name casing in the message is [UNVERIFIED]; we use the model's camelCase names."""
    await _function(suite)
    before = await suite.client.put_function_event_invoke_config(
        "fn", maximum_retry_attempts=1, maximum_event_age_in_seconds=300
    )
    aws_field = {
        "maximum_retry_attempts": "maximumRetryAttempts",
        "maximum_event_age_in_seconds": "maximumEventAgeInSeconds",
    }[field]

    for operation in ("put", "update"):
        call = getattr(suite.client, f"{operation}_function_event_invoke_config")
        with pytest.raises(ValidationException) as raised:
            await call("fn", **{field: value})
        assert raised.value.http_status == 400
        assert raised.value.message == (
            f"1 validation error detected: Value '{value}' at '{aws_field}' failed to satisfy "
            f"constraint: {constraint}"
        )

    assert await suite.client.get_function_event_invoke_config("fn") == before


async def test_two_out_of_range_settings_are_reported_together(suite: Running) -> None:
    """§2.3: AWS reports every failed constraint of a request at once."""
    await _function(suite)

    with pytest.raises(ValidationException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", maximum_retry_attempts=3, maximum_event_age_in_seconds=59
        )

    assert raised.value.message == (
        "2 validation errors detected: "
        "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2; "
        "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 60"
    )


@pytest.mark.parametrize(("retries", "age"), [(0, 60), (2, 21600), (1, 3600)])
async def test_boundary_settings_are_accepted(suite: Running, retries: int, age: int) -> None:
    """Check 20 (acceptances): 0, 2, 60 and 21600 are in range."""
    await _function(suite)

    config = await suite.client.put_function_event_invoke_config(
        "fn", maximum_retry_attempts=retries, maximum_event_age_in_seconds=age
    )

    assert config["MaximumRetryAttempts"] == retries
    assert config["MaximumEventAgeInSeconds"] == age
    got = await suite.client.get_function_event_invoke_config("fn")
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (retries, age)


@pytest.mark.parametrize("qualified", [False, True])
async def test_function_as_its_own_destination_is_rejected(suite: Running, qualified: bool) -> None:
    """Check 21."""
    await _function(suite)
    arn = f"{suite.arn('fn')}:$LATEST" if qualified else suite.arn("fn")

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", destination_config={"OnFailure": {"Destination": arn}}
        )

    assert raised.value.http_status == 400
    assert raised.value.message == "You can't specify the function as a destination for itself."


async def test_missing_lambda_destination_is_rejected(suite: Running) -> None:
    """Check 22."""
    await _function(suite)
    arn = suite.arn("doesnotexist")

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", destination_config={"OnSuccess": {"Destination": arn}}
        )

    assert raised.value.http_status == 400
    assert raised.value.message == f"The destination ARN {arn} is invalid."


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:lambda:::function:fn",  # no region or account: names no function
        "arn:aws:lambda:us-east-1:000000000000:function:bad name",
        "arn:aws:lambda:us-east-1:111111111111:function:sink",  # another account
    ],
)
async def test_malformed_or_foreign_lambda_destination_is_an_invalid_destination_arn(
    suite: Running, arn: str
) -> None:
    """§2.3: a Lambda destination ARN that names none of our functions is "invalid" (400
    InvalidParameterValueException), not a ValidationException about the caller's functionName."""
    await _function(suite)
    await suite.collector("sink")

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", destination_config={"OnFailure": {"Destination": arn}}
        )

    assert raised.value.http_status == 400
    assert raised.value.message == f"The destination ARN {arn} is invalid."
    with pytest.raises(ResourceNotFoundException):
        await suite.client.get_function_event_invoke_config("fn")


async def test_iam_destination_is_rejected_with_the_rendered_config(suite: Running) -> None:
    """Check 23."""
    await _function(suite)
    arn = "arn:aws:iam::000000000000:role/some-role"

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", destination_config={"OnSuccess": {"Destination": arn}}
        )

    assert raised.value.http_status == 400
    assert raised.value.message == (
        "The provided destination config "
        f"DestinationConfig(onSuccess=OnSuccess(destination={arn}), "
        "onFailure=null) is invalid."
    )


async def test_s3_is_accepted_on_failure_but_not_on_success(suite: Running) -> None:
    """§2.3 / check 48: S3 only on failure. The OnSuccess message is [UNVERIFIED]; we give the
    same "provided destination config" message as for any unsupported service, which is sensible."""
    await _function(suite)
    bucket = "arn:aws:s3:::my-failures"

    config = await suite.client.put_function_event_invoke_config(
        "fn", destination_config={"OnFailure": {"Destination": bucket}}
    )
    assert config["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": bucket}}

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", destination_config={"OnSuccess": {"Destination": bucket}}
        )
    assert raised.value.message == (
        "The provided destination config "
        f"DestinationConfig(onSuccess=OnSuccess(destination={bucket}), "
        "onFailure=null) is invalid."
    )


@pytest.mark.parametrize(
    ("side", "target", "scheme"),
    [
        # Fails AWS's ARN pattern: AWS would answer with the 200-character pattern.
        ("OnSuccess", "https://example.com/hook", "https"),
        # Matches the pattern (AWS takes kafka:// for event source mappings), a URI all the same.
        ("OnFailure", "kafka://broker.example.com", "kafka"),
    ],
)
async def test_a_uri_no_loaded_plugin_claims_is_refused_naming_its_scheme(
    suite_without_webhook: Running, side: str, target: str, scheme: str
) -> None:
    """A destination outside AWS's ARNs needs a plugin; the message says which is missing and
    that plugins load when the server starts."""
    suite = suite_without_webhook
    await _function(suite)

    with pytest.raises(InvalidParameterValueException) as raised:
        await suite.client.put_function_event_invoke_config(
            "fn", destination_config={side: {"Destination": target}}
        )

    assert raised.value.http_status == 400
    assert raised.value.message == (
        f"The destination {target} is invalid: no loaded destination plugin claims the {scheme} "
        f"scheme for {side} (loaded adapters: eventbridge, lambda, s3, sns, sqs). Destination "
        f"plugins are loaded when the server starts: install one that claims {scheme}, then "
        "restart the server."
    )
    with pytest.raises(ResourceNotFoundException):
        await suite.client.get_function_event_invoke_config("fn")


async def test_outcomes_without_destination_and_empty_destination_are_accepted(
    suite: Running,
) -> None:
    """§2.3: {"OnSuccess": {}} is accepted, and "" means "no destination"."""
    await _function(suite)

    config = await suite.client.put_function_event_invoke_config(
        "fn", destination_config={"OnSuccess": {}, "OnFailure": {"Destination": ""}}
    )

    assert config["DestinationConfig"] == EMPTY_DESTINATIONS
    assert "MaximumRetryAttempts" not in config
    assert "MaximumEventAgeInSeconds" not in config


async def test_sqs_sns_and_eventbridge_destinations_are_stored(suite: Running) -> None:
    """§2.3: targets are not checked for existence at config time (the safe assumption)."""
    await _function(suite)
    queue = "arn:aws:sqs:us-east-1:000000000000:ok"
    topic = "arn:aws:sns:us-east-1:000000000000:ko"
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/default"

    await suite.client.put_function_event_invoke_config(
        "fn",
        destination_config={
            "OnSuccess": {"Destination": queue},
            "OnFailure": {"Destination": topic},
        },
    )
    assert (await suite.client.get_function_event_invoke_config("fn"))["DestinationConfig"] == {
        "OnSuccess": {"Destination": queue},
        "OnFailure": {"Destination": topic},
    }
    await suite.client.put_function_event_invoke_config(
        "fn", destination_config={"OnSuccess": {"Destination": bus}}
    )
    assert (await suite.client.get_function_event_invoke_config("fn"))["DestinationConfig"] == {
        "OnSuccess": {"Destination": bus},
        "OnFailure": {},
    }


async def test_derived_qualifier_mismatch_is_rejected(suite: Running) -> None:
    """Check 24 (qualifier mismatch only; aliases are out of scope)."""
    await _function(suite)

    for operation in ("put", "update"):
        call = getattr(suite.client, f"{operation}_function_event_invoke_config")
        with pytest.raises(InvalidParameterValueException) as raised:
            await call("fn:1", qualifier="$LATEST", maximum_retry_attempts=0)
        assert raised.value.http_status == 400
        assert raised.value.message == (
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    for operation in ("get", "delete"):
        call = getattr(suite.client, f"{operation}_function_event_invoke_config")
        with pytest.raises(InvalidParameterValueException):
            await call("fn:1", qualifier="$LATEST")


async def test_matching_derived_qualifier_is_fine(suite: Running) -> None:
    """§2.2: a qualifier both in the name and in Qualifier is fine when they match."""
    await _function(suite)

    config = await suite.client.put_function_event_invoke_config(
        "fn:$LATEST", qualifier="$LATEST", maximum_retry_attempts=1
    )

    assert config["FunctionArn"] == f"{suite.arn('fn')}:$LATEST"
    assert (await suite.client.get_function_event_invoke_config(suite.arn("fn")))[
        "MaximumRetryAttempts"
    ] == 1


@pytest.mark.parametrize("operation", ["put", "update", "list"])
async def test_missing_function_is_404_function_does_not_exist(
    suite: Running, operation: str
) -> None:
    """§2.2: Put, Update and List on a missing function or version."""
    await _function(suite)
    call = getattr(
        suite.client,
        f"{operation}_function_event_invoke_config"
        if operation != "list"
        else "list_function_event_invoke_configs",
    )
    kwargs = {} if operation == "list" else {"maximum_retry_attempts": 0}

    for name in ("nope", "fn:7") if operation != "list" else ("nope",):
        with pytest.raises(ResourceNotFoundException) as raised:
            await call(name, **kwargs)
        assert raised.value.http_status == 404
        assert raised.value.message == "The function doesn't exist."


async def test_get_without_config_names_the_qualified_arn(suite: Running) -> None:
    """Check 28, and §2.2: Get on a missing function says the same."""
    await _function(suite)

    for name, arn in (("fn", suite.arn("fn")), ("ghost", suite.arn("ghost"))):
        with pytest.raises(ResourceNotFoundException) as raised:
            await suite.client.get_function_event_invoke_config(name)
        assert raised.value.http_status == 404
        assert (
            raised.value.message == f"The function {arn}:$LATEST doesn't have an EventInvokeConfig"
        )


async def test_delete_then_delete_again_then_list_is_empty(suite: Running) -> None:
    """Check 26: Delete succeeds, a second Delete is 404, List is then empty."""
    await _function(suite)
    config = await suite.client.put_function_event_invoke_config("fn", maximum_retry_attempts=1)
    assert await suite.client.list_function_event_invoke_configs("fn") == {
        "FunctionEventInvokeConfigs": [config]
    }

    assert await suite.client.delete_function_event_invoke_config("fn") is None

    with pytest.raises(ResourceNotFoundException) as raised:
        await suite.client.delete_function_event_invoke_config("fn")
    assert raised.value.http_status == 404
    assert raised.value.message == (
        f"The function {suite.arn('fn')}:$LATEST doesn't have an EventInvokeConfig"
    )
    with pytest.raises(ResourceNotFoundException):
        await suite.client.get_function_event_invoke_config("fn")
    assert await suite.client.list_function_event_invoke_configs("fn") == {
        "FunctionEventInvokeConfigs": []
    }


async def test_list_max_items_out_of_range_is_rejected(suite: Running) -> None:
    """§2.5: MaxItems is 1–50."""
    await _function(suite)

    with pytest.raises(ValidationException) as raised:
        await suite.client.list_function_event_invoke_configs("fn", max_items=51)

    assert raised.value.http_status == 400
    assert raised.value.message == (
        "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )
