"""The CLI against the real suite: AWS CLI output, exit codes and errors.

Commands run in-process through click's runner (``run_cli``), the suite on its own thread
(``suite_in_thread``); a few run the installed command in its own process (``run_installed``).
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import FUNCTIONS, read_lines, wait_until

from eventinvoke.cli import params

RunCli = Callable[..., Any]

REPO = Path(__file__).parents[2]
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
SQS_QUEUE = "arn:aws:sqs:us-east-1:000000000000:q"
STATUS_202 = '{\n    "StatusCode": 202\n}\n'  # the AWS CLI's output for an Event invoke
PYTHON = ["--runtime", "python3.11", "--handler", "index.handler"]


def output(done: Any) -> Any:
    """The JSON a successful command printed."""
    assert done.exit_code == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def aws_error(name: str, operation: str, message: str) -> str:
    return f"An error occurred ({name}) when calling the {operation} operation: {message}\n"


def create(run_cli: RunCli, endpoint: str, name: str, source: Path, *extra: str) -> Any:
    return output(
        run_cli(
            ["create-function", "--function-name", name, *PYTHON, "--code", str(source), *extra],
            endpoint,
        )
    )


def collector(run_cli: RunCli, endpoint: str, tmp_path: Path, name: str = "collector") -> Path:
    """Create the tests' collector function; returns the file its records land in."""
    records = tmp_path / f"{name}.jsonl"
    records.touch()
    environment = json.dumps({"Variables": {"COLLECT_FILE": str(records)}})
    create(run_cli, endpoint, name, FUNCTIONS / "collector", "--environment", environment)
    return records


def events_in(records: Path, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    wait_until(lambda: len(read_lines(records)) >= count, timeout)
    return [line["event"] for line in read_lines(records)]


# --- the README walkthrough -------------------------------------------------------------------


def test_readme_walkthrough(run_cli: RunCli, suite_in_thread: str, tmp_path: Path) -> None:
    endpoint = suite_in_thread
    tester = create(
        run_cli, endpoint, "event-destinations", REPO / "examples" / "destinations-tester"
    )
    records = collector(run_cli, endpoint, tmp_path)
    put = run_cli(
        ["put-function-event-invoke-config", "--function-name", "event-destinations",
         "--maximum-retry-attempts", "2", "--maximum-event-age-in-seconds", "600",
         "--destination-config",
         json.dumps({"OnSuccess": {"Destination": ARN + "collector"},
                     "OnFailure": {"Destination": ARN + "collector"}})],
        endpoint,
    )  # fmt: skip

    def invoke(payload: str) -> Any:
        return run_cli(
            ["invoke", "--function-name", "event-destinations", "--invocation-type", "Event",
             "--payload", payload, "response.json"],
            endpoint,
            cwd=tmp_path,
        )  # fmt: skip

    success = invoke('{ "Success": true }')
    [ok] = events_in(records, 1)
    failure = invoke('{ "Success": false }')
    [_, failed] = events_in(records, 2, timeout=20)

    assert tester["FunctionArn"] == ARN + "event-destinations"
    assert output(put) == {
        "LastModified": output(put)["LastModified"],
        "FunctionArn": ARN + "event-destinations:$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 600,
        "DestinationConfig": {
            "OnSuccess": {"Destination": ARN + "collector"},
            "OnFailure": {"Destination": ARN + "collector"},
        },
    }
    # Exactly what the AWS CLI prints for an Event invoke, and an empty outfile.
    for done in (success, failure):
        assert (done.exit_code, done.stdout, done.stderr) == (0, STATUS_202, "")
    assert (tmp_path / "response.json").read_bytes() == b""
    function_arn = ARN + "event-destinations:$LATEST"
    assert ok["requestContext"]["condition"] == "Success"
    assert ok["requestContext"]["functionArn"] == function_arn
    assert ok["requestContext"]["approximateInvokeCount"] == 1
    assert ok["requestPayload"] == {"Success": True}
    assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert ok["responsePayload"] is None
    assert failed["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["requestContext"]["approximateInvokeCount"] == 3
    assert failed["requestPayload"] == {"Success": False}
    assert failed["responseContext"]["functionError"] == "Unhandled"
    error = failed["responsePayload"]
    assert error["errorMessage"] == "Failure from event, Success = false, I am failing!"
    assert error["errorType"] == "Exception" and error["stackTrace"]


def test_readme_collector_prints_the_record_to_its_log(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    create(run_cli, endpoint, "event-destinations", REPO / "examples" / "destinations-tester")
    create(run_cli, endpoint, "collector", REPO / "examples" / "collector")
    output(
        run_cli(
            ["put-function-event-invoke-config", "--function-name", "event-destinations",
             "--destination-config", json.dumps({"OnSuccess": {"Destination": ARN + "collector"}})],
            endpoint,
        )
    )  # fmt: skip

    run_cli(
        ["invoke", "--function-name", "event-destinations", "--invocation-type", "Event",
         "--payload", '{ "Success": true }', str(tmp_path / "response.json")],
        endpoint,
    )  # fmt: skip

    logs = tmp_path / "data" / "logs" / "collector"

    def printed() -> list[dict[str, Any]]:
        lines = [line for log in logs.glob("*.log") for line in log.read_text().splitlines()]
        return [json.loads(line[len("EVENT ") :]) for line in lines if line.startswith("EVENT ")]

    [record] = wait_until(printed)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"Success": True}


# --- errors -----------------------------------------------------------------------------------


def test_readme_validation_error(run_cli: RunCli, suite_in_thread: str) -> None:
    create(run_cli, suite_in_thread, "event-destinations", FUNCTIONS / "tester")

    done = run_cli(
        ["put-function-event-invoke-config", "--function-name", "event-destinations",
         "--maximum-retry-attempts", "3"],
        suite_in_thread,
    )  # fmt: skip

    assert done.exit_code == 254
    assert done.stdout == ""
    assert done.stderr == aws_error(
        "ValidationException",
        "PutFunctionEventInvokeConfig",
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
        "constraint: Member must have value less than or equal to 2",
    )


def test_service_errors_print_the_aws_line_and_exit_254(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    create(run_cli, endpoint, "fn", FUNCTIONS / "tester")
    out = tmp_path / "out.json"

    cases = [
        (
            ["get-function-configuration", "--function-name", "nope"],
            aws_error("ResourceNotFoundException", "GetFunctionConfiguration",
                      f"Function not found: {ARN}nope"),
        ),
        (
            ["put-function-event-invoke-config", "--function-name", "fn"],
            aws_error("InvalidParameterValueException", "PutFunctionEventInvokeConfig",
                      "You must specify at least one of error handling or destination setting."),
        ),
        (
            ["create-function", "--function-name", "fn", *PYTHON,
             "--code", str(FUNCTIONS / "tester")],
            aws_error("ResourceConflictException", "CreateFunction", "Function already exist: fn"),
        ),
        (
            ["delete-function", "--function-name", "nope"],
            aws_error("ResourceNotFoundException", "DeleteFunction",
                      f"Function not found: {ARN}nope"),
        ),
    ]  # fmt: skip
    for args, stderr in cases:
        done = run_cli(args, endpoint)
        assert (done.exit_code, done.stdout, done.stderr) == (254, "", stderr), args

    bad_json = run_cli(
        ["invoke", "--function-name", "fn", "--payload", "{not json", str(out)], endpoint
    )
    assert bad_json.exit_code == 254
    assert bad_json.stderr.startswith(
        "An error occurred (InvalidRequestContentException) when calling the Invoke operation: "
        "Could not parse request body into json: Could not parse payload into json: "
    )
    assert bad_json.stderr.count("\n") == 1 and "Traceback" not in bad_json.stderr
    assert not out.exists()


def test_unreachable_endpoint_exits_255(run_installed: RunCli, dead_endpoint: str) -> None:
    done = run_installed(["list-functions"], dead_endpoint)

    assert done.returncode == 255
    assert done.stdout == ""
    assert done.stderr == f'Could not connect to the endpoint URL: "{dead_endpoint}"\n'


def test_bad_json_is_a_parameter_error(run_cli: RunCli, dead_endpoint: str) -> None:
    # Against a dead endpoint: had anything been sent, this would exit 255.
    done = run_cli(
        ["put-function-event-invoke-config", "--function-name", "f",
         "--destination-config", '{"OnFailure": '],
        dead_endpoint,
    )  # fmt: skip

    assert done.exit_code == 252
    assert "Invalid value for '--destination-config': Invalid JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_shape_is_a_parameter_error_and_changes_nothing(
    run_cli: RunCli, suite_in_thread: str
) -> None:
    create(run_cli, suite_in_thread, "fn", FUNCTIONS / "tester")

    done = run_cli(
        ["put-function-event-invoke-config", "--function-name", "fn",
         "--destination-config", '{"onFailure": {}}'],
        suite_in_thread,
    )  # fmt: skip
    after = run_cli(["get-function-event-invoke-config", "--function-name", "fn"], suite_in_thread)

    assert done.exit_code == 252
    assert 'Unknown parameter in DestinationConfig: "onFailure"' in done.stderr
    assert after.exit_code == 254 and "ResourceNotFoundException" in after.stderr


def test_unreadable_payload_file_is_a_parameter_error(run_cli: RunCli, dead_endpoint: str) -> None:
    done = run_cli(
        ["invoke", "--function-name", "f", "--payload", "fileb:///nope/event.json", "out.json"],
        dead_endpoint,
    )

    assert done.exit_code == 252
    assert "Unable to load paramfile fileb:///nope/event.json" in done.stderr


def test_create_function_needs_exactly_one_code_source(
    run_cli: RunCli, dead_endpoint: str, tmp_path: Path
) -> None:
    package = tmp_path / "x.zip"
    package.write_bytes(params.zip_directory(FUNCTIONS / "tester"))

    code = ["--code", str(FUNCTIONS / "tester"), "--zip-file", f"fileb://{package}"]
    runs = []
    for command in (["create-function", *PYTHON], ["update-function-code"]):
        runs.append(run_cli([*command, "--function-name", "f"], dead_endpoint))  # neither
        runs.append(run_cli([*command, "--function-name", "f", *code], dead_endpoint))  # both

    for done in runs:
        assert done.exit_code == 252
        assert "exactly one of --code and --zip-file" in done.stderr


# --- functions --------------------------------------------------------------------------------


def test_create_function_from_a_directory_and_from_zip_files(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    package = tmp_path / "x.zip"
    package.write_bytes(params.zip_directory(FUNCTIONS / "tester"))

    from_dir = create(run_cli, endpoint, "from-dir", FUNCTIONS / "tester")
    from_code = output(
        run_cli(["create-function", "--function-name", "from-code", *PYTHON,
                 "--code", f"fileb://{package}"], endpoint)
    )  # fmt: skip
    from_zip = output(
        run_cli(["create-function", "--function-name", "from-zip", *PYTHON,
                 "--zip-file", f"fileb://{package}"], endpoint)
    )  # fmt: skip
    runs = run_cli(
        ["invoke", "--function-name", "from-zip", "--payload", '{"Success": true}',
         str(tmp_path / "out.json")],
        endpoint,
    )  # fmt: skip

    assert from_dir["CodeSize"] == package.stat().st_size
    assert from_dir["CodeSha256"] == from_code["CodeSha256"] == from_zip["CodeSha256"]
    assert from_zip["FunctionArn"] == ARN + "from-zip"
    assert output(runs) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert zipfile.ZipFile(package).namelist() == ["index.py"]


def test_function_lifecycle(run_cli: RunCli, suite_in_thread: str) -> None:
    endpoint = suite_in_thread
    created = create(
        run_cli, endpoint, "fn", FUNCTIONS / "tester",
        "--description", "a tester", "--timeout", "10",
        "--dead-letter-config", "TargetArn=arn:aws:sqs:us-east-1:000000000000:dlq",
    )  # fmt: skip

    got = run_cli(["get-function", "--function-name", "fn"], endpoint)
    listed = run_cli(["list-functions"], endpoint)
    updated = run_cli(
        ["update-function-configuration", "--function-name", "fn", "--timeout", "5",
         "--environment", "Variables={KEY=V}"],
        endpoint,
    )  # fmt: skip
    deleted = run_cli(["delete-function", "--function-name", "fn"], endpoint)
    after = run_cli(["list-functions"], endpoint)
    gone = run_cli(["get-function", "--function-name", "fn"], endpoint)

    assert list(created)[:2] == ["FunctionName", "FunctionArn"]
    assert created["Timeout"] == 10 and created["Description"] == "a tester"
    assert created["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert "Environment" not in created
    assert got.stdout.startswith('{\n    "Configuration": {\n        "FunctionName": "fn",')
    assert output(got) == {"Configuration": created}
    assert output(listed) == {"Functions": [created]}
    changed = output(updated)
    assert changed["Timeout"] == 5
    assert changed["Environment"] == {"Variables": {"KEY": "V"}}
    assert changed["Description"] == "a tester"  # not given: kept
    assert changed["DeadLetterConfig"] == created["DeadLetterConfig"]
    assert changed["RevisionId"] != created["RevisionId"]
    assert (deleted.exit_code, deleted.stdout, deleted.stderr) == (0, "", "")
    assert output(after) == {"Functions": []}
    assert gone.exit_code == 254
    assert gone.stderr == aws_error(
        "ResourceNotFoundException", "GetFunction", f"Function not found: {ARN}fn"
    )


def test_update_function_code_from_a_zip_file_or_a_directory(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    created = create(run_cli, endpoint, "fn", FUNCTIONS / "tester")
    package = tmp_path / "echo.zip"
    package.write_bytes(params.zip_directory(FUNCTIONS / "echo"))
    out = tmp_path / "out.json"

    from_zip = run_cli(
        ["update-function-code", "--function-name", "fn", "--zip-file", f"fileb://{package}"],
        endpoint,
    )
    shown = run_cli(["get-function-configuration", "--function-name", "fn"], endpoint)
    runs = run_cli(["invoke", "--function-name", "fn", "--payload", '{"a": 1}', str(out)], endpoint)
    published = run_cli(
        ["update-function-code", "--function-name", "fn", "--code", str(FUNCTIONS / "tester"),
         "--publish"],
        endpoint,
    )  # fmt: skip
    missing = run_cli(
        ["update-function-code", "--function-name", "nope", "--zip-file", f"fileb://{package}"],
        endpoint,
    )

    updated = output(from_zip)
    assert from_zip.stdout == shown.stdout  # printed as get-function-configuration prints it
    assert updated["CodeSha256"] != created["CodeSha256"]
    assert updated["CodeSize"] == package.stat().st_size
    assert updated["RevisionId"] != created["RevisionId"]
    assert output(runs)["StatusCode"] == 200
    assert json.loads(out.read_bytes())["event"] == {"a": 1}  # the echo function's code ran
    version = output(published)
    assert version["Version"] == "1"
    assert version["CodeSha256"] == created["CodeSha256"]  # the tester's code again
    assert (missing.exit_code, missing.stdout) == (254, "")
    assert missing.stderr == aws_error(
        "ResourceNotFoundException", "UpdateFunctionCode", f"Function not found: {ARN}nope"
    )


def test_request_response_invoke_writes_the_result_to_the_outfile(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    create(run_cli, endpoint, "echo", FUNCTIONS / "echo")
    (tmp_path / "event.json").write_text('{"a": 1}')
    out = tmp_path / "out.json"

    done = run_cli(
        ["invoke", "--function-name", "echo", "--payload", f"file://{tmp_path}/event.json",
         "--cli-binary-format", "raw-in-base64-out", str(out)],
        endpoint,
    )  # fmt: skip

    assert done.exit_code == 0, done.stderr
    assert done.stdout == '{\n    "StatusCode": 200,\n    "ExecutedVersion": "$LATEST"\n}\n'
    seen = json.loads(out.read_bytes())
    assert seen["event"] == {"a": 1}
    assert seen["invoked_function_arn"] == ARN + "echo"


def test_log_type_tail_returns_the_log_and_the_function_error(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    create(run_cli, suite_in_thread, "fn", FUNCTIONS / "tester")
    out = tmp_path / "out.json"

    done = run_cli(
        ["invoke", "--function-name", "fn", "--payload", '{"Success": false}',
         "--log-type", "Tail", str(out)],
        suite_in_thread,
    )  # fmt: skip

    shown = output(done)
    assert list(shown) == ["StatusCode", "FunctionError", "LogResult", "ExecutedVersion"]
    assert shown["StatusCode"] == 200 and shown["FunctionError"] == "Unhandled"
    tail = base64.b64decode(shown["LogResult"]).decode()
    assert "START RequestId: " in tail and "END RequestId: " in tail
    assert "REPORT RequestId: " in tail and "Failure from event" in tail
    error = json.loads(out.read_bytes())
    assert error["errorMessage"] == "Failure from event, Success = false, I am failing!"


def test_dry_run_is_204_and_runs_nothing(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    create(run_cli, suite_in_thread, "fn", FUNCTIONS / "tester")
    out = tmp_path / "out.json"

    done = run_cli(
        ["invoke", "--function-name", "fn", "--invocation-type", "DryRun", str(out)],
        suite_in_thread,
    )

    assert (done.exit_code, done.stdout, done.stderr) == (0, '{\n    "StatusCode": 204\n}\n', "")
    assert out.read_bytes() == b""
    assert not (tmp_path / "data" / "logs" / "fn").exists()


# --- event invoke configs and failed deliveries -----------------------------------------------


def test_event_invoke_config_commands(run_cli: RunCli, suite_in_thread: str) -> None:
    endpoint = suite_in_thread
    create(run_cli, endpoint, "fn", FUNCTIONS / "tester")
    name = ["--function-name", "fn"]

    put = output(
        run_cli(["put-function-event-invoke-config", *name, "--maximum-event-age-in-seconds",
                 "60", "--destination-config",
                 json.dumps({"OnFailure": {"Destination": SQS_QUEUE}})], endpoint)
    )  # fmt: skip
    updated = output(
        run_cli(["update-function-event-invoke-config", *name, "--maximum-retry-attempts", "1"],
                endpoint)
    )  # fmt: skip
    got = output(run_cli(["get-function-event-invoke-config", *name], endpoint))
    listed = output(run_cli(["list-function-event-invoke-configs", *name], endpoint))
    deleted = run_cli(["delete-function-event-invoke-config", *name], endpoint)
    after = output(run_cli(["list-function-event-invoke-configs", *name], endpoint))
    get_after = run_cli(["get-function-event-invoke-config", *name], endpoint)

    destinations = {"OnSuccess": {}, "OnFailure": {"Destination": SQS_QUEUE}}
    assert put == {
        "LastModified": put["LastModified"],
        "FunctionArn": ARN + "fn:$LATEST",
        "MaximumEventAgeInSeconds": 60,
        "DestinationConfig": destinations,
    }
    assert isinstance(put["LastModified"], float)
    assert updated == {
        "LastModified": updated["LastModified"],
        "FunctionArn": ARN + "fn:$LATEST",
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 60,  # kept by Update
        "DestinationConfig": destinations,
    }
    assert got == updated
    assert listed == {"FunctionEventInvokeConfigs": [updated]}
    assert (deleted.exit_code, deleted.stdout, deleted.stderr) == (0, "", "")
    assert after == {"FunctionEventInvokeConfigs": []}
    assert get_after.exit_code == 254
    assert get_after.stderr == aws_error(
        "ResourceNotFoundException",
        "GetFunctionEventInvokeConfig",
        f"The function {ARN}fn:$LATEST doesn't have an EventInvokeConfig",
    )


def test_list_failed_deliveries(
    run_cli: RunCli, suite_in_thread: str, dead_endpoint: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    create(run_cli, endpoint, "fn", FUNCTIONS / "tester")
    output(
        run_cli(["put-function-event-invoke-config", "--function-name", "fn",
                 "--destination-config", json.dumps({"OnSuccess": {"Destination": SQS_QUEUE}})],
                endpoint)
    )  # fmt: skip
    empty = output(run_cli(["list-failed-deliveries"], endpoint))
    output(
        run_cli(["invoke", "--function-name", "fn", "--invocation-type", "Event",
                 "--payload", '{"Success": true}', str(tmp_path / "out.json")], endpoint)
    )  # fmt: skip

    # This build has no SQS adapter: the record lands in the failed-delivery store.
    listed = wait_until(
        lambda: output(run_cli(["list-failed-deliveries"], endpoint))["FailedDeliveries"]
    )
    through_router = run_cli(["list-failed-deliveries"], dead_endpoint, router_endpoint=endpoint)
    unreachable = run_cli(["list-failed-deliveries"], endpoint, router_endpoint=dead_endpoint)

    assert empty == {"FailedDeliveries": []}
    [delivery] = listed
    assert list(delivery) == ["DeliveryId", "Destination", "Reason", "Attempts", "FailTime",
                              "Record"]  # fmt: skip
    assert delivery["Destination"] == {"Target": SQS_QUEUE, "Kind": "OnSuccess"}
    assert SQS_QUEUE in delivery["Reason"]
    assert delivery["Attempts"] >= 1
    assert delivery["Record"]["requestContext"]["condition"] == "Success"
    assert delivery["Record"]["requestContext"]["functionArn"] == ARN + "fn:$LATEST"
    assert delivery["Record"]["requestPayload"] == {"Success": True}
    assert output(through_router) == {"FailedDeliveries": [delivery]}
    assert unreachable.exit_code == 255
    assert unreachable.stderr == f'Could not connect to the endpoint URL: "{dead_endpoint}"\n'


# --- finding the server -----------------------------------------------------------------------


def test_installed_command_honours_eventinvoke_endpoint(
    run_cli: RunCli, run_installed: RunCli, suite_in_thread: str
) -> None:
    create(run_cli, suite_in_thread, "fn", FUNCTIONS / "tester")
    env = {"EVENTINVOKE_ENDPOINT": suite_in_thread}

    listed = run_installed(["list-functions"], env=env)
    missing = run_installed(["get-function", "--function-name", "nope"], env=env)

    assert listed.returncode == 0, listed.stderr
    assert [f["FunctionName"] for f in json.loads(listed.stdout)["Functions"]] == ["fn"]
    assert missing.returncode == 254 and missing.stdout == ""
    assert missing.stderr == aws_error(
        "ResourceNotFoundException", "GetFunction", f"Function not found: {ARN}nope"
    )


def test_endpoint_url_is_an_alias(run_cli: RunCli, suite_in_thread: str) -> None:
    create(run_cli, suite_in_thread, "fn", FUNCTIONS / "tester")

    done = run_cli(["--endpoint-url", f"http://{suite_in_thread}/", "list-functions"])

    assert [f["FunctionName"] for f in output(done)["Functions"]] == ["fn"]
