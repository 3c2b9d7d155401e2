"""Fixtures for the AWS destination adapters: one moto_server per session, and for each test a
real suite whose Router reaches it through the AWS SDK's own variables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import test_settings
from destinations.harness import CREDENTIALS, REGION, Aws, AwsRunning, MotoServer, StartSuite

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient

# AWS SDK variables that could point the Router somewhere else.
FOREIGN_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SNS",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_LAMBDA",
)


@pytest.fixture(scope="session")
def aws(moto: MotoServer) -> Aws:
    return Aws(moto.endpoint)


@pytest.fixture
def aws_environment(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """The SDK's standard variables, pointing at moto_server (set before a suite starts)."""
    for name in FOREIGN_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    environment = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # No ~/.aws files and no instance metadata lookups.
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
async def start_suite(aws_environment: dict[str, str], tmp_path: Path) -> AsyncIterator[StartSuite]:
    """Start a suite with ``test_settings`` overrides (e.g. ``destinations={...}``)."""
    started: list[tuple[Suite, AsyncClient]] = []

    async def start(**overrides: Any) -> AwsRunning:
        # With metrics, for AwsRunning.metrics (DestinationDeliveryFailures, DeadLetterErrors).
        settings = {"metrics_listen": "127.0.0.1:0", **overrides}
        suite = Suite(test_settings(tmp_path / f"data-{len(started)}", **settings))
        await suite.start()
        client = AsyncClient(suite.address)
        started.append((suite, client))
        return AwsRunning(suite, client, tmp_path)

    try:
        yield start
    finally:
        for suite, client in reversed(started):
            await client.close()
            await suite.stop(grace=1)


@pytest.fixture
async def aws_suite(start_suite: StartSuite) -> AwsRunning:
    """A suite with default settings whose Router reaches moto_server."""
    return await start_suite()
