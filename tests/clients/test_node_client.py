"""The Node.js client (clients/node) against the real suite: the protos serve another language.

``make install`` runs ``npm install --prefix clients/node``; this test installs the packages itself
when they are missing (``npm ci``, from the lock file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FUNCTIONS, read_lines, wait_until, zip_dir

from eventinvoke.client import Client, ResourceNotFoundException

NODE_CLIENT = Path(__file__).parents[2] / "clients" / "node"
ARN = "arn:aws:lambda:us-east-1:000000000000:function"


def _node_packages() -> None:
    if not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the Node.js client (https://nodejs.org)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_CLIENT, check=True, timeout=300
        )


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed for the Node.js client (https://nodejs.org)"
    return subprocess.run(
        [node, str(NODE_CLIENT / "example.js"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_node_example_creates_configures_and_invokes_async_and_runs_again(
    suite_in_thread: str, tmp_path: Path
) -> None:
    _node_packages()
    records = tmp_path / "records.jsonl"
    records.touch()
    with Client(suite_in_thread) as client:
        client.create_function(
            function_name="collector",
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "collector"),
            environment={"Variables": {"COLLECT_FILE": str(records)}},
        )

        run = _node(
            suite_in_thread, "--function-name", "from-node", "--on-success", f"{ARN}:collector"
        )

        assert run.returncode == 0, run.stderr
        lines = [json.loads(line) for line in run.stdout.splitlines()]
        assert lines[0] == {"FunctionArn": f"{ARN}:from-node"}
        assert lines[1] == {"EventInvokeConfig": f"{ARN}:from-node:$LATEST"}
        assert lines[2]["StatusCode"] == 202
        request_id = lines[2]["RequestId"]
        # What Node created is what Python sees.
        config = client.get_function_event_invoke_config("from-node")
        assert config["MaximumRetryAttempts"] == 0
        assert config["DestinationConfig"]["OnSuccess"] == {"Destination": f"{ARN}:collector"}

        [line] = wait_until(lambda: read_lines(records))
        record = line["event"]
        assert record["requestContext"]["requestId"] == request_id
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestPayload"] == {"from": "node"}
        assert record["responsePayload"] == {"hello": {"from": "node"}, "request_id": request_id}

        # Again, against the same server: the function exists, so its code is updated.
        first = client.get_function_configuration("from-node")
        again = _node(
            suite_in_thread, "--function-name", "from-node", "--on-success", f"{ARN}:collector"
        )

        assert again.returncode == 0, again.stderr
        lines = [json.loads(line) for line in again.stdout.splitlines()]
        assert lines[0] == {"FunctionArn": f"{ARN}:from-node"}
        assert lines[1] == {"EventInvokeConfig": f"{ARN}:from-node:$LATEST"}
        assert lines[2]["StatusCode"] == 202
        [second] = wait_until(lambda: read_lines(records)[1:])
        assert second["event"]["requestContext"]["requestId"] == lines[2]["RequestId"]
        updated = client.get_function_configuration("from-node")
        assert updated["RevisionId"] != first["RevisionId"]  # UpdateFunctionCode ran


def test_node_client_raises_aws_errors(suite_in_thread: str) -> None:
    """A destination AWS refuses: the AWS exception name and message reach Node."""
    _node_packages()
    role = "arn:aws:iam::000000000000:role/not-a-destination"

    run = _node(suite_in_thread, "--function-name", "refused", "--on-success", role)

    assert run.returncode == 1
    assert run.stderr.strip() == (
        "InvalidParameterValueException: The provided destination config "
        f"DestinationConfig(onSuccess=OnSuccess(destination={role}), onFailure=null) is invalid."
    )
    with Client(suite_in_thread) as client:
        assert client.get_function("refused")["Configuration"]["FunctionName"] == "refused"
        with pytest.raises(ResourceNotFoundException):  # and the Python client agrees on errors
            client.get_function_event_invoke_config("refused")
