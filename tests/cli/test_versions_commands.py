"""Version and alias commands against the real suite: AWS CLI names, flags, output and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conftest import FUNCTIONS

RunCli = Callable[..., Any]
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
PYTHON = ["--runtime", "python3.11", "--handler", "index.handler"]


def output(done: Any) -> Any:
    assert done.exit_code == 0, (done.stdout, done.stderr)
    return json.loads(done.stdout) if done.stdout else None


def test_versions_and_aliases(run_cli: RunCli, suite_in_thread: str) -> None:
    endpoint = suite_in_thread

    def cli(*args: str) -> Any:
        return run_cli(list(args), endpoint)

    created = output(
        cli(
            "create-function", "--function-name", "fn", *PYTHON,
            "--code", str(FUNCTIONS / "echo"), "--publish",
        )
    )  # fmt: skip
    cli("update-function-configuration", "--function-name", "fn", "--timeout", "9")
    published = output(cli("publish-version", "--function-name", "fn", "--description", "two"))
    versions = output(cli("list-versions-by-function", "--function-name", "fn"))
    alias = output(
        cli("create-alias", "--function-name", "fn", "--name", "live", "--function-version", "1")
    )
    got = output(cli("get-alias", "--function-name", "fn", "--name", "live"))
    updated = output(
        cli(
            "update-alias", "--function-name", "fn", "--name", "live",
            "--function-version", "2", "--description", "now two",
        )
    )  # fmt: skip
    listed = output(cli("list-aliases", "--function-name", "fn", "--function-version", "2"))
    conflict = cli("delete-function", "--function-name", "fn", "--qualifier", "2")
    deleted_alias = cli("delete-alias", "--function-name", "fn", "--name", "live")
    deleted_version = cli("delete-function", "--function-name", "fn", "--qualifier", "2")
    after = output(cli("list-versions-by-function", "--function-name", "fn"))

    assert (created["Version"], created["FunctionArn"]) == ("1", f"{ARN}fn")
    assert (published["Version"], published["Description"], published["Timeout"]) == (
        "2",
        "two",
        9,
    )
    assert published["FunctionArn"] == f"{ARN}fn:2"
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1", "2"]
    assert list(alias) == ["AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"]
    assert (alias["AliasArn"], alias["FunctionVersion"]) == (f"{ARN}fn:live", "1")
    assert got == alias
    assert (updated["FunctionVersion"], updated["Description"]) == ("2", "now two")
    assert [a["Name"] for a in listed["Aliases"]] == ["live"]
    assert conflict.exit_code == 254
    assert conflict.stderr == (
        "An error occurred (ResourceConflictException) when calling the DeleteFunction "
        "operation: Unable to delete version because the following aliases reference it: "
        "[live]\n"
    )
    assert (deleted_alias.exit_code, deleted_alias.stdout) == (0, "")
    assert (deleted_version.exit_code, deleted_version.stdout) == (0, "")
    assert [v["Version"] for v in after["Versions"]] == ["$LATEST", "1"]
