"""``eventinvoke.deploy`` against the real suite: templates in, functions and configs out.

Every test deploys through the real client onto a real suite (gRPC, SQLite, sandboxes) and reads
the result back with the client. Version and alias resources have their own tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FUNCTIONS, Running, records_in

from eventinvoke.client import ResourceNotFoundException
from eventinvoke.deploy import DeployError, TemplateError, deploy

SEED = "arn:aws:lambda:us-east-1:123456789012:function:"

# The 2019 announcement's CloudFormation snippet, as a reader pastes it: straight quotes, the
# indentation the blog's rendering lost put back. Only the two functions it names are added.
SEED_SNIPPET = """\
Resources:
  EventInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: "YourLambdaFunctionWithEventInvokeConfig"
      Qualifier: "$LATEST"
      MaximumEventAgeInSeconds: 600
      MaximumRetryAttempts: 0
      DestinationConfig:
        OnSuccess:
          Destination: "arn:aws:sns:us-east-1:123456789012:YourSNSTopicOnSuccess"
        OnFailure:
          Destination: "arn:aws:lambda:us-east-1:123456789012:function:YourLambdaFunctionOnFailure"
"""

SEED_FUNCTIONS = """\
  YourLambdaFunctionWithEventInvokeConfig:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: YourLambdaFunctionWithEventInvokeConfig
      Runtime: python3.11
      Handler: index.handler
      Code: {tester}
  YourLambdaFunctionOnFailure:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: YourLambdaFunctionOnFailure
      Runtime: python3.11
      Handler: index.handler
      Code: {collector}
      Environment:
        Variables:
          COLLECT_FILE: {records}
"""


def write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def seed_template(tmp_path: Path) -> tuple[Path, Path]:
    records = tmp_path / "failures.jsonl"
    records.touch()
    functions = SEED_FUNCTIONS.format(
        tester=FUNCTIONS / "tester", collector=FUNCTIONS / "collector", records=records
    )
    return write(tmp_path, SEED_SNIPPET + functions), records


async def function_names(running: Running) -> list[str]:
    page = await running.client.list_functions()
    return sorted(f["FunctionName"] for f in page["Functions"])


def actions(result: Any) -> dict[str, str]:
    return {r.logical_id: r.action for r in result.resources}


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

INLINE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Greeting:
    Type: String
    Default: hello
  Retries:
    Type: Number
    Default: "1"
Resources:
  Collector:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Code: ../functions/collector
      Environment:
        Variables:
          COLLECT_FILE: {records}
  Greeter:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${{AWS::StackName}}-greeter"
      Runtime: python3.11
      Handler: index.handler
      Timeout: 5
      MemorySize: 256
      Description: !Join [" ", [!Ref Greeting, from, !Ref "AWS::Region"]]
      Environment:
        Variables:
          GREETING: !Ref Greeting
          COLLECTOR: !Ref Collector
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              if event.get("fail"):
                  raise RuntimeError("asked to fail")
              return {{"greeting": os.environ["GREETING"], "collector": os.environ["COLLECTOR"]}}
  GreeterConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Greeter
      Qualifier: $LATEST
      MaximumRetryAttempts: !Ref Retries
      DestinationConfig:
        OnSuccess:
          Destination: !GetAtt Collector.Arn
        OnFailure:
          Destination: !Sub "arn:aws:lambda:${{AWS::Region}}:\
${{AWS::AccountId}}:function:${{Collector}}"
Outputs:
  GreeterArn:
    Value: !GetAtt Greeter.Arn
  Stack:
    Description: where it went
    Value: !Sub "${{AWS::StackName}} in ${{AWS::Partition}}:${{AWS::Region}}:${{AWS::AccountId}}"
"""


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

VERSIONED = """\
Resources:
  Target:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: versioned
      Runtime: python3.11
      Handler: index.handler
      Code:
        ZipFile: |
          def handler(event, context):
              return {{"version": context.function_version}}
  TargetVersion:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Target
      Description: first
  TargetAlias:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Target
      FunctionVersion: !GetAtt TargetVersion.Version
      Name: {alias}
      Description: production
  AliasConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Target
      Qualifier: {alias}
      MaximumRetryAttempts: 1
Outputs:
  VersionArn:
    Value: !Ref TargetVersion
  AliasArn:
    Value: !GetAtt TargetAlias.AliasArn
"""


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


# --- validation: nothing is half-applied ---------------------------------------------------


async def test_unsupported_resource_type_is_named_and_nothing_is_created(
    suite: Running, tmp_path: Path
) -> None:
    template, _ = seed_template(tmp_path)
    text = template.read_text() + (
        "  Table:\n    Type: AWS::DynamoDB::Table\n    Properties: {}\n"
        "  Topic:\n    Type: AWS::SNS::Topic\n"
    )

    with pytest.raises(TemplateError) as caught:
        await deploy(suite.client, write(tmp_path, text))

    assert str(caught.value) == (
        "Template format error: Unrecognized resource types: [AWS::DynamoDB::Table,"
        " AWS::SNS::Topic]"
    )
    assert await function_names(suite) == []


async def test_bad_reference_fails_before_anything_is_created(
    suite: Running, tmp_path: Path
) -> None:
    text = INLINE.format(records=tmp_path / "r.jsonl").replace(
        "!GetAtt Collector.Arn", "!GetAtt Colector.Arn"
    )
    (tmp_path / "stack").mkdir()
    (tmp_path / "functions").symlink_to(FUNCTIONS)

    with pytest.raises(TemplateError) as caught:
        await deploy(suite.client, write(tmp_path / "stack", text))

    assert "references undefined resource Colector" in str(caught.value)
    assert await function_names(suite) == []


async def test_every_problem_is_reported_at_once(suite: Running, tmp_path: Path) -> None:
    text = """\
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python9
      Handler: index.handler
      Code: ./no-such-dir
      Environment:
        Variables:
          TABLE: !Ref Nope
  Config:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Fn
      Qualifier: $LATEST
      MaximumRetryAttempts: 3
      DestinationConfig:
        OnSuccess:
          Destination: arn:aws:s3:::bucket
"""
    with pytest.raises(TemplateError) as caught:
        await deploy(suite.client, write(tmp_path, text))

    message = str(caught.value)
    assert "Unresolved resource dependencies [Nope]" in message
    assert "#/Runtime: python9 is not one of" in message
    assert "no-such-dir is not a directory or a .zip file" in message
    assert "#/MaximumRetryAttempts: 3 is not less or equal to 2" in message
    assert "arn:aws:s3:::bucket is not a supported OnSuccess destination" in message
    assert await function_names(suite) == []


async def test_missing_lambda_destination_fails_before_anything_is_created(
    suite: Running, tmp_path: Path
) -> None:
    template, _ = seed_template(tmp_path)
    text = (
        template.read_text()
        .replace("123456789012", "000000000000")
        .replace("function:YourLambdaFunctionOnFailure", "function:NotDeployedAnywhere")
    )

    with pytest.raises(TemplateError, match="The destination ARN .*NotDeployedAnywhere is invalid"):
        await deploy(suite.client, write(tmp_path, text))

    assert await function_names(suite) == []


async def test_parameters_without_values_and_unknown_overrides(
    suite: Running, tmp_path: Path
) -> None:
    text = "Parameters:\n  Name:\n    Type: String\n" + VERSIONED.format(alias="prod")
    template = write(tmp_path, text)

    with pytest.raises(TemplateError, match=r"Parameters: \[Name\] must have values"):
        await deploy(suite.client, template)
    with pytest.raises(TemplateError, match=r"Parameters: \[Typo\] do not exist"):
        await deploy(suite.client, template, overrides={"Name": "x", "Typo": "y"})
    assert await function_names(suite) == []


async def test_server_refusal_rolls_back_this_runs_creations(
    suite: Running, tmp_path: Path
) -> None:
    """A Lambda destination in another account passes local checks (a remote Lambda may take
    it); this suite has none configured, so the server refuses it after the functions exist."""
    await suite.deploy("existing", "echo")
    before = await suite.client.get_function_configuration("existing")
    foreign = "arn:aws:lambda:eu-west-1:111122223333:function:elsewhere"
    text = f"""\
Resources:
  New:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: brand-new
      Runtime: python3.11
      Handler: index.handler
      Code: {FUNCTIONS / "echo"}
  Existing:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: existing
      Runtime: python3.11
      Handler: index.handler
      Timeout: 9
      Code: {FUNCTIONS / "echo"}
  ExistingConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: existing
      Qualifier: $LATEST
      MaximumRetryAttempts: 1
  Config:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: brand-new
      Qualifier: $LATEST
      DestinationConfig:
        OnFailure:
          Destination: {foreign}
"""

    with pytest.raises(DeployError) as caught:
        await deploy(suite.client, write(tmp_path, text))

    error = caught.value
    assert error.logical_id == "Config"
    assert error.error.code == "InvalidParameterValueException"
    assert error.error.message == f"The destination ARN {foreign} is invalid."
    assert "deleted function brand-new" in error.rolled_back
    assert await function_names(suite) == ["existing"]
    after = await suite.client.get_function_configuration("existing")
    assert after["Timeout"] == before["Timeout"] == 3
    with pytest.raises(ResourceNotFoundException):
        await suite.client.get_function_event_invoke_config("existing")


PLUGIN_TEMPLATE = f"""\
Resources:
  Hooked:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: hooked
      Runtime: python3.11
      Handler: index.handler
      Code: {FUNCTIONS / "echo"}
  Config:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: hooked
      Qualifier: $LATEST
      DestinationConfig:
        OnFailure:
          Destination: https://hooks.example.com/failures
"""


async def test_a_plugin_destination_deploys_where_the_server_loads_the_plugin(
    suite: Running, tmp_path: Path
) -> None:
    """Only the server knows its plugins: a URI passes the template's checks (the webhook
    plugin, installed with the tests, claims https)."""
    await deploy(suite.client, write(tmp_path, PLUGIN_TEMPLATE))

    config = await suite.client.get_function_event_invoke_config("hooked")
    assert config["DestinationConfig"]["OnFailure"] == {
        "Destination": "https://hooks.example.com/failures"
    }


async def test_a_plugin_destination_the_server_lacks_is_named_and_rolled_back(
    suite_without_webhook: Running, tmp_path: Path
) -> None:
    with pytest.raises(DeployError) as caught:
        await deploy(suite_without_webhook.client, write(tmp_path, PLUGIN_TEMPLATE))

    error = caught.value
    assert error.logical_id == "Config"
    assert error.error.code == "InvalidParameterValueException"
    assert error.error.message.startswith(
        "The destination https://hooks.example.com/failures is invalid: no loaded destination "
        "plugin claims the https scheme for OnFailure (loaded adapters: "
    )
    assert "deleted function hooked" in error.rolled_back
    assert await function_names(suite_without_webhook) == []
