"""The CLI against a real gRPC server (tests/clients/fakes.py): AWS CLI output and exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from eventinvoke.cli import cli

RunCli = Callable[..., Result]


def test_service_error_prints_the_aws_line_and_exits_254(
    run_cli: RunCli, fake_server: tuple[str, Any]
) -> None:
    endpoint, _ = fake_server
    result = run_cli(
        [
            "put-function-event-invoke-config",
            "--function-name", "raise:InvalidParameterValueException:400",
            "--maximum-retry-attempts", "1",
        ],
        endpoint,
    )  # fmt: skip

    assert result.exit_code == 254
    assert result.stdout == ""
    assert result.stderr == (
        "An error occurred (InvalidParameterValueException) when calling the "
        "PutFunctionEventInvokeConfig operation: InvalidParameterValueException for you\n"
    )


def test_get_function_configuration_names_its_own_operation(
    run_cli: RunCli, fake_server: tuple[str, Any]
) -> None:
    endpoint, _ = fake_server
    result = run_cli(
        ["get-function-configuration", "--function-name", "raise:ResourceNotFoundException:404"],
        endpoint,
    )

    assert result.exit_code == 254
    assert "when calling the GetFunctionConfiguration operation" in result.stderr


def test_unreachable_endpoint_exits_255(run_cli: RunCli, dead_endpoint: str) -> None:
    result = run_cli(["list-functions"], dead_endpoint)

    assert result.exit_code == 255
    assert result.stderr == f'Could not connect to the endpoint URL: "{dead_endpoint}"\n'


def test_bad_json_is_a_parameter_error(run_cli: RunCli, dead_endpoint: str) -> None:
    result = run_cli(
        ["put-function-event-invoke-config", "--function-name", "f",
         "--destination-config", '{"OnFailure": '],
        dead_endpoint,
    )  # fmt: skip

    assert result.exit_code == 252
    assert "Invalid value for '--destination-config': Invalid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_wrong_shape_is_a_parameter_error(run_cli: RunCli, fake_server: tuple[str, Any]) -> None:
    endpoint, invoker = fake_server
    result = run_cli(
        ["put-function-event-invoke-config", "--function-name", "f",
         "--destination-config", '{"onFailure": {}}'],
        endpoint,
    )  # fmt: skip

    assert result.exit_code == 252
    assert 'Unknown parameter in DestinationConfig: "onFailure"' in result.stderr
    assert invoker.requests == []


def test_unreadable_payload_file_is_a_parameter_error(run_cli: RunCli, dead_endpoint: str) -> None:
    result = run_cli(
        ["invoke", "--function-name", "f", "--payload", "fileb:///nope/event.json", "out.json"],
        dead_endpoint,
    )

    assert result.exit_code == 252
    assert "Unable to load paramfile fileb:///nope/event.json" in result.stderr


def test_invoke_writes_the_payload_and_prints_like_the_aws_cli(
    run_cli: RunCli, fake_server: tuple[str, Any], tmp_path: Path
) -> None:
    endpoint, invoker = fake_server
    (tmp_path / "event.json").write_text('{"a": 1}')
    out = tmp_path / "out.json"

    result = run_cli(
        ["invoke", "--function-name", "failing", "--payload", f"file://{tmp_path}/event.json",
         "--log-type", "Tail", "--cli-binary-format", "raw-in-base64-out", str(out)],
        endpoint,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout == json.dumps(
        {"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "bG9n",
         "ExecutedVersion": "$LATEST"},
        indent=4,
    ) + "\n"  # fmt: skip
    assert out.read_bytes() == b'{"echo": {"a": 1}}'
    assert invoker.requests[-1].payload == b'{"a": 1}'


def test_event_invoke_prints_only_the_status(
    run_cli: RunCli, fake_server: tuple[str, Any], tmp_path: Path
) -> None:
    endpoint, _ = fake_server
    result = run_cli(
        ["invoke", "--function-name", "f", "--invocation-type", "Event", "--payload", "{}",
         str(tmp_path / "out")],
        endpoint,
    )  # fmt: skip

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"StatusCode": 202}
    assert (tmp_path / "out").read_bytes() == b""


def test_create_function_zips_the_directory_and_parses_shorthand(
    run_cli: RunCli, fake_server: tuple[str, Any], tmp_path: Path
) -> None:
    endpoint, invoker = fake_server
    (tmp_path / "src" / "lib").mkdir(parents=True)
    (tmp_path / "src" / "index.py").write_text("def handler(e, c): return e\n")
    (tmp_path / "src" / "lib" / "x.py").write_text("")

    result = run_cli(
        ["create-function", "--function-name", "f", "--runtime", "python3.12",
         "--handler", "index.handler", "--code", str(tmp_path / "src"),
         "--environment", "Variables={K=V,K2=V2}",
         "--dead-letter-config", "TargetArn=arn:aws:sqs:us-east-1:000000000000:dlq",
         "--timeout", "10"],
        endpoint,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    request = invoker.requests[-1]
    assert zipfile.ZipFile(io.BytesIO(request.zip_file)).namelist() == ["index.py", "lib/x.py"]
    assert dict(request.environment) == {"K": "V", "K2": "V2"}
    assert request.dead_letter_target_arn == "arn:aws:sqs:us-east-1:000000000000:dlq"
    assert request.timeout == 10 and not request.HasField("memory_size")
    shown = json.loads(result.stdout)
    assert shown["Environment"] == {"Variables": {"K": "V", "K2": "V2"}}
    assert shown["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert result.stdout.startswith('{\n    "FunctionName": "f",')


def test_create_function_needs_exactly_one_code_source(run_cli: RunCli, dead_endpoint: str) -> None:
    result = run_cli(
        ["create-function", "--function-name", "f", "--runtime", "python3.12",
         "--handler", "index.handler"],
        dead_endpoint,
    )  # fmt: skip

    assert result.exit_code == 252
    assert "exactly one of --code and --zip-file" in result.stderr


def test_update_function_configuration_sends_only_given_options(
    run_cli: RunCli, fake_server: tuple[str, Any]
) -> None:
    endpoint, invoker = fake_server
    result = run_cli(
        ["update-function-configuration", "--function-name", "f", "--dead-letter-config",
         "TargetArn=", "--description", ""],
        endpoint,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    request = invoker.requests[-1]
    given = {field.name for field, _ in request.ListFields()}
    assert given == {"function_name", "dead_letter_target_arn", "description"}


def test_event_invoke_config_round_trip_and_silent_delete(
    run_cli: RunCli, fake_server: tuple[str, Any]
) -> None:
    endpoint, _ = fake_server
    put = run_cli(
        ["put-function-event-invoke-config", "--function-name", "f", "--qualifier", "1",
         "--maximum-event-age-in-seconds", "60",
         "--destination-config", '{"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:0:ok"}}'],
        endpoint,
    )  # fmt: skip
    delete = run_cli(["delete-function-event-invoke-config", "--function-name", "f"], endpoint)

    assert json.loads(put.stdout) == {
        "LastModified": 1573686021.479,
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:1",
        "MaximumEventAgeInSeconds": 60,
        "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:0:ok"},
                              "OnFailure": {}},
    }  # fmt: skip
    assert delete.exit_code == 0 and delete.stdout == ""


def test_list_failed_deliveries_asks_the_router_endpoint(
    run_cli: RunCli, fake_server: tuple[str, Any], dead_endpoint: str
) -> None:
    endpoint, _ = fake_server

    ok = run_cli(["list-failed-deliveries"], dead_endpoint, router_endpoint=endpoint)
    unreachable = run_cli(["list-failed-deliveries"], endpoint, router_endpoint=dead_endpoint)

    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["FailedDeliveries"][0]["Destination"]["Kind"] == "OnFailure"
    assert unreachable.exit_code == 255
    assert dead_endpoint in unreachable.stderr


def test_the_installed_command_form_uses_env_and_never_shows_a_traceback(
    dead_endpoint: str,
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(["protos", "services", "plugins", "clients"]),
        "EVENTINVOKE_ENDPOINT": dead_endpoint,
    }
    done = subprocess.run(
        [sys.executable, "-m", "eventinvoke.cli", "get-function", "--function-name", "f"],
        cwd=Path(__file__).parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 255
    assert done.stderr == f'Could not connect to the endpoint URL: "{dead_endpoint}"\n'


def test_endpoint_url_is_an_alias(fake_server: tuple[str, Any]) -> None:
    endpoint, _ = fake_server
    result = CliRunner().invoke(cli, ["--endpoint-url", f"http://{endpoint}/", "list-functions"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["NextMarker"] == "m2"
