"""A new user's first minutes: the real ``eventinvoke`` command, its default settings, an empty
working directory and relative paths, as the README's walkthrough runs it.

Every other integration test passes absolute temporary paths; a default data directory that
resolved differently in the server and in the sandboxes once failed every function for every new
user while all of them passed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from processes import EVENTINVOKE, SuiteProcess, free_port

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
COLLECTOR_ARN = "arn:aws:lambda:us-east-1:000000000000:function:collector"
FAILURE_MESSAGE = "Failure from event, Success = false, I am failing!"


def _environment() -> dict[str, str]:
    """The test runner's environment without EVENTINVOKE_* settings: only the defaults apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EVENTINVOKE_")}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty directory holding only the repository's examples, as a fresh clone has them."""
    directory = tmp_path / "clone"
    directory.mkdir()
    shutil.copytree(EXAMPLES, directory / "examples")
    return directory


def _eventinvoke(workdir: Path, endpoint: str, *args: str) -> str:
    run = subprocess.run(
        [EVENTINVOKE, "--endpoint", endpoint, *args],
        cwd=workdir,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def _records(collector_logs: Path) -> list[dict]:
    lines = []
    for log in collector_logs.glob("*.log"):
        lines += [line for line in log.read_text().splitlines() if line.startswith("EVENT ")]
    return [json.loads(line.removeprefix("EVENT ")) for line in lines]


def test_the_walkthrough_runs_from_an_empty_directory_with_the_defaults(
    workdir: Path, tmp_path: Path
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    server = SuiteProcess(
        ["up", "--http-listen", f"127.0.0.1:{free_port()}", "--time-scale", "0.01"],
        tmp_path / "up.log",
        cwd=workdir,
    )
    server.env = _environment()
    server.start(listen)
    try:
        cli = lambda *args: _eventinvoke(workdir, listen, *args)  # noqa: E731
        functions = {
            "py-tester": ("python3.11", "index.handler", "./examples/destinations-tester"),
            "node-tester": ("nodejs20.x", "index.handler", "examples/destinations-tester-nodejs"),
            "collector": ("python3.11", "index.handler", "./examples/collector"),
        }
        for name, (runtime, handler, code) in functions.items():
            cli("create-function", "--function-name", name, "--runtime", runtime,
                "--handler", handler, "--code", code)  # fmt: skip
        destinations = {
            "OnSuccess": {"Destination": COLLECTOR_ARN},
            "OnFailure": {"Destination": COLLECTOR_ARN},
        }
        for tester in ("py-tester", "node-tester"):
            cli("put-function-event-invoke-config", "--function-name", tester,
                "--maximum-retry-attempts", "2", "--maximum-event-age-in-seconds", "600",
                "--destination-config", json.dumps(destinations))  # fmt: skip
            for success in ("true", "false"):
                payload = f'{{ "Success": {success} }}'
                answer = cli("invoke", "--function-name", tester, "--invocation-type", "Event",
                             "--payload", payload, "response.json")  # fmt: skip
                assert json.loads(answer) == {"StatusCode": 202}

        # Relative to where the server started, as the README says.
        collector_logs = workdir / ".eventinvoke" / "logs" / "collector"
        deadline = time.monotonic() + 30
        while len(records := _records(collector_logs)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        outcomes = sorted(
            (
                r["requestContext"]["functionArn"].split(":")[6],
                r["requestContext"]["condition"],
                r["requestContext"]["approximateInvokeCount"],
            )
            for r in records
        )
        assert outcomes == [
            ("node-tester", "RetriesExhausted", 3),
            ("node-tester", "Success", 1),
            ("py-tester", "RetriesExhausted", 3),
            ("py-tester", "Success", 1),
        ]
        failures = [r for r in records if r["requestContext"]["condition"] != "Success"]
        assert {r["responsePayload"]["errorMessage"] for r in failures} == {FAILURE_MESSAGE}

        # Each failed attempt and each settled failure says why in the server's log.
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        why = sorted(
            (line["function"], line["event"], line["error_type"], line["error_message"])
            for line in lines
            if "error_type" in line
        )
        assert why == sorted(
            [(f, "event_retry_scheduled", t, FAILURE_MESSAGE) for f, t in
             [("node-tester", "Error"), ("py-tester", "Exception")] for _ in range(2)]
            + [("node-tester", "event_settled", "Error", FAILURE_MESSAGE),
               ("py-tester", "event_settled", "Exception", FAILURE_MESSAGE)]
        )  # fmt: skip
    finally:
        server.terminate()
    assert not (tmp_path / ".eventinvoke").exists()


def _readme_walkthrough() -> list[list[str]]:
    """The commands of the README's walkthrough, as a shell would split them."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Five minutes") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands, pending = [], ""
    for line in block.group(1).replace("\\\n", " ").splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        if words and words[0] == "eventinvoke":
            commands.append(words)
        pending = ""
    return commands


def test_the_readmes_walkthrough_commands_work_as_written(workdir: Path, tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    server = SuiteProcess(
        ["up", "--http-listen", f"127.0.0.1:{free_port()}", "--time-scale", "0.01"],
        tmp_path / "up.log",
        cwd=workdir,
    )
    server.env = _environment()
    server.start(listen)
    commands = _readme_walkthrough()
    assert [c[1] for c in commands] == [
        "create-function",
        "create-function",
        "put-function-event-invoke-config",
        "invoke",
    ]
    try:
        for command in commands:
            _eventinvoke(workdir, listen, *command[1:])
        failing = [arg.replace("true", "false") for arg in commands[-1][1:]]
        _eventinvoke(workdir, listen, *failing)
        collector_logs = workdir / ".eventinvoke" / "logs" / "collector"
        deadline = time.monotonic() + 30
        while len(records := _records(collector_logs)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.terminate()
    assert sorted(r["requestContext"]["condition"] for r in records) == [
        "RetriesExhausted",
        "Success",
    ]


def test_a_taken_grpc_port_stops_the_second_server_with_one_line(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = SuiteProcess(
        ["up", "--http-listen", f"127.0.0.1:{free_port()}"], tmp_path / "first.log",
        cwd=tmp_path / "first",
    )  # fmt: skip
    first.start(listen)
    try:
        second = subprocess.run(
            [EVENTINVOKE, "up", "--listen", listen, "--http-listen", f"127.0.0.1:{free_port()}"],
            cwd=tmp_path / "second",
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.alive()
    finally:
        first.terminate()

    assert second.returncode == 1
    assert second.stderr == f"Error: cannot listen on {listen}: Address already in use\n"
    assert second.stdout == ""
    assert not (tmp_path / "second" / ".eventinvoke").exists()


def test_a_taken_http_port_stops_the_server_with_one_line(tmp_path: Path) -> None:
    with __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        http = f"127.0.0.1:{taken.getsockname()[1]}"
        run = subprocess.run(
            [EVENTINVOKE, "up", "--listen", f"127.0.0.1:{free_port()}", "--http-listen", http],
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"Error: cannot listen on {http} (HTTP): Address already in use\n"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (
            {"eventinvoke.toml": "executor_concurency = 4\n"},
            ["--config", "eventinvoke.toml"],
            "Error: unknown setting 'executor_concurency' in eventinvoke.toml "
            "(did you mean 'executor_concurrency'?)",
        ),
        ({"EVENTINVOKE_TIME_SCALE": "fast"}, [],
         "Error: bad value for EVENTINVOKE_TIME_SCALE: 'fast' is not a number"),
        ({"eventinvoke.toml": "[destinations.sqss]\nendpoint_url = 'http://q'\n"},
         ["--config", "eventinvoke.toml", "--no-sandbox-host"],
         "Error: [destinations.sqss] names no destination adapter (loaded: eventbridge, lambda, "
         "s3, sns, sqs, webhook); adapters load from installed plugins when the server starts"),
        ({"eventinvoke.toml": "[destinations.sqs]\nendpont_url = 'http://q'\n"},
         ["--config", "eventinvoke.toml", "--no-sandbox-host"],
         "Error: unknown setting 'endpont_url' in [destinations.sqs] (known: connect_timeout, "
         "endpoint_url, max_attempts, max_pool_connections, profile, read_timeout, region_name)"),
    ],
    ids=["misspelled-key", "bad-variable", "misspelled-table", "misspelled-adapter-key"],
)  # fmt: skip
def test_bad_settings_stop_the_real_command_with_one_line(
    tmp_path: Path, setup: dict[str, str], args: list[str], message: str
) -> None:
    environ = _environment()
    for key, value in setup.items():
        if key.startswith("EVENTINVOKE_"):
            environ[key] = value
        else:
            (tmp_path / key).write_text(value)
    ports = ["--listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{free_port()}"]

    run = subprocess.run(
        [EVENTINVOKE, "up", *ports, *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 1
    assert run.stderr == message + "\n"
