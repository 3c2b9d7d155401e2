"""`eventinvoke get-invocation` against the real suite: an Event invocation's status, attempts
and deliveries as the AWS CLI would print them, and the not-found error with its exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conftest import FUNCTIONS, wait_until, zip_dir

from eventinvoke.client import Client

RunCli = Callable[..., Any]
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def test_get_invocation_follows_an_event_to_its_end(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Any
) -> None:
    with Client(suite_in_thread) as client:
        for name, source in (("echo", "echo"), ("collector", "collector")):
            client.create_function(
                function_name=name,
                runtime="python3.11",
                handler="index.handler",
                zip_file=zip_dir(FUNCTIONS / source),
                environment={"Variables": {"COLLECT_FILE": str(tmp_path / "records.jsonl")}},
            )
        client.put_function_event_invoke_config(
            function_name="echo",
            destination_config={"OnSuccess": {"Destination": ARN + "collector"}},
        )
        invoked = client.invoke(function_name="echo", invocation_type="Event", payload=b"{}")
    request_id = invoked["ResponseMetadata"]["RequestId"]

    def settled() -> Any:
        done = run_cli(["get-invocation", "--request-id", request_id], suite_in_thread)
        assert done.exit_code == 0, done.stderr
        answer = json.loads(done.stdout)
        return answer if answer["Status"] == "SUCCEEDED" else None

    answer = wait_until(settled, timeout=20)
    [attempt] = answer["Attempts"]
    [delivery] = answer["Deliveries"]
    assert answer == {
        "RequestId": request_id,
        "FunctionArn": ARN + "echo:$LATEST",
        "Status": "SUCCEEDED",
        "Condition": "Success",
        "EnqueueTime": answer["EnqueueTime"],
        "EndTime": answer["EndTime"],
        "Attempts": [
            {
                "Outcome": "SUCCEEDED",
                "StartTime": attempt["StartTime"],
                "EndTime": attempt["EndTime"],
            }
        ],
        "Deliveries": [
            {
                "Destination": {"Target": ARN + "collector", "Kind": "OnSuccess"},
                "Status": "DELIVERED",
                "RequestId": delivery["RequestId"],
            }
        ],
    }
    # The delivery's request id is the collector's own invocation, found in turn.
    followed = run_cli(
        ["get-invocation", "--request-id", delivery["RequestId"], "--query", "FunctionArn"],
        suite_in_thread,
    )
    assert followed.exit_code == 0, followed.stderr
    assert json.loads(followed.stdout) == ARN + "collector:$LATEST"
    # As text, as the AWS CLI prints text.
    text = run_cli(
        ["get-invocation", "--request-id", request_id, "--query", "[Status, Condition]"]
        + ["--output", "text"],
        suite_in_thread,
    )
    assert (text.exit_code, text.stdout) == (0, "SUCCEEDED\tSuccess\n")


def times(attempt: dict[str, str]) -> dict[str, str]:
    return {"StartTime": attempt["StartTime"], "EndTime": attempt["EndTime"]}


def test_an_unknown_request_id_exits_254_with_awss_error_line(
    run_installed: Callable[..., Any], suite_in_thread: str
) -> None:
    done = run_installed(["get-invocation", "--request-id", "nope"], suite_in_thread)

    assert (done.returncode, done.stdout) == (254, "")
    assert done.stderr == (
        "An error occurred (ResourceNotFoundException) when calling the GetInvocation "
        "operation: Invocation not found: nope. Event invocations are found while queued and "
        "for 86400 s after they settle.\n"
    )
