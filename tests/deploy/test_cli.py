"""``eventinvoke deploy`` end to end: the suite on its own thread, the command in-process (click's
runner) and once as the installed command in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from conftest import FUNCTIONS

from eventinvoke.cli import cli
from eventinvoke.client import Client

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"

TEMPLATE = f"""\
Parameters:
  Retries:
    Type: Number
    Default: 2
Resources:
  Worker:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Code: {FUNCTIONS / "tester"}
  OnFailure:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: cli-on-failure
      Runtime: python3.11
      Handler: index.handler
      Code:
        ZipFile: |
          def handler(event, context):
              return None
  EventInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Worker
      Qualifier: "$LATEST"
      MaximumEventAgeInSeconds: 600
      MaximumRetryAttempts: !Ref Retries
      DestinationConfig:
        OnSuccess:
          Destination: !Sub "arn:aws:sns:${{AWS::Region}}:${{AWS::AccountId}}:ok"
        OnFailure:
          Destination: !GetAtt OnFailure.Arn
Outputs:
  WorkerArn:
    Value: !GetAtt Worker.Arn
"""


def run(endpoint: str, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("EVENTINVOKE_")}
    return CliRunner(env=env).invoke(cli, ["--endpoint", endpoint, *args], catch_exceptions=False)


def names(endpoint: str) -> list[str]:
    with Client(endpoint) as client:
        return sorted(f["FunctionName"] for f in client.list_functions()["Functions"])


def template(tmp_path: Path, text: str = TEMPLATE) -> str:
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    return str(path)


def test_deploy_prints_a_summary_and_outputs(suite_in_thread: str, tmp_path: Path) -> None:
    done = run(
        suite_in_thread,
        "deploy",
        template(tmp_path),
        "--stack-name",
        "shop",
        "--parameter-overrides",
        "Retries=1",
    )

    assert done.exit_code == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout) == {
        "StackName": "shop",
        "DryRun": False,
        "Resources": [
            {
                "LogicalResourceId": "Worker",
                "ResourceType": "AWS::Lambda::Function",
                "Action": "Add",
                "PhysicalResourceId": "shop-Worker",
                "Arn": ARN + "shop-Worker",
            },
            {
                "LogicalResourceId": "OnFailure",
                "ResourceType": "AWS::Lambda::Function",
                "Action": "Add",
                "PhysicalResourceId": "cli-on-failure",
                "Arn": ARN + "cli-on-failure",
            },
            {
                "LogicalResourceId": "EventInvokeConfig",
                "ResourceType": "AWS::Lambda::EventInvokeConfig",
                "Action": "Add",
                "PhysicalResourceId": ARN + "shop-Worker:$LATEST",
            },
        ],
        "Outputs": [{"OutputKey": "WorkerArn", "OutputValue": ARN + "shop-Worker"}],
    }
    with Client(suite_in_thread) as client:
        config = client.get_function_event_invoke_config("shop-Worker")
    assert config["MaximumRetryAttempts"] == 1
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:000000000000:ok"},
        "OnFailure": {"Destination": ARN + "cli-on-failure"},
    }

    again = run(suite_in_thread, "deploy", template(tmp_path), "--stack-name", "shop")
    assert again.exit_code == 0, again.stderr
    actions = {r["LogicalResourceId"]: r["Action"] for r in json.loads(again.stdout)["Resources"]}
    assert actions == {"Worker": "NoChange", "OnFailure": "NoChange", "EventInvokeConfig": "Modify"}
    assert names(suite_in_thread) == ["cli-on-failure", "shop-Worker"]


def test_dry_run_shows_the_plan_and_changes_nothing(suite_in_thread: str, tmp_path: Path) -> None:
    done = run(suite_in_thread, "deploy", template(tmp_path), "--dry-run")

    assert done.exit_code == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    assert summary["DryRun"] is True and summary["StackName"] == "stack"  # the file's name
    assert [r["Action"] for r in summary["Resources"]] == ["Add", "Add", "Add"]
    assert names(suite_in_thread) == []


def test_an_invalid_template_is_an_aws_style_error(suite_in_thread: str, tmp_path: Path) -> None:
    text = TEMPLATE.replace("Outputs:", "  Table:\n    Type: AWS::DynamoDB::Table\nOutputs:")

    done = run(suite_in_thread, "deploy", template(tmp_path, text))

    assert done.exit_code == 254
    assert done.stdout == ""
    assert done.stderr == (
        "An error occurred (ValidationError) when calling the ValidateTemplate operation:"
        " Template format error: Unrecognized resource types: [AWS::DynamoDB::Table]\n"
    )
    assert names(suite_in_thread) == []


def test_a_server_refusal_is_reported_and_rolled_back(suite_in_thread: str, tmp_path: Path) -> None:
    foreign = "arn:aws:lambda:eu-west-1:111122223333:function:elsewhere"
    text = TEMPLATE.replace("!GetAtt OnFailure.Arn", foreign)

    done = run(suite_in_thread, "deploy", template(tmp_path, text))

    assert done.exit_code == 254
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "An error occurred (InvalidParameterValueException) when calling the"
        f" PutFunctionEventInvokeConfig operation: The destination ARN {foreign} is invalid."
    )
    assert lines[1] == "Failed at resource EventInvokeConfig."
    assert sorted(lines[2:]) == [
        "Rolled back: deleted function cli-on-failure",
        "Rolled back: deleted function stack-Worker",
    ]
    assert "Traceback" not in done.output
    assert names(suite_in_thread) == []


def test_usage_errors_exit_252(suite_in_thread: str, tmp_path: Path) -> None:
    bad_override = run(
        suite_in_thread, "deploy", template(tmp_path), "--parameter-overrides", "NoEquals"
    )
    missing = run(suite_in_thread, "deploy", str(tmp_path / "absent.yaml"))

    assert bad_override.exit_code == 252
    assert "'NoEquals' is not Key=Value" in bad_override.stderr
    assert missing.exit_code == 252
    assert "does not exist" in missing.stderr
    assert names(suite_in_thread) == []


def test_installed_command(suite_in_thread: str, tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "eventinvoke"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTINVOKE_")}

    done = subprocess.run(
        [str(command), "--endpoint", suite_in_thread, "deploy", template(tmp_path)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert [r["Action"] for r in json.loads(done.stdout)["Resources"]] == ["Add"] * 3
    assert names(suite_in_thread) == ["cli-on-failure", "stack-Worker"]
