"""Sandboxes: real runtime processes, real HTTP (docs/aws-behaviour.md §1.5, §6, checks 4, 5, 13,
55–60)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.sandbox import Invocation, SandboxPool, SandboxSettings

FUNCTIONS = Path(__file__).parent / "functions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def function(
    handler: str, *, name: str = "fn", timeout: int = 3, runtime: str = "python3.12", **kw
) -> FunctionConfig:
    return FunctionConfig(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        runtime=runtime,
        handler=handler,
        code_sha256="sha",
        code_size=1,
        timeout=timeout,
        revision_id="r1",
        **kw,
    )


def invocation(payload: object = None, **kw) -> Invocation:
    body = json.dumps({} if payload is None else payload).encode()
    return Invocation(request_id=str(uuid.uuid4()), payload=body, invoked_function_arn=ARN, **kw)


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SandboxPool]:
    sandbox_pool = SandboxPool(SandboxSettings(log_dir=tmp_path / "logs"))
    yield sandbox_pool
    await sandbox_pool.close()


async def run(pool: SandboxPool, fn: FunctionConfig, inv: Invocation, code: Path = FUNCTIONS):
    return await asyncio.wait_for(pool.run(fn, code, inv), 20)


# -- results and errors ------------------------------------------------------------------


async def test_result_and_request_id(pool) -> None:
    inv = invocation({"k": "v"}, client_context=base64.b64encode(b'{"custom":{"a":1}}').decode())
    outcome = await run(pool, function("handlers.echo"), inv)
    assert outcome.function_error is None
    body = json.loads(outcome.payload)
    assert body["event"] == {"k": "v"}
    assert body["request_id"] == inv.request_id  # what Lambda-Runtime-Aws-Request-Id carried
    assert body["arn"] == ARN
    assert body["memory"] == "128"
    assert body["client_context"] == {"custom": {"a": 1}}
    assert 0 < body["remaining_ms"] <= 3000
    assert outcome.duration_ms > 0


async def test_none_becomes_null(pool) -> None:
    outcome = await run(pool, function("handlers.nothing"), invocation())
    assert outcome.payload == b"null"
    assert outcome.function_error is None


async def test_exception_has_aws_python_shape(pool) -> None:
    inv = invocation()
    outcome = await run(pool, function("handlers.boom"), inv)
    assert outcome.function_error == "Unhandled"
    error = json.loads(outcome.payload)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"
    assert error["requestId"] == inv.request_id
    assert isinstance(error["stackTrace"], list)
    assert 'handlers.py", line' in error["stackTrace"][0]
    assert all("bootstrap.py" not in frame for frame in error["stackTrace"])


async def test_unserialisable_result_is_a_marshal_error(pool) -> None:
    outcome = await run(pool, function("handlers.unserialisable"), invocation())
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload)["errorType"] == "Runtime.MarshalError"


async def test_handler_in_a_subpackage(pool) -> None:
    outcome = await run(pool, function("nested/mod.handler"), invocation())
    assert outcome.payload == b'"nested"'


async def test_timeout_then_a_fresh_sandbox(pool) -> None:
    fn = function("handlers.sleep", timeout=1)
    inv = invocation({"seconds": 30})
    started = time.monotonic()
    outcome = await run(pool, fn, inv)
    assert time.monotonic() - started < 5
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {inv.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert pool.sandboxes == []  # discarded

    outcome = await run(pool, fn, invocation({"seconds": 0}))
    assert (outcome.payload, outcome.function_error) == (b'"woke"', None)


async def test_process_exit_then_a_fresh_sandbox(pool) -> None:
    inv = invocation()
    outcome = await run(pool, function("handlers.exit3"), inv)
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: "
        "exit status 3",
    }
    outcome = await run(pool, function("handlers.echo"), invocation())
    assert outcome.function_error is None


async def test_oversized_response_fails_and_the_sandbox_goes_on(pool) -> None:
    fn = function("handlers.big")
    outcome = await run(pool, fn, invocation())
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload)["errorType"] == "Function.ResponseSizeTooLarge"
    outcome = await run(pool, replace(fn, handler="handlers.echo", revision_id="r2"), invocation())
    assert outcome.function_error is None


# -- init errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "no_such_module.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'no_such_module': No module named 'no_such_module'",
        ),
        (
            "handlers.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'handlers'",
        ),
        ("handler", "Runtime.MalformedHandlerName", None),
    ],
)
async def test_init_errors(pool, handler, error_type, message) -> None:
    outcome = await run(pool, function(handler), invocation())
    assert outcome.function_error == "Unhandled"
    error = json.loads(outcome.payload)
    assert error["errorType"] == error_type
    if message:
        assert error["errorMessage"] == message
    assert error["requestId"] == ""
    assert pool.sandboxes == []


async def test_syntax_error_and_init_rerun(pool, tmp_path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context)\n    return 1\n")
    fn = function("app.handler")
    outcome = await run(pool, fn, invocation(), code)
    error = json.loads(outcome.payload)
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("Syntax error in module 'app'")

    # Later invocations re-run init: fixed code now loads.
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    outcome = await run(pool, fn, invocation(), code)
    assert (outcome.payload, outcome.function_error) == (b"1", None)


async def test_module_raising_at_import(pool, tmp_path) -> None:
    (tmp_path / "app.py").write_text("raise KeyError('cold')\n")
    outcome = await run(pool, function("app.handler"), invocation(), tmp_path)
    error = json.loads(outcome.payload)
    assert (error["errorType"], error["requestId"]) == ("KeyError", "")


# -- environment -------------------------------------------------------------------------


async def test_environment_of_check_60(pool) -> None:
    fn = function(
        "handlers.env",
        environment={"MY_VAR": "mine", "AWS_REGION": "xx-user-1", "TZ": "Europe/Paris"},
    )
    outcome = await run(pool, fn, invocation())
    body = json.loads(outcome.payload)
    env = body["environ"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert re.fullmatch(
        r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert env["_HANDLER"] == "handlers.env"
    assert env["LAMBDA_TASK_ROOT"] == str(FUNCTIONS)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"  # reserved wins
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["LANG"] == "en_US.UTF-8"
    assert env["TZ"] == "Europe/Paris"  # unreserved: the user may change it
    assert env["MY_VAR"] == "mine"
    assert "LAMBDA_RUNTIME_DIR" in env and "PATH" in env
    assert body["cwd"] == str(FUNCTIONS)
    assert body["context"] == {
        "function_name": "fn",
        "function_version": "$LATEST",
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": env["AWS_LAMBDA_LOG_STREAM_NAME"],
    }


# -- reuse and limits --------------------------------------------------------------------


async def test_warm_reuse_and_new_sandbox_after_a_change(pool) -> None:
    fn = function("handlers.echo")
    first = json.loads((await run(pool, fn, invocation())).payload)["pid"]
    second = json.loads((await run(pool, fn, invocation())).payload)["pid"]
    assert first == second

    changed = replace(fn, revision_id="r2")
    third = json.loads((await run(pool, changed, invocation())).payload)["pid"]
    assert third != first
    assert [s.function.sandbox_key for s in pool.sandboxes] == [changed.sandbox_key]

    # A process bakes in its environment: a change never reuses it, even with the same key.
    fourth = replace(changed, environment={"A": "1"})
    assert json.loads((await run(pool, fourth, invocation())).payload)["pid"] != third


async def test_per_function_limit_queues(tmp_path) -> None:
    pool = SandboxPool(SandboxSettings(log_dir=tmp_path, max_per_function=1))
    try:
        fn = function("handlers.sleep")
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(run(pool, fn, invocation({"seconds": 0.3})) for _ in range(2))
        )
        assert [o.payload for o in outcomes] == [b'"woke"', b'"woke"']
        assert time.monotonic() - started >= 0.6
        assert len(pool.sandboxes) == 1
    finally:
        await pool.close()


async def test_total_limit_evicts_an_idle_sandbox(tmp_path) -> None:
    pool = SandboxPool(SandboxSettings(log_dir=tmp_path, max_total=1))
    try:
        await run(pool, function("handlers.echo", name="a"), invocation())
        outcome = await run(pool, function("handlers.echo", name="b"), invocation())
        assert outcome.function_error is None
        assert [s.function.name for s in pool.sandboxes] == ["b"]
    finally:
        await pool.close()


async def test_idle_sandboxes_are_stopped(tmp_path) -> None:
    pool = SandboxPool(SandboxSettings(log_dir=tmp_path, idle_seconds=0.2))
    try:
        await run(pool, function("handlers.echo"), invocation())
        assert len(pool.sandboxes) == 1
        await asyncio.sleep(0.6)
        assert pool.sandboxes == []
    finally:
        await pool.close()


async def test_unsupported_runtime(pool) -> None:
    outcome = await run(pool, function("index.handler", runtime="java21"), invocation())
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload)["errorType"] == "Runtime.InvalidRuntime"


# -- logs --------------------------------------------------------------------------------


async def test_tail_log_has_start_output_end_report(pool, tmp_path) -> None:
    inv = invocation(tail_log=True)
    outcome = await run(pool, function("handlers.chatty"), inv)
    tail = outcome.log_tail.decode()
    assert tail.startswith(f"START RequestId: {inv.request_id} Version: $LATEST\n")
    assert "hello from the function\n" in tail
    assert f"END RequestId: {inv.request_id}\n" in tail
    assert re.search(
        rf"REPORT RequestId: {inv.request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms"
        r"\tMemory Size: 128 MB\tMax Memory Used: \d+ MB",
        tail,
    )
    assert tail.endswith("\n")
    # The same lines are in the sandbox's log file.
    (log_file,) = (tmp_path / "logs" / "fn").iterdir()
    assert tail in log_file.read_text()


async def test_tail_log_is_the_last_4096_bytes(pool) -> None:
    inv = invocation({"bytes": 10_000}, tail_log=True)
    outcome = await run(pool, function("handlers.chatty"), inv)
    assert len(outcome.log_tail) == 4096
    assert b"hello from the function" in outcome.log_tail
    assert outcome.log_tail.rstrip().split(b"\n")[-1].startswith(b"REPORT RequestId: ")
    # Only when asked for.
    assert (await run(pool, function("handlers.chatty"), invocation())).log_tail == b""


async def test_logging_has_the_lambda_format(pool) -> None:
    for about in ("the first", "the second"):
        inv = invocation({"about": about}, tail_log=True)
        tail = (await run(pool, function("handlers.logs"), inv)).log_tail.decode()
        assert re.search(
            rf"\n\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{inv.request_id}"
            rf"\twarned about {about}\n",
            tail,
        )
        assert "below the root logger's level" not in tail


async def test_logging_is_the_standard_librarys_beside_a_module_of_that_name(
    pool, tmp_path
) -> None:
    # As when the runtime imported logging before the function's code: the function's own
    # logging.py is not what ``import logging`` finds.
    (tmp_path / "logging.py").write_text("raise ImportError('the function's own logging.py')\n")
    (tmp_path / "app.py").write_text(
        "import logging\n\n"
        "def handler(event, context):\n"
        "    logging.getLogger().error('from the standard library')\n"
        "    return logging.__file__\n"
    )
    inv = invocation(tail_log=True)
    outcome = await run(pool, function("app.handler"), inv, tmp_path)
    assert outcome.function_error is None, outcome.payload
    assert not json.loads(outcome.payload).startswith(str(tmp_path))
    assert f"\t{inv.request_id}\tfrom the standard library\n" in outcome.log_tail.decode()


async def test_the_runtime_imports_logging_only_for_a_function_that_does(pool) -> None:
    # Each module the runtime imports is in every sandbox's memory.
    outcome = await run(pool, function("handlers.runtime_modules"), invocation())
    assert json.loads(outcome.payload) == []


# -- custom runtimes (provided*) speak the Runtime API themselves ------------------------

CUSTOM_BOOTSTRAP = """#!{python}
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
def call(method, path, body=None, headers=None):
    conn.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {{}})
    response = conn.getresponse()
    return response.status, response.headers, response.read()
{body}
"""


def custom_runtime(tmp_path: Path, body: str) -> Path:
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text(CUSTOM_BOOTSTRAP.format(python=sys.executable, body=body))
    bootstrap.chmod(0o755)
    return tmp_path


async def test_custom_runtime_error_with_runtime_api_edge_cases(pool, tmp_path) -> None:
    code = custom_runtime(
        tmp_path,
        """
early = call("POST", "/invocation/x/response", b"{}")[0]
while True:
    status, headers, event = call("GET", "/invocation/next")
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    wrong = call("POST", "/invocation/not-it/response", b"{}")[0]
    body = {"errorType": "MyError", "errorMessage": "boom", "early": early, "wrong": wrong,
            "env": "AWS_EXECUTION_ENV" in os.environ}
    call("POST", f"/invocation/{request_id}/error", json.dumps(body).encode(),
         {"Lambda-Runtime-Function-Error-Type": "Custom.Thing"})
""",
    )
    outcome = await run(pool, function("unused", runtime="provided.al2023"), invocation(), code)
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "MyError",
        "errorMessage": "boom",
        "early": 403,
        "wrong": 400,
        "env": False,
    }


async def test_custom_runtime_init_error(pool, tmp_path) -> None:
    code = custom_runtime(
        tmp_path,
        """
status = call("POST", "/init/error", b'{"errorType":"Init.Bad","errorMessage":"no"}')[0]
print("init error posted", status, flush=True)
raise SystemExit(1)
""",
    )
    fn = function("unused", runtime="provided.al2023")
    for _ in range(2):  # each invocation re-runs init in a fresh sandbox
        outcome = await run(pool, fn, invocation(tail_log=True), code)
        assert outcome.payload == b'{"errorType":"Init.Bad","errorMessage":"no"}'
        assert outcome.function_error == "Unhandled"
        assert pool.sandboxes == []


async def test_custom_runtime_without_bootstrap(pool, tmp_path) -> None:
    fn = function("unused", runtime="provided.al2023")
    outcome = await run(pool, fn, invocation(), tmp_path)
    assert json.loads(outcome.payload)["errorType"] == "Runtime.InvalidEntrypoint"
