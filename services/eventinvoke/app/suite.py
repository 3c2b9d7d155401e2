"""Assembles the Invoker, Executor and Router (all, or one per process) on one gRPC server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import grpc
import structlog

from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.client import AsyncClient
from eventinvoke.core.arn import Partition
from eventinvoke.executor.client import ExecutorClient
from eventinvoke.executor.code import CodeCache
from eventinvoke.executor.handoff import Handoff, LocalHandoff, RemoteHandoff
from eventinvoke.executor.policy import RetryPolicy
from eventinvoke.executor.sandbox import SandboxPool, SandboxSettings
from eventinvoke.executor.servicer import ExecutorServicer
from eventinvoke.executor.worker import AsyncWorker, WorkerSettings
from eventinvoke.invoker.event_invoke_configs import EventInvokeConfigs
from eventinvoke.invoker.functions import Functions
from eventinvoke.invoker.invocations import Invocations
from eventinvoke.invoker.servicer import InvokerServicer
from eventinvoke.router.client import RouterClient
from eventinvoke.router.delivery import DeliverySettings, DeliveryWorker
from eventinvoke.router.plugin import RouterContext
from eventinvoke.router.registry import Destinations
from eventinvoke.router.servicer import RouterServicer
from eventinvoke.server.config import Settings
from eventinvoke.server.serve import CHANNEL_OPTIONS, Server, Service
from eventinvoke.v1 import (
    executor_service_pb2,
    executor_service_pb2_grpc,
    invoker_service_pb2,
    invoker_service_pb2_grpc,
    router_service_pb2,
    router_service_pb2_grpc,
)

log = structlog.get_logger("eventinvoke.app")

ROLES = ("invoker", "executor", "router")


def _service_name(module: object, name: str) -> str:
    return module.DESCRIPTOR.services_by_name[name].full_name  # type: ignore[attr-defined]


class Suite:
    """One process: a gRPC server carrying the given roles, their workers, and one backend."""

    def __init__(
        self,
        settings: Settings,
        roles: Sequence[str] = ROLES,
        extra_plugins: Iterable[object] = (),
    ) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown service(s): {', '.join(sorted(unknown))}")
        self.settings = settings
        self.roles = tuple(roles)
        self.extra_plugins = list(extra_plugins)
        self.server: Server | None = None  # made in start(): gRPC binds to the running loop
        self.backend: SqliteBackend | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._closers: list[object] = []
        self.delivery: DeliveryWorker | None = None
        self.worker: AsyncWorker | None = None

    @property
    def address(self) -> str:
        assert self.server is not None, "start() the suite first"
        return self.server.address

    def _channel(self, role: str) -> grpc.aio.Channel:
        """A channel to a peer: this very server when it carries the role."""
        target = self.address if role in self.roles else self.settings.peer(role)
        if role not in self.roles and not getattr(self.settings, f"{role}_endpoint"):
            raise ValueError(
                f"the {role} is not in this process: give its address "
                f"(--{role}-endpoint or EVENTINVOKE_{role.upper()}_ENDPOINT)"
            )
        if target not in self._channels:
            self._channels[target] = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        return self._channels[target]

    async def start(self) -> None:
        settings = self.settings
        self.server = Server(settings.listen)
        self.server.bind()
        self.backend = backend = await SqliteBackend.open(settings.data_dir)
        partition = Partition(settings.region, settings.account)
        executor_doorbell = asyncio.Event()
        router_doorbell = asyncio.Event()

        if "executor" in self.roles:
            pool = SandboxPool(
                SandboxSettings(
                    log_dir=settings.data_dir / "logs",
                    region=settings.region,
                    max_per_function=settings.max_sandboxes_per_function,
                    max_total=settings.max_sandboxes,
                    idle_seconds=settings.sandbox_idle_seconds,
                )
            )
            self._closers.append(pool)
            code = CodeCache(backend.store, settings.data_dir / "code")
            self.server.services.append(
                Service(
                    _service_name(executor_service_pb2, "Executor"),
                    ExecutorServicer(backend.store, pool, code, partition),
                    executor_service_pb2_grpc.add_ExecutorServicer_to_server,
                )
            )
            self.worker = AsyncWorker(
                backend.queue,
                backend.store,
                pool,
                code,
                self._handoff(backend, router_doorbell),
                RetryPolicy(settings.time_scale),
                WorkerSettings(settings.executor_concurrency, settings.lease_margin),
                executor_doorbell,
            )
            self.server.workers.append(self.worker)

        if "router" in self.roles:
            invoker = AsyncClient(self._invoker_address())
            self._closers.append(invoker)
            destinations = Destinations.load(
                RouterContext(partition, invoker, settings.destinations),
                disabled=settings.disabled_destinations,
                extra_plugins=self.extra_plugins,
            )
            self.server.services.append(
                Service(
                    _service_name(router_service_pb2, "Router"),
                    RouterServicer(backend.outbox, router_doorbell),
                    router_service_pb2_grpc.add_RouterServicer_to_server,
                )
            )
            self.delivery = DeliveryWorker(
                backend.outbox,
                destinations,
                DeliverySettings(
                    max_attempts=settings.delivery_max_attempts,
                    backoff_base=settings.delivery_backoff_base,
                    backoff_cap=settings.delivery_backoff_cap,
                    time_scale=settings.time_scale,
                    lease_seconds=settings.lease_margin,
                ),
                router_doorbell,
            )
            # Listed first: it stops last, after the executor has handed over its records.
            self.server.workers.insert(0, self.delivery)

        if "invoker" in self.roles:
            functions = Functions(backend.store, partition)
            invocations = Invocations(
                functions,
                backend.queue,
                ExecutorClient(self._channel("executor")),
                on_enqueued=executor_doorbell.set,
            )
            self.server.services.append(
                Service(
                    _service_name(invoker_service_pb2, "Invoker"),
                    InvokerServicer(
                        functions, EventInvokeConfigs(backend.store, partition), invocations
                    ),
                    invoker_service_pb2_grpc.add_InvokerServicer_to_server,
                )
            )
        await self.server.start()
        log.info(
            "suite_started",
            roles=list(self.roles),
            address=self.address,
            data_dir=str(settings.data_dir),
            time_scale=settings.time_scale,
        )

    def _handoff(self, backend: SqliteBackend, router_doorbell: asyncio.Event) -> Handoff:
        """In one process the record and the ack share a transaction; apart, gRPC then ack."""
        if "router" in self.roles:
            return LocalHandoff(backend, router_doorbell)
        router = RouterClient(self._channel("router"))
        return RemoteHandoff(router, backend.queue, patience=self.settings.lease_margin / 2)

    def _invoker_address(self) -> str:
        if "invoker" in self.roles:
            return self.address
        if not self.settings.invoker_endpoint:
            raise ValueError(
                "the invoker is not in this process: give its address "
                "(--invoker-endpoint or EVENTINVOKE_INVOKER_ENDPOINT)"
            )
        return self.settings.invoker_endpoint

    async def stop(self, grace: float = 10.0) -> None:
        if self.server is not None:
            await self.server.stop(grace)
        for closer in self._closers:
            await closer.close()  # type: ignore[attr-defined]
        for channel in self._channels.values():
            await channel.close()
        if self.backend is not None:
            await self.backend.close()

    async def run_until_signalled(self) -> None:
        await self.start()
        assert self.server is not None
        try:
            await self.server.wait_for_signal()
        finally:
            await self.stop()
