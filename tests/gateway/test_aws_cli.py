"""The AWS CLI against the gateway: the 2019 announcement's walkthrough, command for command.

The two ``aws lambda invoke ... --invocation-type Event`` commands are the seed's exactly as
written, plus ``--endpoint-url``. The CLI is v1 (the ``awscli`` package, in the test extra), which
takes ``--payload`` as raw text; v2 would need ``--cli-binary-format raw-in-base64-out``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from conftest import FUNCTIONS, read_lines, wait_until, zip_dir
from gateway.harness import ACCOUNT_ARN, AWS, ROLE, GatewaySuite

SEED_SUCCESS = (
    """aws lambda invoke --function-name event-destinations --invocation-type Event """
    """--payload '{ "Success": true }' response.json"""
)
SEED_FAILURE = (
    """aws lambda invoke --function-name event-destinations --invocation-type Event """
    """--payload '{ "Success": false }' response.json"""
)


def _aws(gateway: GatewaySuite, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run an ``aws ...`` command line as a user would type it, pointed at the gateway."""
    argv = shlex.split(command) + ["--endpoint-url", gateway.url]
    assert argv[0] == "aws"
    return subprocess.run(
        [AWS, *argv[1:]], cwd=cwd, env=gateway.aws_env(), capture_output=True, text=True, timeout=60
    )


def test_the_seed_walkthrough_with_the_aws_cli(gateway: GatewaySuite, tmp_path: Path) -> None:
    on_success = gateway.collector("cli-on-success")
    on_failure = gateway.collector("cli-on-failure")
    (tmp_path / "function.zip").write_bytes(zip_dir(FUNCTIONS / "tester"))
    destinations = {
        "OnSuccess": {"Destination": f"{ACCOUNT_ARN}:cli-on-success"},
        "OnFailure": {"Destination": f"{ACCOUNT_ARN}:cli-on-failure"},
    }
    created = _aws(
        gateway,
        "aws lambda create-function --function-name event-destinations --runtime python3.11 "
        f"--handler index.handler --role {ROLE} --zip-file fileb://function.zip",
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["FunctionArn"] == f"{ACCOUNT_ARN}:event-destinations"
    configured = _aws(
        gateway,
        "aws lambda put-function-event-invoke-config --function-name event-destinations "
        f"--maximum-retry-attempts 2 --destination-config '{json.dumps(destinations)}'",
        tmp_path,
    )
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["DestinationConfig"] == destinations

    success = _aws(gateway, SEED_SUCCESS, tmp_path)
    failure = _aws(gateway, SEED_FAILURE, tmp_path)

    for run in (success, failure):
        assert run.returncode == 0, run.stderr
        assert '"StatusCode": 202' in run.stdout
        assert json.loads(run.stdout) == {"StatusCode": 202}
    assert (tmp_path / "response.json").read_bytes() == b""  # an Event invoke has no body
    [ok] = wait_until(lambda: read_lines(on_success))
    assert ok["event"]["requestContext"]["condition"] == "Success"
    assert (
        ok["event"]["requestContext"]["functionArn"] == f"{ACCOUNT_ARN}:event-destinations:$LATEST"
    )
    assert ok["event"]["requestPayload"] == {"Success": True}
    assert ok["event"]["responsePayload"] is None
    [failed] = wait_until(lambda: read_lines(on_failure), timeout=20)
    assert failed["event"]["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["event"]["requestContext"]["approximateInvokeCount"] == 3
    assert failed["event"]["requestPayload"] == {"Success": False}
    assert failed["event"]["responseContext"]["functionError"] == "Unhandled"
    assert failed["event"]["responsePayload"]["errorMessage"] == (
        "Failure from event, Success = false, I am failing!"
    )


def test_the_aws_cli_shows_aws_errors(gateway: GatewaySuite, tmp_path: Path) -> None:
    run = _aws(
        gateway,
        "aws lambda invoke --function-name nope --invocation-type Event --payload '{}' out.json",
        tmp_path,
    )

    assert run.returncode == 255
    assert run.stderr.strip() == (
        "An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
        f"Function not found: {ACCOUNT_ARN}:nope:$LATEST"
    )
