"""Versions and aliases (issue #6): what runs, which settings apply, what records say.

docs/aws-behaviour.md §1.1 (qualifiers), §2.2 (configs per $LATEST / version / alias), §3.1 (an
alias resolves at dequeue time), §4.1 (qualified functionArn, executedVersion), §6.1 (the invoked
ARN); checks 24, 25, 27, 41.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Running, records_in, test_settings, wait_for
from gateway.harness import ACCOUNT_ARN, ROLE, GatewaySuite, gateway

from eventinvoke.app import Suite
from eventinvoke.client import (
    AsyncClient,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)

__all__ = ["gateway"]  # the module-scoped gateway fixture, for the boto3 test

ARN = "arn:aws:lambda:us-east-1:000000000000:function"

# One handler, told apart by CODE (the package) and TAG (the configuration).
SOURCE = """import os

CODE = {code!r}


def handler(event, context):
    return {{
        "code": CODE,
        "tag": os.environ.get("TAG"),
        "invoked_arn": context.invoked_function_arn,
        "version": context.function_version,
    }}
"""


def package(code: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", SOURCE.format(code=code))
    return buffer.getvalue()


async def three_versions(client: AsyncClient, name: str = "vf") -> None:
    """Version 1 (code one, TAG a), version 2 (code two, TAG b), $LATEST (code three, TAG b)."""
    await client.create_function(
        function_name=name,
        runtime="python3.11",
        handler="index.handler",
        zip_file=package("one"),
        environment={"Variables": {"TAG": "a"}},
    )
    assert (await client.publish_version(name))["Version"] == "1"
    await client.update_function_code(name, package("two"))
    await client.update_function_configuration(name, environment={"Variables": {"TAG": "b"}})
    assert (await client.publish_version(name, description="second"))["Version"] == "2"
    await client.update_function_code(name, package("three"))


async def run(client: AsyncClient, name: str, qualifier: str = "") -> tuple[dict[str, Any], str]:
    response = await client.invoke(name, b"{}", qualifier=qualifier)
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    return json.loads(response["Payload"]), response["ExecutedVersion"]


async def test_each_version_runs_its_own_code_and_configuration(suite: Running) -> None:
    client = suite.client
    await three_versions(client)

    one, one_version = await run(client, "vf:1")
    two, two_version = await run(client, "vf", qualifier="2")
    latest, latest_version = await run(client, "vf")
    via_arn, _ = await run(client, f"{ARN}:vf:1")

    assert (one["code"], one["tag"], one_version, one["version"]) == ("one", "a", "1", "1")
    assert (two["code"], two["tag"], two_version, two["version"]) == ("two", "b", "2", "2")
    assert (latest["code"], latest["tag"], latest_version) == ("three", "b", "$LATEST")
    assert latest["version"] == "$LATEST"
    # docs/aws-behaviour.md §6.1: qualified for a version invoke, unqualified for an unqualified
    # one.
    assert one["invoked_arn"] == f"{ARN}:vf:1"
    assert two["invoked_arn"] == f"{ARN}:vf:2"
    assert latest["invoked_arn"] == f"{ARN}:vf"
    assert via_arn["code"] == "one"


async def test_echo_sees_the_qualified_invoked_arn_for_a_version(suite: Running) -> None:
    """§6.1 with the echo test function: ``context.invoked_function_arn`` is qualified."""
    await suite.deploy("echo", "echo")
    await suite.client.publish_version("echo")
    response = await suite.client.invoke("echo", b"{}", qualifier="1")
    seen = json.loads(response["Payload"])
    assert seen["invoked_function_arn"] == f"{ARN}:echo:1"
    assert seen["function_version"] == "1"
    assert response["ExecutedVersion"] == "1"


async def test_alias_invoke_runs_the_version_it_points_at(suite: Running) -> None:
    client = suite.client
    await three_versions(client)
    alias = await client.create_alias("vf", "live", "1", description="production")

    before, before_version = await run(client, "vf:live")
    updated = await client.update_alias("vf", "live", function_version="2")
    after, after_version = await run(client, "vf", qualifier="live")

    assert alias == {
        "AliasArn": f"{ARN}:vf:live",
        "Name": "live",
        "FunctionVersion": "1",
        "Description": "production",
        "RevisionId": alias["RevisionId"],
    }
    assert (before["code"], before_version, before["invoked_arn"]) == ("one", "1", f"{ARN}:vf:live")
    assert updated["FunctionVersion"] == "2" and updated["Description"] == "production"
    assert updated["RevisionId"] != alias["RevisionId"]
    assert (after["code"], after_version) == ("two", "2")
    got = await client.get_function("vf", "live")
    assert got["Configuration"]["Version"] == "2"
    assert got["Configuration"]["FunctionArn"] == f"{ARN}:vf:live"


async def test_alias_event_uses_the_alias_config_and_records_the_alias_arn(
    suite: Running,
) -> None:
    client = suite.client
    latest_records = await suite.collector("latest-records")
    alias_records = await suite.collector("alias-records")
    await three_versions(client)
    await client.create_alias("vf", "live", "1")
    await client.put_function_event_invoke_config(
        "vf", destination_config={"OnSuccess": {"Destination": suite.arn("latest-records")}}
    )
    await client.put_function_event_invoke_config(
        "vf:live", destination_config={"OnSuccess": {"Destination": suite.arn("alias-records")}}
    )

    through_alias = await client.invoke("vf", b'{"via": "alias"}', "Event", qualifier="live")
    unqualified = await client.invoke("vf", b'{"via": "latest"}', "Event")

    [alias_record] = await records_in(alias_records, 1)
    [latest_record] = await records_in(latest_records, 1)
    # The alias ARN (AWS's choice is [UNVERIFIED]; see executor/records.py), the resolved version.
    assert alias_record["requestContext"]["functionArn"] == f"{ARN}:vf:live"
    assert (
        alias_record["requestContext"]["requestId"]
        == (through_alias["ResponseMetadata"]["RequestId"])
    )
    assert alias_record["responseContext"]["executedVersion"] == "1"
    assert alias_record["responsePayload"]["code"] == "one"
    assert alias_record["requestPayload"] == {"via": "alias"}
    # Check 41.
    assert latest_record["requestContext"]["functionArn"] == f"{ARN}:vf:$LATEST"
    assert (
        latest_record["requestContext"]["requestId"]
        == (unqualified["ResponseMetadata"]["RequestId"])
    )
    assert latest_record["responseContext"]["executedVersion"] == "$LATEST"
    assert latest_record["responsePayload"]["code"] == "three"


async def test_version_event_records_the_version_arn(suite: Running) -> None:
    client = suite.client
    records = await suite.collector("records")
    await three_versions(client)
    await client.put_function_event_invoke_config(
        "vf", "2", destination_config={"OnSuccess": {"Destination": suite.arn("records")}}
    )
    await client.invoke("vf:2", b"{}", "Event")
    [record] = await records_in(records, 1)
    assert record["requestContext"]["functionArn"] == f"{ARN}:vf:2"
    assert record["responseContext"]["executedVersion"] == "2"


@pytest.fixture
async def one_slot(tmp_path: Path) -> AsyncIterator[Running]:
    """A suite whose executor runs one queued event at a time."""
    running_suite = Suite(test_settings(tmp_path / "data", executor_concurrency=1))
    await running_suite.start()
    client = AsyncClient(running_suite.address)
    try:
        yield Running(running_suite, client, tmp_path)
    finally:
        await client.close()
        await running_suite.stop(grace=1)


async def test_a_queued_alias_event_runs_the_version_the_alias_points_at_when_it_runs(
    one_slot: Running,
) -> None:
    """§3.1: an alias resolves at dequeue time, not when the event was accepted."""
    suite, client = one_slot, one_slot.client
    records = await suite.collector("records")
    blocker_runs = suite.tmp_path / "blocker-runs.jsonl"
    await suite.deploy(
        "blocker", "sleeper", timeout=10, SLEEP_SECONDS="1.5", RUNS_FILE=str(blocker_runs)
    )
    await three_versions(client)
    await client.create_alias("vf", "live", "1")
    await client.put_function_event_invoke_config(
        "vf", "live", destination_config={"OnSuccess": {"Destination": suite.arn("records")}}
    )

    await client.invoke("blocker", b"{}", "Event")  # takes the only slot for 1.5 s
    await wait_for(lambda: suite.suite.worker is not None and suite.suite.worker.loop.inflight)
    await client.invoke("vf:live", b"{}", "Event")  # queued behind it, alias -> 1
    await client.update_alias("vf", "live", function_version="2")

    [record] = await records_in(records, 1)
    assert blocker_runs.read_text()  # the blocker ran first
    assert record["requestContext"]["functionArn"] == f"{ARN}:vf:live"
    assert record["responseContext"]["executedVersion"] == "2"
    assert record["responsePayload"]["code"] == "two"


async def test_configs_of_latest_version_and_alias_are_independent(suite: Running) -> None:
    """Checks 25 and 27."""
    client = suite.client
    await three_versions(client)
    await client.create_alias("vf", "live", "2")
    await client.put_function_event_invoke_config("vf", maximum_retry_attempts=0)
    # Check 27: publishing does not copy $LATEST's config to the new version.
    await client.publish_version("vf")  # version 3 (code three)
    with pytest.raises(ResourceNotFoundException) as not_copied:
        await client.get_function_event_invoke_config("vf", "3")
    assert not_copied.value.message == (
        f"The function {ARN}:vf:3 doesn't have an EventInvokeConfig"
    )
    await client.put_function_event_invoke_config("vf", "1", maximum_retry_attempts=1)
    await client.put_function_event_invoke_config("vf:live", maximum_retry_attempts=2)

    latest = await client.get_function_event_invoke_config("vf")
    one = await client.get_function_event_invoke_config("vf:1")
    live = await client.get_function_event_invoke_config("vf", "live")
    listed = await client.list_function_event_invoke_configs("vf")
    page = await client.list_function_event_invoke_configs("vf", max_items=2)
    rest = await client.list_function_event_invoke_configs("vf", marker=page["NextMarker"])

    assert (latest["FunctionArn"], latest["MaximumRetryAttempts"]) == (f"{ARN}:vf:$LATEST", 0)
    assert (one["FunctionArn"], one["MaximumRetryAttempts"]) == (f"{ARN}:vf:1", 1)
    assert (live["FunctionArn"], live["MaximumRetryAttempts"]) == (f"{ARN}:vf:live", 2)
    arns = [config["FunctionArn"] for config in listed["FunctionEventInvokeConfigs"]]
    assert sorted(arns) == sorted([f"{ARN}:vf:$LATEST", f"{ARN}:vf:1", f"{ARN}:vf:live"])
    assert "NextMarker" not in listed
    assert len(page["FunctionEventInvokeConfigs"]) == 2
    assert [c["FunctionArn"] for c in page["FunctionEventInvokeConfigs"]] + [
        c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]
    ] == arns
    # Deleting the alias removes its config; the others stay.
    await client.delete_alias("vf", "live")
    remaining = await client.list_function_event_invoke_configs("vf")
    assert len(remaining["FunctionEventInvokeConfigs"]) == 2


async def test_config_qualifier_errors(suite: Running) -> None:
    """Check 24 with a real alias, and §2.2's errors for a missing version or alias."""
    client = suite.client
    await three_versions(client)
    await client.create_alias("vf", "live", "1")

    with pytest.raises(InvalidParameterValueException) as mismatch:
        await client.put_function_event_invoke_config("vf:live", "other", maximum_retry_attempts=0)
    assert mismatch.value.message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )
    for qualifier in ("nope", "9"):
        with pytest.raises(ResourceNotFoundException) as put_missing:
            await client.put_function_event_invoke_config("vf", qualifier, maximum_retry_attempts=0)
        assert put_missing.value.message == "The function doesn't exist."
        with pytest.raises(ResourceNotFoundException) as get_missing:
            await client.get_function_event_invoke_config("vf", qualifier)
        assert get_missing.value.message == (
            f"The function {ARN}:vf:{qualifier} doesn't have an EventInvokeConfig"
        )


async def test_publish_version_numbering_and_listing(suite: Running) -> None:
    client = suite.client
    await suite.deploy("pv", "echo")

    first = await client.publish_version("pv", description="first")
    again = await client.publish_version("pv")  # nothing changed: the same version
    await client.update_function_configuration("pv", timeout=7)
    second = await client.publish_version("pv")
    await client.delete_function("pv", qualifier="2")
    await client.update_function_configuration("pv", timeout=8)
    third = await client.publish_version("pv")  # 2 was deleted and is not reused
    listed = await client.list_versions_by_function("pv")
    page = await client.list_versions_by_function("pv", max_items=2)
    rest = await client.list_versions_by_function("pv", marker=page["NextMarker"])

    assert (first["Version"], first["Description"]) == ("1", "first")
    assert first["FunctionArn"] == f"{ARN}:pv:1"
    assert again["Version"] == "1" and again["RevisionId"] == first["RevisionId"]
    assert (second["Version"], second["Timeout"]) == ("2", 7)
    assert (third["Version"], third["Timeout"]) == ("3", 8)
    assert [v["Version"] for v in listed["Versions"]] == ["$LATEST", "1", "3"]
    assert [v["FunctionArn"] for v in listed["Versions"]] == [
        f"{ARN}:pv:$LATEST",
        f"{ARN}:pv:1",
        f"{ARN}:pv:3",
    ]
    assert [v["Version"] for v in page["Versions"] + rest["Versions"]] == ["$LATEST", "1", "3"]
    assert "NextMarker" not in rest
    # ListFunctions shows $LATEST only; GetFunction with a qualifier shows that version.
    functions = (await client.list_functions())["Functions"]
    assert [(f["FunctionName"], f["Version"]) for f in functions] == [("pv", "$LATEST")]
    got = await client.get_function_configuration("pv", "1")
    assert (got["Version"], got["Timeout"], got["FunctionArn"]) == ("1", 3, f"{ARN}:pv:1")
    with pytest.raises(ResourceNotFoundException) as gone:
        await client.invoke("pv", b"{}", qualifier="2")
    assert gone.value.message == f"Function not found: {ARN}:pv:2"


async def test_publish_flags_and_preconditions(suite: Running) -> None:
    client = suite.client
    created = await client.create_function(
        "pub", "python3.11", "index.handler", package("one"), publish=True
    )
    recoded = await client.update_function_code("pub", package("two"), publish=True)
    latest = await client.get_function_configuration("pub")

    assert (created["Version"], created["FunctionArn"]) == ("1", f"{ARN}:pub")
    assert recoded["Version"] == "2"
    assert latest["Version"] == "$LATEST" and latest["CodeSha256"] == recoded["CodeSha256"]
    assert (await run(client, "pub:1"))[0]["code"] == "one"
    await client.update_function_code("pub", package("three"))
    with pytest.raises(InvalidParameterValueException) as wrong_sha:
        await client.publish_version("pub", code_sha256="bm9wZQ==")
    assert wrong_sha.value.message.startswith("CodeSHA256 (bm9wZQ==) is different from current")
    with pytest.raises(Exception) as wrong_revision:
        await client.publish_version("pub", revision_id="not-the-revision")
    assert getattr(wrong_revision.value, "code", "") == "PreconditionFailedException"
    third = await client.publish_version(
        "pub", code_sha256=(await client.get_function_configuration("pub"))["CodeSha256"]
    )
    assert third["Version"] == "3"


async def test_alias_and_version_errors(suite: Running) -> None:
    client = suite.client
    await three_versions(client)
    await client.create_alias("vf", "live", "1")

    with pytest.raises(ResourceConflictException) as exists:
        await client.create_alias("vf", "live", "2")
    assert exists.value.message == f"Alias already exists: {ARN}:vf:live"
    with pytest.raises(ResourceNotFoundException) as no_version:
        await client.create_alias("vf", "beta", "9")
    assert no_version.value.message == f"Function not found: {ARN}:vf:9"
    with pytest.raises(ResourceNotFoundException) as no_update_version:
        await client.update_alias("vf", "live", function_version="9")
    assert no_update_version.value.message == f"Function not found: {ARN}:vf:9"
    with pytest.raises(ValidationException):
        await client.create_alias("vf", "123", "1")  # an alias name may not be all digits
    with pytest.raises(ResourceNotFoundException) as no_alias:
        await client.get_alias("vf", "beta")
    assert no_alias.value.message == f"Cannot find alias arn: {ARN}:vf:beta"
    with pytest.raises(ResourceNotFoundException) as invoke_no_alias:
        await client.invoke("vf:beta", b"{}")
    assert invoke_no_alias.value.message == f"Function not found: {ARN}:vf:beta"
    with pytest.raises(ResourceConflictException) as referenced:
        await client.delete_function("vf", qualifier="1")
    assert referenced.value.message == (
        "Unable to delete version because the following aliases reference it: [live]"
    )
    with pytest.raises(InvalidParameterValueException) as latest:
        await client.delete_function("vf", qualifier="$LATEST")
    assert latest.value.message == (
        "$LATEST version cannot be deleted without deleting the function."
    )

    await client.create_alias("vf", "beta", "$LATEST")
    listed = await client.list_aliases("vf")
    of_one = await client.list_aliases("vf", function_version="1")
    page = await client.list_aliases("vf", max_items=1)
    assert [a["Name"] for a in listed["Aliases"]] == ["beta", "live"]
    assert [a["Name"] for a in of_one["Aliases"]] == ["live"]
    assert [a["Name"] for a in page["Aliases"]] == ["beta"] and page["NextMarker"]
    await client.delete_alias("vf", "live")
    await client.delete_function("vf", qualifier="1")  # no alias references it now
    with pytest.raises(ResourceNotFoundException):
        await client.get_function("vf", "1")
    # Deleting the function takes its versions and aliases along.
    await client.delete_function("vf")
    await three_versions(client)  # same name again: numbering starts over
    assert (await client.list_aliases("vf"))["Aliases"] == []


def test_lifecycle_through_boto3_and_the_gateway(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()
    created = lambda_.create_function(
        FunctionName="boto-versions",
        Runtime="python3.11",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": package("one")},
        Publish=True,
    )
    lambda_.update_function_code(FunctionName="boto-versions", ZipFile=package("two"))
    second = lambda_.publish_version(FunctionName="boto-versions", Description="two")
    versions = lambda_.list_versions_by_function(FunctionName="boto-versions")
    alias = lambda_.create_alias(
        FunctionName="boto-versions", Name="live", FunctionVersion="1", Description="d"
    )
    invoked = lambda_.invoke(FunctionName="boto-versions", Qualifier="live", Payload=b"{}")
    updated = lambda_.update_alias(
        FunctionName="boto-versions",
        Name="live",
        FunctionVersion="2",
        RevisionId=alias["RevisionId"],
    )
    got = lambda_.get_alias(FunctionName="boto-versions", Name="live")
    listed = lambda_.list_aliases(FunctionName="boto-versions")
    reinvoked = lambda_.invoke(FunctionName="boto-versions:live", Payload=b"{}")

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (created["Version"], created["FunctionArn"]) == ("1", f"{ACCOUNT_ARN}:boto-versions")
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (second["Version"], second["Description"]) == ("2", "two")
    assert second["FunctionArn"] == f"{ACCOUNT_ARN}:boto-versions:2"
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1", "2"]
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == f"{ACCOUNT_ARN}:boto-versions:live"
    assert (alias["Name"], alias["FunctionVersion"], alias["Description"]) == ("live", "1", "d")
    assert invoked["ExecutedVersion"] == "1"
    assert json.loads(invoked["Payload"].read())["code"] == "one"
    assert updated["FunctionVersion"] == "2"
    assert got["RevisionId"] == updated["RevisionId"]
    assert [a["Name"] for a in listed["Aliases"]] == ["live"]
    assert reinvoked["ExecutedVersion"] == "2"
    assert json.loads(reinvoked["Payload"].read())["code"] == "two"

    with pytest.raises(lambda_.exceptions.PreconditionFailedException):
        lambda_.update_alias(
            FunctionName="boto-versions", Name="live", RevisionId=alias["RevisionId"]
        )
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException) as weighted:
        lambda_.update_alias(
            FunctionName="boto-versions",
            Name="live",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert "RoutingConfig" in str(weighted.value)
    with pytest.raises(lambda_.exceptions.ResourceConflictException):
        lambda_.delete_function(FunctionName="boto-versions", Qualifier="2")
    deleted = lambda_.delete_alias(FunctionName="boto-versions", Name="live")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    removed = lambda_.delete_function(FunctionName="boto-versions", Qualifier="2")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    after = lambda_.list_versions_by_function(FunctionName="boto-versions")
    assert [v["Version"] for v in after["Versions"]] == ["$LATEST", "1"]
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException) as no_alias:
        lambda_.get_alias(FunctionName="boto-versions", Name="live")
    assert str(no_alias.value).endswith(f"Cannot find alias arn: {ACCOUNT_ARN}:boto-versions:live")
