"""Templates ``eventinvoke.deploy`` refuses: every problem named, nothing half-applied.

A template that cannot be deployed whole is refused before anything is created, or, when the
server refuses a step, this run's creations are rolled back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FUNCTIONS, Running
from deploy.templates import (
    INLINE,
    VERSIONED,
    function_names,
    seed_template,
    write,
)

from eventinvoke.client import ResourceNotFoundException
from eventinvoke.deploy import DeployError, TemplateError, deploy


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
