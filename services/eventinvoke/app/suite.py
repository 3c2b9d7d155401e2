"""Assembles the Invoker, Executor and Router (all, or one per process) on one gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import grpc
import structlog

from eventinvoke.app.local import LocalFunctionRoutes, LocalInvoker, PeerInvoker
from eventinvoke.backends import Wakeups, open_backend
from eventinvoke.backends.base import Backend
from eventinvoke.backends.cache import CachedStore
from eventinvoke.client import AsyncClient, Keys, Tls
from eventinvoke.client._transport import aio_channel
from eventinvoke.core.arn import Partition
from eventinvoke.core.auth import Verifier
from eventinvoke.executor import isolation
from eventinvoke.executor.code import CodeCache
from eventinvoke.executor.handoff import Handoff
from eventinvoke.executor.host import HostedPool
from eventinvoke.executor.launchers import PYTHON_BOOTSTRAP
from eventinvoke.executor.policy import RetryPolicy
from eventinvoke.executor.remote import RemoteExecutor
from eventinvoke.executor.sandbox import Sandboxes, SandboxPool, SandboxSettings
from eventinvoke.executor.servicer import ExecutorServicer
from eventinvoke.executor.worker import AsyncWorker, WorkerSettings
from eventinvoke.gateway import Gateway
from eventinvoke.invoker.admission import Admission
from eventinvoke.invoker.event_invoke_configs import EventInvokeConfigs
from eventinvoke.invoker.functions import Functions
from eventinvoke.invoker.history import HistorySweeper, InvocationHistory
from eventinvoke.invoker.invocations import Invocations
from eventinvoke.invoker.servicer import InvokerServicer
from eventinvoke.router.delivery import DeliverySettings, DeliveryWorker
from eventinvoke.router.failures import FailedDeliveries
from eventinvoke.router.plugin import FunctionInvoker, OutboundGuard, RouterContext
from eventinvoke.router.registry import Destinations
from eventinvoke.router.servicer import RouterServicer
from eventinvoke.server import tracing
from eventinvoke.server.config import Settings, variable
from eventinvoke.server.serve import (
    PEER_CHANNEL_OPTIONS,
    Server,
    ServerTls,
    Service,
    check_free,
)
from eventinvoke.v1 import (
    executor_service_pb2,
    executor_service_pb2_grpc,
    invoker_service_pb2,
    invoker_service_pb2_grpc,
    router_service_pb2,
    router_service_pb2_grpc,
)

if TYPE_CHECKING:
    from eventinvoke.server.metrics import Metrics, MetricsServer

log = structlog.get_logger("eventinvoke.app")

ROLES = ("invoker", "executor", "router", "gateway")
# What a Suite runs unless told otherwise: the gRPC services. The gateway takes an HTTP port of
# its own, so it is asked for by name (`eventinvoke up` does).
GRPC_ROLES = ("invoker", "executor", "router")


def _service_name(module: object, name: str) -> str:
    return module.DESCRIPTOR.services_by_name[name].full_name  # type: ignore[attr-defined]


class Suite:
    """One process: a gRPC server carrying the given roles, their workers, and one backend.

    Every role of a deployment shares one backend: the executor hands records to the Router
    through it, in the transaction that acks their event, wherever the Router runs. Peers in the
    same process are called directly (the Router invokes local functions without a round
    trip); peers elsewhere are reached over gRPC at their configured addresses.
    """

    def __init__(
        self,
        settings: Settings,
        roles: Sequence[str] = GRPC_ROLES,
        extra_plugins: Iterable[object] = (),
    ) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown service(s): {', '.join(sorted(unknown))}")
        self.settings = settings
        self.roles = tuple(roles)
        self.extra_plugins = list(extra_plugins)
        self.server: Server | None = None  # made in start(): gRPC binds to the running loop
        self.backend: Backend | None = None
        self.delivery: DeliveryWorker | None = None
        self.worker: AsyncWorker | None = None
        self.gateway: Gateway | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._closers: list[Sandboxes | AsyncClient | LocalInvoker | PeerInvoker] = []
        self._sandboxes: Sandboxes | None = None
        self._code_root: Path | None = None  # where packages are unpacked for sandboxes
        self._temporary_code_root = False
        self._executor_doorbell = asyncio.Event()
        self._router_doorbell = asyncio.Event()
        self._invocations: Invocations | None = None
        self._functions: Functions | None = None
        self._store: CachedStore | None = None
        self._destinations: Destinations | None = None
        self._tls: ServerTls | None = None
        self._verifier: Verifier | None = None
        # None with metrics off: the services then count nothing.
        self.metrics: Metrics | None = None
        self.metrics_server: MetricsServer | None = None

    @property
    def address(self) -> str:
        assert self.server is not None, "start() the suite first"
        return self.server.address

    async def start(self) -> None:
        settings = self.settings
        # Before anything starts, so that a taken port is one clear line and nothing else.
        check_free(settings.listen)
        if "gateway" in self.roles:
            check_free(settings.http_listen, "HTTP")
        tracing.configured()  # an OTLP protocol we cannot export with, said now
        if settings.metrics_listen:
            check_free(settings.metrics_listen, "metrics")
            # Imported only when on: off, prometheus-client is not even loaded.
            from eventinvoke.server.metrics import Metrics

            self.metrics = Metrics(importlib.metadata.version("eventinvoke"), self.roles)
        keeps_data = set(self.roles) != {"gateway"}  # a gateway alone keeps no data
        if keeps_data:  # an unreachable database stops the start before anything runs
            _private_directory(settings.data_dir)
            self.backend = await open_backend(
                settings,
                # Other processes' writes ring these (a backend that can tell; others poll).
                Wakeups(self._executor_doorbell, self._router_doorbell, self._function_changed),
            )
        if "executor" in self.roles:
            # Before gRPC makes its threads, whose fork handlers would print a warning at the
            # fork (a host started again later, after one died, may still print it).
            self._sandboxes = await self._start_sandboxes()
        # After the sandbox host's start: the exporter's threads must not see its fork.
        tracing.setup(self.roles)
        self._tls = ServerTls.load(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
        credentials = settings.auth.credentials
        self._verifier = Verifier(credentials) if credentials else None
        self.server = Server(
            settings.listen,
            max_connection_age=settings.max_connection_age,
            verifier=self._verifier,
            tls=self._tls,
        )
        if not settings.auth.credentials:
            log.warning(
                "serving_without_credentials",
                reason="no [[auth.credentials]] configured: every call is accepted",
                listen=settings.listen,
            )
        self.server.bind()
        partition = Partition(settings.region, settings.account)
        if self.backend is None:
            self._start_gateway()
            self._start_metrics()
            await self.server.start()
            return
        store = self._store = CachedStore(self.backend.store)
        # The account's concurrency limit is the executor's sandbox limit.
        self._functions = Functions(store, partition, concurrency_limit=settings.max_sandboxes)
        # The invoker first: a local Router invokes its functions directly.
        if "invoker" in self.roles:
            self._start_invoker(store, partition)
        if "executor" in self.roles:
            self._start_executor(store, partition)
        if "router" in self.roles:
            self._start_router(partition)
        if "gateway" in self.roles:
            self._start_gateway()
        self._start_metrics()
        await self.server.start()
        log.info(
            "suite_started",
            roles=list(self.roles),
            address=self.address,
            backend=self.backend.describe(),
            time_scale=settings.time_scale,
        )

    def _start_invoker(self, store: CachedStore, partition: Partition) -> None:
        assert self.server is not None and self.backend is not None
        assert self._functions is not None
        functions = self._functions
        self._invocations = Invocations(
            functions,
            self.backend.queue,
            RemoteExecutor(self._channel("executor")),
            on_enqueued=self._executor_doorbell.set,
            admission=Admission(
                self.backend.queue,
                per_function=self.settings.max_queued_events_per_function,
                total=self.settings.max_queued_events,
            ),
            metrics=self.metrics,
        )
        self.server.services.append(
            Service(
                _service_name(invoker_service_pb2, "Invoker"),
                InvokerServicer(
                    functions,
                    # Destinations an adapter claims pass configuration-time validation.
                    EventInvokeConfigs(store, partition, self._load_destinations(partition)),
                    self._invocations,
                    InvocationHistory(
                        self.backend.queue,
                        self.backend.invocations,
                        self.settings.invocation_retention,
                    ),
                ),
                invoker_service_pb2_grpc.add_InvokerServicer_to_server,
            )
        )
        # Every Invoker sweeps the log it reads (replicas' sweeps overlap harmlessly).
        self.server.workers.append(
            HistorySweeper(
                self.backend.invocations,
                self.settings.invocation_retention,
                self.settings.max_retained_invocations,
            )
        )

    async def _start_sandboxes(self) -> Sandboxes:
        settings = self.settings
        uids = settings.sandbox_uid_range
        python = sys.executable
        if uids is not None and not isolation.is_root():
            log.warning(
                "sandboxes_not_isolated",
                reason=f"the server runs as uid {os.geteuid()}, not root: functions run as its "
                "user, and can read what it can read",
            )
            uids = None
        elif uids is None:
            log.warning(
                "sandboxes_not_isolated",
                reason="sandbox_uids is none: functions run as the server's user",
            )
        self._code_root = settings.data_dir / "code"
        if uids is not None:
            python = await asyncio.to_thread(isolation.prepare, PYTHON_BOOTSTRAP)
            # The data directory is the server's alone (0700): packages are unpacked where
            # sandbox users can reach them, each directory opened to its own sandboxes' group.
            self._code_root = Path(tempfile.mkdtemp(prefix="eventinvoke-code-"))
            self._temporary_code_root = True
            os.chmod(self._code_root, 0o711)
        sandbox_settings = SandboxSettings(
            log_dir=settings.data_dir / "logs",
            region=settings.region,
            max_per_function=settings.max_sandboxes_per_function,
            max_total=settings.max_sandboxes,
            idle_seconds=settings.sandbox_idle_seconds,
            uids=uids,
            python=python,
            start=settings.sandbox_start,
            queue_after=settings.sandbox_queue_after,
        )
        if not settings.sandbox_host:
            pool: Sandboxes = SandboxPool(sandbox_settings)
        else:
            hosted = HostedPool(sandbox_settings, settings.log_format, settings.log_level)
            await hosted.start()
            pool = hosted
        self._closers.append(pool)
        return pool

    def _start_executor(self, store: CachedStore, partition: Partition) -> None:
        assert self.server is not None and self.backend is not None
        assert self._sandboxes is not None
        settings = self.settings
        pool = self._sandboxes
        if self.metrics is not None:
            pool = self.metrics.sandboxes(pool)
        assert self._code_root is not None
        code = CodeCache(store, self._code_root)
        self.server.services.append(
            Service(
                _service_name(executor_service_pb2, "Executor"),
                ExecutorServicer(
                    store, pool, code, partition, self.backend.slots, settings.lease_margin
                ),
                executor_service_pb2_grpc.add_ExecutorServicer_to_server,
            )
        )
        handoff = self._handoff(self.backend, partition)
        self.worker = AsyncWorker(
            self.backend.queue,
            store,
            pool,
            code,
            handoff,
            RetryPolicy(settings.time_scale),
            WorkerSettings(
                settings.executor_concurrency,
                settings.lease_margin,
                settings.keep_failures_without_destination,
            ),
            self.backend.slots,
            self._executor_doorbell,
            self.metrics,
        )
        # It runs the follow-ups of what it settles, and what an Invoker beside it accepts, as
        # they are queued, while it has room.
        handoff.local_executor = self.worker
        if self._invocations is not None:
            self._invocations.local_executor = self.worker
        self.server.workers.append(self.worker)

    def _start_router(self, partition: Partition) -> None:
        assert self.server is not None and self.backend is not None
        settings = self.settings
        self._peer_address("invoker")  # it delivers to functions through an Invoker: say so now
        destinations = self._load_destinations(partition)
        self.server.services.append(
            Service(
                _service_name(router_service_pb2, "Router"),
                RouterServicer(
                    self.backend.outbox,
                    self._router_doorbell,
                    FailedDeliveries(self.backend.outbox, partition, self._router_doorbell),
                ),
                router_service_pb2_grpc.add_RouterServicer_to_server,
            )
        )
        self.delivery = DeliveryWorker(
            self.backend.outbox,
            destinations,
            DeliverySettings(
                max_attempts=settings.delivery_max_attempts,
                backoff_base=settings.delivery_backoff_base,
                backoff_cap=settings.delivery_backoff_cap,
                time_scale=settings.time_scale,
                lease_seconds=settings.lease_margin,
            ),
            self._router_doorbell,
            self.metrics,
        )
        # First in the list: workers stop in reverse, so the Router drains after the executor.
        self.server.workers.insert(0, self.delivery)

    def _start_gateway(self) -> None:
        """The Lambda REST API: an HTTP server beside gRPC, calling the Invoker over gRPC."""
        assert self.server is not None
        client = AsyncClient(
            self._peer_address("invoker"), credentials=self._own_keys(), tls=self._peer_tls()
        )
        self._closers.append(client)
        ssl_context = self._tls.ssl_context() if self._tls is not None else None
        self.gateway = Gateway(self.settings.http_listen, client, self._verifier, ssl_context)
        # Last in the list: workers stop in reverse, so HTTP stops taking requests first.
        self.server.workers.append(self.gateway)

    def _start_metrics(self) -> None:
        """``/metrics``: first of the workers, so it is last to stop and a draining process is
        still seen. The backend's shared figures come from the processes with the Invoker."""
        assert self.server is not None
        if self.metrics is None:
            return
        from eventinvoke.server.metrics import MetricsServer

        figures = None
        if self.backend is not None and "invoker" in self.roles:
            figures = self.metrics.backend_figures(self.backend.queue, self.backend.outbox)
        self.metrics_server = MetricsServer(self.settings.metrics_listen, self.metrics, figures)
        self.server.workers.insert(0, self.metrics_server)

    def _load_destinations(self, partition: Partition) -> Destinations:
        """The adapters, loaded once per process (hook calls, no I/O): the Invoker asks them
        which destinations they claim, the Router delivers through them."""
        if self._destinations is None:
            self._destinations = Destinations.load(
                RouterContext(
                    partition,
                    self._invoker(),
                    self.settings.destinations,
                    outbound=OutboundGuard(self.settings.destination_allow_networks),
                ),
                disabled=self.settings.disabled_destinations,
                extra_plugins=self.extra_plugins,
            )
        return self._destinations

    def _handoff(self, backend: Backend, partition: Partition) -> Handoff:
        """Records reach the Router through the shared backend, in the transaction that acks
        their event; those bound for functions of this suite are queued as their events in it
        (no outbox row, and no Invoker needed)."""
        assert self._functions is not None
        direct = LocalFunctionRoutes(self._load_destinations(partition), self._functions)
        return Handoff(
            backend,
            self._router_doorbell,
            direct,
            on_enqueued=self._executor_doorbell.set,
            metrics=self.metrics,
        )

    def _function_changed(self, name: str) -> None:
        if self._store is not None:
            self._store.invalidate(name)

    def _invoker(self) -> FunctionInvoker:
        """The Invoker adapters use: this process's, or a client of the configured one, made
        when first used (an executor loads the adapters only to ask what they claim)."""
        invoker: LocalInvoker | PeerInvoker
        if self._invocations is not None:
            invoker = LocalInvoker(self._invocations)
        else:
            invoker = PeerInvoker(
                lambda: self._peer_address("invoker"), self._own_keys(), self._peer_tls()
            )
        self._closers.append(invoker)
        return invoker

    def _channel(self, role: str) -> grpc.aio.Channel:
        """A channel to a peer: this very server when it carries the role."""
        target = self._peer_address(role)
        if target not in self._channels:
            keys = self._own_keys() or None
            self._channels[target] = aio_channel(
                target, PEER_CHANNEL_OPTIONS, self._peer_tls(), keys, tracing.client_interceptors()
            )
        return self._channels[target]

    def _peer_tls(self) -> Tls | None:
        return self._tls.peers() if self._tls is not None else None

    def _own_keys(self) -> Keys | Literal[False]:
        """What the suite's services sign their calls to each other with (False: nothing, when
        no credentials are configured)."""
        own = self.settings.auth.own()
        return Keys(own.access_key_id, own.secret_access_key) if own else False

    def _peer_address(self, role: str) -> str:
        if role in self.roles:
            return self.address
        address: str = getattr(self.settings, f"{role}_endpoint")
        if not address:
            name = f"{role}_endpoint"
            raise ValueError(
                f"the {role} is not in this process: give its address "
                f"(--{name.replace('_', '-')} or {variable(name)})"
            )
        return address

    async def stop(self, grace: float = 10.0) -> None:
        if self.server is not None:
            await self.server.stop(grace)
        for closer in self._closers:
            await closer.close()
        if self._temporary_code_root and self._code_root is not None:
            shutil.rmtree(self._code_root, ignore_errors=True)
        for channel in self._channels.values():
            await channel.close()
        if self.backend is not None:
            await self.backend.close()
        if tracing.ENABLED:  # the last spans, before the process ends
            await asyncio.to_thread(tracing.force_flush)

    async def run_until_signalled(self) -> None:
        try:  # a start that fails half-way (a port in use) still stops what did start
            await self.start()
            assert self.server is not None
            await self.server.wait_for_signal()
        finally:
            await self.stop()


def _private_directory(path: Path) -> None:
    """The data directory (database, logs) readable by the server's user alone."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # not ours: whoever made it chose its mode
        os.chmod(path, 0o700)
