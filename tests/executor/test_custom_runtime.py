"""Custom runtimes (``provided*``): the function's own ``bootstrap`` drives the Runtime API
(docs/aws-behaviour.md §6, checks 55–59), here written in bash, and AWS's own Python runtime
interface client (awslambdaric) running against our Runtime API.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.sandbox import Invocation, Outcome, SandboxPool, SandboxSettings

FUNCTIONS = Path(__file__).parents[1] / "functions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def function(handler: str, runtime: str, timeout: int = 3) -> FunctionConfig:
    return FunctionConfig(
        name="fn",
        arn=ARN,
        runtime=runtime,
        handler=handler,
        code_sha256="sha",
        code_size=1,
        timeout=timeout,
        revision_id="r1",
    )


def invocation(payload: object) -> Invocation:
    body = json.dumps(payload).encode()
    return Invocation(request_id=str(uuid.uuid4()), payload=body, invoked_function_arn=ARN)


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SandboxPool]:
    sandbox_pool = SandboxPool(SandboxSettings(log_dir=tmp_path / "logs"))
    yield sandbox_pool
    await sandbox_pool.close()


async def run(pool: SandboxPool, fn: FunctionConfig, code: Path, inv: Invocation) -> Outcome:
    return await asyncio.wait_for(pool.run(fn, code, inv), 20)


# -- a bootstrap in bash -----------------------------------------------------------------

SHELL = FUNCTIONS / "shell-runtime"


@pytest.mark.parametrize("runtime", ["provided", "provided.al2", "provided.al2023"])
async def test_bash_bootstrap_answers(pool, runtime) -> None:
    fn = function("echo.handler", runtime)
    inv = invocation({"k": "v"})
    started_ms = time.time() * 1000
    outcome = await run(pool, fn, SHELL, inv)
    assert outcome.function_error is None, outcome.payload
    body = json.loads(outcome.payload)
    assert body["echo"] == {"k": "v"}
    assert body["requestId"] == inv.request_id
    assert body["handler"] == "echo.handler"
    # Lambda-Runtime-Deadline-Ms is epoch ms ≈ now + timeout (check 55).
    assert started_ms + 2000 < body["deadline"] < started_ms + 3000 + 5000


async def test_bash_bootstrap_serves_several_invocations(pool) -> None:
    fn = function("echo.handler", "provided.al2023")
    for n in range(3):
        outcome = await run(pool, fn, SHELL, invocation({"n": n}))
        assert json.loads(outcome.payload)["echo"] == {"n": n}
    assert len(pool.sandboxes) == 1  # one warm process answered all three


async def test_bash_bootstrap_error_is_unhandled_whatever_its_header(pool) -> None:
    # The bootstrap sends `Lambda-Runtime-Function-Error-Type: Handled`: only Node.js <= 12
    # runtimes may report Handled; a custom runtime's error is Unhandled (docs/aws-behaviour.md
    # §6.3, check 57).
    outcome = await run(
        pool, function("echo.handler", "provided.al2023"), SHELL, invocation("fail")
    )
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "ShellError",
        "errorMessage": "failed in bash",
    }


async def test_bash_bootstrap_output_reaches_the_log(pool, tmp_path) -> None:
    inv = Invocation(
        request_id=str(uuid.uuid4()), payload=b"{}", invoked_function_arn=ARN, tail_log=True
    )
    outcome = await run(pool, function("echo.handler", "provided.al2023"), SHELL, inv)
    tail = outcome.log_tail.decode()
    assert f"invoked {inv.request_id}" in tail
    # The bootstrap logs the status of its /response POST once that returns, which may be
    # after the invocation ended: look for it in the log file after a second invocation.
    await run(pool, function("echo.handler", "provided.al2023"), SHELL, invocation({}))
    (log_file,) = (tmp_path / "logs" / "fn").glob("*.log")
    assert "answered with 202" in log_file.read_text()  # /response returned 202 (check 56)


# -- AWS's own runtime interface client (awslambdaric) -----------------------------------


def awslambdaric_function(tmp_path: Path, handler: str = "index.handler") -> Path:
    """The awslambdaric test function with a bootstrap that starts the RIC on our Python."""
    code = tmp_path / "ric"
    shutil.copytree(FUNCTIONS / "awslambdaric", code)
    bootstrap = code / "bootstrap"
    bootstrap.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m awslambdaric {handler}\n')
    bootstrap.chmod(0o755)
    return code


async def test_awslambdaric_success(pool, tmp_path) -> None:
    code = awslambdaric_function(tmp_path)
    fn = function("index.handler", "provided.al2023")
    inv = invocation({"k": "v"})
    outcome = await run(pool, fn, code, inv)
    assert outcome.function_error is None, outcome.payload
    body = json.loads(outcome.payload)
    assert body["event"] == {"k": "v"}
    assert body["request_id"] == inv.request_id
    assert body["arn"] == ARN
    assert body["memory"] == "128"
    assert 0 < body["remaining_ms"] <= 3000
    # A second invocation in the same process: the RIC loops on /next.
    again = await run(pool, fn, code, invocation({"n": 2}))
    assert json.loads(again.payload)["event"] == {"n": 2}
    assert len(pool.sandboxes) == 1


async def test_awslambdaric_error(pool, tmp_path) -> None:
    code = awslambdaric_function(tmp_path)
    inv = invocation({"fail": True})
    outcome = await run(pool, function("index.handler", "provided.al2023"), code, inv)
    assert outcome.function_error == "Unhandled"
    error = json.loads(outcome.payload)
    # awslambdaric's own error shape, the one AWS's Python runtimes post (docs/aws-behaviour.md
    # §1.5).
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "failed under awslambdaric"
    assert error["requestId"] == inv.request_id
    assert any("index.py" in frame for frame in error["stackTrace"])


async def test_awslambdaric_init_error(pool, tmp_path) -> None:
    code = awslambdaric_function(tmp_path, "index.missing")
    outcome = await run(pool, function("index.missing", "provided.al2023"), code, invocation({}))
    assert outcome.function_error == "Unhandled"
    error = json.loads(outcome.payload)
    assert error["errorType"] == "Runtime.HandlerNotFound"  # posted to /init/error (check 58)
    assert pool.sandboxes == []
