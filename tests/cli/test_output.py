"""``--output json|text|table`` and ``--query``, checked against the AWS CLI itself.

The reference is awscli's own formatters (the ``awscli`` package, a test dependency) run on the
same data: whatever ``aws ... --output text`` would print for a response, ours prints too.
"""

from __future__ import annotations

import copy
import io
import json
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jmespath
import pytest
from awscli.formatter import TableFormatter, TextFormatter
from conftest import FUNCTIONS

from eventinvoke.cli import output

RunCli = Callable[..., Any]
PYTHON = ["--runtime", "python3.11", "--handler", "index.handler"]


def aws_text(data: Any, query: str | None = None) -> str:
    """What ``aws ... --output text [--query QUERY]`` prints for ``data``."""
    stream = io.StringIO()
    args = Namespace(query=jmespath.compile(query) if query else None)
    TextFormatter(args)("Operation", copy.deepcopy(data), stream)
    return stream.getvalue()


def aws_table(title: str, data: Any, width: int = 80, query: str | None = None) -> str:
    """What ``aws ... --output table`` prints for ``data`` on a terminal ``width`` wide."""
    stream = io.StringIO()
    args = Namespace(query=jmespath.compile(query) if query else None, color="off")
    formatter = TableFormatter(args)
    formatter.table._terminal_width = width  # awscli reads it from the real terminal
    formatter(title, copy.deepcopy(data), stream)
    return stream.getvalue()


CONFIGURATION = {
    "FunctionName": "fn",
    "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
    "Runtime": "python3.11",
    "Timeout": 3,
    "CodeSize": 301,
    "LastModified": "2026-11-26T19:40:01.125+0000",
    "Environment": {"Variables": {"B": "2", "A": "1"}},
    "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
    "Architectures": ["x86_64"],
    "Layers": [],
    "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
}

SHAPES = {
    "a configuration": CONFIGURATION,
    "a list of dicts with different keys": {
        "Functions": [
            CONFIGURATION,
            {"FunctionName": "other", "Description": "日本語の説明", "MemorySize": 128},
        ],
        "NextMarker": "2",
    },
    "event invoke configs": {
        "FunctionEventInvokeConfigs": [
            {
                "LastModified": 1764186001.125,
                "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
                "MaximumRetryAttempts": 0,
                "DestinationConfig": {
                    "OnSuccess": {},
                    "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"},
                },
            }
        ]
    },
    "scalars of every kind": {"On": True, "Off": False, "Nothing": None, "Ratio": 0.5},
    "one scalar key": {"StatusCode": 202},
    "lists of scalars and lists": {
        "Names": ["a", "b"],
        "Grid": [[1, 2], [3, 4]],
        "Mixed": [1, [2]],
    },
    "a top-level list": [{"Name": "a", "Tags": ["x"]}, {"Name": "b"}],
    "empty": {},
}


@pytest.mark.parametrize("data", SHAPES.values(), ids=SHAPES.keys())
def test_text_is_the_aws_clis(data: Any) -> None:
    assert output.render(data, "text", "GetFunction") == aws_text(data)


@pytest.mark.parametrize("width", [200, 80, 40])
@pytest.mark.parametrize("data", SHAPES.values(), ids=SHAPES.keys())
def test_table_is_the_aws_clis(data: Any, width: int) -> None:
    # 80 and 40 columns are too narrow for some: their one-row sections turn into key/value rows.
    assert output.render(data, "table", "GetFunction", width) == aws_table(
        "GetFunction", data, width
    )


@pytest.mark.parametrize(
    "query", ["FunctionName", "Architectures", "Environment", "[FunctionName, Timeout]", "Nope"]
)
def test_query_results_of_any_shape_print_as_the_aws_clis(query: str) -> None:
    found = jmespath.search(query, CONFIGURATION)

    assert output.render(found, "text", "T") == aws_text(CONFIGURATION, query)
    assert output.render(found, "table", "T") == aws_table("T", CONFIGURATION, query=query)


# --- the commands -----------------------------------------------------------------------------


def _create(run_cli: RunCli, endpoint: str, name: str, *extra: str) -> None:
    done = run_cli(
        ["create-function", "--function-name", name, *PYTHON,
         "--code", str(FUNCTIONS / "tester"), *extra],
        endpoint,
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr


def _printed(done: Any) -> str:
    assert (done.exit_code, done.stderr) == (0, ""), done.stderr
    return str(done.stdout)


def test_every_format_prints_the_same_response(run_cli: RunCli, suite_in_thread: str) -> None:
    endpoint = suite_in_thread
    _create(run_cli, endpoint, "plain")
    _create(run_cli, endpoint, "with-env", "--environment", "Variables={KEY=V}")
    response = json.loads(_printed(run_cli(["list-functions"], endpoint)))

    text = run_cli(["--output", "text", "list-functions"], endpoint)
    text_after = run_cli(["list-functions", "--output", "text"], endpoint)
    wide = run_cli(["--output", "table", "list-functions"], endpoint, env={"COLUMNS": "400"})
    narrow = run_cli(["list-functions", "--output", "table"], endpoint, env={"COLUMNS": "80"})
    explicit_json = run_cli(["list-functions", "--output", "json"], endpoint)

    assert _printed(text) == aws_text(response)
    assert text.stdout.startswith("FUNCTIONS\t")  # a row per function, as `aws` prints them
    assert _printed(text_after) == text.stdout
    assert _printed(wide) == aws_table("ListFunctions", response, 400)
    assert _printed(narrow) == aws_table("ListFunctions", response, 80)
    assert wide.stdout != narrow.stdout
    assert json.loads(_printed(explicit_json)) == response


def test_query_applies_to_the_response(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    _create(run_cli, endpoint, "a")
    _create(run_cli, endpoint, "b")
    out = tmp_path / "out.json"

    names = run_cli(["--query", "Functions[].FunctionName", "list-functions"], endpoint)
    names_text = run_cli(
        ["list-functions", "--query", "Functions[].FunctionName", "--output", "text"], endpoint
    )
    projected = run_cli(
        ["get-function-configuration", "--function-name", "a",
         "--query", "{Name: FunctionName, Runtime: Runtime}"],
        endpoint,
    )  # fmt: skip
    status = run_cli(
        ["--output", "text", "invoke", "--function-name", "a", "--invocation-type", "Event",
         "--payload", '{"Success": true}', "--query", "StatusCode", str(out)],
        endpoint,
    )  # fmt: skip

    assert _printed(names) == '[\n    "a",\n    "b"\n]\n'
    assert _printed(names_text) == "a\tb\n"
    assert json.loads(_printed(projected)) == {"Name": "a", "Runtime": "python3.11"}
    assert _printed(status) == "202\n"
    assert out.read_bytes() == b""  # the payload still goes to the outfile


@pytest.mark.parametrize("position", ["group", "command"])
def test_a_bad_query_is_a_parameter_error(
    run_cli: RunCli, dead_endpoint: str, position: str
) -> None:
    # Against a dead endpoint: had anything been sent, this would exit 255.
    query = ["--query", "Functions["]
    args = [*query, "list-functions"] if position == "group" else ["list-functions", *query]

    done = run_cli(args, dead_endpoint)

    assert (done.exit_code, done.stdout) == (252, "")
    # The AWS CLI's words.
    assert done.stderr == (
        "Bad value for --query Functions[: Invalid jmespath expression: Incomplete expression:\n"
        '"Functions["\n'
        "           ^\n"
    )


@pytest.mark.parametrize("position", ["group", "command"])
def test_an_unknown_output_is_a_parameter_error(
    run_cli: RunCli, dead_endpoint: str, position: str
) -> None:
    args = ["--output", "xml", "list-functions"]
    if position == "command":
        args = ["list-functions", "--output", "xml"]

    done = run_cli(args, dead_endpoint)

    assert (done.exit_code, done.stdout) == (252, "")
    assert "Invalid value for '--output': 'xml' is not one of 'json', 'text', 'table'." in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
