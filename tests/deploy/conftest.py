"""A suite in the seed's account: the 2019 snippet names its destinations by full ARN, with
region us-east-1 and account 123456789012, so the functions it names must live there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Running, test_settings

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient

SEED_ACCOUNT = "123456789012"


@pytest.fixture
async def seed_suite(tmp_path: Path) -> AsyncIterator[Running]:
    running_suite = Suite(test_settings(tmp_path / "data", account=SEED_ACCOUNT))
    await running_suite.start()
    client = AsyncClient(running_suite.address)
    try:
        yield Running(running_suite, client, tmp_path)
    finally:
        await client.close()
        await running_suite.stop(grace=1)
