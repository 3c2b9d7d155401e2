"""``eventinvoke.deploy`` against the real suite: templates in, functions and configs out.

Every test deploys through the real client onto a real suite (gRPC, SQLite, sandboxes) and reads
the result back with the client. Version and alias resources have their own tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FUNCTIONS, Running, records_in
from deploy.templates import (
    INLINE,
    SEED,
    VERSIONED,
    actions,
    function_names,
    seed_template,
    write,
)

from eventinvoke.client import ResourceNotFoundException
from eventinvoke.deploy import TemplateError, deploy

# --- the seed ------------------------------------------------------------------------------


async def test_seed_snippet_deploys_and_reads_back_as_written(
    seed_suite: Running, tmp_path: Path
) -> None:
    template, _ = seed_template(tmp_path)

    result = await deploy(seed_suite.client, template)

    # The snippet comes before the functions in the file; the config still comes after them.
    order = [r.logical_id for r in result.resources]
    assert order.index("EventInvokeConfig") > order.index("YourLambdaFunctionOnFailure")
    assert order.index("EventInvokeConfig") > order.index("YourLambdaFunctionWithEventInvokeConfig")
    assert set(actions(result).values()) == {"Add"}
    config = await seed_suite.client.get_function_event_invoke_config(
        "YourLambdaFunctionWithEventInvokeConfig", "$LATEST"
    )
    assert config["FunctionArn"] == SEED + "YourLambdaFunctionWithEventInvokeConfig:$LATEST"
    assert config["MaximumEventAgeInSeconds"] == 600
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:123456789012:YourSNSTopicOnSuccess"},
        "OnFailure": {"Destination": SEED + "YourLambdaFunctionOnFailure"},
    }


async def test_seed_failure_reaches_the_templated_lambda_destination(
    seed_suite: Running, tmp_path: Path
) -> None:
    template, records = seed_template(tmp_path)
    await deploy(seed_suite.client, template)

    response = await seed_suite.client.invoke(
        "YourLambdaFunctionWithEventInvokeConfig", b'{"Success": false}', invocation_type="Event"
    )

    assert response["StatusCode"] == 202
    (record,) = await records_in(records, 1)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts: 0
    assert record["requestContext"]["functionArn"] == (
        SEED + "YourLambdaFunctionWithEventInvokeConfig:$LATEST"
    )
    assert record["requestPayload"] == {"Success": False}
    assert record["responsePayload"]["errorMessage"] == (
        "Failure from event, Success = false, I am failing!"
    )


async def test_typographic_quotes_as_the_blog_rendered_them_are_named(
    seed_suite: Running, tmp_path: Path
) -> None:
    template, _ = seed_template(tmp_path)
    text = template.read_text().replace(
        '"YourLambdaFunctionWithEventInvokeConfig"', "“YourLambdaFunctionWithEventInvokeConfig”"
    )

    with pytest.raises(TemplateError, match="typographic quotes") as caught:
        await deploy(seed_suite.client, write(tmp_path, text))

    assert "FunctionName" in str(caught.value)
    assert await function_names(seed_suite) == []


# --- CloudFormation functions and intrinsics -----------------------------------------------


async def test_inline_code_parameters_and_intrinsics(suite: Running, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.touch()
    # Code paths are relative to the template's directory.
    (tmp_path / "stack").mkdir()
    template = write(tmp_path / "stack", INLINE.format(records=records))
    (tmp_path / "functions").symlink_to(FUNCTIONS)

    result = await deploy(suite.client, template, stack_name="demo", overrides={"Greeting": "hi"})

    collector = "demo-Collector"  # no FunctionName: <stack>-<LogicalId>
    assert await function_names(suite) == [collector, "demo-greeter"]
    greeter = await suite.client.get_function_configuration("demo-greeter")
    assert greeter["Timeout"] == 5 and greeter["MemorySize"] == 256
    assert greeter["Description"] == "hi from us-east-1"
    assert greeter["Environment"]["Variables"] == {"GREETING": "hi", "COLLECTOR": collector}
    response = await suite.client.invoke("demo-greeter", b"{}")
    assert json.loads(response["Payload"]) == {"greeting": "hi", "collector": collector}

    config = await suite.client.get_function_event_invoke_config("demo-greeter")
    assert config["MaximumRetryAttempts"] == 1
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": suite.arn(collector)},
        "OnFailure": {"Destination": suite.arn(collector)},
    }
    assert result.to_dict()["Outputs"] == [
        {"OutputKey": "GreeterArn", "OutputValue": suite.arn("demo-greeter")},
        {
            "OutputKey": "Stack",
            "OutputValue": "demo in aws:us-east-1:000000000000",
            "Description": "where it went",
        },
    ]

    await suite.client.invoke("demo-greeter", b'{"ok": 1}', invocation_type="Event")
    (record,) = await records_in(records, 1)
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"greeting": "hi", "collector": collector}


async def test_redeploy_is_idempotent_and_updates_what_changed(
    suite: Running, tmp_path: Path
) -> None:
    records = tmp_path / "records.jsonl"
    records.touch()
    (tmp_path / "stack").mkdir()
    (tmp_path / "functions").symlink_to(FUNCTIONS)
    template = write(tmp_path / "stack", INLINE.format(records=records))
    await deploy(suite.client, template, stack_name="demo")
    before = await suite.client.get_function_configuration("demo-greeter")

    again = await deploy(suite.client, template, stack_name="demo")

    assert set(actions(again).values()) == {"NoChange"}
    assert await function_names(suite) == ["demo-Collector", "demo-greeter"]
    after = await suite.client.get_function_configuration("demo-greeter")
    assert after["RevisionId"] == before["RevisionId"]
    configs = await suite.client.list_function_event_invoke_configs("demo-greeter")
    assert len(configs["FunctionEventInvokeConfigs"]) == 1

    changed = await deploy(
        suite.client, template, stack_name="demo", overrides={"Greeting": "hey", "Retries": "2"}
    )

    assert actions(changed) == {
        "Collector": "NoChange",
        "Greeter": "Modify",
        "GreeterConfig": "Modify",
    }
    greeter = await suite.client.get_function_configuration("demo-greeter")
    assert greeter["Environment"]["Variables"]["GREETING"] == "hey"
    config = await suite.client.get_function_event_invoke_config("demo-greeter")
    assert config["MaximumRetryAttempts"] == 2
    assert await function_names(suite) == ["demo-Collector", "demo-greeter"]


async def test_dry_run_changes_nothing(suite: Running, tmp_path: Path) -> None:
    template, _ = seed_template(tmp_path)
    text = template.read_text().replace("123456789012", "000000000000")

    result = await deploy(suite.client, write(tmp_path, text), dry_run=True)

    assert result.dry_run and set(actions(result).values()) == {"Add"}
    assert await function_names(suite) == []


# --- SAM -----------------------------------------------------------------------------------

SAM = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Timeout: 4
    Environment:
      Variables:
        SHARED: "yes"
Resources:
  Collector:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: sam-collector
      Handler: index.handler
      CodeUri: {collector}
      Environment:
        Variables:
          COLLECT_FILE: {records}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: sam-worker
      Handler: index.handler
      CodeUri: {tester}
      MemorySize: 512
      AutoPublishAlias: live
      DeadLetterQueue:
        Type: SQS
        TargetArn: arn:aws:sqs:us-east-1:000000000000:worker-dlq
      EventInvokeConfig:
        MaximumEventAgeInSeconds: 120
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnSuccess:
            Type: SNS
            Destination: arn:aws:sns:us-east-1:000000000000:worker-ok
          OnFailure:
            Type: Lambda
            Destination: !GetAtt Collector.Arn
Outputs:
  LiveAlias:
    Value: !Ref Worker.Alias
"""


def sam_template(tmp_path: Path) -> tuple[Path, Path]:
    records = tmp_path / "sam-records.jsonl"
    records.touch()
    text = SAM.format(
        collector=FUNCTIONS / "collector", tester=FUNCTIONS / "tester", records=records
    )
    return write(tmp_path, text, "sam.yaml"), records


async def test_sam_function_with_event_invoke_config_and_dead_letter_queue(
    suite: Running, tmp_path: Path
) -> None:
    template, records = sam_template(tmp_path)

    result = await deploy(suite.client, template)

    # SAM's generated resources, in dependency order.
    assert [(r.logical_id, r.type) for r in result.resources] == [
        ("Collector", "AWS::Lambda::Function"),
        ("Worker", "AWS::Lambda::Function"),
        ("WorkerVersion", "AWS::Lambda::Version"),
        ("WorkerAliaslive", "AWS::Lambda::Alias"),
        ("WorkerEventInvokeConfig", "AWS::Lambda::EventInvokeConfig"),
    ]
    worker = await suite.client.get_function_configuration("sam-worker")
    assert worker["Runtime"] == "python3.11" and worker["Timeout"] == 4
    assert worker["MemorySize"] == 512
    assert worker["Environment"] == {"Variables": {"SHARED": "yes"}}
    assert worker["DeadLetterConfig"] == {
        "TargetArn": "arn:aws:sqs:us-east-1:000000000000:worker-dlq"
    }
    collector = await suite.client.get_function_configuration("sam-collector")
    assert collector["Environment"]["Variables"] == {
        "SHARED": "yes",
        "COLLECT_FILE": str(records),
    }
    # With AutoPublishAlias, SAM puts the EventInvokeConfig on the alias.
    config = await suite.client.get_function_event_invoke_config("sam-worker", "live")
    assert config["FunctionArn"] == suite.arn("sam-worker:live")
    assert config["MaximumEventAgeInSeconds"] == 120
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:000000000000:worker-ok"},
        "OnFailure": {"Destination": suite.arn("sam-collector")},
    }
    with pytest.raises(ResourceNotFoundException):
        await suite.client.get_function_event_invoke_config("sam-worker", "$LATEST")


async def test_sam_auto_publish_alias(suite: Running, tmp_path: Path) -> None:
    template, records = sam_template(tmp_path)

    result = await deploy(suite.client, template)

    alias = await suite.client.get_alias("sam-worker", "live")
    assert alias["FunctionVersion"] == "1"
    assert alias["AliasArn"] == suite.arn("sam-worker:live")
    assert result.to_dict()["Outputs"] == [
        {"OutputKey": "LiveAlias", "OutputValue": suite.arn("sam-worker:live")}
    ]
    # An invoke through the alias uses the alias's config: the failure reaches the collector.
    await suite.client.invoke(
        "sam-worker", b'{"Success": false}', invocation_type="Event", qualifier="live"
    )
    (record,) = await records_in(records, 1)
    assert record["requestContext"]["functionArn"] == suite.arn("sam-worker:live")
    assert record["requestContext"]["condition"] == "RetriesExhausted"

    # Nothing changed: no new version. Code changed: version 2, and the alias follows.
    again = await deploy(suite.client, template)
    assert set(actions(again).values()) == {"NoChange"}
    assert (await suite.client.get_alias("sam-worker", "live"))["FunctionVersion"] == "1"

    changed = tmp_path / "tester2"
    changed.mkdir()
    (changed / "index.py").write_text((FUNCTIONS / "tester" / "index.py").read_text() + "\n#\n")
    text = template.read_text().replace(str(FUNCTIONS / "tester"), str(changed))
    updated = await deploy(suite.client, write(tmp_path, text, "sam.yaml"))
    assert actions(updated)["WorkerVersion"] == "Add"
    assert actions(updated)["WorkerAliaslive"] == "Modify"
    assert (await suite.client.get_alias("sam-worker", "live"))["FunctionVersion"] == "2"


# --- Version and Alias resources -----------------------------------------------------------


async def test_version_and_alias_resources(suite: Running, tmp_path: Path) -> None:
    template = write(tmp_path, VERSIONED.format(alias="prod"))

    result = await deploy(suite.client, template)

    assert [r.logical_id for r in result.resources] == [
        "Target",
        "TargetVersion",
        "TargetAlias",
        "AliasConfig",
    ]
    alias = await suite.client.get_alias("versioned", "prod")
    assert alias["FunctionVersion"] == "1" and alias["Description"] == "production"
    version = await suite.client.get_function_configuration("versioned", "1")
    assert version["Version"] == "1" and version["Description"] == "first"
    config = await suite.client.get_function_event_invoke_config("versioned", "prod")
    assert config["MaximumRetryAttempts"] == 1
    assert {o["OutputKey"]: o["OutputValue"] for o in result.to_dict()["Outputs"]} == {
        "VersionArn": suite.arn("versioned:1"),
        "AliasArn": suite.arn("versioned:prod"),
    }
    response = await suite.client.invoke("versioned", b"{}", qualifier="prod")
    assert json.loads(response["Payload"]) == {"version": "1"}


async def test_numeric_alias_name_is_refused_before_anything_is_created(
    suite: Running, tmp_path: Path
) -> None:
    template = write(tmp_path, VERSIONED.format(alias='"123"'))

    with pytest.raises(TemplateError, match="TargetAlias"):
        await deploy(suite.client, template)

    assert await function_names(suite) == []
