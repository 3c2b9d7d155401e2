"""A real suite with its HTTP gateway, on its own event loop in a thread, for blocking callers.

boto3, the AWS CLI (a subprocess) and the sync gRPC ``Client`` all block, so the suite must not
share their thread's loop. One suite serves a whole test module (the ``gateway`` fixture);
tests keep apart by using their own function names.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import structlog
from botocore.config import Config
from conftest import FUNCTIONS, test_settings, zip_dir

from eventinvoke.app import ROLES, Suite
from eventinvoke.client import Client

AWS = str(Path(sys.executable).with_name("aws"))  # the awscli package, in this venv
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


class GatewaySuite:
    """The started suite: its gRPC address, the gateway URL, and clients of both."""

    def __init__(self, suite: Suite, tmp_path: Path) -> None:
        assert suite.gateway is not None
        self.suite = suite
        self.tmp_path = tmp_path
        self.address = suite.address  # gRPC
        self.url = suite.gateway.url  # HTTP, for --endpoint-url
        own = suite.settings.auth.own()  # the admin's, where calls must be signed
        self.client = Client(self.address, credentials=_keys(own) if own else False)

    def boto3_lambda(self, **config: Any) -> Any:
        """boto3's lambda client pointed at the gateway; no retries, so errors show at once."""
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
        )

    def aws_env(self) -> dict[str, str]:
        """The environment for an ``aws`` subprocess: test credentials, no user config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(self.tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.tmp_path / "no-aws-credentials"),
            AWS_PAGER="",
        )
        return env

    def deploy(self, name: str, source: str, **env: str) -> dict[str, Any]:
        """Create a test function over gRPC."""
        return self.client.create_function(
            function_name=name,
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / source),
            environment={"Variables": env} if env else None,
        )

    def collector(self, name: str) -> Path:
        """A collector function; returns the file its events land in (one JSON line each)."""
        path = self.tmp_path / f"{name}.jsonl"
        path.touch()
        self.deploy(name, "collector", COLLECT_FILE=str(path))
        return path


def _keys(credential: Any) -> tuple[str, str]:
    return credential.access_key_id, credential.secret_access_key


class HttpResponse:
    """A raw HTTP answer: status, headers (case-insensitive) and body bytes."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


async def http(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """One raw request to the gateway with aiohttp's client: exact headers and bodies."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url + path, data=body, headers=headers or {}) as response,
    ):
        return HttpResponse(response.status, response.headers, await response.read())


def run_gateway_suite(tmp_path: Path, **overrides: Any) -> Iterator[GatewaySuite]:
    """Start the suite with every role (gateway included) on free ports, with settings
    ``overrides``; stop it after."""
    saved_logging = structlog.get_config() if structlog.is_configured() else None
    suite_log = (tmp_path / "suite.log").open("a", buffering=1)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(suite_log))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gateway-suite", daemon=True)
    thread.start()
    settings = test_settings(tmp_path / "data", **{"http_listen": "127.0.0.1:0", **overrides})
    suite = Suite(settings, roles=ROLES)

    def run(coroutine: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    async def cancel_leftovers() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    running: GatewaySuite | None = None
    try:
        run(suite.start())
        running = GatewaySuite(suite, tmp_path)
        yield running
    finally:
        try:
            if running is not None:
                running.client.close()
            run(suite.stop(grace=1))
            run(cancel_leftovers(), timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop.close()
            if saved_logging is None:
                structlog.reset_defaults()
            else:
                structlog.configure(**saved_logging)
            suite_log.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewaySuite]:
    """One suite + gateway per test module."""
    yield from run_gateway_suite(tmp_path_factory.mktemp("gateway"))
