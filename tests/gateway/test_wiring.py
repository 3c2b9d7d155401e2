"""How the gateway is deployed and how it fails: `up` serves it, `serve gateway` runs it alone
against a remote Invoker, an unreachable Invoker is a JSON 502, and the error table is AWS's."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
from pathlib import Path

import botocore
import pytest
from gateway.harness import ACCOUNT_ARN, GatewaySuite, http
from processes import EVENTINVOKE, SuiteProcess, free_port

from eventinvoke.gateway.errors import ERRORS

ENV = {"EVENTINVOKE_TIME_SCALE": "0.01", "EVENTINVOKE_LOG_FORMAT": "json"}
NOT_IN_THE_MODEL = {
    "ValidationException",
    "RequestEntityTooLargeException",
    "UnknownOperationException",
    "MissingAuthenticationTokenException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "AccessDeniedException",
}


def test_the_error_table_matches_botocores_lambda_model() -> None:
    """Status, ``Message``/``message`` casing and fault side of every modelled exception."""
    model_path = Path(botocore.__file__).parent / "data/lambda/2015-03-31/service-2.json.gz"
    shapes = json.loads(gzip.decompress(model_path.read_bytes()))["shapes"]

    for code, shape in ERRORS.items():
        if code in NOT_IN_THE_MODEL:
            assert code not in shapes
            continue
        model = shapes[code]
        assert shape.status == model["error"]["httpStatusCode"], code
        assert shape.message_key in model["members"], code
        assert (shape.type == "User") == model["error"].get("senderFault", False), code


async def test_unknown_paths_and_methods_are_json_errors(gateway: GatewaySuite) -> None:
    for method, path in [("GET", "/2015-03-31/nothing"), ("PATCH", "/2015-03-31/functions/f")]:
        response = await http(gateway.url, method, path)

        assert response.status in (404, 405)
        assert response.headers["X-Amzn-ErrorType"] == "UnknownOperationException"
        assert response.headers["x-amzn-RequestId"]
        assert set(response.json()) == {"Type", "message"}


async def test_health(gateway: GatewaySuite) -> None:
    response = await http(gateway.url, "GET", "/health")

    assert response.status == 200
    assert response.json() == {"status": "SERVING"}


def _serve_gateway(tmp_path: Path, invoker: str, name: str) -> tuple[SuiteProcess, str]:
    http_listen = f"127.0.0.1:{free_port()}"
    process = SuiteProcess(
        ["serve", "gateway", "--invoker-endpoint", invoker, "--http-listen", http_listen],
        tmp_path / f"{name}.log",
        ENV,
    )
    process.start(f"127.0.0.1:{free_port()}")
    return process, f"http://{http_listen}"


async def test_serve_gateway_alone_reaches_a_remote_invoker(
    gateway: GatewaySuite, tmp_path: Path
) -> None:
    gateway.deploy("remote-echo", "echo")
    process, url = _serve_gateway(tmp_path, gateway.address, "gateway")
    try:
        response = await http(url, "POST", "/2015-03-31/functions/remote-echo/invocations", b"{}")
        missing = await http(url, "GET", "/2015-03-31/functions/nope")
    finally:
        assert process.terminate() == 0
    assert response.status == 200
    assert response.json()["invoked_function_arn"] == f"{ACCOUNT_ARN}:remote-echo"
    assert missing.status == 404
    assert missing.json()["Message"] == f"Function not found: {ACCOUNT_ARN}:nope"
    assert not list(tmp_path.glob("**/*.sqlite*"))  # a gateway alone keeps no data
    assert '"gateway_started"' in process.log()


async def test_an_unreachable_invoker_is_a_json_502(tmp_path: Path, dead_endpoint: str) -> None:
    process, url = _serve_gateway(tmp_path, dead_endpoint, "orphan")
    try:
        response = await http(url, "POST", "/2015-03-31/functions/f/invocations", b"{}")
    finally:
        process.cleanup()
    assert response.status == 502
    assert response.headers["X-Amzn-ErrorType"] == "ServiceException"
    assert response.json() == {
        "Type": "Service",
        "Message": "The Invoker is unavailable. Try again later.",
    }
    assert "Traceback" not in process.log()


def test_serve_gateway_needs_the_invokers_address(tmp_path: Path) -> None:
    run = subprocess.run(
        [EVENTINVOKE, "serve", "gateway", "--listen", f"127.0.0.1:{free_port()}"]
        + ["--http-listen", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **ENV, "EVENTINVOKE_INVOKER_ENDPOINT": ""},
        cwd=tmp_path,
    )

    assert run.returncode != 0
    assert "--invoker-endpoint" in run.stderr


async def test_up_serves_the_gateway(tmp_path: Path) -> None:
    http_listen = f"127.0.0.1:{free_port()}"
    process = SuiteProcess(
        ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", http_listen],
        tmp_path / "up.log",
        ENV,
    )
    try:
        process.start(f"127.0.0.1:{free_port()}")
        response = await http(f"http://{http_listen}", "GET", "/2015-03-31/functions/")
    finally:
        process.cleanup()
    assert response.status == 200
    assert response.json() == {"Functions": []}


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:notaport", "in-use"])
def test_a_bad_http_listen_address_is_a_clear_error(tmp_path: Path, listen: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if listen == "in-use":
            listen = f"127.0.0.1:{taken.getsockname()[1]}"
        run = subprocess.run(
            [EVENTINVOKE, "up", "--data-dir", "data", "--listen", "127.0.0.1:0"]
            + ["--http-listen", listen],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **ENV},
            cwd=tmp_path,
        )

    assert run.returncode == 1
    assert run.stderr.startswith(("Error: bad value for --http-listen", "Error: cannot listen on"))
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stdout + run.stderr
