"""Where the services live, and how a channel to one is made: addresses, stubs, channel options."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc

from eventinvoke.client.signing import AsyncSigner, Keys
from eventinvoke.v1 import executor_service_pb2 as executor_pb2
from eventinvoke.v1 import executor_service_pb2_grpc as executor_grpc
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import invoker_service_pb2_grpc as invoker_grpc
from eventinvoke.v1 import router_service_pb2 as router_pb2
from eventinvoke.v1 import router_service_pb2_grpc as router_grpc

DEFAULT_ENDPOINT = "127.0.0.1:50051"

# Synchronous payloads reach 6 MB and deployment packages more; gRPC's default limit is 4 MiB.
_MESSAGE_LIMIT = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", _MESSAGE_LIMIT),
    ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
    # An endpoint may name several replicas (a DNS name with several addresses, or
    # ipv4:host:port,host:port): spread calls over all of them, not just the first.
    ("grpc.lb_policy_name", "round_robin"),
    # Keepalive: a ping every 30 s keeps a connection through load balancers and NAT tables
    # that drop idle ones, and finds a server that vanished without closing its connections
    # (a lost node) within 40 s instead of TCP's 15 min. eventinvoke's servers accept a ping
    # every 15 s (server/serve.py, SERVER_KEEPALIVE_OPTIONS); gRPC's default, one per 5 min,
    # would answer these with GOAWAY "too_many_pings".
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]

Service = Literal["invoker", "executor", "router"]
STUBS: dict[Service, Callable[[Any], Any]] = {
    "invoker": invoker_grpc.InvokerStub,
    "executor": executor_grpc.ExecutorStub,
    "router": router_grpc.RouterStub,
}


@dataclass(frozen=True)
class Address:
    """How a user tells a client where one service lives: the ``eventinvoke`` CLI's option and
    variable, and this client's constructor argument. Named here, where errors need them."""

    grpc_name: str  # e.g. "eventinvoke.v1.Executor"
    title: str  # e.g. "Executor"
    option: str
    envvar: str
    keyword: str


def _grpc_name(module: Any, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


ADDRESSES: dict[Service, Address] = {
    "invoker": Address(
        _grpc_name(invoker_pb2, "Invoker"),
        "Invoker",
        "--endpoint",
        "EVENTINVOKE_ENDPOINT",
        "endpoint",
    ),
    "executor": Address(
        _grpc_name(executor_pb2, "Executor"),
        "Executor",
        "--executor-endpoint",
        "EVENTINVOKE_EXECUTOR_ENDPOINT",
        "executor_endpoint",
    ),
    "router": Address(
        _grpc_name(router_pb2, "Router"),
        "Router",
        "--router-endpoint",
        "EVENTINVOKE_ROUTER_ENDPOINT",
        "router_endpoint",
    ),
}


def target(endpoint: str) -> str:
    """The gRPC target for an endpoint, accepting AWS-style ``http://host:port/`` and
    ``https://host:port/`` (TLS) as well."""
    return endpoint.removeprefix("http://").removeprefix("https://").rstrip("/")


@dataclass(frozen=True)
class Tls:
    """How a client reaches a server over TLS: the CA certificates it trusts (PEM; None: the
    file in ``AWS_CA_BUNDLE``, else the system's), and for mutual TLS its own certificate chain
    and key."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None

    @classmethod
    def from_files(cls, ca: str = "", cert: str = "", key: str = "") -> Tls:
        def read(path: str) -> bytes | None:
            return Path(path).expanduser().read_bytes() if path else None

        return cls(read(ca), read(cert), read(key))

    def credentials(self) -> grpc.ChannelCredentials:
        ca = self.ca
        if ca is None and os.environ.get("AWS_CA_BUNDLE"):
            ca = Path(os.environ["AWS_CA_BUNDLE"]).read_bytes()
        return grpc.ssl_channel_credentials(ca, self.key, self.cert)


def aio_channel(
    address: str,
    options: list[tuple[str, Any]],
    tls: Tls | None,
    keys: Keys | None,
    outer: Sequence[grpc.aio.ClientInterceptor] = (),
) -> grpc.aio.Channel:
    """A ``grpc.aio`` channel to ``address``: over TLS when ``tls`` is given, its calls signed
    with ``keys`` when given, through the ``outer`` interceptors first (the suite's tracing).
    The clients' channels and the suite's own to its peers."""
    interceptors = [*outer, *([AsyncSigner(keys)] if keys is not None else [])] or None
    if tls is not None:
        return grpc.aio.secure_channel(
            address, tls.credentials(), options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)


def tls_for(endpoint: str, tls: Tls | None) -> Tls | None:
    """TLS settings for an endpoint: those given, or the defaults for an ``https://`` one."""
    if tls is None and endpoint.startswith("https://"):
        return Tls()
    return tls
