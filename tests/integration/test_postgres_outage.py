"""PostgreSQL unreachable: no fake accept, a retryable error, and recovery when it is back.

The outage is real: the suite reaches the server through a TCP proxy of the test's, which the
test cuts (closing the listener and every connection) and restores on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from conftest import FUNCTIONS, test_settings, zip_dir
from processes import free_port

from eventinvoke.app import Suite
from eventinvoke.client import AsyncClient, ServiceError


class Proxy:
    """Forwards 127.0.0.1:<port> to the server; ``cut()`` drops everything, ``restore()``
    listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, upstream_writer}
        await asyncio.gather(
            _pump(reader, upstream_writer), _pump(upstream_reader, writer), return_exceptions=True
        )

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        login = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{login}127.0.0.1:{self.port}"))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


async def _invoke_http(http: str, function: str) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://{http}/2015-03-31/functions/{function}/invocations",
            data=b"{}",
            headers={"X-Amz-Invocation-Type": "Event"},
        ) as response,
    ):
        return response.status, dict(response.headers), await response.text()


async def test_while_the_database_is_down_invokes_are_refused_retryably_then_served_again(
    postgres_url: str, tmp_path: pytest.TempPathFactory
) -> None:
    parts = urlsplit(postgres_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.restore()
    http = f"127.0.0.1:{free_port()}"
    settings = test_settings(
        tmp_path / "data",  # type: ignore[operator]
        backend=proxy.url(postgres_url),
        http_listen=http,
        executor_concurrency=1,
    )
    suite = Suite(settings, roles=("invoker", "executor", "router", "gateway"))
    await suite.start()
    client = AsyncClient(suite.address)
    try:
        await client.create_function(
            function_name="fn",
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "echo"),
        )
        accepted = await client.invoke(function_name="fn", invocation_type="Event", payload=b"{}")
        assert accepted["StatusCode"] == 202

        await proxy.cut()
        with pytest.raises(ServiceError) as refused:
            await client.invoke(function_name="fn", invocation_type="Event", payload=b"{}")
        status, headers, body = await _invoke_http(http, "fn")

        await proxy.restore()
        again = None
        for _ in range(50):  # the pool opens new connections as they are needed
            with contextlib.suppress(ServiceError):
                again = await client.invoke(
                    function_name="fn", invocation_type="Event", payload=b"{}"
                )
                break
            await asyncio.sleep(0.1)
    finally:
        await client.close()
        await suite.stop(grace=1)
        with contextlib.suppress(AssertionError):
            await proxy.cut()

    assert refused.value.code == "ServiceUnavailableException"
    assert refused.value.http_status == 503
    assert refused.value.message == "The service is unavailable. Try again."
    assert status == 503
    assert headers["X-Amzn-ErrorType"] == "ServiceUnavailableException"
    assert headers["Retry-After"] == "1"
    assert "unavailable" in body
    assert again is not None and again["StatusCode"] == 202
