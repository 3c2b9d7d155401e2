"""Connections behind a load balancer (docs/deploy.md): the server ends each client connection
at its maximum age, so clients reconnect and spread over the replicas there are now; calls in
flight on an aged connection still finish; keepalive pings of our clients are accepted by our
servers.

The server tells which connection a call came on: ``context.peer()`` is the client's address
and port, a new port for each new connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from conftest import started_suite

from eventinvoke.client import _transport
from eventinvoke.server import serve
from eventinvoke.server.serve import Server, Service

SLOW = b"slow"
SLOW_SECONDS = 1.5


class _Peers:
    """A tiny service whose one method answers with the caller's address (and sleeps first
    when asked to), so a test sees which connection each call came on."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def who(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.seen.append(context.peer())
        if request == SLOW:
            await asyncio.sleep(SLOW_SECONDS)
        return context.peer().encode()

    def add_to_server(self, servicer: Any, server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            "test.Peers", {"Who": grpc.unary_unary_rpc_method_handler(self.who)}
        )
        server.add_generic_rpc_handlers((handler,))


@asynccontextmanager
async def _server(**options: float) -> AsyncIterator[tuple[Server, _Peers]]:
    peers = _Peers()
    server = Server("127.0.0.1:0", [Service("test.Peers", peers, peers.add_to_server)], **options)
    await server.start()
    try:
        yield server, peers
    finally:
        await server.stop(grace=0)


async def _calls_for(channel: grpc.aio.Channel, seconds: float) -> list[str]:
    """Call every 0.1 s for ``seconds``; every call must succeed. Returns the peers seen."""
    who = channel.unary_unary("/test.Peers/Who")
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers.append((await who(b"", timeout=5)).decode())
        await asyncio.sleep(0.1)
    return answers


async def test_a_connection_is_replaced_after_its_maximum_age_and_no_call_fails() -> None:
    async with (
        _server(max_connection_age=0.5) as (server, _),
        grpc.aio.insecure_channel(server.address, options=serve.PEER_CHANNEL_OPTIONS) as channel,
    ):
        answers = await _calls_for(channel, 2.5)

    # About five connections in 2.5 s (0.5 s each, +-10% jitter), every call answered.
    assert len(set(answers)) >= 3, answers
    assert len(answers) >= 15


async def test_without_a_maximum_age_one_connection_carries_every_call() -> None:
    async with (
        _server(max_connection_age=0) as (server, _),
        grpc.aio.insecure_channel(server.address, options=serve.PEER_CHANNEL_OPTIONS) as channel,
    ):
        answers = await _calls_for(channel, 2.5)

    assert len(set(answers)) == 1, answers


async def test_a_call_in_flight_when_its_connection_ages_finishes_within_the_grace() -> None:
    async with (
        _server(max_connection_age=0.3) as (server, peers),
        grpc.aio.insecure_channel(server.address, options=serve.PEER_CHANNEL_OPTIONS) as channel,
    ):
        who = channel.unary_unary("/test.Peers/Who")
        started = time.monotonic()
        slow = await who(SLOW, timeout=10)  # outlives its connection's age by 1.2 s
        took = time.monotonic() - started
        after = await who(b"", timeout=5)

    assert slow.decode() == peers.seen[0]
    assert took >= SLOW_SECONDS
    assert after != slow  # the next call came on a new connection


async def test_a_short_grace_cuts_a_call_in_flight_which_is_why_the_grace_is_long() -> None:
    """The control for the test above: with a grace shorter than the call, the call fails.
    Synchronous invokes last up to a function's timeout (900 s), hence the default."""
    assert serve.MAX_CONNECTION_AGE_GRACE > 900
    async with (
        _server(max_connection_age=0.3, max_connection_age_grace=0.2) as (server, _),
        grpc.aio.insecure_channel(server.address, options=serve.PEER_CHANNEL_OPTIONS) as channel,
    ):
        who = channel.unary_unary("/test.Peers/Who")
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await who(SLOW, timeout=10)

    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "max connection age" in (failure.value.details() or "")


def _client_ports(port: int) -> set[int]:
    """The client ports of the connections the server side of this process holds on ``port``."""
    return {
        c.raddr.port
        for c in psutil.Process().net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.raddr and c.status == psutil.CONN_ESTABLISHED
    }


@pytest.mark.parametrize(("age", "expected"), [(0.5, "several"), (None, "one")])
async def test_the_max_connection_age_setting_reaches_the_suites_server(
    tmp_path: Path, age: float | None, expected: str
) -> None:
    """The setting (default 300 s) through Settings and Suite to the server: the Python
    client's connection is replaced every half second and none of its calls fails."""
    overrides = {} if age is None else {"max_connection_age": age}
    async with started_suite(tmp_path, **overrides) as running:
        assert running.suite.settings.max_connection_age == (age or 300)
        port = int(running.address.rsplit(":", 1)[1])
        seen: set[int] = set()
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            await running.client.list_functions()
            seen |= _client_ports(port)
            await asyncio.sleep(0.1)

    if expected == "several":
        assert len(seen) >= 3, seen
    else:
        assert len(seen) == 1, seen


def test_our_clients_keepalive_pings_are_within_what_our_servers_accept() -> None:
    """A client pinging more often than the server allows gets GOAWAY "too_many_pings" and
    loses its connection; both client option lists must respect the server's policy."""
    server = dict(serve.SERVER_KEEPALIVE_OPTIONS)
    for options in (dict(serve.PEER_CHANNEL_OPTIONS), dict(_transport.CHANNEL_OPTIONS)):
        assert (
            options["grpc.keepalive_time_ms"]
            >= server["grpc.http2.min_ping_interval_without_data_ms"]
        )
        # Pings on idle connections are sent, so the server must accept them.
        assert options["grpc.keepalive_permit_without_calls"] == 1
        assert server["grpc.keepalive_permit_without_calls"] == 1
        assert options["grpc.lb_policy_name"] == "round_robin"
    assert dict(serve.PEER_CHANNEL_OPTIONS).items() >= dict(serve.CLIENT_KEEPALIVE_OPTIONS).items()
