"""The Node.js runtime: real `node` processes against the real Runtime API (docs/aws-behaviour.md
§1.5, §6.4–6.6, checks 4, 5, 13, 14, 38, 55–61).

Every handler style and both error shapes: current runtimes post ``trace`` and are always
``Unhandled``; ``nodejs12.x`` posts the 2019 shape (``stackTrace`` frames) and reports the
errors the function itself passes back (callback, context.fail, a rejected promise) as
``Handled``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.launchers import reports_handled_errors
from eventinvoke.executor.sandbox import Invocation, Outcome, SandboxPool, SandboxSettings

FUNCTIONS = Path(__file__).parents[1] / "functions"
HANDLERS = FUNCTIONS / "node-handlers"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
CURRENT = "nodejs20.x"
LEGACY = "nodejs12.x"


def function(
    handler: str, *, runtime: str = CURRENT, timeout: int = 3, name: str = "fn", **kw
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


async def run(
    pool: SandboxPool,
    handler: str,
    payload: object = None,
    *,
    code: Path = HANDLERS,
    runtime: str = CURRENT,
    **kw,
) -> Outcome:
    fn = function(handler, runtime=runtime, **kw)
    return await asyncio.wait_for(pool.run(fn, code, invocation(payload)), 20)


def error_of(outcome: Outcome) -> dict:
    assert outcome.function_error is not None, outcome.payload
    return json.loads(outcome.payload)


# -- async handlers ----------------------------------------------------------------------


async def test_async_result_and_context(pool) -> None:
    inv = invocation({"k": "v"}, client_context=base64.b64encode(b'{"custom":{"a":1}}').decode())
    outcome = await asyncio.wait_for(pool.run(function("index.echo"), HANDLERS, inv), 20)
    assert outcome.function_error is None
    body = json.loads(outcome.payload)
    assert body["event"] == {"k": "v"}
    assert body["requestId"] == inv.request_id
    assert body["arn"] == ARN
    assert body["functionName"] == "fn"
    assert body["functionVersion"] == "$LATEST"
    assert body["memoryLimitInMB"] == "128"  # a string, as on AWS
    assert body["logGroupName"] == "/aws/lambda/fn"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", body["logStreamName"])
    assert body["clientContext"] == {"custom": {"a": 1}}
    assert 2000 < body["remainingMs"] <= 3000


async def test_warm_sandbox_serves_the_next_invocation(pool) -> None:
    first = json.loads((await run(pool, "index.echo")).payload)["pid"]
    second = json.loads((await run(pool, "index.echo")).payload)["pid"]
    assert first == second


async def test_nothing_becomes_null(pool) -> None:
    outcome = await run(pool, "index.nothing")
    assert (outcome.payload, outcome.function_error) == (b"null", None)


async def test_get_remaining_time_counts_down(pool) -> None:
    body = json.loads((await run(pool, "index.remaining", timeout=5)).payload)
    assert 4000 < body["before"] <= 5000
    assert body["before"] - body["after"] >= 290


async def test_rejected_promise_current_shape(pool) -> None:
    outcome = await run(pool, "index.rejected")
    assert outcome.function_error == "Unhandled"
    error = error_of(outcome)
    assert list(error) == ["errorType", "errorMessage", "trace"]
    assert error["errorType"] == "Error"
    assert error["errorMessage"] == "rejected"
    assert error["trace"][0] == "Error: rejected"
    assert "node-handlers/index.js" in error["trace"][1]


async def test_rejected_with_a_string(pool) -> None:
    error = error_of(await run(pool, "index.rejectedWithString"))
    assert error == {"errorType": "string", "errorMessage": "plain", "trace": []}


async def test_unserialisable_result(pool) -> None:
    error = error_of(await run(pool, "index.circular"))
    assert (error["errorType"], error["errorMessage"]) == (
        "Error",
        "Unable to stringify response body",
    )


async def test_promise_that_never_settles(pool) -> None:
    error = error_of(await run(pool, "index.neverSettles"))
    assert error["errorType"] == "Runtime.NodeJsExit"


async def test_unhandled_rejection_fails_the_invocation(pool) -> None:
    outcome = await run(pool, "index.lostRejection")
    error = error_of(outcome)
    assert error["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert error["errorMessage"] == "Error: nobody awaits me"
    # The runtime exits after reporting it; the next invocation gets a fresh sandbox.
    outcome = await run(pool, "index.nothing")
    assert outcome.payload == b"null"


# -- callback handlers (check 61) --------------------------------------------------------


async def test_callback_result(pool) -> None:
    outcome = await run(pool, "index.callbackResult")
    assert (outcome.payload, outcome.function_error) == (b'{"ok":true}', None)


@pytest.mark.parametrize(("wait", "timer_ran"), [(True, True), (False, False)])
async def test_callback_waits_for_empty_event_loop(pool, wait, timer_ran) -> None:
    outcome = await run(pool, "index.callbackWaits", {"wait": wait})
    assert json.loads(outcome.payload) == {"timerRan": timer_ran}


async def test_callback_with_a_string_check_61(pool) -> None:
    outcome = await run(pool, "index.callbackString")
    assert outcome.function_error == "Unhandled"
    assert outcome.payload == b'{"errorType":"string","errorMessage":"oops","trace":[]}'


async def test_callback_with_a_type_error_check_61(pool) -> None:
    error = error_of(await run(pool, "index.callbackTypeError"))
    assert (error["errorType"], error["errorMessage"]) == ("TypeError", "x")
    assert error["trace"][0] == "TypeError: x"
    assert all(line.startswith("    at ") for line in error["trace"][1:])


async def test_callback_with_an_object(pool) -> None:
    error = error_of(await run(pool, "index.callbackObject"))
    assert error == {"errorType": "object", "errorMessage": "[object Object]", "trace": []}


async def test_callback_with_an_unreadable_error(pool) -> None:
    error = error_of(await run(pool, "index.callbackBadError"))
    assert error["errorType"] == "handled"
    assert error["errorMessage"].startswith("callback called with Error argument")


async def test_only_the_first_completion_counts(pool) -> None:
    outcome = await run(pool, "index.firstCompletionWins")
    assert (outcome.payload, outcome.function_error) == (b'"first"', None)


@pytest.mark.parametrize(
    ("handler", "payload", "error"),
    [
        ("index.succeed", b'{"via":"succeed"}', None),
        ("index.done", b'"done"', None),
        ("index.fail", None, ("RangeError", "failed")),
        ("index.failWithNothing", None, ("string", "handled")),
        ("index.doneWithError", None, ("Error", "done badly")),
    ],
)
async def test_context_succeed_fail_done(pool, handler, payload, error) -> None:
    outcome = await run(pool, handler)
    if error is None:
        assert (outcome.payload, outcome.function_error) == (payload, None)
    else:
        body = error_of(outcome)
        assert (body["errorType"], body["errorMessage"]) == error


async def test_plain_handler_without_callback_answers_null(pool) -> None:
    outcome = await run(pool, "index.returnsWithoutCallback")
    assert (outcome.payload, outcome.function_error) == (b"null", None)


async def test_thrown_error(pool) -> None:
    error = error_of(await run(pool, "index.thrown"))
    assert (error["errorType"], error["errorMessage"]) == ("Error", "thrown")
    assert error["trace"][0] == "Error: thrown"


async def test_uncaught_exception_from_a_timer(pool) -> None:
    error = error_of(await run(pool, "index.uncaught"))
    assert (error["errorType"], error["errorMessage"]) == ("Error", "thrown from a timer")


# -- the nodejs12.x generation: the 2019 shape and Handled -------------------------------


async def test_legacy_callback_error_is_handled_with_stack_trace_frames(pool) -> None:
    outcome = await run(pool, "index.callbackTypeError", runtime=LEGACY)
    assert outcome.function_error == "Handled"
    error = json.loads(outcome.payload)
    assert list(error) == ["errorMessage", "errorType", "stackTrace"]
    assert (error["errorMessage"], error["errorType"]) == ("x", "TypeError")
    first = error["stackTrace"][0]
    assert re.fullmatch(r"exports\.callbackTypeError \(.*/node-handlers/index\.js:\d+:\d+\)", first)
    assert not any(frame.startswith("at ") for frame in error["stackTrace"])
    assert not any("bootstrap.mjs" in frame for frame in error["stackTrace"])


@pytest.mark.parametrize(
    ("handler", "function_error", "error_type"),
    [
        ("index.callbackString", "Handled", "string"),
        ("index.fail", "Handled", "RangeError"),
        ("index.doneWithError", "Handled", "Error"),
        ("index.rejected", "Handled", "Error"),
        ("index.thrown", "Unhandled", "Error"),  # caught by the runtime, not reported
        ("index.uncaught", "Unhandled", "Error"),
    ],
)
async def test_legacy_handled_and_unhandled(pool, handler, function_error, error_type) -> None:
    outcome = await run(pool, handler, runtime=LEGACY)
    assert outcome.function_error == function_error
    error = json.loads(outcome.payload)
    assert error["errorType"] == error_type
    assert "stackTrace" in error and "trace" not in error


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x"])
async def test_current_runtimes_never_report_handled(pool, runtime) -> None:
    outcome = await run(pool, "index.callbackTypeError", runtime=runtime)
    assert outcome.function_error == "Unhandled"
    assert "trace" in json.loads(outcome.payload)


def test_which_runtimes_report_handled_errors() -> None:
    legacy = ["nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10"]
    legacy += ["nodejs10.x", "nodejs12.x"]
    assert all(reports_handled_errors(r) for r in legacy)
    current = ["nodejs14.x", "nodejs20.x", "nodejs24.x", "python3.12", "provided.al2023"]
    assert not any(reports_handled_errors(r) for r in current)


async def test_legacy_success_is_unchanged(pool) -> None:
    outcome = await run(pool, "index.callbackResult", runtime=LEGACY)
    assert (outcome.payload, outcome.function_error) == (b'{"ok":true}', None)


# -- timeouts, crashes, sizes (checks 5, 14, 38) -----------------------------------------


async def test_timeout_then_a_fresh_sandbox(pool) -> None:
    fn = function("index.sleep", timeout=1)
    inv = invocation({"ms": 30_000})
    started = time.monotonic()
    outcome = await asyncio.wait_for(pool.run(fn, HANDLERS, inv), 20)
    assert time.monotonic() - started < 5
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {inv.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert pool.sandboxes == []
    outcome = await asyncio.wait_for(pool.run(fn, HANDLERS, invocation({"ms": 0})), 20)
    assert (outcome.payload, outcome.function_error) == (b'"woke"', None)


async def test_crash_is_an_exit_error(pool) -> None:
    inv = invocation()
    outcome = await asyncio.wait_for(pool.run(function("index.crash"), HANDLERS, inv), 20)
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: "
        "exit status 3",
    }


async def test_oversized_response_then_the_sandbox_goes_on(pool) -> None:
    fn = function("index.big")
    outcome = await asyncio.wait_for(pool.run(fn, HANDLERS, invocation()), 20)
    assert outcome.function_error == "Unhandled"
    assert json.loads(outcome.payload)["errorType"] == "Function.ResponseSizeTooLarge"
    echo = replace(fn, handler="index.echo", revision_id="r2")
    outcome = await asyncio.wait_for(pool.run(echo, HANDLERS, invocation()), 20)
    assert outcome.function_error is None


# -- loading the handler: CommonJS, ES modules, init errors ------------------------------


async def test_nested_export_and_subdirectory(pool) -> None:
    assert (await run(pool, "index.nested.deeper.handler")).payload == b'"nested"'
    assert (await run(pool, "lib/mod.handler")).payload == b'"from lib"'


async def test_es_module_mjs(pool) -> None:
    outcome = await run(pool, "index.handler", code=FUNCTIONS / "node-esm")
    body = json.loads(outcome.payload)
    assert body["esm"] is True
    assert body["hasRequire"] is False
    assert body["file"] == "index.mjs"
    error = error_of(await run(pool, "index.thrown", code=FUNCTIONS / "node-esm"))
    assert error["trace"][0] == "Error: boom"
    assert "file://" in error["trace"][1] and "index.mjs" in error["trace"][1]


async def test_es_module_by_package_type(pool) -> None:
    outcome = await run(pool, "index.handler", code=FUNCTIONS / "node-esm-package")
    assert json.loads(outcome.payload) == {"esm": True}


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'"),
        ("index.nope", "Runtime.HandlerNotFound", "index.nope is undefined or not exported"),
        ("index.notAFunction", "Runtime.HandlerNotFound", "index.notAFunction is not a function"),
        ("handler", "Runtime.MalformedHandlerName", "Bad handler"),
    ],
)
async def test_init_errors(pool, handler, error_type, message) -> None:
    outcome = await run(pool, handler)
    assert outcome.function_error == "Unhandled"
    error = json.loads(outcome.payload)
    assert error["errorType"] == error_type
    assert error["errorMessage"].startswith(message)
    assert pool.sandboxes == []


async def test_syntax_error_then_init_reruns(pool, tmp_path) -> None:
    (tmp_path / "index.js").write_text("exports.handler = async () => {\n")
    outcome = await run(pool, "index.handler", code=tmp_path)
    error = error_of(outcome)
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("SyntaxError: ")
    # Init errors are never Handled, even on nodejs12.x.
    assert (await run(pool, "index.handler", code=tmp_path, runtime=LEGACY)).function_error == (
        "Unhandled"
    )
    (tmp_path / "index.js").write_text("exports.handler = async () => 1;\n")
    outcome = await run(pool, "index.handler", code=tmp_path)
    assert (outcome.payload, outcome.function_error) == (b"1", None)


async def test_module_throwing_at_load(pool, tmp_path) -> None:
    (tmp_path / "index.js").write_text("throw new RangeError('cold');\n")
    error = error_of(await run(pool, "index.handler", code=tmp_path))
    assert (error["errorType"], error["errorMessage"]) == ("RangeError", "cold")


async def test_callback_handlers_removed_in_nodejs24(pool) -> None:
    error = error_of(await run(pool, "index.callbackResult", runtime="nodejs24.x"))
    assert error["errorType"] == "Runtime.CallbackHandlerDeprecated"
    # Async handlers still run there.
    assert (await run(pool, "index.nothing", runtime="nodejs24.x")).payload == b"null"


# -- environment and logs (check 60) -----------------------------------------------------


async def test_environment_of_check_60(pool) -> None:
    fn = function("index.env", environment={"MY_VAR": "mine", "AWS_REGION": "xx-user-1"})
    outcome = await asyncio.wait_for(pool.run(fn, HANDLERS, invocation()), 20)
    body = json.loads(outcome.payload)
    env = body["env"]
    # The variables the official Node RIC refuses to start without, and the rest of check 60.
    for name in [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
    ]:
        assert env.get(name), name
    assert env["_HANDLER"] == "index.env"
    assert env["LAMBDA_TASK_ROOT"] == str(HANDLERS) == body["cwd"]
    assert env["AWS_REGION"] == "us-east-1"  # reserved wins
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["NODE_PATH"].split(":")[-1] == str(HANDLERS)
    assert env["MY_VAR"] == "mine"
    assert body["node"].startswith("v")


async def test_console_lines_in_the_tail(pool) -> None:
    inv = invocation(tail_log=True)
    outcome = await asyncio.wait_for(pool.run(function("index.chatty"), HANDLERS, inv), 20)
    tail = outcome.log_tail.decode()
    assert tail.startswith(f"START RequestId: {inv.request_id} Version: $LATEST\n")
    stamp = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
    assert re.search(rf"^{stamp}\t{inv.request_id}\tINFO\thello from node$", tail, re.M)
    assert re.search(rf"^{stamp}\t{inv.request_id}\tERROR\tand an error line$", tail, re.M)
    assert f"END RequestId: {inv.request_id}\n" in tail


async def test_error_is_logged_like_the_ric(pool, tmp_path) -> None:
    inv = invocation(tail_log=True)
    outcome = await asyncio.wait_for(pool.run(function("index.rejected"), HANDLERS, inv), 20)
    tail = outcome.log_tail.decode()
    line = next(line for line in tail.splitlines() if "Invoke Error" in line)
    logged = json.loads(line.split("Invoke Error \t", 1)[1])
    assert (logged["errorType"], logged["errorMessage"]) == ("Error", "rejected")
