"""The templates and helpers the deploy tests share: the 2019 announcement's snippet, a
CloudFormation stack with inline code and intrinsics, and version and alias resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FUNCTIONS, Running

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
