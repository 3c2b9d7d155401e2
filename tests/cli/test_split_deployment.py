"""The CLI against a split deployment: a server that carries the Invoker alone, as
``eventinvoke serve invoker`` runs it, next to a whole suite that serves the Executor and Router.

A command whose service lives elsewhere says which option names that service's address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FUNCTIONS, serving_in_thread, test_settings, wait_until

from eventinvoke.app import Suite

RunCli = Callable[..., Any]
PYTHON = ["--runtime", "python3.11", "--handler", "index.handler"]


@pytest.fixture
def invoker_only(tmp_path: Path, dead_endpoint: str) -> Iterator[str]:
    """A real gRPC server serving eventinvoke.v1.Invoker only; yields its address."""
    settings = test_settings(tmp_path / "invoker-data", executor_endpoint=dead_endpoint)
    with serving_in_thread(Suite(settings, roles=("invoker",)), tmp_path) as address:
        yield address


def _aws_error(operation: str, message: str) -> str:
    return f"An error occurred (UNIMPLEMENTED) when calling the {operation} operation: {message}\n"


def test_a_service_the_endpoint_does_not_serve_names_the_option_to_pass(
    run_cli: RunCli, invoker_only: str
) -> None:
    logs = run_cli(["logs", "--function-name", "fn"], invoker_only)
    failed = run_cli(["list-failed-deliveries"], invoker_only)

    assert (logs.exit_code, logs.stdout) == (254, "")
    assert logs.stderr == _aws_error(
        "GetFunctionLogs",
        f"The server at {invoker_only} does not serve eventinvoke.v1.Executor (GetFunctionLogs): "
        "pass --executor-endpoint (or EVENTINVOKE_EXECUTOR_ENDPOINT; executor_endpoint= in the "
        "Python client) with the Executor's address.",
    )
    assert (failed.exit_code, failed.stdout) == (254, "")
    assert failed.stderr == _aws_error(
        "ListFailedDeliveries",
        f"The server at {invoker_only} does not serve eventinvoke.v1.Router "
        "(ListFailedDeliveries): pass --router-endpoint (or EVENTINVOKE_ROUTER_ENDPOINT; "
        "router_endpoint= in the Python client) with the Router's address.",
    )


def test_the_named_options_reach_the_executor_and_the_router(
    run_cli: RunCli, invoker_only: str, suite_in_thread: str, tmp_path: Path
) -> None:
    # The function lives in the whole suite, whose Executor keeps its log.
    created = run_cli(
        ["create-function", "--function-name", "fn", *PYTHON, "--code", str(FUNCTIONS / "tester")],
        suite_in_thread,
    )
    ran = run_cli(
        ["invoke", "--function-name", "fn", "--payload", '{"Success": true}',
         str(tmp_path / "out.json")],
        suite_in_thread,
    )  # fmt: skip
    assert created.exit_code == 0 and ran.exit_code == 0, (created.stderr, ran.stderr)

    def logs(args: list[str], env: dict[str, str] | None = None) -> str:
        """What ``logs`` prints once the function's END line is written."""
        return str(
            wait_until(lambda: "END RequestId: " in run_cli(args, invoker_only, env=env).stdout)
            and run_cli(args, invoker_only, env=env).stdout
        )

    # The option before the command, after it, and as the variable.
    before = logs(["--executor-endpoint", suite_in_thread, "logs", "--function-name", "fn"])
    after = logs(["logs", "--function-name", "fn", "--executor-endpoint", suite_in_thread])
    from_variable = logs(
        ["logs", "--function-name", "fn"], env={"EVENTINVOKE_EXECUTOR_ENDPOINT": suite_in_thread}
    )
    failed = run_cli(["list-failed-deliveries", "--router-endpoint", suite_in_thread], invoker_only)

    assert "START RequestId: " in before
    assert before == after == from_variable
    assert (failed.exit_code, failed.stdout) == (0, '{\n    "FailedDeliveries": []\n}\n')
