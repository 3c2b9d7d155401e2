"""``eventinvoke logs`` (a function's START/END/REPORT lines and output, in time order,
``--follow``, ``--since``) and the concurrency commands, against a real suite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FUNCTIONS, wait_until

from eventinvoke.cli.logs import parse_since
from eventinvoke.executor import logs as function_logs

RunCli = Callable[..., Any]
PYTHON = ["--runtime", "python3.11", "--handler", "index.handler"]
EVENTINVOKE = Path(sys.executable).parent / "eventinvoke"


def _ok(done: Any) -> str:
    assert done.exit_code == 0, done.stderr
    return str(done.stdout)


def _deploy_tester(run_cli: RunCli, endpoint: str) -> None:
    _ok(
        run_cli(
            ["create-function", "--function-name", "tester", *PYTHON,
             "--code", str(FUNCTIONS / "tester")],
            endpoint,
        )
    )  # fmt: skip


def _invoke(run_cli: RunCli, endpoint: str, tmp_path: Path, payload: str) -> str:
    out = json.loads(
        _ok(
            run_cli(
                ["invoke", "--function-name", "tester", "--payload", payload,
                 str(tmp_path / "out.json")],
                endpoint,
            )
        )
    )  # fmt: skip
    assert out["StatusCode"] == 200
    return json.loads((tmp_path / "out.json").read_text()) or ""


def _request_ids(text: str) -> list[str]:
    return re.findall(r"START RequestId: (\S+) Version: \$LATEST", text)


def test_logs_shows_each_invocation_in_time_order(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    _deploy_tester(run_cli, suite_in_thread)
    _invoke(run_cli, suite_in_thread, tmp_path, '{"Success": true}')
    _invoke(run_cli, suite_in_thread, tmp_path, '{"Success": false}')

    text = _ok(run_cli(["logs", "--function-name", "tester"], suite_in_thread))

    lines = text.splitlines()
    assert len(_request_ids(text)) == 2
    first, second = _request_ids(text)
    # detailed format: ISO timestamp, stream, line (as `aws logs tail`).
    start = next(line for line in lines if f"START RequestId: {first}" in line)
    stamp, stream, message = start.split(" ", 2)
    datetime.fromisoformat(stamp)
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", stream)
    assert message == f"START RequestId: {first} Version: $LATEST"
    messages = [line.split(" ", 2)[2] if line.count(" ") >= 2 else "" for line in lines]
    order = [
        messages.index(f"START RequestId: {first} Version: $LATEST"),
        messages.index("Success"),
        messages.index(f"END RequestId: {first}"),
        next(i for i, m in enumerate(messages) if m.startswith(f"REPORT RequestId: {first}\t")),
        messages.index(f"START RequestId: {second} Version: $LATEST"),
        messages.index("Failure"),
        messages.index(f"END RequestId: {second}"),
        next(i for i, m in enumerate(messages) if m.startswith(f"REPORT RequestId: {second}\t")),
    ]
    assert order == sorted(order)

    short = _ok(
        run_cli(["logs", "--function-name", "tester", "--format", "short"], suite_in_thread)
    )
    assert re.search(
        rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d START RequestId: {first} Version: \$LATEST$",
        short,
        re.MULTILINE,
    )
    as_json = [
        json.loads(line)
        for line in _ok(
            run_cli(["logs", "--function-name", "tester", "--format", "json"], suite_in_thread)
        ).splitlines()
    ]
    assert {"Timestamp", "Message", "LogStreamName"} == set(as_json[0])
    stamps = [event["Timestamp"] for event in as_json]
    assert stamps == sorted(stamps)

    # --since: a time after both invocations shows nothing; an hour back shows both.
    assert _ok(run_cli(["logs", "--function-name", "tester", "--since", "1h"], suite_in_thread))
    future = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    assert (
        _ok(run_cli(["logs", "--function-name", "tester", "--since", future], suite_in_thread))
        == ""
    )


def test_logs_of_a_missing_function_is_a_service_error(
    run_cli: RunCli, suite_in_thread: str
) -> None:
    done = run_cli(["logs", "--function-name", "nope"], suite_in_thread)
    assert done.exit_code == 254
    assert done.stderr == (
        "An error occurred (ResourceNotFoundException) when calling the GetFunctionLogs "
        "operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope\n"
    )
    bad = run_cli(["logs", "--function-name", "x", "--since", "yesterday"], suite_in_thread)
    assert bad.exit_code == 252


def test_logs_follow_prints_new_invocations(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    _deploy_tester(run_cli, suite_in_thread)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTINVOKE_")}
    follower = subprocess.Popen(
        [str(EVENTINVOKE), "--endpoint", suite_in_thread, "logs", "--function-name", "tester",
         "--follow", "--format", "short", "--poll-interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(
        target=lambda: seen.extend(iter(follower.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        for _ in range(2):
            _invoke(run_cli, suite_in_thread, tmp_path, '{"Success": true}')
        wait_until(lambda: sum("REPORT RequestId:" in line for line in seen) == 2, timeout=20)
        assert len(_request_ids("".join(seen))) == 2
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.wait(10)


def test_concurrency_commands(run_cli: RunCli, suite_in_thread: str, tmp_path: Path) -> None:
    _deploy_tester(run_cli, suite_in_thread)
    put = ["put-function-concurrency", "--function-name", "tester"]
    assert json.loads(
        _ok(run_cli([*put, "--reserved-concurrent-executions", "0"], suite_in_thread))
    ) == {"ReservedConcurrentExecutions": 0}
    get = _ok(run_cli(["get-function-concurrency", "--function-name", "tester"], suite_in_thread))
    assert json.loads(get) == {"ReservedConcurrentExecutions": 0}
    shown = json.loads(_ok(run_cli(["get-function", "--function-name", "tester"], suite_in_thread)))
    assert shown["Concurrency"] == {"ReservedConcurrentExecutions": 0}

    throttled = run_cli(
        ["invoke", "--function-name", "tester", str(tmp_path / "out.json")], suite_in_thread
    )
    assert throttled.exit_code == 254
    assert throttled.stderr == (
        "An error occurred (TooManyRequestsException) when calling the Invoke operation: "
        "Rate Exceeded.\n"
    )
    negative = run_cli([*put, "--reserved-concurrent-executions", "-1"], suite_in_thread)
    assert negative.exit_code == 254
    assert "ValidationException" in negative.stderr

    deleted = run_cli(["delete-function-concurrency", "--function-name", "tester"], suite_in_thread)
    assert _ok(deleted) == ""
    get = _ok(run_cli(["get-function-concurrency", "--function-name", "tester"], suite_in_thread))
    assert json.loads(get) == {}
    missing = run_cli([*put], suite_in_thread)
    assert missing.exit_code == 252  # --reserved-concurrent-executions is required


# --- the log files themselves --------------------------------------------------------------


def test_parse_since() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_since("10m", now) == int(
        datetime(2024, 1, 1, 11, 50, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_since("2024-01-01T00:00:00Z", now) == 1704067200000
    with pytest.raises(ValueError):
        parse_since("soon", now)


def test_read_follows_with_a_cursor_and_retention_trims_oldest(tmp_path: Path) -> None:
    directory = tmp_path / "logs" / "fn"
    directory.mkdir(parents=True)
    old, new = directory / "2024-01-01-a.log", directory / "2024-01-02-b.log"
    for path, text in ((old, "init a\nSTART 1\n"), (new, "START 2\n")):
        path.write_text(text)
        function_logs.LogIndex(path, stream=path.stem).close()
    lines, cursor = function_logs.read(directory)
    assert [line.message for line in lines] == ["init a", "START 1", "START 2"]
    assert function_logs.read(directory, cursor=cursor)[0] == []
    with new.open("a") as log:
        log.write("more\npartial")  # a line still being written is not returned yet
    lines, cursor = function_logs.read(directory, cursor=cursor)
    assert [line.message for line in lines] == ["more"]
    lines, _ = function_logs.read(directory, limit=2)
    assert [line.message for line in lines] == ["init a", "START 1"]
    with pytest.raises(ValueError):
        function_logs.read(directory, cursor="not a cursor")

    os.utime(old, (1, 1))
    function_logs.trim(directory, limit=new.stat().st_size, keep=set())
    assert sorted(p.name for p in directory.iterdir()) == [new.name]
    function_logs.trim(directory, limit=0, keep={new})  # a live sandbox's file stays
    assert new.exists()
