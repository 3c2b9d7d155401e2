"""``eventinvoke cluster``: a local cluster in one command, every service as its own processes
on one PostgreSQL database, the way a real deployment runs them (``make cluster``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

DEFAULT_BACKEND = "postgresql://postgres@127.0.0.1:5432/eventinvoke"
STARTUP_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Member:
    """One process of the cluster."""

    name: str  # invoker-1, executor-2, ...
    role: str
    listen: str
    args: tuple[str, ...]
    metrics_listen: str = ""  # its own /metrics address, when the cluster serves metrics


def plan(
    backend: str,
    host: str,
    first_port: int,
    http_listen: str,
    counts: dict[str, int],
    extra: tuple[str, ...] = (),
    metrics_listen: str = "",
) -> list[Member]:
    """The processes: each role on its own block of ports (50051.., 50061.., ...), peers
    addressed as lists of replicas that gRPC calls round robin. With ``metrics_listen``, each
    member serves its metrics on a port of its own, counting up from that address's."""
    listens: dict[str, list[str]] = {}
    for block, role in enumerate(("invoker", "executor", "router")):
        listens[role] = [f"{host}:{first_port + 10 * block + n}" for n in range(counts[role])]
    peers = {role: "ipv4:" + ",".join(addresses) for role, addresses in listens.items()}
    base = ("--backend", backend, *extra)
    members = []
    for role in ("invoker", "executor", "router"):
        needs = {
            "invoker": ("--executor-endpoint", peers["executor"]),
            "executor": (),
            "router": ("--invoker-endpoint", peers["invoker"]),
        }[role]
        for n, listen in enumerate(listens[role], 1):
            members.append(Member(f"{role}-{n}", role, listen, (*base, *needs)))
    gateway_listen = f"{host}:{first_port + 30}"
    members.append(
        Member(
            "gateway",
            "gateway",
            gateway_listen,
            (*base, "--invoker-endpoint", peers["invoker"], "--http-listen", http_listen),
        )
    )
    if not metrics_listen:
        return members
    metrics_host, metrics_port = metrics_listen.rsplit(":", 1)
    return [
        dataclasses.replace(
            member,
            args=(*member.args, "--metrics-listen", f"{metrics_host}:{int(metrics_port) + n}"),
            metrics_listen=f"{metrics_host}:{int(metrics_port) + n}",
        )
        for n, member in enumerate(members)
    ]


async def create_database(url: str) -> bool:
    """Create the URL's database when it does not exist yet (True when created)."""
    import asyncpg  # only the cluster command needs it here

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    connection = await asyncpg.connect(admin, timeout=10)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await connection.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await connection.close()


async def _serve(member: Member, executable: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        executable,
        "serve",
        member.role,
        "--listen",
        member.listen,
        *member.args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the cluster command, which stops them in turn
    )


async def _relay(name: str, process: asyncio.subprocess.Process, width: int) -> None:
    """Print a member's output, each line prefixed with its name (as foreman does)."""
    assert process.stdout is not None
    async for line in process.stdout:
        text = line.decode(errors="replace").rstrip("\n")
        click.echo(f"{name:<{width}} | {text}")
    code = await process.wait()
    if code not in (0, -signal.SIGTERM):
        click.echo(f"{name:<{width}} | exited with status {code}", err=True)


async def _serving(address: str, process: asyncio.subprocess.Process, deadline: float) -> bool:
    """Whether the member serves before the deadline (False at once if it exits)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while asyncio.get_running_loop().time() < deadline and process.returncode is None:
            with contextlib.suppress(grpc.RpcError):
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            await asyncio.sleep(0.2)
    return False


async def run_cluster(members: list[Member], backend: str, http_listen: str) -> int:
    executable = str(Path(sys.argv[0]).resolve()) if sys.argv[0].endswith("eventinvoke") else ""
    executable = executable or str(Path(sys.executable).with_name("eventinvoke"))
    width = max(len(m.name) for m in members)
    processes = {m.name: await _serve(m, executable) for m in members}
    relays = [asyncio.create_task(_relay(n, p, width)) for n, p in processes.items()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        deadline = loop.time() + STARTUP_SECONDS
        ready = await asyncio.gather(
            *(_serving(m.listen, processes[m.name], deadline) for m in members)
        )
        if not all(ready):
            late = [m.name for m, up in zip(members, ready, strict=True) if not up]
            click.echo(f"not serving: {', '.join(late)}; stopping the cluster", err=True)
            return 1
        click.echo(_summary(members, processes, backend, http_listen), err=True)
        waiting = asyncio.create_task(stop.wait())
        exited = [asyncio.create_task(p.wait()) for p in processes.values()]
        await asyncio.wait([waiting, *exited], return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():  # one member died: keep the rest, as a real cluster does
            await waiting
        return 0
    finally:
        for process in processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in processes.values()))
        await asyncio.gather(*relays, return_exceptions=True)


def _summary(
    members: list[Member],
    processes: dict[str, asyncio.subprocess.Process],
    backend: str,
    http_listen: str,
) -> str:
    from eventinvoke.backends.postgres.database import redacted

    lines = [f"eventinvoke cluster on {redacted(backend)}:"]
    for member in members:
        where = member.listen
        if member.role == "gateway":
            where = f"http://{http_listen} (gRPC {member.listen})"
        metrics = f"  metrics http://{member.metrics_listen}/metrics" * bool(member.metrics_listen)
        lines.append(f"  {member.name:<11} {where:<42} pid {processes[member.name].pid}{metrics}")
    invokers = ",".join(m.listen for m in members if m.role == "invoker")
    executors = ",".join(m.listen for m in members if m.role == "executor")
    routers = ",".join(m.listen for m in members if m.role == "router")
    lines += [
        "Clients:",
        f"  export EVENTINVOKE_ENDPOINT=ipv4:{invokers}",
        f"  export EVENTINVOKE_EXECUTOR_ENDPOINT=ipv4:{executors}",
        f"  export EVENTINVOKE_ROUTER_ENDPOINT=ipv4:{routers}",
        f"  aws lambda ... --endpoint-url http://{http_listen}",
        "Ctrl-C stops them all.",
    ]
    return "\n".join(lines)


def _metrics_address(context: click.Context, parameter: click.Parameter, value: str) -> str:
    host, _, port = value.rpartition(":")
    if value and not (host and port.isdigit() and 0 < int(port) <= 65000):
        raise click.BadParameter(f"{value!r} is not host:port (a port from 1 to 65000)")
    return value


def register(group: click.Group) -> None:
    @group.command("cluster", context_settings={"ignore_unknown_options": True})
    @click.option(
        "--backend",
        default=lambda: os.environ.get("EVENTINVOKE_BACKEND") or DEFAULT_BACKEND,
        show_default=DEFAULT_BACKEND,
        help="The PostgreSQL database every process shares (created if missing).",
    )
    @click.option("--invokers", default=2, show_default=True, type=click.IntRange(1, 20))
    @click.option("--executors", default=3, show_default=True, type=click.IntRange(1, 20))
    @click.option("--routers", default=2, show_default=True, type=click.IntRange(1, 20))
    @click.option("--host", default="127.0.0.1", show_default=True, help="Where they listen.")
    @click.option(
        "--first-port",
        default=50051,
        show_default=True,
        type=click.IntRange(1, 65000),
        help="Invokers from here, executors from +10, routers from +20, the gateway at +30.",
    )
    @click.option("--http-listen", default="127.0.0.1:9001", show_default=True)
    @click.option(
        "--metrics-listen",
        default="",
        callback=_metrics_address,
        help="Serve each member's Prometheus metrics, from this host:port counting up, one "
        "port per member in the order listed at start.",
    )
    @click.argument("serve_args", nargs=-1, type=click.UNPROCESSED)
    def cluster(
        backend: str,
        invokers: int,
        executors: int,
        routers: int,
        host: str,
        first_port: int,
        http_listen: str,
        metrics_listen: str,
        serve_args: tuple[str, ...],
    ) -> None:
        """Run a local cluster: invokers, executors, routers and a gateway as separate
        processes on one PostgreSQL database. Arguments after -- go to every process
        (e.g. -- --time-scale 0.01)."""
        if any(arg.split("=", 1)[0] == "--metrics-listen" for arg in serve_args):
            # One address for every member would let only the first of them bind it.
            raise click.UsageError("give --metrics-listen before --: each member gets its own")
        counts = {"invoker": invokers, "executor": executors, "router": routers}
        members = plan(backend, host, first_port, http_listen, counts, serve_args, metrics_listen)
        try:
            created = asyncio.run(create_database(backend))
        except Exception as error:  # unreachable, refused: one line, as `serve` says it
            from eventinvoke.backends.postgres.database import redacted

            raise click.ClickException(
                f"PostgreSQL at {redacted(backend)} is unavailable: {error}"
            ) from None
        if created:
            click.echo(f"created the database {urlsplit(backend).path.lstrip('/')}", err=True)
        raise SystemExit(asyncio.run(run_cluster(members, backend, http_listen)))
