"""TLS and mutual TLS: gRPC and the gateway serve TLS with the configured certificate, the
suite's services reach each other over it, and with a client CA only clients presenting a
certificate it signed are served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest
from conftest import FUNCTIONS, test_settings, zip_dir
from security.pki import Pki

from eventinvoke.app import ROLES, Suite
from eventinvoke.client import AsyncClient, EndpointConnectionError, Tls


async def _started(tmp_path: Path, pki: Pki, mutual: bool) -> AsyncIterator[Suite]:
    settings = test_settings(
        tmp_path / "data",
        http_listen="127.0.0.1:0",
        tls_cert=str(pki.files["server"]),
        tls_key=str(pki.files["server-key"]),
        tls_client_ca=str(pki.files["ca"]) if mutual else "",
    )
    suite = Suite(settings, roles=ROLES)
    await suite.start()
    try:
        yield suite
    finally:
        await suite.stop(grace=1)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


async def _create_and_run(client: AsyncClient, name: str) -> dict:
    await client.create_function(name, "python3.11", "index.handler", zip_dir(FUNCTIONS / "echo"))
    return await client.invoke(name, b'{"over": "tls"}')  # the Invoker calls the Executor


async def test_grpc_and_the_gateway_serve_tls(tmp_path: Path, pki: Pki) -> None:
    async for suite in _started(tmp_path, pki, mutual=False):
        url = f"https://{suite.address}"
        async with AsyncClient(url, tls=Tls(pki.ca), credentials=False) as client:
            ran = await _create_and_run(client, "tls-echo")
        async with AsyncClient(suite.address, credentials=False, timeout=5) as plain:
            with pytest.raises(EndpointConnectionError):
                await plain.list_functions()
        assert suite.gateway is not None
        gateway = boto3.client(
            "lambda",
            endpoint_url=suite.gateway.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            verify=str(pki.files["ca"]),
        )
        listed = await asyncio.to_thread(gateway.list_functions)  # the suite runs on this loop

    assert ran["StatusCode"] == 200
    assert suite.gateway.url.startswith("https://")
    assert [f["FunctionName"] for f in listed["Functions"]] == ["tls-echo"]


async def test_mutual_tls_serves_only_clients_with_a_certificate_the_ca_signed(
    tmp_path: Path, pki: Pki
) -> None:
    async for suite in _started(tmp_path, pki, mutual=True):
        url = f"https://{suite.address}"
        async with AsyncClient(url, tls=pki.client_tls(), credentials=False) as client:
            ran = await _create_and_run(client, "mtls-echo")
        async with AsyncClient(url, tls=Tls(pki.ca), credentials=False, timeout=5) as anonymous:
            with pytest.raises(EndpointConnectionError):
                await anonymous.list_functions()

    assert ran["StatusCode"] == 200
