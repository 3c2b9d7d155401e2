"""The one way every service is served: interceptors, health, reflection, port, start, drain."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eventinvoke.client import Tls
from eventinvoke.core.auth import Verifier
from eventinvoke.server import tracing
from eventinvoke.server.interceptors import ServerInterceptor

log = structlog.get_logger("eventinvoke.server")

# Sync payloads reach 6 MB and deployment packages more: raise gRPC's 4 MB default.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

# Keepalive, both ways (docs/deploy.md, "Behind a mesh and a load balancer"). Load balancers and
# NAT tables drop connections idle for a few minutes (Azure's default is 4, AWS NLB's 350 s)
# without telling either end, and a peer that vanished (a node lost, a pod killed without a FIN)
# leaves a connection that only TCP's own timeout, about 15 minutes, would close. A ping every
# 30 s (clients) or 60 s (this server) keeps such connections alive and finds dead ones within
# one ping and its 10 s (20 s) timeout.
CLIENT_KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),  # idle channels too: peers are often idle
    ("grpc.http2.max_pings_without_data", 0),  # else pings stop after 2 on an idle connection
]
SERVER_KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # What the server accepts from clients: gRPC's default (one ping per 5 min, none without a
    # call) would answer the clients' 30 s pings with GOAWAY "too_many_pings". Half the
    # clients' interval leaves room for their timers' jitter.
    ("grpc.http2.min_ping_interval_without_data_ms", 15_000),
]

# Channels to peers: a peer's address may name several replicas; calls go round robin.
PEER_CHANNEL_OPTIONS = [
    *CHANNEL_OPTIONS,
    ("grpc.lb_policy_name", "round_robin"),
    *CLIENT_KEEPALIVE_OPTIONS,
]

# How long calls in flight on a connection past its maximum age (the `max_connection_age`
# setting) may still take before the connection is closed under them: the longest call is a
# synchronous invoke, which lasts up to a function's maximum timeout (900 s) plus its sandbox's
# start. New calls go to the client's new connection at once, so a long grace costs nothing.
MAX_CONNECTION_AGE_GRACE = 900.0 + 60.0


# gRPC sets SO_REUSEPORT by default: a second server on a taken port would start and share
# the connections with the first, each answering from its own database.
NO_SHARED_PORT = ("grpc.so_reuseport", 0)


def check_free(listen: str, protocol: str = "") -> None:
    """Raise ``OSError`` with one clear line when ``listen`` (host:port) cannot be bound.

    Tried with a plain socket first, because gRPC's own failure is a log line on stderr and
    an error that does not say why.
    """
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    where = f"{listen} ({protocol})" if protocol else listen
    try:
        addresses = socket.getaddrinfo(
            host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (ValueError, socket.gaierror) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise OSError(f"cannot listen on {where}: {reason}") from None
    if int(port) == 0:
        return
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # Like gRPC: a port left in TIME_WAIT by a stopped server may be taken again.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise OSError(f"cannot listen on {where}: {error.strerror}") from None


def connection_age_options(age: float, grace: float) -> list[tuple[str, int]]:
    """gRPC's options for a maximum connection age (none for 0: connections live for ever).

    Past its age (gRPC adds up to 10% of jitter, so that clients do not reconnect together) a
    connection gets an HTTP/2 GOAWAY: the client opens a new one for its next calls, resolving
    the address again, and so spreads over the replicas a load balancer or a DNS name offers
    now, not those it found when it first connected. Calls in flight finish within ``grace``.
    """
    if age <= 0:
        return []
    return [
        ("grpc.max_connection_age_ms", max(1, round(age * 1000))),
        ("grpc.max_connection_age_grace_ms", max(1, round(grace * 1000))),
    ]


@dataclass(frozen=True)
class Service:
    """A servicer and how to mount it."""

    full_name: str  # from the descriptor, never hand-typed
    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]


class Worker(Protocol):
    """Background work a service runs beside its RPCs (leasing loops)."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Stop taking new work and finish what is in flight."""


@dataclass(frozen=True)
class ServerTls:
    """TLS for the servers: a certificate chain and its key (PEM), and for mutual TLS the CA
    certificates a client's certificate must be signed by."""

    cert: bytes
    key: bytes
    client_ca: bytes | None = None

    @classmethod
    def load(cls, cert: str, key: str, client_ca: str) -> ServerTls | None:
        """From the settings' files; None when no certificate is configured."""
        if not cert:
            return None

        def read(name: str, path: str) -> bytes:
            try:
                return Path(path).read_bytes()
            except OSError as error:
                raise OSError(f"cannot read {name} {path}: {error.strerror}") from None

        ca = read("tls_client_ca", client_ca) if client_ca else None
        return cls(read("tls_cert", cert), read("tls_key", key), ca)

    def grpc(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """The same, for the HTTP gateway."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as folder:  # ssl loads chains from files only
            cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert.write_bytes(self.cert)
            key.write_bytes(self.key)
            key.chmod(0o600)
            context.load_cert_chain(cert, key)
        if self.client_ca is not None:
            context.load_verify_locations(cadata=self.client_ca.decode())
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def peers(self) -> Tls:
        """How the suite's services reach each other: presenting this certificate, trusting
        the client CA, else the certificates of the chain itself (a self-signed certificate,
        or a chain that ends with its CA)."""
        return Tls(self.client_ca or self.cert, self.cert, self.key)


class Server:
    """A started gRPC server with its workers; ``stop()`` drains in the documented order."""

    def __init__(
        self,
        listen: str,
        services: Sequence[Service] = (),
        workers: Sequence[Worker] = (),
        *,
        max_connection_age: float = 0.0,
        max_connection_age_grace: float = MAX_CONNECTION_AGE_GRACE,
        verifier: Verifier | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        self.listen = listen
        self.tls = tls
        self.services = list(services)
        self.workers = list(workers)
        self.health = health.aio.HealthServicer()
        self.grpc = grpc.aio.server(
            # A call's span first (tracing on), so that it covers the checks too.
            interceptors=[*tracing.server_interceptors(), ServerInterceptor(verifier)],
            options=[
                *CHANNEL_OPTIONS,
                NO_SHARED_PORT,
                *SERVER_KEEPALIVE_OPTIONS,
                *connection_age_options(max_connection_age, max_connection_age_grace),
            ],
        )
        self.port = 0
        self._stopped = asyncio.Event()
        self._started = False

    def bind(self) -> int:
        """Take the port now (port 0 picks a free one), so peers can be told the address."""
        if not self.port:
            check_free(self.listen)
            try:
                if self.tls is None:
                    self.port = self.grpc.add_insecure_port(self.listen)
                else:
                    self.port = self.grpc.add_secure_port(self.listen, self.tls.grpc())
            except RuntimeError:  # gRPC's own words point at its debug log
                self.port = 0
            if self.port == 0:
                raise OSError(f"cannot listen on {self.listen}")
        return self.port

    @property
    def address(self) -> str:
        return f"{self.listen.rsplit(':', 1)[0]}:{self.port}"

    async def start(self) -> None:
        for service in self.services:
            service.add_to_server(service.servicer, self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        names = [s.full_name for s in self.services]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.grpc
        )
        self.bind()
        await self.grpc.start()
        self._started = True
        for worker in self.workers:
            await worker.start()
        for name in ["", *names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("server_started", address=self.address, services=names)

    async def stop(self, grace: float = 10.0) -> None:
        """Health NOT_SERVING, then drain workers (they may still call peers), then stop."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if not self._started:  # it failed to start (a port in use): nothing to drain
            await self.grpc.stop(None)
            return
        await self.health.enter_graceful_shutdown()
        for worker in reversed(self.workers):
            await worker.stop()
        await self.grpc.stop(grace)
        log.info("server_stopped", address=self.address)

    async def wait_for_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        signalled = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, signalled.set)
        await signalled.wait()
        log.info("shutdown_requested")
        await self.stop()
